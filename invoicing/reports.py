"""Report selectors: AR aging and revenue and margin. Partner-scoped, aggregated in the database, a fixed
number of queries whatever the number of invoices; amounts are integer minor units.

AR aging (as of a date)
    Every AR invoice issued on or before the date, not voided by then, with something still owed then:
    ``total - attached child invoices - payments received on or before the date``. Its days past due are
    the days from its due date to the as-of date; invoices not yet due (or with no due date, on "no payment"
    terms) are "current". Child invoices count as attached now (their attach date is not kept).

Revenue and margin (over a range of issue dates)
    Revenue is what issued, non-void AR invoices billed, net of tax: ``subtotal - discounts``; tax is shown
    beside it, since it is collected for the tax office and is not revenue. Cost is what the providers earn
    for the same work: the pay side of the proformas on those invoices plus the pay side of lines typed
    directly on them (zero for most manual lines). Margin is revenue - cost.
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

from .models import Invoice, InvoiceProforma, Payment, Slip

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
    outstanding = (
        F("total_units") - F("children_units") - Coalesce(Subquery(paid_by_then, output_field=BigIntegerField()), 0)
    )
    return invoices.annotate(outstanding_units=outstanding).filter(outstanding_units__gt=0)


def _aging_sums(as_of: datetime.date) -> dict:
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
        .annotate(**_aging_sums(as_of))
    ]
    rows.sort(key=lambda r: (-r.total, r.name.lower()))
    totals = AgingRow(name="Total")
    for row in rows:
        for key in ("invoices", *dict(AGING_BUCKETS)):
            setattr(totals, key, getattr(totals, key) + getattr(row, key))
    return AgingReport(as_of=as_of, rows=rows, totals=totals)


def customer_aging(*, customer, as_of: datetime.date) -> AgingRow:
    """One customer's open balance by bucket (its office page). One query."""
    sums = aging_invoices(partner=customer.partner_id, as_of=as_of, customer=customer).aggregate(**_aging_sums(as_of))
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
        """Margin as a share of revenue, to one decimal (None when nothing was billed)."""
        if not self.net_units:
            return None
        return (Decimal(self.margin_units) * 100 / Decimal(self.net_units)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )

    def add(self, other: RevenueRow, *, count: bool = True) -> None:
        self.net_units += other.net_units
        self.tax_units += other.tax_units
        self.cost_units += other.cost_units
        if count:
            self.count += other.count


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
