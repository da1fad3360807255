"""Months and report ranges: the months of a range, and the range a report opens on (the months with data)."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

from django.db.models import Q

from ..models import Invoice

# The statuses a report counts as issued: every issued one but void.
COUNTED_STATUSES = [s for s in Invoice.ISSUED_STATUSES if s != Invoice.Status.VOID]
DEFAULT_MONTHS = 12


def issued_ar_filter(prefix: str, *, partner, date_from, date_to) -> Q:
    """Issued, non-void AR invoices of the partner issued in the range (``prefix`` reaches the invoice)."""
    return Q(
        **{
            f"{prefix}partner": partner,
            f"{prefix}kind": Invoice.Kind.AR,
            f"{prefix}issue_date__gte": date_from,
            f"{prefix}issue_date__lte": date_to,
            f"{prefix}status__in": COUNTED_STATUSES,
        }
    )


def month_add(day: datetime.date, months: int) -> datetime.date:
    """The first day of the month ``months`` months after ``day``'s (before, when negative)."""
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_end(day: datetime.date) -> datetime.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months(date_from: datetime.date, date_to: datetime.date) -> list[datetime.date]:
    """The first day of every month from ``date_from``'s to ``date_to``'s."""
    out, day = [], date_from.replace(day=1)
    while day <= date_to:
        out.append(day)
        day = month_add(day, 1)
    return out


def quarter_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


@dataclass(frozen=True)
class Range:
    date_from: datetime.date
    date_to: datetime.date


def last_months(today: datetime.date, count: int = DEFAULT_MONTHS) -> Range:
    """``count`` calendar months ending with ``today`` (the first one from its 1st)."""
    return Range(month_add(today, 1 - count), today)


def data_range(first: datetime.date | None, last: datetime.date | None, today: datetime.date) -> Range:
    """The range a report opens on: the months that have data, at most twelve, ending with the last month that
    has any (to its last day, or today when that is this month); the last twelve months when nothing has."""
    if first is None or last is None:
        return last_months(today)
    end = today if (last.year, last.month) == (today.year, today.month) else month_end(last)
    return Range(max(first.replace(day=1), month_add(end, 1 - DEFAULT_MONTHS)), end)
