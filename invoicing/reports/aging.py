"""AR aging: what customers owe as of a date, by days past due (see invoicing.reports)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection
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
from django.utils import timezone

from customers.models import Customer

from ..models import CreditApplication, CreditNote, Invoice, OpenBalance, Payment, Refund
from . import open_balances

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
    """What each customer owes as of ``as_of``, by how long it is past due. Two queries: whether the open balances
    answer for the date (``open_balances.current``), then ``_owed_by_customer``."""
    partner_id = _pk(partner)
    kept = open_balances.current(partner_id=partner_id, as_of=as_of)
    return _aging_report(as_of, _owed_by_customer(partner_id=partner_id, as_of=as_of, open_kept=kept))


def customer_aging(*, customer, as_of: datetime.date) -> AgingRow:
    """One customer's open balance by bucket (its office page), from its own invoices (a customer's open invoices
    are few). One query."""
    rows = _owed_by_customer(partner_id=customer.partner_id, as_of=as_of, customer_id=customer.pk)
    row = rows[0] if rows else AgingRow()
    row.customer_id, row.name = customer.pk, customer.name
    return row


def ar_aging_today(*, partner, today: datetime.date) -> AgingReport:
    """``ar_aging`` as of today (the dashboard): a read of the open balances kept per customer and due date, since
    nothing has moved after today. Two queries."""
    return ar_aging(partner=partner, as_of=today)


def _pk(obj_or_pk) -> int:
    return getattr(obj_or_pk, "pk", obj_or_pk)


def _statuses(statuses) -> str:
    """An SQL list of our own status values (constants, not input), written into the SQL so that PostgreSQL can
    match the partial indexes' conditions."""
    return ", ".join(f"'{status}'" for status in statuses)


def _owed_by_customer(
    *, partner_id: int, as_of: datetime.date, customer_id: int | None = None, open_kept: bool = False
) -> list[AgingRow]:
    """``aging_invoices`` grouped by customer and bucket, without reading every invoice's payment history.

    An invoice's balance as of the date is today's balance (``total - paid - children - credited``, which the
    payment, refund and credit functions keep equal to the sums of its rows) with what moved after the date
    taken back out: payments received after it added back, refunds made after it (those that reopened the
    invoice) taken off, credit applied after it added back. So only two kinds of invoices are read:

    - every invoice open today, as owing then what it owes today (the open invoices' index holds every column
      needed: an index-only scan of the open rows alone); with ``open_kept`` (as of today, no open invoice issued
      after it: ``open_balances.current``), the open balances the triggers keep per customer and due date instead
      (invoicing.reports.open_balances: about a hundred rows a customer however many invoices are open);
    - anything that moved after the date, or was voided after it: today's balance plus what moved since, in
      place of what the first part counted for it (a lookup by id of each; next to none as of today).

    Every other invoice is settled today with nothing moved since the date, so it was settled then too and is
    not owed. Child invoices count as attached now, as in ``aging_invoices``. One query."""
    ops = connection.ops
    day = ops.adapt_datefield_value
    params = {
        "partner": partner_id,
        "customer": customer_id,
        "as_of": day(as_of),
        # voided after the as-of date: on a later day in the active time zone, as ``voided_at__date__gt`` reads it
        "voided_from": ops.adapt_datetimefield_value(
            timezone.make_aware(datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time.min))
        ),
        "succeeded": Refund.Status.SUCCEEDED.value,
        **{f"ago_{n}": day(as_of - datetime.timedelta(days=n)) for n in (30, 60, 90)},
    }
    ar, void, draft = Invoice.Kind.AR.value, Invoice.Status.VOID.value, Invoice.Status.DRAFT.value
    t = {
        model.__name__: ops.quote_name(model._meta.db_table)
        for model in (Invoice, Payment, Refund, CreditApplication, CreditNote, Customer, OpenBalance)
    }
    # What moved after the date, per invoice (an invoice voided after it moves by nothing but is read too).
    events = f"""
        SELECT invoice_id, amount_units AS units FROM {t["Payment"]}
            WHERE partner_id = %(partner)s AND received_on > %(as_of)s
        UNION ALL
        SELECT invoice_id, -amount_units FROM {t["Refund"]}
            WHERE partner_id = %(partner)s AND status = %(succeeded)s AND credit_note_id IS NULL
                AND refunded_on > %(as_of)s
        UNION ALL
        SELECT a.invoice_id, a.amount_units FROM {t["CreditApplication"]} a
            JOIN {t["CreditNote"]} n ON n.id = a.credit_note_id
            WHERE n.partner_id = %(partner)s AND a.applied_on > %(as_of)s
        UNION ALL
        SELECT id, 0 FROM {t["Invoice"]}
            WHERE partner_id = %(partner)s AND kind = '{ar}' AND status = '{void}' AND voided_at >= %(voided_from)s
    """  # noqa: S608 (table names and our own constants only; values are parameters)
    balance = "i.total_units - i.paid_units - i.children_units - i.credited_units"
    one_customer = "AND i.customer_id = %(customer)s" if customer_id is not None else ""
    open_statuses = _statuses(Invoice.OPEN_STATUSES)
    # Every invoice open today, as owed then what it owes today (1 invoice, its balance)...
    open_now = f"""
        SELECT i.customer_id, i.due_date, {balance} AS units, 1 AS n FROM {t["Invoice"]} i
        WHERE i.partner_id = %(partner)s AND i.kind = '{ar}' AND i.status IN ({open_statuses})
            AND i.issue_date <= %(as_of)s {one_customer} AND {balance} > 0
    """  # noqa: S608
    if open_kept:
        # ...the same, as the open balances keep it by customer and due date (none was issued after the date)
        open_now = f"""
            SELECT i.customer_id, i.due_date, i.units, i.invoices AS n FROM {t["OpenBalance"]} i
            WHERE i.partner_id = %(partner)s {one_customer}
        """  # noqa: S608
    # ...and for each one that moved after the date (or was voided after it): what it owed then, less what the
    # first part counted for it (nothing unless it is open today). The first part reads no moved set, so the
    # open rows are a plain (parallel) scan of their index.
    then = f"{balance} + m.units"
    counted_now = f"i.status IN ({open_statuses}) AND {balance} > 0"
    moved_since = f"""
        SELECT i.customer_id, i.due_date,
            CASE WHEN {then} > 0 THEN {then} ELSE 0 END - CASE WHEN {counted_now} THEN {balance} ELSE 0 END AS units,
            CASE WHEN {then} > 0 THEN 1 ELSE 0 END - CASE WHEN {counted_now} THEN 1 ELSE 0 END AS n
        FROM (SELECT invoice_id, CAST(SUM(units) AS BIGINT) AS units FROM ({events}) e GROUP BY invoice_id) m
        JOIN {t["Invoice"]} i ON i.id = m.invoice_id
        WHERE i.partner_id = %(partner)s AND i.kind = '{ar}' AND i.status <> '{draft}'
            AND i.issue_date <= %(as_of)s {one_customer}
            AND (i.status <> '{void}' OR i.voided_at >= %(voided_from)s)
    """  # noqa: S608
    # the buckets of ``_bucket_conditions``
    buckets = {
        "current": "due_date IS NULL OR due_date >= %(as_of)s",
        "days_1_30": "due_date < %(as_of)s AND due_date >= %(ago_30)s",
        "days_31_60": "due_date < %(ago_30)s AND due_date >= %(ago_60)s",
        "days_61_90": "due_date < %(ago_60)s AND due_date >= %(ago_90)s",
        "days_over_90": "due_date < %(ago_90)s",
    }
    keys = ["invoices", *buckets]
    bucket_sums = ", ".join(f"SUM(CASE WHEN {when} THEN units ELSE 0 END) AS {key}" for key, when in buckets.items())

    def by_customer(rows: str) -> str:  # each part grouped on its own, so the large one can run in parallel
        return f"SELECT customer_id, SUM(n) AS invoices, {bucket_sums} FROM ({rows}) r GROUP BY customer_id"

    sql = f"""
        SELECT c.id, c.name, {", ".join(f"s.{key}" for key in keys)} FROM (
            SELECT customer_id, {", ".join(f"SUM({key}) AS {key}" for key in keys)} FROM (
                {by_customer(open_now)}
                UNION ALL
                {by_customer(moved_since)}
            ) parts
            GROUP BY customer_id
        ) s
        JOIN {t["Customer"]} c ON c.id = s.customer_id
        WHERE s.invoices > 0
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            AgingRow(customer_id, name, int(invoices), *(int(units or 0) for units in sums))
            for customer_id, name, invoices, *sums in cursor.fetchall()
        ]


def _aging_report(as_of: datetime.date, rows: list[AgingRow]) -> AgingReport:
    rows.sort(key=lambda r: (-r.total, r.name.lower()))
    totals = AgingRow(name="Total")
    for row in rows:
        for key in ("invoices", *dict(AGING_BUCKETS)):
            setattr(totals, key, getattr(totals, key) + getattr(row, key))
    return AgingReport(as_of=as_of, rows=rows, totals=totals)
