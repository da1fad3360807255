"""Gapless document numbers: PREFIX-YYYY-NNNNN from a counter row locked inside the issue transaction.

The counter is per partner and series and never resets (the year is the issue year, the sequence runs on).
Because the bump happens inside the caller's transaction, a failed issue rolls the counter back with it:
no gaps, and the row lock serialises concurrent issuers: no duplicates. The unique constraint on
(partner, kind, number) is the backstop.

A billing admin may move a series forward (``counter_next_set``, from the company settings): the next number
becomes a higher one, never a lower or equal one than already used. It takes the same row lock, so an issue
running at that moment numbers either before the move or after it, never below the new start.
"""

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from .errors import BillingRuleError
from .models import NumberCounter

Series = NumberCounter.Series

# The highest "next number" an admin may set: the sequence column is a 32-bit integer, and an invoice number
# (PREFIX-YYYY-NNNNNNNN) must stay within its 30 characters.
MAX_NEXT_NUMBER = 99_999_999


def format_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:05d}"


CREDIT_NOTE_PREFIX = "CN"


def series_prefix(partner, series: str) -> str:
    prefixes = {
        Series.AR: partner.ar_prefix,
        Series.AP: partner.ap_prefix,
        Series.PROFORMA: partner.proforma_prefix,
        Series.CREDIT_NOTE: CREDIT_NOTE_PREFIX,
    }
    return prefixes[series]


def _bump(partner_id: int, series: str, count: int) -> int | None:
    """Add ``count`` to the counter row and return its new value, in one statement that also row-locks it
    until the surrounding transaction ends (UPDATE ... RETURNING: PostgreSQL, and SQLite >= 3.35)."""
    table = NumberCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_value = last_value + %s WHERE partner_id = %s AND series = %s "  # noqa: S608
            "RETURNING last_value",
            [count, partner_id, series],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def number_take(*, partner, series: str, on_date: datetime.date, count: int = 1) -> list[tuple[int, str]]:
    """Reserve the next ``count`` numbers of a series. Must run inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_take must run inside the transaction that uses the number")
    last = _bump(partner.pk, series, count)
    if last is None:  # first number of this series: create the counter row, then bump it
        try:
            with transaction.atomic():
                NumberCounter.objects.create(partner_id=partner.pk, series=series, last_value=0)
        except IntegrityError:
            pass  # another issuer created it first
        last = _bump(partner.pk, series, count)
    first = last - count + 1
    prefix = series_prefix(partner, series)
    return [(value, format_number(prefix, on_date.year, value)) for value in range(first, last + 1)]


def counters_ensure(*, partner) -> None:
    """Create a partner's counter rows up front so issuers only ever lock, never insert."""
    for series in Series.values:
        NumberCounter.objects.get_or_create(partner=partner, series=series)


@dataclass(frozen=True)
class NextNumber:
    """What the next document of a series gets: its sequence value and the number it would read today."""

    series: str
    label: str
    value: int
    number: str


def numbers_next(*, partner, on_date: datetime.date) -> dict[str, NextNumber]:
    """The next number of each series (AR, AP, proforma), keyed by series."""
    last = dict(NumberCounter.objects.filter(partner_id=partner.pk).values_list("series", "last_value"))
    result = {}
    for series in Series:
        value = last.get(series.value, 0) + 1
        number = format_number(series_prefix(partner, series.value), on_date.year, value)
        result[series.value] = NextNumber(series.value, series.label, value, number)
    return result


def counter_next_set(*, partner, series: str, next_value: int, field: str | None = None) -> int | None:
    """Make ``next_value`` the next number of a series: forward only. Locks the counter row (as issuing does, so
    a concurrent issue numbers either before this or after it) and must run inside the caller's transaction.

    Returns the previous next number, or None when ``next_value`` already is the next one. Refuses with a
    ``BillingRuleError`` (on ``field``) that names the lowest number allowed."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("counter_next_set must run inside the caller's transaction")
    counter = NumberCounter.objects.select_for_update().filter(partner_id=partner.pk, series=series).first()
    if counter is None:
        counters_ensure(partner=partner)
        counter = NumberCounter.objects.select_for_update().get(partner_id=partner.pk, series=series)
    lowest = counter.last_value + 1
    label = Series(series).label.removesuffix("s")
    if next_value < lowest:
        used = f" ({counter.last_value:,} is already used)" if counter.last_value else ""
        raise BillingRuleError(
            f"The next {label} number can only move forward: the lowest allowed is {lowest:,}{used}.", field=field
        )
    if next_value > MAX_NEXT_NUMBER:
        raise BillingRuleError(f"The next {label} number can be at most {MAX_NEXT_NUMBER:,}.", field=field)
    if next_value == lowest:
        return None
    NumberCounter.objects.filter(pk=counter.pk).update(last_value=next_value - 1)
    return lowest
