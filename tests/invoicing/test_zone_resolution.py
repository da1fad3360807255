"""The tax zone of a service from its address: the most specific area wins (postal code, then region, then
country), else the customer's default zone; staff may choose one; the tax of each rate is shown per band."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.booking import ServiceInput, request_submit
from invoicing.intake import service_update
from invoicing.manual import invoice_create_manual
from invoicing.models import Rate, Service
from invoicing.pricing import invoice_tax_bands
from invoicing.rates import RateBook, service_slips
from invoicing.zones import postal_matches, service_zone_explain, zone_resolve
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def zones():
    partner = factories.PartnerFactory(country="US")
    default = factories.ZoneFactory(partner=partner, name="Default", tax_rate=Decimal(5))
    state = factories.ZoneFactory(partner=partner, name="New York State", tax_rate=Decimal(8))
    city = factories.ZoneFactory(partner=partner, name="Manhattan", tax_rate=Decimal("8.875"))
    block = factories.ZoneFactory(partner=partner, name="Block 10001", tax_rate=Decimal(9))
    canada = factories.ZoneFactory(partner=partner, name="Canada", tax_rate=Decimal(13))
    factories.ZoneAreaFactory(zone=state, country="US", region="NY")
    factories.ZoneAreaFactory(zone=city, country="US", region="NY", postal_pattern="100*")
    factories.ZoneAreaFactory(zone=block, country="US", postal_pattern="10001")
    factories.ZoneAreaFactory(zone=canada, country="CA")
    customer = factories.CustomerFactory(partner=partner, zone=default)
    return {"partner": partner, "customer": customer, "default": default, "state": state, "city": city,
            "block": block, "canada": canada}  # fmt: skip


@pytest.mark.parametrize(
    ("address", "expected", "source"),
    [
        (("US", "NY", "10001"), "block", "address"),  # an exact code beats a pattern and a region
        (("US", "NY", "10017"), "city", "address"),  # a pattern beats the region alone
        (("", "ny", "100 17"), "city", "address"),  # no country: the partner's; case and spaces ignored
        (("US", "NY", "14201"), "state", "address"),
        (("CA", "ON", "M5V 2T6"), "canada", "address"),
        (("US", "CA", "94105"), "default", "customer"),  # no area matches: the customer's default
    ],
)
def test_the_most_specific_area_of_the_address_gives_the_zone(zones, address, expected, source):
    country, region, postal = address
    found = zone_resolve(
        partner=zones["partner"], country=country, region=region, postal_code=postal, customer=zones["customer"]
    )
    assert (found.zone, found.source) == (zones[expected], source)


def test_postal_patterns_match_a_prefix_or_the_whole_code():
    assert postal_matches("100*", "10017") and postal_matches("sw1a*", "SW1A 1AA")
    assert postal_matches("10001", "10001") and not postal_matches("10001", "100011")
    assert not postal_matches("100*", "11001")


def test_a_service_booked_with_an_address_takes_its_zone_and_says_why(zones):
    customer, partner = zones["customer"], zones["partner"]
    stype = factories.ServiceTypeFactory(partner=partner)
    start = timezone.now() + datetime.timedelta(days=3)
    given = ServiceInput(
        service_type=stype,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=1),
        region="NY",
        postal_code="10017",
    )

    request = request_submit(customer=customer, title="Visit", services=[given])

    service = Service.objects.get(request=request)
    assert (service.zone, service.zone_source, service.country) == (zones["city"], "address", "")
    assert service_zone_explain(service).explanation == "Manhattan: the address matches its area US NY 100*."

    moved = ServiceInput(service_type=stype, starts_at=start, ends_at=given.ends_at, country="US", region="CA")
    service = service_update(service=service, given=moved)
    service.refresh_from_db()
    assert (service.zone, service.zone_source) == (zones["default"], "customer")
    assert "customer's default zone" in service_zone_explain(service).explanation

    chosen = ServiceInput(service_type=stype, starts_at=start, ends_at=given.ends_at, zone=zones["canada"])
    service = service_update(service=service, given=chosen)
    service.refresh_from_db()
    assert (service.zone, service.zone_source) == (zones["canada"], "chosen")
    assert service_zone_explain(service).explanation == "Canada: chosen for this service (not found from the address)."


def test_an_invoice_shows_its_tax_per_rate_with_the_taxable_base(zones):
    customer = zones["customer"]
    lines = [
        *factories.lines_for([10000], tax_rate=Decimal("8.875")),
        *factories.lines_for([5000], tax_rate=Decimal(5)),
        *factories.lines_for([2000]),
    ]
    invoice = invoice_create_manual(partner=customer.partner, customer=customer, lines=lines)

    bands = [(band.rate, band.base_units, band.tax_units) for band in invoice_tax_bands(invoice)]

    assert bands == [(Decimal("8.875"), 10000, 888), (Decimal(5), 5000, 250), (Decimal(0), 2000, 0)]


def test_zone_rates_on_the_service_follow_the_resolved_zone(zones):
    partner = zones["partner"]
    Rate.objects.create(
        partner=partner, slip_type="service", pay_schedule="weekday", bill_rate_units=Decimal(10000), pay_rate_units=0
    )
    stype = factories.ServiceTypeFactory(partner=partner)
    start = timezone.make_aware(datetime.datetime(2026, 11, 2, 9))
    request = factories.ServiceRequestFactory(customer=zones["customer"], partner=partner)
    service = Service.objects.create(
        partner=partner,
        request=request,
        service_type=stype,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=1),
        zone=zones["city"],
        zone_source="address",
    )
    (slip,) = service_slips(service, RateBook(partner))
    assert (slip.tax_rate, slip.bill_tax_units) == (Decimal("8.875"), 888)
