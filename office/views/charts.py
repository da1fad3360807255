"""Charts for office pages: what a chart shows, built once and given both to the chart (JSON the page embeds, drawn
by static/js/charts.js) and to the table with the same figures beside it (templates/includes/_chart.html).

Amounts stay integer minor units; the JSON carries them with the currency's scale, for the chart to plot, and each
one formatted by the one money formatter, for its tooltip.
"""

from __future__ import annotations

from invoicing import reports
from octoo_billing.charts import TOP, Chart, Series, month_label, top_rows

AGING_COLORS = {
    "current": "success",
    "days_1_30": "info",
    "days_31_60": "warning",
    "days_61_90": "orange",
    "days_over_90": "danger",
}


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
