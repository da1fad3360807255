"""Report selectors: AR aging and revenue and margin. Partner-scoped, aggregated in the database, a fixed
number of queries whatever the number of invoices; amounts are integer minor units.

AR aging (as of a date)
    Every AR invoice issued on or before the date, not voided by then, with something still owed then:
    ``total - attached child invoices - payments received on or before the date + refunds made by then that
    reopened it (not those out of a credit note's credit) - credit notes applied to it by then``; today that is
    its outstanding balance (``Invoice.outstanding_units``). Its days past due are
    the days from its due date to the as-of date; invoices not yet due (or with no due date, on "no payment"
    terms) are "current". Child invoices count as attached now (their attach date is not kept).

Revenue and margin (over a range of issue dates)
    Revenue is what issued, non-void AR invoices billed, net of tax: ``subtotal - discounts``; tax is shown
    beside it, since it is collected for the tax office and is not revenue. A credit note is negative revenue
    (and negative tax) in the month it is issued, whatever the month of its invoice: by customer it counts for
    its customer; by provider and by expense code, a credited line for its proforma's provider and codes, a
    credited amount for "no provider" and its invoice's codes. Credit notes change no provider cost.
    Cost is what the providers earn for the same work: the pay side of the proformas on those invoices plus the
    pay side of lines typed directly on them (zero for most manual lines). Margin is revenue - cost.
    By month and by customer the figures are the invoices' own; by provider and by expense code they come
    from the invoices' lines: each proforma counts for its provider and its own expense codes, lines typed on
    an invoice for "no provider" and the invoice's codes; the totals are the same either way.
"""

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
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth

from .models import CreditApplication, CreditNoteLine, Invoice, InvoiceProforma, Payment, Refund, Slip

# --------------------------------------------------------------------------------------------------
# AR aging

AGING_BUCKETS = (
    ("current", "Current"),
    ("days_1_30", "1–30 days"),
    ("days_31_60", "31–60 days"),
    ("days_61_90", "61–90 days"),
    ("days_over_90", "Over 90 days"),
)


@dataclass
class AgingRow:
    customer_id: int | None = None
    name: str = ""
    invoices: int = 0
    current: int = 0
    days_1_30: int = 0
    days_31_60: int = 0
    days_61_90: int = 0
    days_over_90: int = 0

    @property
    def total(self) -> int:
        return self.current + self.days_1_30 + self.days_31_60 + self.days_61_90 + self.days_over_90

    @property
    def past_due(self) -> int:
        return self.total - self.current

    @property
    def buckets(self) -> list[tuple[str, str, int]]:
        return [(key, label, getattr(self, key)) for key, label in AGING_BUCKETS]


@dataclass
class AgingReport:
    as_of: datetime.date
    rows: list[AgingRow]
    totals: AgingRow


def _bucket_conditions(as_of: datetime.date) -> dict[str, Q]:
    def days_ago(n):
        return as_of - datetime.timedelta(days=n)

    return {
        "current": Q(due_date__isnull=True) | Q(due_date__gte=as_of),
        "days_1_30": Q(due_date__lt=as_of, due_date__gte=days_ago(30)),
        "days_31_60": Q(due_date__lt=days_ago(30), due_date__gte=days_ago(60)),
        "days_61_90": Q(due_date__lt=days_ago(60), due_date__gte=days_ago(90)),
        "days_over_90": Q(due_date__lt=days_ago(90)),
    }


def aging_invoices(*, partner, as_of: datetime.date, customer=None):
    """The AR invoices owed something as of ``as_of``, each annotated with ``outstanding_units`` then."""
    paid_by_then = (
        Payment.objects.filter(invoice=OuterRef("pk"), received_on__lte=as_of)
        .order_by()
        .values("invoice")
        .annotate(s=Sum("amount_units"))
        .values("s")
    )
    invoices = Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR, issue_date__lte=as_of).exclude(
        status=Invoice.Status.DRAFT
    )
    # a void invoice was still owed before the day it was voided (on voided_at's UTC/local date)
    invoices = invoices.filter(~Q(status=Invoice.Status.VOID) | Q(voided_at__date__gt=as_of))
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    refunded_by_then = (  # refunds that reopened the invoice (not those out of a credit note's credit)
        Refund.objects.filter(
            invoice=OuterRef("pk"),
            status=Refund.Status.SUCCEEDED,
            credit_note__isnull=True,
            refunded_on__lte=as_of,
        )
        .order_by()
        .values("invoice")
        .annotate(s=Sum("amount_units"))
        .values("s")
    )
    credited_by_then = (
        CreditApplication.objects.filter(invoice=OuterRef("pk"), applied_on__lte=as_of)
        .order_by()
        .values("invoice")
        .annotate(s=Sum("amount_units"))
        .values("s")
    )
    outstanding = (
        F("total_units")
        - F("children_units")
        - Coalesce(Subquery(paid_by_then, output_field=BigIntegerField()), 0)
        + Coalesce(Subquery(refunded_by_then, output_field=BigIntegerField()), 0)
        - Coalesce(Subquery(credited_by_then, output_field=BigIntegerField()), 0)
    )
    return invoices.annotate(outstanding_units=outstanding).filter(outstanding_units__gt=0)


def aging_sums(as_of: datetime.date) -> dict:
    sums = {
        key: Sum(Case(When(condition, then=F("outstanding_units")), default=Value(0), output_field=BigIntegerField()))
        for key, condition in _bucket_conditions(as_of).items()
    }
    sums["invoices"] = Count("pk")
    return sums


def ar_aging(*, partner, as_of: datetime.date) -> AgingReport:
    """What each customer owes as of ``as_of``, by how long it is past due. One query."""
    rows = [
        AgingRow(
            customer_id=row.pop("customer_id"), name=row.pop("customer__name"), **{k: v or 0 for k, v in row.items()}
        )
        for row in aging_invoices(partner=partner, as_of=as_of)
        .order_by()
        .values("customer_id", "customer__name")
        .annotate(**aging_sums(as_of))
    ]
    rows.sort(key=lambda r: (-r.total, r.name.lower()))
    totals = AgingRow(name="Total")
    for row in rows:
        for key in ("invoices", *dict(AGING_BUCKETS)):
            setattr(totals, key, getattr(totals, key) + getattr(row, key))
    return AgingReport(as_of=as_of, rows=rows, totals=totals)


def customer_aging(*, customer, as_of: datetime.date) -> AgingRow:
    """One customer's open balance by bucket (its office page). One query."""
    sums = aging_invoices(partner=customer.partner_id, as_of=as_of, customer=customer).aggregate(**aging_sums(as_of))
    return AgingRow(customer_id=customer.pk, name=customer.name, **{k: v or 0 for k, v in sums.items()})


# --------------------------------------------------------------------------------------------------
# Revenue and margin

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


def _revenue_invoice_filter(prefix: str, *, partner, date_from, date_to) -> Q:
    """Issued, non-void AR invoices of the partner issued in the range (``prefix`` reaches the invoice)."""
    return Q(
        **{
            f"{prefix}partner": partner,
            f"{prefix}kind": Invoice.Kind.AR,
            f"{prefix}issue_date__gte": date_from,
            f"{prefix}issue_date__lte": date_to,
            f"{prefix}status__in": [s for s in Invoice.ISSUED_STATUSES if s != Invoice.Status.VOID],
        }
    )


def _months(date_from: datetime.date, date_to: datetime.date) -> list[datetime.date]:
    months, day = [], date_from.replace(day=1)
    while day <= date_to:
        months.append(day)
        day = (day + datetime.timedelta(days=32)).replace(day=1)
    return months


def revenue_report(*, partner, date_from: datetime.date, date_to: datetime.date, by: str = "month") -> RevenueReport:
    """Revenue, tax, provider cost and margin of the AR invoices issued from ``date_from`` to ``date_to``
    (inclusive), grouped ``by`` month, customer, provider or expense code. Three queries at most."""
    if by not in dict(REVENUE_GROUPINGS):
        raise ValueError(f"Unknown grouping: {by}")
    month = TruncMonth("invoice__issue_date", output_field=DateField())
    links = InvoiceProforma.objects.filter(
        _revenue_invoice_filter("invoice__", partner=partner, date_from=date_from, date_to=date_to),
        kind=Invoice.Kind.AR,
        is_active=True,
    )
    slips = Slip.objects.filter(
        _revenue_invoice_filter("invoice__", partner=partner, date_from=date_from, date_to=date_to)
    )
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
        "customer": (
            {"g": F("invoice__customer_id"), "name": F("invoice__customer__name")},
            {"g": F("invoice__customer_id"), "name": F("invoice__customer__name")},
        ),
        "provider": (
            {"g": F("proforma__provider_id"), "name": F("proforma__provider__name")},
            {"g": Value(None, output_field=BigIntegerField())},
        ),
        "expense_code": ({"g": F("proforma__expense_code_key")}, {"g": F("invoice__expense_code_key")}),
    }[by]
    rows: dict[object, RevenueRow] = {}

    def row_for(key, name=None) -> RevenueRow:
        if key not in rows:
            rows[key] = RevenueRow(key=key, label=name or "")
        return rows[key]

    from_lines = by in ("provider", "expense_code")
    for queryset, groups, sums in ((links, group_fields[0], link_sums), (slips, group_fields[1], slip_sums)):
        for item in queryset.order_by().values(**groups).annotate(**sums):
            if not item["n"]:
                continue  # an ungrouped aggregate (direct lines by provider) over no rows
            row = row_for(item["g"], item.get("name"))
            row.cost_units += item["cost"] or 0
            if from_lines:
                row.net_units += item["net"] or 0
                row.tax_units += item["tax"] or 0
                if queryset is links:
                    row.count += item["n"]
    if not from_lines:
        invoices = Invoice.objects.filter(
            _revenue_invoice_filter("", partner=partner, date_from=date_from, date_to=date_to)
        )
        groups = (
            {"g": TruncMonth("issue_date", output_field=DateField())}
            if by == "month"
            else {"g": F("customer_id"), "name": F("customer__name")}
        )
        for item in (
            invoices.order_by()
            .values(**groups)
            .annotate(
                n=Count("pk"),
                net=Sum(F("subtotal_units") - F("discount_total_units")),
                tax=Sum("tax_units"),
            )
        ):
            row = row_for(item["g"], item.get("name"))
            row.count, row.net_units, row.tax_units = item["n"], item["net"] or 0, item["tax"] or 0

    _credit_notes_counted(rows, row_for, partner=partner, date_from=date_from, date_to=date_to, by=by)

    if by == "month":
        for day in _months(date_from, date_to):
            row_for(day)
        for key, row in rows.items():
            row.month = key
            row.label = key.strftime("%b %Y") if key else ""
        ordered = sorted(rows.values(), key=lambda r: r.month or datetime.date.min)
    else:
        for key, row in rows.items():
            if by == "customer":
                row.customer_id = key
            elif by == "provider":
                row.provider_id = key
                row.label = row.label if key is not None else NO_PROVIDER
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
        count_label="Proformas" if from_lines else "Invoices",
    )


def _credit_notes_counted(rows, row_for, *, partner, date_from, date_to, by: str) -> None:
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
        "customer": {"g": F("credit_note__customer_id"), "name": F("credit_note__customer__name")},
        "provider": {
            "g": Case(When(on_proforma, then=F("slip__proforma__provider_id")), default=Value(None)),
            "name": F("slip__proforma__provider__name"),
        },
        "expense_code": {
            "g": Case(
                When(on_proforma, then=F("slip__proforma__expense_code_key")),
                default=F("credit_note__invoice__expense_code_key"),
            )
        },
    }[by]
    sums = {"net": Sum("amount_units"), "tax": Sum("tax_units"), "n": Count("credit_note", distinct=True)}
    for item in lines.order_by().values(**groups).annotate(**sums):
        row = row_for(item["g"], item.get("name"))
        row.net_units -= item["net"] or 0
        row.tax_units -= item["tax"] or 0
        row.credited_units += item["net"] or 0
        row.credit_notes += item["n"]
