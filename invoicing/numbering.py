"""Gapless document numbers: PREFIX-YYYY-NNNNN from a counter row locked inside the issue transaction.

The counter is per partner and series and never resets (the year is the issue year, the sequence runs on).
Because the bump happens inside the caller's transaction, a failed issue rolls the counter back with it:
no gaps, and the row lock serialises concurrent issuers: no duplicates. The unique constraint on
(partner, kind, number) is the backstop.
"""

import datetime

from django.db import IntegrityError, transaction

from .models import NumberCounter

Series = NumberCounter.Series


def format_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:05d}"


def series_prefix(partner, series: str) -> str:
    return {Series.AR: partner.ar_prefix, Series.AP: partner.ap_prefix, Series.PROFORMA: partner.proforma_prefix}[
        series
    ]


def _locked_counter(partner_id: int, series: str) -> NumberCounter:
    try:
        return NumberCounter.objects.select_for_update().get(partner_id=partner_id, series=series)
    except NumberCounter.DoesNotExist:
        try:
            with transaction.atomic():
                NumberCounter.objects.create(partner_id=partner_id, series=series, last_value=0)
        except IntegrityError:
            pass  # another issuer created it first
        return NumberCounter.objects.select_for_update().get(partner_id=partner_id, series=series)


def number_take(*, partner, series: str, on_date: datetime.date, count: int = 1) -> list[tuple[int, str]]:
    """Reserve the next ``count`` numbers of a series. Must run inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_take must run inside the transaction that uses the number")
    counter = _locked_counter(partner.pk, series)
    first = counter.last_value + 1
    counter.last_value += count
    counter.save(update_fields=["last_value"])
    prefix = series_prefix(partner, series)
    return [(value, format_number(prefix, on_date.year, value)) for value in range(first, first + count)]


def counters_ensure(*, partner) -> None:
    """Create a partner's counter rows up front so issuers only ever lock, never insert."""
    for series in Series.values:
        NumberCounter.objects.get_or_create(partner=partner, series=series)
