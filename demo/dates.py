"""Calendar helpers of the demo: US holidays, months, the billing periods that have closed, times of day."""

from __future__ import annotations

import calendar
import datetime

from django.utils import timezone


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """That time of day in the active time zone (the partner's while its steps run: ``seed.partner_time``)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> datetime.date:
    first = datetime.date(year, month, 1)
    day = first + datetime.timedelta(days=(weekday - first.weekday()) % 7)
    return day + datetime.timedelta(weeks=n - 1)


def _last_weekday(year: int, month: int, weekday: int) -> datetime.date:
    last = datetime.date(year, month, calendar.monthrange(year, month)[1])
    return last - datetime.timedelta(days=(last.weekday() - weekday) % 7)


def us_holidays(year: int) -> list[tuple[datetime.date, str]]:
    return [
        (datetime.date(year, 1, 1), "New Year's Day"),
        (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(year, 2, 0, 3), "Presidents' Day"),
        (_last_weekday(year, 5, 0), "Memorial Day"),
        (datetime.date(year, 6, 19), "Juneteenth"),
        (datetime.date(year, 7, 4), "Independence Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 10, 0, 2), "Indigenous Peoples' Day"),
        (datetime.date(year, 11, 11), "Veterans Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
        (datetime.date(year, 12, 25), "Christmas Day"),
    ]


def us_holidays_between(first: datetime.date, last: datetime.date) -> list[tuple[datetime.date, str]]:
    """The US holidays from ``first`` to ``last`` (both included), in date order."""
    holidays = {
        day: name
        for year in range(first.year, last.year + 1)
        for day, name in us_holidays(year)
        if first <= day <= last
    }
    return sorted(holidays.items())


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
