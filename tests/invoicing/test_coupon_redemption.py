"""Coupons on bookings: checked when entered, refused in words, redeemed once per booking under a row lock (20
bookings at once of a coupon limited to 5 redeem it exactly 5 times), and priced as their own discount line."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from invoicing.booking import ExtraInput, ServiceInput, request_book
from invoicing.models import Coupon, CouponRedemption, Invoice, Rate, Service, ServiceRequest, Slip
from tests import factories
from tests.invoicing.test_concurrency import run_at_once


def next_weekday_at(hour: int, days_ahead: int = 7) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def make_world():
    partner = factories.PartnerFactory()
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal(10))
    stype = factories.ServiceTypeFactory(partner=partner)
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal(10000),
        pay_rate_units=Decimal(6000),
    )
    customer = factories.CustomerFactory(partner=partner, zone=zone, auto_send=False)
    return customer, stype


@pytest.fixture
def world(db):
    return make_world()


def one_hour(stype, **kwargs):
    start = next_weekday_at(9)
    return ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=1), **kwargs)


def book(customer, stype, code, **kwargs):
    return request_book(customer=customer, services=[one_hour(stype, **kwargs)], coupon_code=code)


def refusal(customer, stype, code, **kwargs) -> str:
    before = ServiceRequest.objects.count()
    with pytest.raises(ValidationError) as caught:
        book(customer, stype, code, **kwargs)
    assert ServiceRequest.objects.count() == before  # nothing saved
    return " ".join(caught.value.message_dict["coupon"])


def test_a_booking_with_a_coupon_is_invoiced_with_its_discount_line_before_tax(world):
    customer, stype = world
    coupon = factories.CouponFactory(partner=customer.partner, code="SPRING20", percent_off=Decimal(20))

    booked = book(customer, stype, "spring20")  # codes are not case sensitive

    invoice = booked.quote.invoice
    assert invoice.status == Invoice.Status.PENDING
    lines = {s.slip_type: s for s in invoice.direct_slips.all()}
    assert "Coupon SPRING20 (20% off)" in lines[Slip.Type.COUPON].description
    assert (lines[Slip.Type.COUPON].bill_amount_units, lines[Slip.Type.COUPON].bill_tax_units) == (-2000, -200)
    assert (invoice.tax_units, invoice.total_units) == (800, 8800)  # $100 - $20, then 10 % tax
    assert Service.objects.get(request=booked).coupon == coupon
    coupon.refresh_from_db()
    assert coupon.redeemed_count == 1
    assert CouponRedemption.objects.get().request == booked


def test_unknown_inactive_early_and_expired_coupons_are_refused_in_words(world):
    customer, stype = world
    today = timezone.localdate()
    factories.CouponFactory(partner=customer.partner, code="OFF", is_active=False)
    factories.CouponFactory(partner=customer.partner, code="SOON", valid_from=today + datetime.timedelta(days=3))
    factories.CouponFactory(partner=customer.partner, code="OLD", valid_until=today - datetime.timedelta(days=1))
    factories.CouponFactory(code="ELSEWHERE")  # another partner's

    assert "no coupon “NOPE”" in refusal(customer, stype, "NOPE")
    assert "no coupon “OFF”" in refusal(customer, stype, "OFF")
    assert "no coupon “ELSEWHERE”" in refusal(customer, stype, "ELSEWHERE")
    assert "can be used from" in refusal(customer, stype, "SOON")
    assert "expired on" in refusal(customer, stype, "OLD")


def test_a_coupon_used_up_in_all_or_by_this_customer_is_refused(world):
    customer, stype = world
    factories.CouponFactory(partner=customer.partner, code="ONE", max_redemptions=1)
    factories.CouponFactory(partner=customer.partner, code="MINE", max_per_customer=1)
    book(customer, stype, "ONE")
    book(customer, stype, "MINE")

    assert "used up" in refusal(customer, stype, "ONE")
    assert "once per customer" in refusal(customer, stype, "MINE")
    other = factories.CustomerFactory(partner=customer.partner, zone=customer.zone, auto_send=False)
    assert book(other, stype, "MINE").quote.invoice.total_units == 9900  # 10 % off for another customer


def test_a_coupon_for_other_services_is_refused_as_not_applicable(world):
    customer, stype = world
    coupon = factories.CouponFactory(partner=customer.partner, code="TRANSCRIPT")
    offer = factories.ExtraOfferFactory(partner=customer.partner, name="Transcript")
    coupon.extra_offers.add(offer)

    assert "applies only to Transcript" in refusal(customer, stype, "TRANSCRIPT")
    booked = book(customer, stype, "TRANSCRIPT", extras=[ExtraInput(offer=offer, quantity=1)])
    discount = booked.quote.invoice.direct_slips.get(slip_type=Slip.Type.COUPON)
    assert discount.bill_amount_units == -250  # 10 % of the $25.00 transcript only


def test_a_fixed_amount_coupon_comes_off_the_first_service_only(world):
    customer, stype = world
    factories.CouponFactory(partner=customer.partner, code="FIVE", percent_off=None, amount_off_units=500)
    first, second = one_hour(stype), one_hour(stype)
    second.starts_at += datetime.timedelta(hours=3)
    second.ends_at += datetime.timedelta(hours=3)

    booked = request_book(customer=customer, services=[second, first], coupon_code="FIVE")

    services = list(Service.objects.filter(request=booked).order_by("starts_at"))
    assert [s.coupon_id is not None for s in services] == [True, False]
    assert booked.quote.invoice.subtotal_units == 20000 - 500


def test_the_database_refuses_more_redemptions_than_the_limit(world):
    coupon = factories.CouponFactory(partner=world[0].partner, max_redemptions=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.filter(pk=coupon.pk).update(redeemed_count=3)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_bookings_at_once_redeem_a_coupon_limited_to_five_exactly_five_times():
    customer, stype = make_world()
    coupon = factories.CouponFactory(partner=customer.partner, code="FIRST5", max_redemptions=5)

    def job():
        return book(customer, stype, "FIRST5").pk

    results, errors = run_at_once([job] * 20)

    booked = [r for r in results if r is not None]
    refused = [e for e in errors if e is not None]
    assert len(booked) == 5 and len(refused) == 15
    assert all(isinstance(e, ValidationError) and "used up" in str(e) for e in refused)
    coupon.refresh_from_db()
    assert coupon.redeemed_count == 5
    assert CouponRedemption.objects.filter(coupon=coupon).count() == 5
    assert ServiceRequest.objects.filter(customer=customer).count() == 5  # the refused bookings left nothing
    assert Slip.objects.filter(slip_type=Slip.Type.COUPON, invoice__customer=customer).count() == 5
