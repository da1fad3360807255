"""Charts for any page: what a chart shows, built once and given both to the chart (JSON the page embeds, drawn by
static/js/charts.js) and to the table with the same figures beside it (templates/includes/_chart.html).

Amounts stay integer minor units; the JSON carries them with the currency's scale, for the chart to plot, and each
one formatted by the one money formatter, for its tooltip. The office's and the portal's charts are built from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from babel.dates import format_skeleton

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

TOP = 8  # bars of a chart by customer, provider or code; the rest are summed into one


def month_label(day) -> str:
    """A month as a chart's axis shows it, in the active locale: "Nov 2026" (en_US)."""
    return format_skeleton("yMMM", day, locale=get_locale())
