"""Gapless document numbers: PREFIX-YYYY-NNNNN from a counter row locked inside the issue transaction.

The counter is per partner and series and never resets (the year is the issue year, the sequence runs on).
Because the bump happens inside the caller's transaction, a failed issue rolls the counter back with it:
no gaps, and the row lock serialises concurrent issuers: no duplicates. The unique constraint on
(partner, kind, number) is the backstop.
"""

import datetime

from django.db import IntegrityError, connection, transaction

from .models import NumberCounter

Series = NumberCounter.Series


def format_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:05d}"


def series_prefix(partner, series: str) -> str:
    return {Series.AR: partner.ar_prefix, Series.AP: partner.ap_prefix, Series.PROFORMA: partner.proforma_prefix}[
        series
    ]


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
