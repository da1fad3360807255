"""Calendar helpers of the demo: months, the billing periods that have closed, times of day."""

from __future__ import annotations

import calendar
import datetime

from django.utils import timezone


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """That time of day in the active time zone (the partner's while its steps run: ``seed.partner_time``)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_end(day: datetime.date) -> datetime.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def closed_periods(schedule: str, dates, today: datetime.date) -> list[tuple[datetime.date, datetime.date]]:
    """The billing periods (of an invoicing schedule) that hold these dates and have ended by today."""
    this_monday = today - datetime.timedelta(days=today.weekday())
    periods = set()
    for day in dates:
        if schedule in ("after_service", "daily"):
            if day < today:
                periods.add((day, day))
        elif schedule == "weekly":
            monday = day - datetime.timedelta(days=day.weekday())
            if monday < this_monday:
                periods.add((monday, monday + datetime.timedelta(days=6)))
        elif day < month_start(today):
            periods.add((month_start(day), month_end(day)))
    return sorted(periods)
