"""Statements of account: what an AR customer owed at the start of a period, what happened in it, and what it
owes at its end, with the aging of what is still open then.

Sign convention: a positive amount or balance is owed by the customer; a negative balance means the customer is
in credit (it paid more than it owes, or holds credit notes not yet applied or refunded).

The ledger of a customer, one entry per dated event:

- an issued AR invoice, on its issue date: ``+ (total - attached child invoices)``. A child invoice's total is
  owed through the child (on its own customer's statement) and taken off its parent's, so every amount counts
  once. As in the aging report, children count as attached now (their attach date is not kept);
- a voided invoice stays on the statement as issued, then a "voided" entry on the day it was voided (the
  partner's date of ``voided_at``) takes back what was still owed on it: ``- (total - children - credited)``,
  so the pair nets to what credit notes applied to it (a void invoice takes no payment);
- a credit note, on its issue date: ``- total`` (applying it to an invoice moves the credit, the balance does not
  change; what is not applied is the customer's credit);
- a payment, on the day it was received: ``- amount``;
- a refund that was made (status "succeeded"), on its refund date: ``+ amount``, whether it came out of a credit
  note's credit or reopened an invoice's balance. Pending and failed refunds are not on the statement.

So when the period ends today the closing balance is, to the cent, the sum over the customer's invoices of
``outstanding_units`` minus the credit notes' ``credit_left_units``. The aging splits what is open on each
invoice at the end date (``total - children - payments + refunds that reopened it - credit applied``, all dated
on or before it) into the AR aging report's buckets by due date (``invoicing.reports``); aging total - unapplied
credit = closing balance.

``customer_statement`` costs a fixed number of queries: one for the opening balance and the unapplied credit
(subqueries), one per kind of entry in the period, one for the aging.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import models
from django.db.models import BigIntegerField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import Customer
from octoo_billing.locale import format_date
from octoo_billing.money import format_units

from .errors import BillingRuleError
from .models import CreditApplication, CreditNote, Invoice, Payment, Refund
from .reports import (
    AgingRow,
    aging_sums,  # the report's bucket definition, shared (not a second one)
)
from .schedules import closed_period

Status = Invoice.Status
SUCCEEDED = Refund.Status.SUCCEEDED
# The longest period one statement covers (ten years): wider is an export, not a statement.
MAX_PERIOD_DAYS = 3660


class LineKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"
    PAYMENT = "payment", "Payment"
    REFUND = "refund", "Refund"
    VOID = "void", "Invoice voided"


METHODS = {value: label.lower() for value, label in Payment.Method.choices}
# Entries of one day in this order: what was billed, then what was taken back, paid and paid back.
KIND_ORDER = {kind: position for position, kind in enumerate(LineKind)}


@dataclass(frozen=True)
class StatementLine:
    """One entry of the period. ``amount_units``: positive is owed by the customer (an invoice, a refund),
    negative is owed to it (a payment, a credit note); ``balance_units``: the running balance after it."""

    date: datetime.date
    kind: LineKind
    number: str
    description: str
    amount_units: int
    balance_units: int
    invoice_id: int | None = None

    @property
    def kind_label(self) -> str:
        return self.kind.label

    @property
    def charge_units(self) -> int:
        return max(self.amount_units, 0)

    @property
    def credit_units(self) -> int:
        return max(-self.amount_units, 0)


@dataclass(frozen=True)
class Statement:
    customer: Customer
    start: datetime.date
    end: datetime.date
    currency: str
    opening_units: int
    lines: list[StatementLine]
    closing_units: int
    aging: AgingRow  # what is open on the invoices at ``end``, by days past due
    unapplied_credit_units: int  # credit notes' credit left at ``end`` (not applied, not refunded)

    @property
    def partner(self):
        return self.customer.partner

    @property
    def charges_units(self) -> int:
        """What the period added to the balance (invoices, refunds)."""
        return sum(line.charge_units for line in self.lines)

    @property
    def credits_units(self) -> int:
        """What the period took off the balance (payments, credit notes, voids)."""
        return sum(line.credit_units for line in self.lines)

    @property
    def in_credit(self) -> bool:
        return self.closing_units < 0

    @property
    def is_empty(self) -> bool:
        """Nothing happened and nothing is owed either way: not worth a monthly e-mail."""
        return not self.lines and self.opening_units == 0 and self.closing_units == 0

    @property
    def aging_buckets(self) -> list[tuple[str, str, int]]:
        return self.aging.buckets


@dataclass(frozen=True)
class PeriodChoice:
    key: str
    label: str
    start: datetime.date
    end: datetime.date


def period_choices(today: datetime.date) -> list[PeriodChoice]:
    """The quick choices of the period pickers; the first is the default (this month so far)."""
    last_start, last_end = closed_period("monthly", today)
    return [
        PeriodChoice("this_month", "This month so far", today.replace(day=1), today),
        PeriodChoice("last_month", "Last month", last_start, last_end),
        PeriodChoice("this_year", "This year", today.replace(month=1, day=1), today),
    ]


def _total(queryset, expression) -> Coalesce:
    """The sum of ``expression`` over ``queryset`` as a subquery (0 when it has no rows)."""
    rows = queryset.order_by().annotate(_all=Value(1)).values("_all").annotate(s=Sum(expression)).values("s")
    return Coalesce(Subquery(rows, output_field=BigIntegerField()), 0, output_field=BigIntegerField())


def _per_invoice(queryset, amount: str) -> Coalesce:
    """The sum of ``amount`` over ``queryset``'s rows of the outer invoice, as a correlated subquery."""
    rows = queryset.filter(invoice=OuterRef("pk")).order_by().values("invoice").annotate(s=Sum(amount)).values("s")
    return Coalesce(Subquery(rows, output_field=BigIntegerField()), 0, output_field=BigIntegerField())


def _invoices(customer: Customer):
    return Invoice.objects.filter(partner_id=customer.partner_id, customer=customer, kind=Invoice.Kind.AR).exclude(
        status=Status.DRAFT
    )


def _payments(customer: Customer):
    return Payment.objects.filter(partner_id=customer.partner_id, invoice__customer=customer, invoice__kind="ar")


def _refunds(customer: Customer):
    return Refund.objects.filter(partner_id=customer.partner_id, invoice__customer=customer, status=SUCCEEDED)


def _credit_notes(customer: Customer):
    return CreditNote.objects.filter(partner_id=customer.partner_id, customer=customer)


NET = F("total_units") - F("children_units")  # what an invoice bills its own customer
VOIDED = NET - F("credited_units")  # what a void took back (nothing was paid on it)


def _balances(customer: Customer, start: datetime.date, end: datetime.date) -> dict[str, int]:
    """The opening balance's parts (everything before ``start``) and the credit left at ``end``: one query."""
    invoices = _invoices(customer)
    notes = _credit_notes(customer)
    sums = {
        "invoiced": _total(invoices.filter(issue_date__lt=start), NET),
        "voided": _total(invoices.filter(status=Status.VOID, voided_at__date__lt=start), VOIDED),
        "paid": _total(_payments(customer).filter(received_on__lt=start), F("amount_units")),
        "credited": _total(notes.filter(issue_date__lt=start), F("total_units")),
        "refunded": _total(_refunds(customer).filter(refunded_on__lt=start), F("amount_units")),
        "credit_issued": _total(notes.filter(issue_date__lte=end), F("total_units")),
        "credit_applied": _total(
            CreditApplication.objects.filter(credit_note__in=notes, applied_on__lte=end), F("amount_units")
        ),
        "credit_refunded": _total(
            _refunds(customer).filter(credit_note__isnull=False, refunded_on__lte=end), F("amount_units")
        ),
    }
    return Customer.objects.filter(pk=customer.pk).annotate(**sums).values(*sums).get()


def _aging(customer: Customer, end: datetime.date) -> AgingRow:
    """What is open on each invoice at ``end`` (payments, refunds and credit dated on or before it), in the
    report's buckets by due date. One query."""
    open_then = (
        NET
        - _per_invoice(_payments(customer).filter(received_on__lte=end), "amount_units")
        + _per_invoice(_refunds(customer).filter(credit_note__isnull=True, refunded_on__lte=end), "amount_units")
        - _per_invoice(CreditApplication.objects.filter(applied_on__lte=end), "amount_units")
    )
    invoices = (
        _invoices(customer)
        .filter(issue_date__lte=end)
        .filter(~Q(status=Status.VOID) | Q(voided_at__date__gt=end))  # still owed until the day it was voided
        .annotate(outstanding_units=open_then)
        .filter(outstanding_units__gt=0)
    )
    sums = invoices.aggregate(**aging_sums(end))
    return AgingRow(customer_id=customer.pk, name=customer.name, **{k: v or 0 for k, v in sums.items()})


def _day(value: datetime.date) -> str:
    """A date in the active locale (octoo_billing.locale): Nov 24, 2026 in en_US."""
    return format_date(value)


def _entries(customer: Customer, start: datetime.date, end: datetime.date, currency: str) -> list[tuple]:
    """The period's entries as (date, kind, number, description, amount, invoice id): one query per kind."""
    period = (start, end)
    entries = []
    invoices = (
        _invoices(customer)
        .filter(Q(issue_date__range=period) | Q(status=Status.VOID, voided_at__date__range=period))
        .values("id", "number", "issue_date", "due_date", "status", "voided_at", "children_units")
        .annotate(net_units=NET, voided_units=VOIDED)
    )
    for row in invoices:
        if start <= row["issue_date"] <= end:
            description = f"due {_day(row['due_date'])}" if row["due_date"] else "no due date"
            if row["children_units"]:
                children = format_units(row["children_units"], currency)
                description = f"{description}; {children} of it billed through child invoices"
            amount = row["net_units"]
            entries.append((row["issue_date"], LineKind.INVOICE, row["number"], description, amount, row["id"]))
        if row["status"] == Status.VOID:
            voided_on = timezone.localdate(row["voided_at"])
            if start <= voided_on <= end:
                entries.append((voided_on, LineKind.VOID, row["number"], "cancelled", -row["voided_units"], row["id"]))
    notes = _credit_notes(customer).filter(issue_date__range=period)
    for row in notes.values("number", "issue_date", "total_units", "reason", "invoice_id", "invoice__number"):
        description = f"on {row['invoice__number']}" + (f": {row['reason']}" if row["reason"] else "")
        amount = -row["total_units"]
        entries.append((row["issue_date"], LineKind.CREDIT_NOTE, row["number"], description, amount, row["invoice_id"]))
    payments = _payments(customer).filter(received_on__range=period)
    for row in payments.values("received_on", "amount_units", "method", "reference", "invoice_id", "invoice__number"):
        description = f"by {METHODS.get(row['method'], row['method'])} {row['reference']}".strip()
        amount, number = -row["amount_units"], row["invoice__number"]
        entries.append((row["received_on"], LineKind.PAYMENT, number, description, amount, row["invoice_id"]))
    refunds = _refunds(customer).filter(refunded_on__range=period)
    for row in refunds.values(
        "refunded_on", "amount_units", "method", "reference", "invoice_id", "invoice__number", "credit_note__number"
    ):
        description = f"by {METHODS.get(row['method'], row['method'])} {row['reference']}".strip()
        if row["credit_note__number"]:
            description = f"{description}, out of the credit of {row['credit_note__number']}"
        amount, number = row["amount_units"], row["invoice__number"]
        entries.append((row["refunded_on"], LineKind.REFUND, number, description, amount, row["invoice_id"]))
    return entries


def period_check(start: datetime.date, end: datetime.date) -> None:
    if end < start:
        raise BillingRuleError("The end date is before the start date.", field="end")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise BillingRuleError("Choose a period of at most ten years.", field="start")


def customer_statement(*, customer: Customer, start: datetime.date, end: datetime.date) -> Statement:
    """The statement of account of an AR customer from ``start`` to ``end`` (both included): the opening balance,
    the period's entries in date order with the running balance, the closing balance, and the aging at ``end``.
    Dates of voids are read in the partner's time zone. A fixed number of queries (see the module's notes)."""
    period_check(start, end)
    partner = customer.partner
    currency = partner.currency
    with timezone.override(partner.tzinfo):
        parts = _balances(customer, start, end)
        entries = _entries(customer, start, end, currency)
        aging = _aging(customer, end)
    opening = parts["invoiced"] - parts["voided"] - parts["paid"] - parts["credited"] + parts["refunded"]
    entries.sort(key=lambda entry: (entry[0], KIND_ORDER[entry[1]], entry[2], entry[5] or 0))
    lines, balance = [], opening
    for day, kind, number, description, amount, invoice_id in entries:
        balance += amount
        lines.append(StatementLine(day, kind, number, description, amount, balance, invoice_id))
    unapplied = parts["credit_issued"] - parts["credit_applied"] - parts["credit_refunded"]
    return Statement(
        customer=customer,
        start=start,
        end=end,
        currency=currency,
        opening_units=opening,
        lines=lines,
        closing_units=balance,
        aging=aging,
        unapplied_credit_units=unapplied,
    )
