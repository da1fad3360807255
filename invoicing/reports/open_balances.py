"""What the open AR invoices owe today, per customer and due date, read from ``OpenBalance`` (kept by the database's
triggers on every write of an invoice: invoicing.models.figures) instead of from every open invoice.

The rows are differences: each statement that moves a balance adds rows, none is updated in place (so concurrent
payments and issues never wait on each other). ``open_balances_compact`` folds a partner's rows into one per customer
and due date, due dates long past folded into one per customer (they are "over 90 days" whatever day a report is
for): the hourly schedule runs it, so a read sums about a customer's last hundred days of due dates, not its open
invoices.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from ..models import Invoice, OpenBalance

# Due dates before this many days before the compaction are folded into that day. Reads are for today or yesterday
# (``current``), so a folded day is always more than 90 days past due for them.
FOLD_AFTER_DAYS = 100


def current(*, partner_id: int, as_of: datetime.date) -> bool:
    """Whether what is owed as of ``as_of`` may be read from the open balances: the date is today (or yesterday, in
    a time zone behind UTC) and no open invoice of the partner was issued after it. One query."""
    if as_of < timezone.now().astimezone(datetime.UTC).date() - datetime.timedelta(days=1):
        return False
    return not Invoice.objects.filter(
        partner_id=partner_id, kind=Invoice.Kind.AR, status__in=Invoice.OPEN_STATUSES, issue_date__gt=as_of
    ).exists()


def open_figures(*, partner, today: datetime.date) -> dict:
    """The dashboard's open figures: what the open AR invoices owe, how many they are, and how many are past due.
    One query."""
    return OpenBalance.objects.filter(partner=partner).aggregate(
        units=Sum("units", default=0),
        count=Sum("invoices", default=0),
        overdue=Sum("invoices", filter=Q(due_date__lt=today), default=0),
    )


def open_balances_compact(*, partner_id: int, today: datetime.date | None = None) -> int:
    """Folds the partner's rows into one per customer and due date (due dates more than ``FOLD_AFTER_DAYS`` before
    ``today`` into that day), dropping those that add up to nothing. The rows it folds are the ones its DELETE took,
    so differences added meanwhile by other transactions stay as they are. Returns the number of rows left."""
    today = today or timezone.now().astimezone(datetime.UTC).date()
    fold_before = today - datetime.timedelta(days=FOLD_AFTER_DAYS)
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    table = connection.ops.quote_name(OpenBalance._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE partner_id = %s RETURNING customer_id, due_date, units, invoices",  # noqa: S608
            [partner_id],
        )
        for customer_id, due_date, units, invoices in cursor.fetchall():
            if isinstance(due_date, str):  # SQLite
                due_date = datetime.date.fromisoformat(due_date)
            key = (customer_id, fold_before if due_date is not None and due_date < fold_before else due_date)
            sums[key][0] += units
            sums[key][1] += invoices
        OpenBalance.objects.bulk_create(
            [
                OpenBalance(partner_id=partner_id, customer_id=customer_id, due_date=due, units=units, invoices=count)
                for (customer_id, due), (units, count) in sums.items()
                if units or count
            ],
            batch_size=5000,
        )
    return sum(1 for units, count in sums.values() if units or count)
