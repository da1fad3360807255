"""AR aging: what customers owe as of a date, by days past due (see invoicing.reports)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from ..models import CreditApplication, Invoice, Payment, Refund

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
    return _aging_report(as_of, rows)


def customer_aging(*, customer, as_of: datetime.date) -> AgingRow:
    """One customer's open balance by bucket (its office page). One query."""
    sums = aging_invoices(partner=customer.partner_id, as_of=as_of, customer=customer).aggregate(**aging_sums(as_of))
    return AgingRow(customer_id=customer.pk, name=customer.name, **{k: v or 0 for k, v in sums.items()})


def ar_aging_today(*, partner, today: datetime.date) -> AgingReport:
    """``ar_aging`` as of today, read from the invoices' own balances (``Invoice.outstanding_units``) instead of
    their payment history: the open invoices only, through the status index (the dashboard, at any size). One
    query; the same rows as ``ar_aging(as_of=today)``."""
    outstanding = F("total_units") - F("paid_units") - F("children_units") - F("credited_units")
    rows = [
        AgingRow(
            customer_id=row.pop("customer_id"), name=row.pop("customer__name"), **{k: v or 0 for k, v in row.items()}
        )
        for row in Invoice.objects.filter(
            partner=partner, kind=Invoice.Kind.AR, status__in=Invoice.OPEN_STATUSES, issue_date__lte=today
        )
        .annotate(outstanding_units=outstanding)
        .filter(outstanding_units__gt=0)
        .order_by()
        .values("customer_id", "customer__name")
        .annotate(**aging_sums(today))
    ]
    return _aging_report(today, rows)


def _aging_report(as_of: datetime.date, rows: list[AgingRow]) -> AgingReport:
    rows.sort(key=lambda r: (-r.total, r.name.lower()))
    totals = AgingRow(name="Total")
    for row in rows:
        for key in ("invoices", *dict(AGING_BUCKETS)):
            setattr(totals, key, getattr(totals, key) + getattr(row, key))
    return AgingReport(as_of=as_of, rows=rows, totals=totals)
