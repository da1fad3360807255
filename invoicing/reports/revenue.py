"""Revenue and margin over a range of issue dates (see invoicing.reports)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateField,
    F,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncMonth

from customers.models import Customer, Provider

from ..models import CreditNote, CreditNoteLine, Invoice, InvoiceProforma, Slip
from .kept import figures_over
from .periods import COUNTED_STATUSES, issued_ar_filter, months

REVENUE_GROUPINGS = (
    ("month", "Month"),
    ("customer", "Customer"),
    ("provider", "Provider"),
    ("expense_code", "Expense code"),
)


@dataclass
class RevenueRow:
    key: object = None
    label: str = ""
    count: int = 0
    net_units: int = 0
    tax_units: int = 0
    cost_units: int = 0
    credit_notes: int = 0  # credit notes issued in the range (their lines, by provider or expense code)
    credited_units: int = 0  # what they took back, net of tax (already taken off ``net_units``)
    customer_id: int | None = None
    provider_id: int | None = None
    month: datetime.date | None = None

    @property
    def total_units(self) -> int:
        return self.net_units + self.tax_units

    @property
    def margin_units(self) -> int:
        return self.net_units - self.cost_units

    @property
    def margin_percent(self) -> Decimal | None:
        """Margin as a share of revenue, to one decimal (None when nothing was billed, or credit notes took back
        more than was billed: no share of a negative revenue means anything)."""
        if self.net_units <= 0:
            return None
        return (Decimal(self.margin_units) * 100 / Decimal(self.net_units)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )

    def add(self, other: RevenueRow, *, count: bool = True) -> None:
        self.net_units += other.net_units
        self.tax_units += other.tax_units
        self.cost_units += other.cost_units
        self.credited_units += other.credited_units
        if count:
            self.count += other.count
            self.credit_notes += other.credit_notes


@dataclass
class RevenueReport:
    by: str
    date_from: datetime.date
    date_to: datetime.date
    rows: list[RevenueRow]
    totals: RevenueRow
    count_label: str = "Invoices"

    @property
    def by_label(self) -> str:
        return dict(REVENUE_GROUPINGS)[self.by]


NO_PROVIDER = "No provider (lines typed on invoices)"
NO_CODE = "No expense code"


# A revenue row's figures, in the order they are kept (invoicing.reports.kept).
FIGURES = ("count", "net_units", "tax_units", "cost_units", "credit_notes", "credited_units")
COUNT, NET, TAX, COST, CREDIT_NOTES, CREDITED = range(len(FIGURES))


def revenue_report(*, partner, date_from: datetime.date, date_to: datetime.date, by: str = "month") -> RevenueReport:
    """Revenue, tax, provider cost and margin of the AR invoices issued from ``date_from`` to ``date_to``
    (inclusive), grouped ``by`` month, customer, provider or expense code. The closed months' figures are read from
    those kept (invoicing.reports.kept); the current month's are computed (four queries), and one more names the
    customers or providers."""
    if by not in dict(REVENUE_GROUPINGS):
        raise ValueError(f"Unknown grouping: {by}")
    figures = figures_over(
        partner=partner,
        kind=f"revenue-{by}",
        date_from=date_from,
        date_to=date_to,
        compute=lambda start, end: revenue_figures(partner=partner, date_from=start, date_to=end, by=by),
        dated_keys=by == "month",
    )
    rows = {key: RevenueRow(key=key, **dict(zip(FIGURES, values, strict=True))) for key, values in figures.items()}
    if by == "month":
        for day in months(date_from, date_to):
            rows.setdefault(day, RevenueRow(key=day))
        for key, row in rows.items():
            row.month = key
            row.label = key.strftime("%b %Y")
        ordered = sorted(rows.values(), key=lambda r: r.month)
    else:
        names = _names(by, [key for key in rows if key is not None])
        for key, row in rows.items():
            if by == "customer":
                row.customer_id = key
                row.label = names.get(key, "")
            elif by == "provider":
                row.provider_id = key
                row.label = names.get(key, "") if key is not None else NO_PROVIDER
            else:
                row.label = key or NO_CODE
        ordered = sorted(rows.values(), key=lambda r: (r.key is None or r.key == "", -r.net_units, r.label.lower()))
    totals = RevenueRow(label="Total")
    for row in ordered:
        totals.add(row)
    return RevenueReport(
        by=by,
        date_from=date_from,
        date_to=date_to,
        rows=ordered,
        totals=totals,
        count_label="Proformas" if by in ("provider", "expense_code") else "Invoices",
    )


def _names(by: str, keys: list) -> dict:
    """The names of the customers or providers the rows are for (one query; none by expense code)."""
    if by == "customer":
        return dict(Customer.objects.filter(pk__in=keys).values_list("pk", "name"))
    if by == "provider":
        return dict(Provider.objects.filter(pk__in=keys).values_list("pk", "name"))
    return {}


def revenue_figures(*, partner, date_from: datetime.date, date_to: datetime.date, by: str) -> dict[object, list[int]]:
    """The figures (``FIGURES``) of each group of the revenue report over the range, from the documents: by month
    and by customer from the invoices' totals, by provider and by expense code from their proformas and lines; the
    credit notes issued in the range taken off. Four queries at most."""
    month = TruncMonth("invoice__issue_date", output_field=DateField())
    links = InvoiceProforma.objects.filter(
        issued_ar_filter("invoice__", partner=partner, date_from=date_from, date_to=date_to),
        kind=Invoice.Kind.AR,
        is_active=True,
    )
    slips = Slip.objects.filter(issued_ar_filter("invoice__", partner=partner, date_from=date_from, date_to=date_to))
    link_sums = {
        "net": Sum(F("proforma__bill_subtotal_units") - F("proforma__bill_discount_units")),
        "tax": Sum("proforma__bill_tax_units"),
        "cost": Sum("proforma__pay_total_units"),
        "n": Count("pk"),
    }
    slip_sums = {
        "net": Sum(F("bill_amount_units") - F("line_discount_units") - F("invoice_discount_units")),
        "tax": Sum("bill_tax_units"),
        "cost": Sum("pay_total_units"),
        "n": Count("pk"),
    }
    group_fields = {
        "month": ({"g": month}, {"g": month}),
        "customer": ({"g": F("invoice__customer_id")}, {"g": F("invoice__customer_id")}),
        "provider": ({"g": F("proforma__provider_id")}, {"g": Value(None, output_field=BigIntegerField())}),
        "expense_code": ({"g": F("proforma__expense_code_key")}, {"g": F("invoice__expense_code_key")}),
    }[by]
    rows: dict[object, list[int]] = {}

    def row_for(key) -> list[int]:
        return rows.setdefault(key, [0] * len(FIGURES))

    from_lines = by in ("provider", "expense_code")
    for queryset, groups, sums in ((links, group_fields[0], link_sums), (slips, group_fields[1], slip_sums)):
        for item in queryset.order_by().values(**groups).annotate(**sums):
            if not item["n"]:
                continue  # an ungrouped aggregate (direct lines by provider) over no rows
            row = row_for(item["g"])
            row[COST] += item["cost"] or 0
            if from_lines:
                row[NET] += item["net"] or 0
                row[TAX] += item["tax"] or 0
                if queryset is links:
                    row[COUNT] += item["n"]
    if not from_lines:
        invoices = Invoice.objects.filter(issued_ar_filter("", partner=partner, date_from=date_from, date_to=date_to))
        # By month: by day, added up by month here (the rows come in the index's order: no date_trunc of every
        # row, no sort).
        groups = {"g": F("issue_date")} if by == "month" else {"g": F("customer_id")}
        for item in (
            invoices.order_by()
            .values(**groups)
            .annotate(
                n=Count("pk"),
                net=Sum(F("subtotal_units") - F("discount_total_units")),
                tax=Sum("tax_units"),
            )
        ):
            row = row_for(item["g"].replace(day=1) if by == "month" else item["g"])
            row[COUNT] += item["n"]
            row[NET] += item["net"] or 0
            row[TAX] += item["tax"] or 0
    _credit_notes_counted(row_for, partner=partner, date_from=date_from, date_to=date_to, by=by)
    return rows


def _credit_notes_counted(row_for, *, partner, date_from, date_to, by: str) -> None:
    """Credit notes issued in the range as negative revenue (and negative tax) in their own month, from their
    lines: a credited line of a proforma for that proforma's provider and codes, any other line for "no provider"
    and its invoice's codes. One query."""
    lines = CreditNoteLine.objects.filter(
        credit_note__partner=partner,
        credit_note__issue_date__gte=date_from,
        credit_note__issue_date__lte=date_to,
    ).exclude(credit_note__invoice__status=Invoice.Status.VOID)  # as its invoice, no longer counted
    on_proforma = Q(slip__proforma__isnull=False)
    groups = {
        "month": {"g": TruncMonth("credit_note__issue_date", output_field=DateField())},
        "customer": {"g": F("credit_note__customer_id")},
        "provider": {"g": Case(When(on_proforma, then=F("slip__proforma__provider_id")), default=Value(None))},
        "expense_code": {
            "g": Case(
                When(on_proforma, then=F("slip__proforma__expense_code_key")),
                default=F("credit_note__invoice__expense_code_key"),
            )
        },
    }[by]
    sums = {"net": Sum("amount_units"), "tax": Sum("tax_units"), "n": Count("credit_note", distinct=True)}
    for item in lines.order_by().values(**groups).annotate(**sums):
        row = row_for(item["g"])
        row[NET] -= item["net"] or 0
        row[TAX] -= item["tax"] or 0
        row[CREDITED] += item["net"] or 0
        row[CREDIT_NOTES] += item["n"]


def revenue_dates(*, partner) -> tuple[datetime.date | None, datetime.date | None]:
    """The first and last issue dates of the partner's counted AR invoices (None, None without any). One query."""
    dates = Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR, status__in=COUNTED_STATUSES).aggregate(
        first=Min("issue_date"), last=Max("issue_date")
    )
    return dates["first"], dates["last"]


def billed_by_month(*, partner, date_from: datetime.date, date_to: datetime.date) -> dict[datetime.date, int]:
    """What the AR invoices issued in each month billed, tax included, less the credit notes issued that month
    (the revenue report's "Total billed"). The closed months kept (invoicing.reports.kept), two queries for the
    others."""
    billed = {month: 0 for month in months(date_from, date_to)}
    figures = figures_over(
        partner=partner,
        kind="billed",
        date_from=date_from,
        date_to=date_to,
        compute=lambda start, end: _billed_figures(partner, start, end),
        dated_keys=True,
    )
    for month, (units,) in figures.items():
        billed[month] += units
    return billed


def _billed_figures(partner, date_from: datetime.date, date_to: datetime.date) -> dict[datetime.date, list[int]]:
    billed: dict[datetime.date, list[int]] = {}
    # by day, added up by month here: the rows come in the index's order (no date_trunc of every row, no sort)
    invoices = (
        Invoice.objects.filter(issued_ar_filter("", partner=partner, date_from=date_from, date_to=date_to))
        .order_by()
        .values("issue_date")
        .annotate(units=Sum("total_units"))
    )
    for item in invoices:
        billed.setdefault(item["issue_date"].replace(day=1), [0])[0] += item["units"] or 0
    notes = (
        CreditNote.objects.filter(partner=partner, issue_date__gte=date_from, issue_date__lte=date_to)
        .exclude(invoice__status=Invoice.Status.VOID)
        .order_by()
        .values(month=TruncMonth("issue_date", output_field=DateField()))
        .annotate(units=Sum("total_units"))
    )
    for item in notes:
        billed.setdefault(item["month"], [0])[0] -= item["units"] or 0
    return billed
