"""Charts for office pages: what a chart shows, built once and given both to the chart (JSON the page embeds, drawn
by static/js/charts.js) and to the table with the same figures beside it (templates/office/reports/_chart.html).

Amounts stay integer minor units; the JSON carries them with the currency's scale, for the chart to plot, and each
one formatted by the one money formatter, for its tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from babel.dates import format_skeleton

from invoicing import reports
from octoo_billing.locale import get_locale
from octoo_billing.money import format_units, minor_exponent


@dataclass
class Series:
    label: str
    values: list[int]  # minor units, one per label
    color: str = "primary"  # a name in charts.js's palette
    stack: str | None = None  # series with the same stack are piled up
    line: bool = False  # drawn as a line over the bars


@dataclass
class Chart:
    id: str  # unique on its page
    title: str
    currency: str
    labels: list[str]
    series: list[Series]
    label_header: str = "Month"
    horizontal: bool = False
    links: list[str] = field(default_factory=list)  # one per label: a click on its bars opens it

    @property
    def data_id(self) -> str:
        return f"{self.id}-data"

    @property
    def table(self) -> list[tuple[str, str, list[int]]]:
        """(label, link, [a value per series]) per row, for the table beside the chart."""
        links = self.links or [""] * len(self.labels)
        return [
            (label, link, [s.values[i] for s in self.series])
            for i, (label, link) in enumerate(zip(self.labels, links, strict=True))
        ]

    @property
    def is_empty(self) -> bool:
        return not any(value for s in self.series for value in s.values)

    @property
    def data(self) -> dict:
        return {
            "title": self.title,
            "currency": self.currency,
            "scale": 10 ** minor_exponent(self.currency),
            "horizontal": self.horizontal,
            "stacked": any(s.stack for s in self.series),
            "labels": self.labels,
            "links": self.links,
            "series": [
                {
                    "label": s.label,
                    "values": s.values,
                    "formatted": [format_units(v, self.currency) for v in s.values],
                    "color": s.color,
                    "stack": s.stack,
                    "line": s.line,
                }
                for s in self.series
            ],
        }


def top_rows(rows: list, value, limit: int, other) -> list:
    """The ``limit`` rows with the largest ``value(row)``, in their order, and the rest summed by ``other(rest)``
    (left out when there is no rest)."""
    if len(rows) <= limit:
        return rows
    keep = sorted(rows, key=lambda r: -abs(value(r)))[: limit - 1]
    kept = [r for r in rows if r in keep]
    rest = [r for r in rows if r not in keep]
    return [*kept, other(rest)]


# --- the charts of the dashboard and the reports --------------------------------------------------------------

AGING_COLORS = {
    "current": "success",
    "days_1_30": "info",
    "days_31_60": "warning",
    "days_61_90": "orange",
    "days_over_90": "danger",
}
TOP = 8  # bars of a chart by customer, provider or code; the rest are summed into one


def month_label(day) -> str:
    """A month as a chart's axis shows it, in the active locale: "Nov 2026" (en_US)."""
    return format_skeleton("yMMM", day, locale=get_locale())


def billed_collected_chart(*, billed: dict, cash: reports.CashReport, currency: str) -> Chart:
    return Chart(
        id="billed-collected",
        title="Billed and collected by month",
        currency=currency,
        labels=[month_label(row.month) for row in cash.rows],
        series=[
            Series("Billed", [billed.get(row.month, 0) for row in cash.rows], "primary"),
            Series("Collected", [row.collected_units for row in cash.rows], "success"),
        ],
    )


def cash_chart(*, cash: reports.CashReport, currency: str, chart_id: str = "cash") -> Chart:
    return Chart(
        id=chart_id,
        title="Cash in and out by month",
        currency=currency,
        labels=[month_label(row.month) for row in cash.rows],
        series=[
            Series("Received from customers", [row.received_units for row in cash.rows], "success", stack="in"),
            Series("Paid to providers", [-row.paid_out_units for row in cash.rows], "danger", stack="out"),
            Series("Refunded to customers", [-row.refunded_units for row in cash.rows], "warning", stack="out"),
            Series("Net", [row.net_units for row in cash.rows], "primary", line=True),
        ],
    )


def aging_chart(*, aging: reports.AgingReport, currency: str, link) -> Chart:
    """What each customer owes by age (the largest balances; the rest as one bar), a bar per customer."""

    def others(rest):
        row = reports.AgingRow(name=f"{len(rest)} other customers")
        for r in rest:
            for key in AGING_COLORS:
                setattr(row, key, getattr(row, key) + getattr(r, key))
        return row

    rows = top_rows(aging.rows, lambda r: r.total, TOP, others)
    return Chart(
        id="aging",
        title="What customers owe, by days past due",
        currency=currency,
        labels=[row.name for row in rows],
        series=[
            Series(label, [getattr(row, key) for row in rows], AGING_COLORS[key], stack="owed")
            for key, label in reports.AGING_BUCKETS
        ],
        label_header="Customer",
        horizontal=True,
        links=[link(row) for row in rows],
    )


def margin_chart(*, report: reports.RevenueReport, currency: str, chart_id: str, title: str, link) -> Chart:
    """Revenue, provider cost and margin of each row of a revenue report (the largest; the rest as one)."""

    def others(rest):
        row = reports.RevenueRow(label=f"{len(rest)} others")
        for r in rest:
            row.add(r)
        return row

    rows = top_rows(report.rows, lambda r: r.net_units, TOP, others)
    horizontal = report.by != "month"
    return Chart(
        id=chart_id,
        title=title,
        currency=currency,
        labels=[row.label for row in rows],
        series=[
            Series("Revenue", [row.net_units for row in rows], "primary"),
            Series("Provider cost", [row.cost_units for row in rows], "secondary"),
            Series("Margin", [row.margin_units for row in rows], "success", line=not horizontal),
        ],
        label_header=report.by_label,
        horizontal=horizontal,
        links=[link(row) for row in rows],
    )


def tax_chart(*, report: reports.TaxReport, currency: str) -> Chart:
    """The tax of each period, piled up by rate."""
    periods = report.periods
    rates = report.rates
    palette = ["primary", "success", "warning", "info", "purple", "orange", "secondary", "danger"]
    series = []
    for index, rate in enumerate(rates):
        label = "Credited amounts" if rate is None else f"Tax at {rate:f}%"
        values = [sum(r.tax_units for r in rows if r.rate == rate) for _, rows, _ in periods]
        series.append(Series(label, values, palette[index % len(palette)], stack="tax"))
    return Chart(
        id="tax",
        title="Tax by period and rate",
        currency=currency,
        labels=[label for label, _, _ in periods],
        series=series,
        label_header="Period",
    )
