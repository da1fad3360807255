"""Parsing the --period / --date options shared by the generation commands."""

import datetime

from django.core.management.base import CommandError

from invoicing.schedules import month_period


def parse_period(value: str) -> tuple[datetime.date, datetime.date]:
    try:
        year, month = (int(part) for part in value.split("-"))
        if len(value) != 7:
            raise ValueError
        return month_period(year, month)
    except ValueError:
        raise CommandError(f"--period must look like 2026-10 (YYYY-MM), not “{value}”.") from None


def parse_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must look like 2026-11-01 (YYYY-MM-DD), not “{value}”.") from None
