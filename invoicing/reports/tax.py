"""Tax: the taxable base and the tax of each rate and zone, per month or quarter.

Counted as the invoices show it (invoicing.pricing.invoice_tax_bands): each line of an issued, non-void AR invoice
at its own rate, its base ``amount - line discount - share of the invoice discount``, its tax as priced. The zone
is the one of the service its proforma was made for; lines typed on an invoice are "Typed lines". A credit note
takes its lines' base and tax back in the period it is issued, at their rate and zone; a credited amount (not a
line) has no single rate and is shown as "Credited amounts". Partner-scoped, three queries.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, CharField, DateField, F, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth, TruncQuarter

from octoo_billing.money import to_decimal

from ..models import CreditNoteLine, Invoice, Slip
from .periods import issued_ar_filter

TAX_PERIODS = (("month", "Month"), ("quarter", "Quarter"))
TYPED_LINES = "Typed lines"
NO_ZONE = "No zone"
CREDITED_AMOUNTS = "Credited amounts"


@dataclass
class TaxRow:
    period: datetime.date | None = None
    period_label: str = ""
    rate: Decimal | None = None  # None: a credited amount (no single rate)
    zone: str = ""
    base_units: int = 0
    tax_units: int = 0

    @property
    def rate_label(self) -> str:
        return "—" if self.rate is None else f"{self.rate:f}%"


@dataclass
class TaxReport:
    per: str
    date_from: datetime.date
    date_to: datetime.date
    rows: list[TaxRow]
    totals: TaxRow = field(default_factory=TaxRow)

    @property
    def periods(self) -> list[tuple[str, list[TaxRow], TaxRow]]:
        """The rows of each period with the period's total."""
        out: dict[object, tuple[str, list[TaxRow], TaxRow]] = {}
        for row in self.rows:
            label, rows, total = out.setdefault(row.period, (row.period_label, [], TaxRow(period_label="Total")))
            rows.append(row)
            total.base_units += row.base_units
            total.tax_units += row.tax_units
        return list(out.values())

    @property
    def rates(self) -> list[Decimal | None]:
        return sorted({row.rate for row in self.rows}, key=lambda r: (r is None, -(r or 0)))


def period_label(day: datetime.date, per: str) -> str:
    return f"Q{(day.month - 1) // 3 + 1} {day.year}" if per == "quarter" else day.strftime("%b %Y")


def tax_report(*, partner, date_from: datetime.date, date_to: datetime.date, per: str = "month") -> TaxReport:
    """Base and tax per period, rate and zone of the AR invoices and credit notes issued in the range."""
    if per not in dict(TAX_PERIODS):
        raise ValueError(f"Unknown period: {per}")
    trunc = TruncQuarter if per == "quarter" else TruncMonth
    base = F("bill_amount_units") - F("line_discount_units") - F("invoice_discount_units")
    sums = {"base": Sum(base), "tax": Sum("bill_tax_units")}
    link = "proforma__invoice_links__"
    typed = (
        Slip.objects.filter(issued_ar_filter("invoice__", partner=partner, date_from=date_from, date_to=date_to))
        .order_by()
        .values("tax_rate", period=trunc("invoice__issue_date", output_field=DateField()), zone=Value(TYPED_LINES))
        .annotate(**sums)
    )
    on_proformas = (
        Slip.objects.filter(
            issued_ar_filter(f"{link}invoice__", partner=partner, date_from=date_from, date_to=date_to),
            **{f"{link}is_active": True, f"{link}kind": Invoice.Kind.AR},
        )
        .order_by()
        .values(
            "tax_rate",
            period=trunc(f"{link}invoice__issue_date", output_field=DateField()),
            zone=Coalesce("proforma__service__zone__name", Value(NO_ZONE)),
        )
        .annotate(**sums)
    )
    credited = (
        CreditNoteLine.objects.filter(
            credit_note__partner=partner, credit_note__issue_date__gte=date_from, credit_note__issue_date__lte=date_to
        )
        .exclude(credit_note__invoice__status=Invoice.Status.VOID)  # as the revenue report: no longer counted
        .order_by()
        .values(
            tax_rate=F("slip__tax_rate"),
            period=trunc("credit_note__issue_date", output_field=DateField()),
            zone=Case(
                When(slip__isnull=True, then=Value(CREDITED_AMOUNTS)),
                When(slip__proforma__isnull=True, then=Value(TYPED_LINES)),
                default=Coalesce("slip__proforma__service__zone__name", Value(NO_ZONE)),
                output_field=CharField(),
            ),
        )
        .annotate(base=Sum("amount_units"), tax=Sum("tax_units"))
    )
    rows: dict[tuple, TaxRow] = {}
    for queryset, sign in ((typed, 1), (on_proformas, 1), (credited, -1)):
        for item in queryset:
            rate = None if item["tax_rate"] is None else to_decimal(item["tax_rate"]).normalize()  # 7.000 is 7
            key = (item["period"], rate, item["zone"])
            if key not in rows:
                label = period_label(item["period"], per)
                rows[key] = TaxRow(period=item["period"], period_label=label, rate=rate, zone=item["zone"])
            row = rows[key]
            row.base_units += sign * int(item["base"] or 0)
            row.tax_units += sign * int(item["tax"] or 0)
    ordered = sorted(
        rows.values(),
        key=lambda r: (r.period, r.rate is None, -(r.rate or 0), r.zone == TYPED_LINES, r.zone.lower()),
    )
    totals = TaxRow(period_label="Total")
    for row in ordered:
        totals.base_units += row.base_units
        totals.tax_units += row.tax_units
    return TaxReport(per=per, date_from=date_from, date_to=date_to, rows=ordered, totals=totals)
