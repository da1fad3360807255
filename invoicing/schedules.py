"""Pay schedules and billing periods: which rate applies to which minutes, and which dates a run covers."""

from __future__ import annotations

import calendar
import datetime
from collections import OrderedDict
from decimal import Decimal

from django.utils import timezone

from .models import PaySchedule


def _schedule_at(moment: datetime.datetime, partner, holidays: set[datetime.date]) -> str:
    day = moment.date()
    if day in holidays:
        return PaySchedule.HOLIDAY
    if day.weekday() >= 5:
        return PaySchedule.WEEKEND
    t = moment.time()
    if t >= partner.weeknight_starts or t < partner.weeknight_ends:
        return PaySchedule.WEEKNIGHT
    return PaySchedule.WEEKDAY


def _boundaries(day: datetime.date, partner, tz) -> list[datetime.datetime]:
    times = (datetime.time(0, 0), partner.weeknight_ends, partner.weeknight_starts)
    return [timezone.make_aware(datetime.datetime.combine(day, t), tz) for t in times]


def split_by_pay_schedule(
    starts_at: datetime.datetime, ends_at: datetime.datetime, *, partner, holidays: set[datetime.date]
) -> OrderedDict[str, int]:
    """Minutes worked under each pay schedule. A service crossing a boundary (18:00, 06:00, midnight into a
    weekend or holiday) is split there. Times are read in the partner's time zone (Partner.time_zone), whoever
    prices the service: a page, the worker or a command."""
    tz = partner.tzinfo
    start, end = timezone.localtime(starts_at, tz), timezone.localtime(ends_at, tz)
    cuts = {start, end}
    day = start.date()
    while day <= end.date():
        cuts.update(b for b in _boundaries(day, partner, tz) if start < b < end)
        day += datetime.timedelta(days=1)
    points = sorted(cuts)
    minutes: OrderedDict[str, int] = OrderedDict()
    for a, b in zip(points, points[1:], strict=False):
        schedule = _schedule_at(a, partner, holidays)
        minutes[schedule] = minutes.get(schedule, 0) + int((b - a).total_seconds() // 60)
    return minutes


def apply_time_policy(minutes: OrderedDict[str, int], policy) -> OrderedDict[str, int]:
    """The minutes a policy counts: worked time rounded up to the policy's step and up to its minimum, the extra
    on the last schedule. ``minutes`` is left as it is (each side of a service applies its own policy to it)."""
    minutes = OrderedDict(minutes)
    if policy is None or not minutes:
        return minutes
    total = sum(minutes.values())
    target = total
    step = policy.rounding_minutes or 0
    if step:
        target = -(-target // step) * step
    minimum = int(policy.minimum_hours * 60)
    target = max(target, minimum)
    if target != total:
        last = next(reversed(minutes))
        minutes[last] += target - total
    return minutes


def hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / Decimal(60)).quantize(Decimal("0.0001"))


def month_period(year: int, month: int) -> tuple[datetime.date, datetime.date]:
    return datetime.date(year, month, 1), datetime.date(year, month, calendar.monthrange(year, month)[1])


def closed_period(schedule: str, on_date: datetime.date) -> tuple[datetime.date | None, datetime.date]:
    """The latest billing period that has ended by ``on_date`` for an invoicing schedule.

    after_service: everything up to and including ``on_date`` (one invoice per proforma);
    daily: yesterday; weekly: last Monday-Sunday; monthly: last calendar month.
    """
    if schedule == "after_service":
        return None, on_date
    if schedule == "daily":
        day = on_date - datetime.timedelta(days=1)
        return day, day
    if schedule == "weekly":
        this_monday = on_date - datetime.timedelta(days=on_date.weekday())
        return this_monday - datetime.timedelta(days=7), this_monday - datetime.timedelta(days=1)
    first_of_month = on_date.replace(day=1)
    last_month_end = first_of_month - datetime.timedelta(days=1)
    return last_month_end.replace(day=1), last_month_end
