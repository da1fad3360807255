"""Figures over a range of days, read from the months kept where a month closed long enough ago, computed from the
documents for the rest (see invoicing.models.figures for what keeps them exact).

A report's figures are rows of integers under a key (a month, a customer, a provider, an expense code), and they add
up: the figures of a range are the sums, key by key, of the figures of the ranges it splits into. So a range splits
into the whole closed months inside it, each read from its ``MonthFigures`` row when that row was computed at the
month's current version (or computed and stored now when it was not), and at most two spans at its ends, computed
from the documents. A year's report on a partner with a million invoices thus reads eleven or twelve stored rows and
the days of the current month.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Hashable

from django.db.models import BigIntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import MonthFigures, MonthVersion
from .periods import month_add, month_end

Figures = dict[Hashable, list[int]]
Compute = Callable[[datetime.date, datetime.date], Figures]


# How far the reports' clock runs behind the triggers': longer than any transaction lasts (a write counts as closed
# by the time its transaction started), and than the web and database servers' clocks can differ.
CLOSING_LAG = datetime.timedelta(hours=1)


def closed_before(now: datetime.datetime | None = None) -> datetime.date:
    """The first month whose figures are not kept: the current month in UTC, an hour (``CLOSING_LAG``) behind the
    triggers' clock, so a month is kept only once no transaction that started before it ended is still open."""
    return ((now or timezone.now()) - CLOSING_LAG).astimezone(datetime.UTC).date().replace(day=1)


def figures_over(
    *,
    partner,
    kind: str,
    date_from: datetime.date,
    date_to: datetime.date,
    compute: Compute,
    dated_keys: bool = False,
) -> Figures:
    """The figures ``compute`` gives for the whole range from ``date_from`` to ``date_to`` (inclusive), with the
    closed months in it read from their kept rows. ``kind`` names the figures (one per report and grouping);
    ``dated_keys``: the keys are dates (kept as ISO text). One query for the kept months, what ``compute`` costs for
    each end span, and for each month not kept yet its computation and one query to keep them all."""
    kept_months = _closed_months_within(date_from, date_to)
    spans = _spans_around(date_from, date_to, kept_months)
    total: Figures = {}
    for start, end in spans:
        _add(total, compute(start, end))
    if kept_months:
        kept = _kept(partner, kind, kept_months, dated_keys)
        missing = [month for month in kept_months if month not in kept]
        if missing:
            kept.update(_keep(partner, kind, missing, compute, dated_keys))
        for figures in kept.values():
            _add(total, figures)
    return total


def _closed_months_within(date_from: datetime.date, date_to: datetime.date) -> list[datetime.date]:
    first = date_from if date_from.day == 1 else month_add(date_from, 1)
    limit = closed_before()
    months = []
    while first < limit and month_end(first) <= date_to:
        months.append(first)
        first = month_add(first, 1)
    return months


def _spans_around(date_from, date_to, months) -> list[tuple[datetime.date, datetime.date]]:
    """The parts of the range that the whole months ``months`` (consecutive) leave: before and after them."""
    if not months:
        return [(date_from, date_to)] if date_from <= date_to else []
    spans = []
    if date_from < months[0]:
        spans.append((date_from, months[0] - datetime.timedelta(days=1)))
    after = month_end(months[-1]) + datetime.timedelta(days=1)
    if after <= date_to:
        spans.append((after, date_to))
    return spans


def _add(total: Figures, figures: Figures) -> None:
    for key, values in figures.items():
        into = total.get(key)
        if into is None:
            total[key] = list(values)
        else:
            for position, value in enumerate(values):
                into[position] += value


def _kept(partner, kind, months, dated_keys) -> dict[datetime.date, Figures]:
    """The kept figures of ``months`` that are still current (computed at the month's present version)."""
    current = Coalesce(
        Subquery(
            MonthVersion.objects.filter(partner=partner, month=OuterRef("month")).values("version")[:1],
        ),
        Value(0),
        output_field=BigIntegerField(),
    )
    rows = (
        MonthFigures.objects.filter(partner=partner, kind=kind, month__in=months)
        .annotate(current=current)
        .values_list("month", "version", "current", "rows")
    )
    return {month: _decoded(data, dated_keys) for month, version, now, data in rows if version == now}


def _keep(partner, kind, months, compute, dated_keys) -> dict[datetime.date, Figures]:
    """Computes ``months`` and keeps them, each under the version it had before it was computed: a change
    committed while computing counts a version more, so the kept row is read as out of date, never as current."""
    versions = dict(MonthVersion.objects.filter(partner=partner, month__in=months).values_list("month", "version"))
    computed = {month: compute(month, month_end(month)) for month in months}
    MonthFigures.objects.bulk_create(
        [
            MonthFigures(
                partner=partner,
                kind=kind,
                month=month,
                version=versions.get(month, 0),
                rows=_encoded(figures, dated_keys),
            )
            for month, figures in computed.items()
        ],
        update_conflicts=True,
        unique_fields=["partner", "kind", "month"],
        update_fields=["version", "rows", "computed_at"],
    )
    return computed


def _encoded(figures: Figures, dated_keys: bool) -> list:
    return [[key.isoformat() if dated_keys else key, values] for key, values in figures.items()]


def _decoded(rows: list, dated_keys: bool) -> Figures:
    return {(datetime.date.fromisoformat(key) if dated_keys else key): values for key, values in rows}
