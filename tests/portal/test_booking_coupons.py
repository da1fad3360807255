"""Booking in the portal with a coupon code and a structured address: the coupon is its own discount line before
tax on the quote or the invoice, a coupon that cannot be used is refused on its field with nothing saved, and the
address's country, state and postal code find the tax zone, which the request page explains in words.

Worked figures: one hour at $100.00 taxed 10 % with a 20 % coupon is a -$20.00 discount line, $8.00 of tax and
$88.00 in all."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from invoicing.manual import quote_convert
from invoicing.models import Coupon, CouponRedemption, Invoice, Rate, Service, ServiceRequest, Slip
from invoicing.quotes import quote_totals
from tests.factories import (
    CouponFactory,
    CustomerFactory,
    ServiceTypeFactory,
    StaffMembershipFactory,
    ZoneAreaFactory,
    ZoneFactory,
)

pytestmark = pytest.mark.django_db

BOOK = "portal:request_create"


@pytest.fixture
def zone(partner):
    return ZoneFactory(partner=partner, name="Springfield", tax_rate=Decimal("10"))


@pytest.fixture
def customer(partner, zone):
    return CustomerFactory(partner=partner, zone=zone)


@pytest.fixture
def stype(partner):
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal("10000"),
        pay_rate_units=Decimal("6000"),
    )
    return ServiceTypeFactory(partner=partner, name="Interpreting")


@pytest.fixture
def spring(partner):
    return CouponFactory(partner=partner, code="SPRING20", percent_off=Decimal(20))


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    return client


@pytest.fixture
def quoting(customer):
    """The customer gets a quote to answer (the flag may be off only on "no payment" terms)."""
    customer.payment_terms = Customer.PaymentTerms.NO_PAYMENT
    customer.auto_invoice_on_booking = False
    customer.save()
    return customer


def weekday_ahead(days: int = 7) -> datetime.date:
    day = timezone.localdate() + datetime.timedelta(days=days)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


def booking(stype, **overrides) -> dict:
    """What the booking form posts: one hour on a weekday."""
    data = {
        "service_type": stype.pk,
        "date": weekday_ahead().isoformat(),
        "starts_at": "09:00",
        "ends_at": "10:00",
        "address": "1 Court St, Springfield",
        "country": "US",
        "region": "",
        "postal_code": "",
        "zone": "",
        "title": "Deposition",
        "notes": "",
        "coupon": "",
    }
    data.update(overrides)
    return data


def book(portal, stype, **overrides):
    return portal.post(reverse(BOOK), booking(stype, **overrides))


def test_the_booking_form_offers_the_address_fields_and_a_coupon_code(portal, partner):
    partner.country = "CA"
    partner.save()
    response = portal.get(reverse(BOOK))
    form = response.context["form"]
    assert form["country"].value() == "CA"  # the partner's country by default
    body = response.content.decode()
    for label in ("Country", "State or region", "Postal code", "Coupon code"):
        assert label in body


def test_a_booking_with_a_coupon_is_invoiced_with_its_discount_line_before_tax(portal, customer, stype, spring):
    response = book(portal, stype, coupon="spring20")
    assert response.status_code == 302
    service_request = ServiceRequest.objects.get()
    invoice = service_request.quote.invoice
    assert invoice.status == Invoice.Status.PENDING  # issued at once (the customer's flag)
    lines = {slip.slip_type: slip for slip in Slip.objects.filter(invoice=invoice)}
    discount = lines[Slip.Type.COUPON]
    assert discount.description.endswith("Coupon SPRING20 (20% off)")
    assert (lines["general"].bill_amount_units, discount.bill_amount_units, discount.bill_tax_units) == (
        10000,
        -2000,
        -200,
    )
    assert (invoice.tax_units, invoice.total_units) == (800, 8800)
    assert CouponRedemption.objects.get().request == service_request
    assert Service.objects.get().coupon == spring
    page = portal.get(reverse("portal:invoice_detail", args=[invoice.pk])).content.decode()
    assert "Coupon SPRING20 (20% off)" in page and "-$20.00" in page and "$88.00" in page
    assert "Tax 10% on $80.00 — $8.00" in page


def test_a_quote_with_a_coupon_shows_its_discount_and_converts_to_an_invoice_with_it(
    portal, client, quoting, stype, spring, partner
):
    assert book(portal, stype, coupon="SPRING20").status_code == 302
    service_request = ServiceRequest.objects.get()
    quote = service_request.quote
    totals = quote_totals(quote)
    assert (totals.tax_units, totals.total_units) == (800, 8800)
    [discount] = [line for line in quote.lines.all() if line.slip_type == Slip.Type.COUPON]
    assert discount.description.endswith("Coupon SPRING20 (20% off)") and discount.unit_price_units == -2000
    page = portal.get(reverse("portal:request_detail", args=[service_request.pk])).content.decode()
    assert "Coupon SPRING20 (20% off)" in page and "$88.00" in page
    invoice = quote_convert(quote=quote, user=StaffMembershipFactory(partner=partner).user)
    coupon_lines = Slip.objects.filter(invoice=invoice, slip_type=Slip.Type.COUPON)
    assert [(s.bill_amount_units, s.bill_tax_units) for s in coupon_lines] == [(-2000, -200)]
    assert (invoice.tax_units, invoice.total_units) == (800, 8800)
    assert invoice.coupon is None and CouponRedemption.objects.count() == 1  # counted once, on the booking


def _expired(coupon, other_type):
    coupon.valid_until = timezone.localdate() - datetime.timedelta(days=1)


def _used_up(coupon, other_type):
    coupon.max_redemptions, coupon.redeemed_count = 5, 5


def _for_another_service(coupon, other_type):
    coupon.save()
    coupon.service_types.add(other_type)


def _not_yet(coupon, other_type):
    coupon.valid_from = timezone.localdate() + datetime.timedelta(days=30)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_expired, "Coupon SPRING20 expired on "),
        (_used_up, "Coupon SPRING20 has been used up."),
        (_for_another_service, "Coupon SPRING20 applies only to Translation."),
        (_not_yet, "Coupon SPRING20 can be used from "),
    ],
)
def test_a_coupon_that_cannot_be_used_is_refused_on_its_field_and_nothing_is_saved(
    portal, partner, stype, spring, change, message
):
    change(spring, ServiceTypeFactory(partner=partner, name="Translation"))
    spring.save()
    response = book(portal, stype, coupon="SPRING20")
    assert response.status_code == 400
    [error] = response.context["form"].errors["coupon"]
    assert error.startswith(message)
    assert 'id="id_coupon_error"' in response.content.decode()
    assert not ServiceRequest.objects.exists() and not Invoice.objects.exists()
    assert not CouponRedemption.objects.exists()


def test_an_unknown_code_and_the_per_customer_limit_are_refused(portal, stype, spring):
    response = book(portal, stype, coupon="NOSUCH")
    assert response.context["form"].errors["coupon"] == ["There is no coupon “NOSUCH”. Check the code and try again."]
    spring.max_per_customer = 1
    spring.save()
    assert book(portal, stype, coupon="SPRING20").status_code == 302
    response = book(portal, stype, coupon="SPRING20")
    assert response.status_code == 400
    assert "can be used once per customer" in response.context["form"].errors["coupon"][0]
    assert ServiceRequest.objects.count() == 1 and Coupon.objects.get(pk=spring.pk).redeemed_count == 1


def test_the_address_finds_the_zone_and_the_request_page_explains_it(portal, partner, customer, stype):
    manhattan = ZoneFactory(partner=partner, name="Manhattan", tax_rate=Decimal("8.875"))
    ZoneAreaFactory(zone=manhattan, country="US", region="NY", postal_pattern="100*")
    response = book(portal, stype, country="us", region="ny", postal_code="10001")
    assert response.status_code == 302
    service = Service.objects.get()
    assert (service.country, service.region, service.postal_code) == ("US", "NY", "10001")
    assert service.zone == manhattan and service.zone_source == Service.ZoneSource.ADDRESS
    page = portal.get(response.url).content.decode()
    assert "Manhattan: the address matches its area US NY 100*." in page
    elsewhere = book(portal, stype, region="NJ", postal_code="07001", date=weekday_ahead(9).isoformat())
    page = portal.get(elsewhere.url).content.decode()
    assert "Springfield: the customer&#x27;s default zone (the address matches no zone&#x27;s area)." in page


def test_a_country_that_is_not_two_letters_is_refused_on_its_field(portal, stype):
    response = book(portal, stype, country="U")
    assert response.status_code == 400
    assert response.context["form"].errors["country"] == ["Enter the country as its two-letter code, such as US or CA."]
    response = book(portal, stype, country="USA")
    assert response.context["form"].errors["country"] == ["Enter the country as its two-letter code, such as US or CA."]
    assert not ServiceRequest.objects.exists()
