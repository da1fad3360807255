"""The portal dashboard's reads: what the signed-in customer has due, overdue and paid this year, its next
invoices due, and its spend by month and by expense code. Scoped to one customer of one partner.

Spend is what an issued, non-void invoice leaves the customer to pay: its total less the credit notes applied
to it and the child invoices that took part of its bill (each child counts as its own invoice), so nothing is
counted twice and a fully credited invoice counts nothing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from octoo_billing import locale as formats

from .models import Invoice, InvoiceProforma, Payment
from .selectors import PageParts

SPEND_MONTHS = 12
NEXT_DUE_SHOWN = 5
NO_CODE = "No expense code"


@dataclass(frozen=True)
class Figure:
    """An amount and the number of invoices it is made of."""

    units: int
    count: int


@dataclass(frozen=True)
class SpendBar:
    """One bar of a spend chart: its label, the amount and, for a month, the first day."""

    label: str
    units: int
    month: datetime.date | None = None


@dataclass
class PortalDashboard(PageParts):
    currency: str
    today: datetime.date
    year: int
    due: Figure  # open, not yet past its due date
    overdue: Figure  # open and past its due date (or marked overdue)
    paid: Figure  # payments received this year, less what was refunded; count: invoices they were paid on
    open_balance_units: int
    next_due: list  # open invoices, the soonest due first
    spend_by_month: list[SpendBar]
    spend_by_code: list[SpendBar]

    @property
    def spend_total_units(self) -> int:
        return sum(bar.units for bar in self.spend_by_month)


def _month_start(day: datetime.date, months_back: int) -> datetime.date:
    index = day.year * 12 + (day.month - 1) - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


def _spend():
    return F("total_units") - F("children_units") - F("credited_units")


def portal_dashboard(*, customer, today: datetime.date | None = None) -> PortalDashboard:
    """The dashboard of ``customer`` (its partner's currency and time zone): five queries whatever its size."""
    partner = customer.partner
    today = today or timezone.localdate(timezone=partner.tzinfo)
    invoices = Invoice.objects.filter(partner_id=partner.pk, customer=customer, kind=Invoice.Kind.AR)
    open_statuses = list(Invoice.OPEN_STATUSES)
    past_due = Q(status=Invoice.Status.OVERDUE) | Q(due_date__lt=today)
    balance = F("total_units") - F("paid_units") - F("children_units") - F("credited_units")
    open_agg = invoices.filter(status__in=open_statuses).aggregate(
        overdue_units=Sum(balance, filter=past_due, default=0),
        overdue_count=Count("id", filter=past_due),
        due_units=Sum(balance, filter=~past_due, default=0),
        due_count=Count("id", filter=~past_due),
    )
    paid_agg = Payment.objects.filter(
        partner_id=partner.pk,
        invoice__customer=customer,
        invoice__kind=Invoice.Kind.AR,
        received_on__year=today.year,
    ).aggregate(units=Sum(F("amount_units") - F("refunded_units"), default=0), count=Count("invoice", distinct=True))
    next_due = list(
        invoices.filter(status__in=open_statuses).order_by(F("due_date").asc(nulls_last=True), "id")[:NEXT_DUE_SHOWN]
    )
    for invoice in next_due:  # what the invoice table flags in red
        invoice.past_due = invoice.status == Invoice.Status.OVERDUE or bool(
            invoice.due_date and invoice.due_date < today
        )

    first = _month_start(today, SPEND_MONTHS - 1)
    billed = invoices.exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID]).filter(issue_date__gte=first)
    by_month = {
        row["month"]: row["units"]
        for row in billed.annotate(month=TruncMonth("issue_date"))
        .values("month")
        .annotate(units=Sum(_spend()))
        .order_by("month")
    }
    months = [_month_start(today, back) for back in range(SPEND_MONTHS - 1, -1, -1)]
    spend_by_month = [
        SpendBar(label=formats.format_short_month(m), units=_month_units(by_month, m), month=m) for m in months
    ]
    return PortalDashboard(
        currency=partner.currency,
        today=today,
        year=today.year,
        due=Figure(units=open_agg["due_units"], count=open_agg["due_count"]),
        overdue=Figure(units=open_agg["overdue_units"], count=open_agg["overdue_count"]),
        paid=Figure(units=paid_agg["units"], count=paid_agg["count"]),
        open_balance_units=open_agg["due_units"] + open_agg["overdue_units"],
        next_due=next_due,
        spend_by_month=spend_by_month,
        spend_by_code=_spend_by_code(billed),
    )


def _month_units(by_month: dict, month: datetime.date) -> int:
    """TruncMonth gives a date on SQLite and PostgreSQL alike for a DateField; a datetime would be a bug."""
    return int(by_month.get(month, 0) or 0)


def _spend_by_code(billed) -> list[SpendBar]:
    """Spend by the expense codes the invoices carry, as invoices group them ("PO: 7 | Cost center: CC-1").

    A grouped invoice counts under its own codes. An invoice that shows each proforma's codes on its line counts
    each proforma's billed total under that proforma's codes, and what is left of its spend (its own lines, less
    credits and children) under "No expense code", so the bars add up to the spend by month."""
    per_proforma = Q(expense_code_mode=Invoice.ExpenseCodeMode.PER_PROFORMA)
    totals: dict[str, int] = {}
    for row in billed.exclude(per_proforma).values("expense_code_key").annotate(units=Sum(_spend())):
        key = row["expense_code_key"] or ""
        totals[key] = totals.get(key, 0) + int(row["units"] or 0)
    split = billed.filter(per_proforma)
    split_spend = split.aggregate(units=Sum(_spend(), default=0))["units"]
    if split_spend:
        lines = (
            InvoiceProforma.objects.filter(invoice__in=split, is_active=True, kind=Invoice.Kind.AR)
            .values("proforma__expense_code_key")
            .annotate(units=Sum("proforma__bill_total_units"))
        )
        on_lines = 0
        for row in lines:
            key = row["proforma__expense_code_key"] or ""
            totals[key] = totals.get(key, 0) + int(row["units"] or 0)
            on_lines += int(row["units"] or 0)
        totals[""] = totals.get("", 0) + split_spend - on_lines
    bars = [SpendBar(label=key or NO_CODE, units=units) for key, units in totals.items() if units]
    # Largest first; "No expense code" last whatever its size, as it is not a code.
    return sorted(bars, key=lambda b: (b.label == NO_CODE, -b.units, b.label))
