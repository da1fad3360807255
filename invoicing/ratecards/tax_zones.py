"""Tax zones (a tax rate and a price rule) and the areas they cover; a zone in use is never deleted."""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction

from customers.models import Customer, Partner
from octoo_billing.money import MAX_AMOUNT_UNITS

from ..errors import BillingRuleError
from ..models import Service, Zone, ZoneArea
from .common import COUNTRY_RE, REGION_RE, changes, locked, ratecards_admin_check, record, save_unique, snapshot

MAX_PRICE_MULTIPLIER = Decimal("99.9999")  # Zone.price_multiplier: 6 digits, 4 decimals
_POSTAL_RE = re.compile(r"^[A-Z0-9-]+\*?$")

ZONE_FIELDS = ("name", "tax_rate", "price_multiplier", "surcharge_units")
AREA_FIELDS = ("country", "region", "postal_pattern")


def _zone_check(zone: Zone, partner: Partner) -> None:
    errors: dict[str, str] = {}
    if not zone.name:
        errors["name"] = "Name the zone, e.g. “New York City”."
    elif Zone.objects.filter(partner=partner, name__iexact=zone.name).exclude(pk=zone.pk).exists():
        errors["name"] = f"There is already a zone called “{zone.name}”."
    if zone.tax_rate is None or not 0 <= zone.tax_rate <= 100:
        errors["tax_rate"] = "Enter a tax rate from 0 to 100 %."
    if zone.price_multiplier is None or not 0 < zone.price_multiplier <= MAX_PRICE_MULTIPLIER:
        errors["price_multiplier"] = f"Enter a multiplier above 0 and at most {MAX_PRICE_MULTIPLIER}; 1 keeps prices."
    if zone.surcharge_units is None or not 0 <= zone.surcharge_units <= MAX_AMOUNT_UNITS:
        errors["surcharge_units"] = "Enter a surcharge of zero or more."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def zone_save(
    *,
    partner: Partner,
    user,
    zone: Zone | None = None,
    name: str,
    tax_rate: Decimal,
    price_multiplier: Decimal = Decimal(1),
    surcharge_units: int = 0,
) -> Zone:
    """Add a tax zone (``zone=None``) or change one: its name, tax rate and price rule (a multiplier on the service
    rate and a flat surcharge per service)."""
    ratecards_admin_check(user, partner)
    before = None
    if zone is None:
        zone = Zone(partner=partner)
    else:
        zone = locked(Zone, zone, partner=partner)
        before = snapshot(zone, ZONE_FIELDS)
    zone.name = " ".join((name or "").split())
    zone.tax_rate, zone.price_multiplier, zone.surcharge_units = tax_rate, price_multiplier, surcharge_units
    _zone_check(zone, partner)
    after = snapshot(zone, ZONE_FIELDS)
    if before is not None and before == after:
        return zone
    save_unique(zone, {"zone_name_unique_per_partner": {"name": f"There is already a zone called “{zone.name}”."}})
    data = after if before is None else changes(before, after)
    record(zone, "zone_create" if before is None else "zone_update", user, partner_id=partner.pk, data=data)
    return zone


def zone_usage(zone: Zone) -> tuple[int, int]:
    """How many services and customers point to ``zone`` (either keeps it from being deleted)."""
    return Service.objects.filter(zone=zone).count(), Customer.objects.filter(zone=zone).count()


def zone_in_use_words(name: str, services: int, customers: int) -> str:
    users = []
    if services:
        users.append(f"{services} service{'s' if services != 1 else ''}")
    if customers:
        users.append(f"{customers} customer{'s' if customers != 1 else ''} (as their default zone)")
    return (
        f"Zone {name} cannot be deleted: {' and '.join(users)} use it. Choose another zone for them first, "
        "or keep it and change its areas."
    )


@transaction.atomic
def zone_delete(*, zone: Zone, user) -> None:
    """Delete a zone with its areas; refused (``BillingRuleError``) while services or customers use it."""
    ratecards_admin_check(user, zone.partner)
    zone = locked(Zone, zone, partner_id=zone.partner_id)
    services, customers = zone_usage(zone)
    if services or customers:
        raise BillingRuleError(zone_in_use_words(zone.name, services, customers))
    areas = [str(area) for area in zone.areas.all()]
    record(zone, "zone_delete", user, partner_id=zone.partner_id, data={**snapshot(zone, ZONE_FIELDS), "areas": areas})
    try:
        with transaction.atomic():
            zone.delete()
    except models.ProtectedError:  # a service took it meanwhile
        raise BillingRuleError(zone_in_use_words(zone.name, *zone_usage(zone))) from None


def _area_clean(area: ZoneArea) -> None:
    area.country = "".join((area.country or "").split()).upper()
    area.region = "".join((area.region or "").split()).upper()
    area.postal_pattern = "".join((area.postal_pattern or "").split()).upper()


def _area_check(area: ZoneArea, zone: Zone) -> None:
    errors: dict[str, str] = {}
    if not COUNTRY_RE.match(area.country):
        errors["country"] = "Enter the two-letter country code, e.g. US."
    if area.region and not REGION_RE.match(area.region):
        errors["region"] = "Enter the state or province code, e.g. NY, or leave it empty for the whole country."
    if area.postal_pattern and (not _POSTAL_RE.match(area.postal_pattern) or area.postal_pattern == "*"):
        errors["postal_pattern"] = (
            "Enter a postal code (10001) or its start followed by * (100*), or leave it empty for every code."
        )
    if errors:
        raise ValidationError(errors)
    same = (
        ZoneArea.objects.filter(
            zone__partner_id=zone.partner_id,
            country__iexact=area.country,
            region__iexact=area.region,
            postal_pattern__iexact=area.postal_pattern,
        )
        .exclude(pk=area.pk)
        .select_related("zone")
        .first()
    )
    if same is not None:
        where = "This zone" if same.zone_id == zone.pk else f"Zone {same.zone.name}"
        raise ValidationError({NON_FIELD_ERRORS: f"{where} already covers {area}: an area belongs to one zone."})


@transaction.atomic
def zone_area_save(
    *, zone: Zone, user, area: ZoneArea | None = None, country: str, region: str = "", postal_pattern: str = ""
) -> ZoneArea:
    """Add an area to a zone (``area=None``) or change one: a country, optionally a region, optionally postal codes
    (``10001`` or ``100*``). An area belongs to one zone of the partner, so which zone an address falls in is never
    a tie."""
    ratecards_admin_check(user, zone.partner)
    zone = locked(Zone, zone, partner_id=zone.partner_id)  # parent before child
    before = None
    if area is None:
        area = ZoneArea(zone=zone)
    else:
        area = locked(ZoneArea, area, zone=zone)
        before = snapshot(area, AREA_FIELDS)
    area.country, area.region, area.postal_pattern = country, region, postal_pattern
    _area_clean(area)
    _area_check(area, zone)
    after = snapshot(area, AREA_FIELDS)
    if before is not None and before == after:
        return area
    save_unique(area, {"zone_area_unique": {NON_FIELD_ERRORS: f"This zone already covers {area}."}})
    data = {"zone": zone.name, **(after if before is None else changes(before, after))}
    action = "zone_area_create" if before is None else "zone_area_update"
    record(area, action, user, partner_id=zone.partner_id, data=data)
    return area


@transaction.atomic
def zone_area_delete(*, area: ZoneArea, user) -> None:
    zone = area.zone
    ratecards_admin_check(user, zone.partner)
    zone = locked(Zone, zone, partner_id=zone.partner_id)
    area = locked(ZoneArea, area, zone=zone)
    data = {"zone": zone.name, **snapshot(area, AREA_FIELDS)}
    record(area, "zone_area_delete", user, partner_id=zone.partner_id, data=data)
    area.delete()
