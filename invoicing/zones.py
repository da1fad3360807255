"""The tax zone of a service, from its address (seed 001: "tax is calculated based on the service address").

A partner's zones each cover areas: a country, optionally a region, optionally postal codes (``10001`` or
``100*``). A service's address is matched against all of them and the most specific match wins: a postal code
beats a region, which beats a whole country; an exact code beats a pattern, and a longer pattern a shorter one.
With no match the service takes the customer's default zone; staff may also choose one outright.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Service, Zone, ZoneArea


def _clean(value: str) -> str:
    return "".join((value or "").split()).upper()


def postal_matches(pattern: str, postal_code: str) -> bool:
    """Does ``postal_code`` match ``pattern`` (a code, or its start followed by ``*``)? Spaces and case are
    ignored, so ``SW1A 1AA`` matches ``sw1a*``."""
    pattern, code = _clean(pattern), _clean(postal_code)
    if not pattern:
        return True
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern


def _specificity(area: ZoneArea) -> tuple[int, int]:
    pattern = _clean(area.postal_pattern)
    if not pattern:
        postal = 0
    elif pattern.endswith("*"):
        postal = len(pattern)  # a longer prefix is more specific
    else:
        postal = 1000  # an exact code beats any pattern
    return postal, 1 if area.region else 0


def area_matches(area: ZoneArea, *, country: str, region: str, postal_code: str) -> bool:
    if _clean(area.country) != _clean(country):
        return False
    if area.region and _clean(area.region) != _clean(region):
        return False
    if area.postal_pattern and not (postal_code and postal_matches(area.postal_pattern, postal_code)):
        return False
    return True


@dataclass(frozen=True)
class ZoneResolution:
    zone: Zone | None
    source: str  # a Service.ZoneSource value, or "" when there is no zone at all
    area: ZoneArea | None = None

    @property
    def explanation(self) -> str:
        """In words, for the service page: which zone and why."""
        if self.zone is None:
            return "No tax zone: the address matches none of the zones and the customer has no default zone."
        if self.source == Service.ZoneSource.ADDRESS and self.area is not None:
            return f"{self.zone.name}: the address matches its area {self.area}."
        if self.source == Service.ZoneSource.CHOSEN:
            return f"{self.zone.name}: chosen for this service (not found from the address)."
        return f"{self.zone.name}: the customer's default zone (the address matches no zone's area)."


def partner_areas(partner_id: int) -> list[ZoneArea]:
    return list(ZoneArea.objects.filter(zone__partner_id=partner_id).select_related("zone"))


def zone_resolve(
    *,
    partner,
    country: str = "",
    region: str = "",
    postal_code: str = "",
    customer=None,
    chosen: Zone | None = None,
    areas: list[ZoneArea] | None = None,
) -> ZoneResolution:
    """The zone of a service at this address for ``customer``. An address without a country is read in the
    partner's country. ``areas`` (the partner's, from ``partner_areas``) saves the query when resolving many."""
    if chosen is not None:
        return ZoneResolution(chosen, Service.ZoneSource.CHOSEN)
    country = country or partner.country
    if areas is None:
        areas = partner_areas(partner.pk)
    matches = [a for a in areas if area_matches(a, country=country, region=region, postal_code=postal_code)]
    if matches:
        best = max(matches, key=_specificity)
        return ZoneResolution(best.zone, Service.ZoneSource.ADDRESS, best)
    default = getattr(customer, "zone", None)
    if default is not None:
        return ZoneResolution(default, Service.ZoneSource.CUSTOMER)
    return ZoneResolution(None, "")


def service_zone_assign(service: Service, *, chosen: Zone | None = None, areas=None) -> ZoneResolution:
    """Set ``service.zone`` and ``zone_source`` from its address (not saved)."""
    resolution = zone_resolve(
        partner=service.partner,
        country=service.country,
        region=service.region,
        postal_code=service.postal_code,
        customer=service.request.customer,
        chosen=chosen,
        areas=areas,
    )
    service.zone, service.zone_source = resolution.zone, resolution.source
    return resolution


def services_zone_explain(services, *, partner) -> dict[int, ZoneResolution]:
    """How each service's stored zone was found, keyed by service id, with the most specific matching area when
    it came from the address: one query however many services (for a list showing ``.explanation``)."""
    zone_ids = {s.zone_id for s in services if s.zone_id and s.zone_source == Service.ZoneSource.ADDRESS}
    areas: dict[int, list[ZoneArea]] = {}
    for area in ZoneArea.objects.filter(zone_id__in=zone_ids) if zone_ids else ():
        areas.setdefault(area.zone_id, []).append(area)
    explained = {}
    for service in services:
        address = {
            "country": service.country or partner.country,
            "region": service.region,
            "postal_code": service.postal_code,
        }
        matches = [a for a in areas.get(service.zone_id, ()) if area_matches(a, **address)]
        if service.zone_source == Service.ZoneSource.ADDRESS and matches:
            explained[service.pk] = ZoneResolution(service.zone, service.zone_source, max(matches, key=_specificity))
        else:
            source = service.zone_source or (Service.ZoneSource.CUSTOMER if service.zone_id else "")
            explained[service.pk] = ZoneResolution(service.zone, source)
    return explained


def service_zone_explain(service: Service) -> ZoneResolution:
    """How the stored zone of ``service`` was found (``services_zone_explain`` for one)."""
    return services_zone_explain([service], partner=service.partner)[service.pk]
