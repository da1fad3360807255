"""Pricing rules with worked figures: the two time policies, their multipliers, rate precedence, public and own
holidays, the zone's multiplier and surcharge, extras, the subscription discount and coupons (seed 001's order:
zone pricing, then discounts, then tax on what is left)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.coupons import coupon_slips
from invoicing.invoices_from_proformas import ap_invoices_generate, ar_invoices_generate
from invoicing.models import Holiday, Rate, Service, Slip, TimePolicy
from invoicing.pricing import line_amounts, slip_price, tax_bands
from invoicing.proformas import service_publish_outcome
from invoicing.rates import RateBook, public_holidays_supported, service_slips
from tests import factories

pytestmark = pytest.mark.django_db

WEEKDAY, WEEKNIGHT, WEEKEND, HOLIDAY = "weekday", "weeknight", "weekend", "holiday"
RATES = {WEEKDAY: ("8500", "5500"), WEEKNIGHT: ("9500", "6000"), WEEKEND: ("11000", "7000"), HOLIDAY: ("12000", "8000")}


def at(month, day, hour, minute=0):
    return timezone.make_aware(datetime.datetime(2026, month, day, hour, minute))


@pytest.fixture
def world():
    partner = factories.PartnerFactory()
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal("8.250"))
    service_type = factories.ServiceTypeFactory(partner=partner)
    for schedule, (bill, pay) in RATES.items():
        Rate.objects.create(
            partner=partner,
            slip_type="service",
            pay_schedule=schedule,
            bill_rate_units=Decimal(bill),
            pay_rate_units=Decimal(pay),
        )
    customer = factories.CustomerFactory(partner=partner, zone=zone)
    provider = factories.ProviderFactory(partner=partner)
    return {"partner": partner, "zone": zone, "service_type": service_type, "customer": customer, "provider": provider}


def service_in(world, start, *, minutes=120, **fields):
    fields.setdefault("zone", world["zone"])
    request = factories.ServiceRequestFactory(customer=world["customer"], partner=world["partner"])
    return Service.objects.create(
        partner=world["partner"],
        request=request,
        provider=fields.pop("provider", world["provider"]),
        service_type=world["service_type"],
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=minutes),
        **fields,
    )


def priced(world, service):
    return service_slips(Service.objects.get(pk=service.pk), RateBook(world["partner"]))


def only(slips, slip_type=Slip.Type.SERVICE):
    found = [s for s in slips if s.slip_type == slip_type]
    assert len(found) == 1, found
    return found[0]


# -- two time policies ------------------------------------------------------------------------------------------


def test_the_customer_policy_prices_the_bill_side_and_the_provider_policy_the_pay_side(world):
    """The issue's worked example: a 2 h service, customer minimum 3 h, provider rounding to 15 min and no
    minimum: AR bills 3 h, AP pays 2 h."""
    TimePolicy.objects.create(partner=world["partner"], customer=world["customer"], minimum_hours=Decimal(3))
    TimePolicy.objects.create(partner=world["partner"], provider=world["provider"], rounding_minutes=15)
    service = service_in(world, at(11, 2, 9))  # Monday 9:00-11:00

    service_publish_outcome(service=service)
    period = {"period_start": datetime.date(2026, 11, 1), "period_end": datetime.date(2026, 11, 30)}
    (ar,) = ar_invoices_generate(customer=world["customer"], **period)
    (ap,) = ap_invoices_generate(provider=world["provider"], **period)

    slip = only(service.proforma.slips.all())
    assert (slip.quantity, slip.paid_quantity) == (Decimal(3), Decimal(2))
    assert ar.subtotal_units == 25500  # 3 h x $85.00
    assert ar.tax_units == 2104  # 8.25 % of $255.00 = $21.0375
    assert ar.total_units == 27604
    assert ap.total_units == 11000  # 2 h x $55.00: the customer's minimum does not pay the provider


def test_each_side_rounds_with_its_own_step(world):
    TimePolicy.objects.create(partner=world["partner"], customer=world["customer"], minimum_hours=Decimal(3))
    TimePolicy.objects.create(partner=world["partner"], provider=world["provider"], rounding_minutes=15)
    slip = only(priced(world, service_in(world, at(11, 2, 9), minutes=125)))  # 2 h 05 min

    assert (slip.quantity, slip.paid_quantity) == (Decimal(3), Decimal("2.25"))
    assert (slip.bill_amount_units, slip.pay_total_units) == (25500, 12375)


def test_the_default_policy_counts_for_a_side_without_its_own(world):
    TimePolicy.objects.create(partner=world["partner"], rounding_minutes=60)
    TimePolicy.objects.create(partner=world["partner"], customer=world["customer"], minimum_hours=Decimal(4))
    slip = only(priced(world, service_in(world, at(11, 2, 9), minutes=90)))

    assert slip.quantity == Decimal(4)  # the customer's own policy
    assert slip.paid_quantity == Decimal(2)  # the default: 1.5 h rounded up to the hour


def test_with_no_policy_both_sides_count_the_time_worked(world):
    slip = only(priced(world, service_in(world, at(11, 2, 9), minutes=100)))

    assert slip.quantity == slip.paid_quantity == Decimal("1.6667")
    assert slip.pay_quantity is None


def test_policy_multipliers_apply_to_after_hours_weekend_and_holiday_time_on_their_side(world):
    TimePolicy.objects.create(
        partner=world["partner"],
        customer=world["customer"],
        after_hours_multiplier=Decimal("1.25"),
        weekend_multiplier=Decimal("1.5"),
        holiday_multiplier=Decimal(2),
    )
    TimePolicy.objects.create(partner=world["partner"], provider=world["provider"], weekend_multiplier=Decimal("1.2"))
    Holiday.objects.create(partner=world["partner"], date=datetime.date(2026, 11, 4), name="Founders' day")

    saturday = only(priced(world, service_in(world, at(11, 7, 10))))
    evening = only(priced(world, service_in(world, at(11, 3, 19))))
    holiday = only(priced(world, service_in(world, at(11, 4, 10))))
    weekday = only(priced(world, service_in(world, at(11, 2, 10))))

    assert (saturday.bill_rate_units, saturday.bill_amount_units) == (Decimal(16500), 33000)  # $110 x 1.5 x 2 h
    assert (saturday.pay_rate_units, saturday.pay_total_units) == (Decimal(8400), 16800)  # $70 x 1.2 x 2 h
    assert (evening.pay_schedule, evening.bill_amount_units, evening.pay_total_units) == (WEEKNIGHT, 23750, 12000)
    assert (holiday.pay_schedule, holiday.bill_amount_units, holiday.pay_total_units) == (HOLIDAY, 48000, 16000)
    assert (weekday.bill_amount_units, weekday.pay_total_units) == (17000, 11000)  # weekday time: no multiplier


# -- holidays ------------------------------------------------------------------------------------------------


def test_public_holidays_of_the_partners_country_and_region_price_at_the_holiday_rate(world):
    partner = world["partner"]
    partner.country, partner.region, partner.public_holidays = "US", "NY", True
    partner.save()

    thanksgiving = only(priced(world, service_in(world, at(11, 26, 10))))
    next_day = only(priced(world, service_in(world, at(11, 27, 10))))

    assert (thanksgiving.pay_schedule, thanksgiving.bill_amount_units) == (HOLIDAY, 24000)
    assert next_day.pay_schedule == WEEKDAY


def test_the_partners_own_holidays_add_to_the_public_ones_and_public_ones_can_be_turned_off(world):
    partner = world["partner"]
    partner.public_holidays = False
    partner.save()
    Holiday.objects.create(partner=partner, date=datetime.date(2026, 11, 27), name="Day after")

    assert only(priced(world, service_in(world, at(11, 26, 10)))).pay_schedule == WEEKDAY  # Thanksgiving: off
    assert only(priced(world, service_in(world, at(11, 27, 10)))).pay_schedule == HOLIDAY
    assert RateBook(partner).holidays.name(datetime.date(2026, 11, 27)) == "Day after"


def test_a_region_gives_its_own_public_holidays(world):
    partner = world["partner"]
    partner.country, partner.region, partner.public_holidays = "CA", "QC", True
    partner.save()
    book = RateBook(partner)

    assert datetime.date(2026, 6, 24) in book.holidays  # Saint-Jean-Baptiste: Quebec only
    partner.region = "ON"
    assert datetime.date(2026, 6, 24) not in RateBook(partner).holidays


def test_an_unknown_country_is_refused_in_words_and_prices_with_own_dates_only(world):
    assert public_holidays_supported("US", "NY") == ""
    assert "country XX" in public_holidays_supported("XX")
    assert "region ZZ" in public_holidays_supported("US", "ZZ")
    partner = world["partner"]
    partner.country, partner.public_holidays = "XX", True
    partner.save()
    assert only(priced(world, service_in(world, at(11, 26, 10)))).pay_schedule == WEEKDAY


# -- rate precedence -----------------------------------------------------------------------------------------


def test_rate_precedence_is_customer_and_type_then_customer_then_type_then_default(world):
    partner, customer, stype = world["partner"], world["customer"], world["service_type"]
    scoped = {
        "customer + service type": {"customer": customer, "service_type": stype, "bill_rate_units": Decimal(9100)},
        "customer": {"customer": customer, "bill_rate_units": Decimal(9200)},
        "service type": {"service_type": stype, "bill_rate_units": Decimal(9300)},
    }
    rows = {
        level: Rate.objects.create(partner=partner, slip_type="service", pay_schedule=WEEKDAY, **fields)
        for level, fields in scoped.items()
    }
    service = service_in(world, at(11, 2, 9))

    seen = []
    for level in [*scoped, "default"]:
        book = RateBook(partner)
        rate, found = book.find("bill", "service", WEEKDAY, stype.pk, customer.pk)
        seen.append((found, only(service_slips(service, book)).bill_rate_units))
        if level in rows:
            rows[level].delete()

    assert seen == [
        ("customer + service type", Decimal(9100)),
        ("customer", Decimal(9200)),
        ("service type", Decimal(9300)),
        ("default", Decimal(8500)),
    ]


def test_pay_side_precedence_follows_the_provider(world):
    partner, provider = world["partner"], world["provider"]
    Rate.objects.create(
        partner=partner, slip_type="service", pay_schedule=WEEKDAY, provider=provider, pay_rate_units=Decimal(6100)
    )
    other = factories.ProviderFactory(partner=partner)
    book = RateBook(partner)

    assert book.find("pay", "service", WEEKDAY, None, provider.pk)[1] == "provider"
    assert book.find("pay", "service", WEEKDAY, None, other.pk)[1] == "default"
    assert only(priced(world, service_in(world, at(11, 2, 9)))).pay_total_units == 12200


# -- zone, extras, subscription discount, coupons ----------------------------------------------------------


def test_zone_multiplier_raises_the_service_rate_and_its_surcharge_is_a_taxed_line(world):
    zone = factories.ZoneFactory(
        partner=world["partner"], tax_rate=Decimal(10), price_multiplier=Decimal("1.25"), surcharge_units=1500
    )
    slips = priced(world, service_in(world, at(11, 2, 9), zone=zone))
    service, surcharge = only(slips), only(slips, Slip.Type.GENERAL)

    assert (service.bill_rate_units, service.bill_amount_units, service.bill_tax_units) == (Decimal(10625), 21250, 2125)
    assert service.pay_total_units == 11000  # the zone's price rule is the customer's, not the provider's
    assert (surcharge.description, surcharge.bill_total_units, surcharge.pay_total_units) == (
        f"Zone surcharge ({zone.name})",
        1650,
        0,
    )
    assert sum(s.bill_total_units for s in slips) == 23375 + 1650


def test_extras_are_priced_per_unit_and_reimbursements_are_not_taxed(world):
    product = factories.ExtraOfferFactory(partner=world["partner"], bill_rate_units=Decimal(2500))
    service = service_in(world, at(11, 2, 9))
    service.extras.create(
        offer=product, kind="product", description=product.name, quantity=2, bill_rate_units=2500, pay_rate_units=1000
    )
    service.extras.create(kind="reimbursement", description="Parking", quantity=1, bill_rate_units=4000)

    slips = priced(world, service)
    goods, parking = only(slips, Slip.Type.GENERAL), only(slips, Slip.Type.REIMBURSEMENT)

    assert (goods.bill_amount_units, goods.bill_tax_units, goods.pay_total_units) == (5000, 413, 2000)  # 8.25 %
    assert (parking.bill_total_units, parking.bill_tax_units) == (4000, 0)


def test_the_subscription_discount_comes_off_each_line_before_tax(world):
    world["customer"].discount_percent = Decimal(10)
    world["customer"].save()
    slip = only(priced(world, service_in(world, at(11, 2, 9))))

    # 2 h x $85 = $170.00, 10 % off = $17.00, 8.25 % tax on $153.00 = $12.6225 -> $12.62
    assert (slip.bill_amount_units, slip.line_discount_units, slip.bill_tax_units, slip.bill_total_units) == (
        17000,
        1700,
        1262,
        16562,
    )
    assert slip.pay_total_units == 11000  # the provider is paid in full


def test_a_coupon_on_a_taxed_line_is_its_own_discount_line_before_tax(world):
    """$100.00 at 10 % tax with a 20 % coupon: a -$20.00 line with -$2.00 tax, $88.00 in all."""
    partner = world["partner"]
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal(10))
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule=WEEKDAY,
        customer=world["customer"],
        bill_rate_units=Decimal(10000),
    )
    coupon = factories.CouponFactory(partner=partner, code="SPRING20", percent_off=Decimal(20))
    slips = priced(world, service_in(world, at(11, 2, 9), minutes=60, zone=zone, coupon=coupon))
    line, discount = only(slips), only(slips, Slip.Type.COUPON)

    assert (line.bill_amount_units, line.bill_tax_units) == (10000, 1000)
    assert discount.description == "Coupon SPRING20 (20% off)"
    assert (discount.bill_amount_units, discount.bill_tax_units, discount.bill_total_units) == (-2000, -200, -2200)
    assert discount.pay_total_units == 0
    assert sum(s.bill_total_units for s in slips) == 8800
    assert tax_bands(slips)[0].base_units == 8000 and tax_bands(slips)[0].tax_units == 800


def test_a_coupon_follows_the_subscription_discount_and_skips_pass_through_costs(world):
    world["customer"].discount_percent = Decimal(10)
    world["customer"].save()
    Rate.objects.create(
        partner=world["partner"], slip_type="mileage", bill_rate_units=Decimal(70), pay_rate_units=Decimal(60)
    )
    coupon = factories.CouponFactory(partner=world["partner"], percent_off=Decimal(50))
    slips = priced(world, service_in(world, at(11, 2, 9), coupon=coupon, mileage=Decimal(10), tolls_units=500))
    discount = only(slips, Slip.Type.COUPON)

    assert discount.bill_amount_units == -7650  # half of $170.00 - $17.00; mileage and tolls are not discounted


def test_a_fixed_coupon_never_exceeds_its_lines_and_spreads_over_tax_rates():
    coupon = factories.CouponFactory(percent_off=None, amount_off_units=3000, code="TEN")

    def line(amount, rate):
        return slip_price(Slip(bill_rate_units=Decimal(amount), quantity=Decimal(1), tax_rate=Decimal(rate)))

    spread = coupon_slips(coupon, [line(4000, 10), line(2000, 0)], partner_id=1, currency="USD", position=3)
    assert [(s.tax_rate, s.bill_amount_units, s.bill_tax_units) for s in spread] == [
        (Decimal(10), -2000, -200),
        (Decimal(0), -1000, 0),
    ]
    capped = coupon_slips(coupon, [line(1200, 10)], partner_id=1, currency="USD", position=2)
    assert [s.bill_amount_units for s in capped] == [-1200]


def test_a_coupon_for_a_service_type_discounts_only_that_types_time_and_its_extras(world):
    partner = world["partner"]
    other_type = factories.ServiceTypeFactory(partner=partner)
    offer = factories.ExtraOfferFactory(partner=partner, bill_rate_units=Decimal(2000))
    coupon = factories.CouponFactory(partner=partner, percent_off=Decimal(25))
    coupon.service_types.add(other_type)
    coupon.extra_offers.add(offer)
    service = service_in(world, at(11, 2, 9), coupon=coupon)
    service.extras.create(offer=offer, kind="product", description=offer.name, quantity=1, bill_rate_units=2000)

    discount = only(priced(world, service), Slip.Type.COUPON)
    assert discount.bill_amount_units == -500  # 25 % of the $20.00 extra; the service's own type is not covered


def test_seed_line_formula_quantity_times_price_minus_discount_plus_tax():
    """Seed 001: Total = Quantity x Unit Price - Discount + Tax (tax on the discounted amount)."""
    amounts = line_amounts(
        quantity=Decimal(3), unit_price_units=Decimal(2500), tax_rate=Decimal(10), discount_units=500
    )
    assert (amounts.amount_units, amounts.discount_units, amounts.tax_units, amounts.total_units) == (
        7500,
        500,
        700,
        7700,
    )
