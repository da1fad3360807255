"""The partner's own holidays (one a day), and whose public holidays count: its country, region and switch."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from customers.models import Partner
from octoo_billing import locale as formats

from ..models import Holiday
from ..rates import public_holidays_supported
from .common import (
    COUNTRY_RE,
    REGION_RE,
    changes,
    locked,
    ratecards_admin_check,
    record,
    save_unique,
    snapshot,
)

HOLIDAY_FIELDS = ("date", "name")
HOLIDAY_SETTINGS = ("country", "region", "public_holidays")


def _holiday_taken(day: datetime.date, other: Holiday | None) -> dict:
    name = other.name if other is not None else ""
    return {
        "date": f"There is already a holiday on {formats.format_date(day)}{f': {name}' if name else ''}. One a day."
    }


@transaction.atomic
def holiday_save(*, partner: Partner, user, holiday: Holiday | None = None, date: datetime.date, name: str) -> Holiday:
    """Add one of the partner's own holidays (``holiday=None``) or change one: time worked on it is priced at the
    holiday rate, on top of the public holidays of its country and region."""
    ratecards_admin_check(user, partner)
    before = None
    if holiday is None:
        holiday = Holiday(partner=partner)
    else:
        holiday = locked(Holiday, holiday, partner=partner)
        before = snapshot(holiday, HOLIDAY_FIELDS)
    holiday.date, holiday.name = date, " ".join((name or "").split())
    errors: dict[str, str] = {}
    if holiday.date is None:
        errors["date"] = "Enter the date of the holiday."
    if not holiday.name:
        errors["name"] = "Name the holiday, e.g. “Company day”."
    if errors:
        raise ValidationError(errors)
    twin = Holiday.objects.filter(partner=partner, date=holiday.date).exclude(pk=holiday.pk).first()
    if twin is not None:
        raise ValidationError(_holiday_taken(holiday.date, twin))
    after = snapshot(holiday, HOLIDAY_FIELDS)
    if before is not None and before == after:
        return holiday
    save_unique(holiday, {"holiday_unique_per_day": _holiday_taken(holiday.date, None)})
    data = after if before is None else changes(before, after)
    record(holiday, "holiday_create" if before is None else "holiday_update", user, partner_id=partner.pk, data=data)
    return holiday


@transaction.atomic
def holiday_delete(*, holiday: Holiday, user) -> None:
    ratecards_admin_check(user, holiday.partner)
    holiday = locked(Holiday, holiday, partner_id=holiday.partner_id)
    record(holiday, "holiday_delete", user, partner_id=holiday.partner_id, data=snapshot(holiday, HOLIDAY_FIELDS))
    holiday.delete()


@transaction.atomic
def partner_holidays_update(
    *, partner: Partner, user, country: str, region: str = "", public_holidays: bool
) -> Partner:
    """Whose public holidays are priced at the holiday rate: the partner's country (also the country of an
    address typed without one) and region, and whether public holidays count at all. With them on, the
    ``holidays`` package must know the country and region (``public_holidays_supported``)."""
    ratecards_admin_check(user, partner)
    partner = Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    before = snapshot(partner, HOLIDAY_SETTINGS)
    partner.country = "".join((country or "").split()).upper()
    partner.region = "".join((region or "").split()).upper()
    partner.public_holidays = bool(public_holidays)
    errors: dict[str, str] = {}
    if not COUNTRY_RE.match(partner.country):
        errors["country"] = "Enter the two-letter country code, e.g. US."
    elif partner.region and not REGION_RE.match(partner.region):
        errors["region"] = "Enter the state or province code, e.g. NY, or leave it empty."
    elif partner.public_holidays:
        problem = public_holidays_supported(partner.country)
        if problem:
            errors["country"] = problem
        elif partner.region:
            problem = public_holidays_supported(partner.country, partner.region)
            if problem:
                errors["region"] = problem
    if errors:
        raise ValidationError(errors)
    data = changes(before, snapshot(partner, HOLIDAY_SETTINGS))
    if data:
        partner.save(update_fields=list(HOLIDAY_SETTINGS))
        record(partner, "holiday_settings", user, partner_id=partner.pk, data=data)
    return partner
