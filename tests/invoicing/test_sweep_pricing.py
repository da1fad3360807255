"""The sweep prices plain rows (``proformas.SweptService``, ``pricing.PricedSlip``) and shares its rate look-ups and
schedule splits across services (``RateBook``): each proforma it writes must carry exactly the slips that
``rates.service_slips`` prices from the model instances, whatever the pricing rules involved."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.errors import PricingError
from invoicing.models import Coupon, Holiday, Proforma, Rate, Service, ServiceExtra, TimePolicy
from invoicing.proformas import SLIP_FIELDS, proformas_create
from invoicing.rates import RateBook, service_slips
from tests import factories

pytestmark = pytest.mark.django_db


def at(day, hour, minute=0):
    return timezone.make_aware(datetime.datetime(2026, 11, day, hour, minute))


@pytest.fixture
def services():
    """Services on weekdays, nights, a weekend and an own holiday, under time policies, in three zones (a
    multiplier and surcharge, no tax), for customers with and without a subscription discount, with coupons of
    each kind, prep time, tolls, mileage and extras, and one that cannot be priced (no night prep-time rate)."""
    partner = factories.PartnerFactory()
    metro = factories.ZoneFactory(partner=partner, tax_rate=Decimal("8.250"))
    far = factories.ZoneFactory(
        partner=partner, tax_rate=Decimal("7.375"), price_multiplier=Decimal("1.15"), surcharge_units=1250
    )
    untaxed = factories.ZoneFactory(partner=partner, tax_rate=Decimal(0))
    plain_type = factories.ServiceTypeFactory(partner=partner)
    special = factories.ServiceTypeFactory(partner=partner)
    for schedule, bill, pay in [
        ("weekday", "8500", "5500"),
        ("weeknight", "9500", "6000"),
        ("weekend", "11000", "7000"),
        ("holiday", "12000", "8000"),
    ]:
        Rate.objects.create(
            partner=partner, slip_type="service", pay_schedule=schedule, bill_rate_units=Decimal(bill),
            pay_rate_units=Decimal(pay),
        )  # fmt: skip
    Rate.objects.create(
        partner=partner, slip_type="service", pay_schedule="weekday", service_type=special,
        bill_rate_units=Decimal("9999.5"), pay_rate_units=Decimal("5000.25"),
    )  # fmt: skip
    Rate.objects.create(
        partner=partner, slip_type="prep_time", pay_schedule="weekday", bill_rate_units=Decimal(4000),
        pay_rate_units=Decimal(2000),
    )  # fmt: skip
    Rate.objects.create(partner=partner, slip_type="mileage", bill_rate_units=Decimal(67), pay_rate_units=Decimal(60))
    Rate.objects.create(partner=partner, slip_type="booking_fee", bill_rate_units=Decimal(500), pay_rate_units=0)
    Holiday.objects.create(partner=partner, date=datetime.date(2026, 11, 11), name="Own day")
    customers = [
        factories.CustomerFactory(partner=partner, zone=metro),
        factories.CustomerFactory(partner=partner, zone=far, discount_percent=Decimal("5.5")),
        factories.CustomerFactory(partner=partner, zone=None, discount_percent=Decimal("12")),
    ]
    providers = [factories.ProviderFactory(partner=partner) for _ in range(2)]
    TimePolicy.objects.create(
        partner=partner, minimum_hours=Decimal("3.5"), rounding_minutes=15, after_hours_multiplier=Decimal("1.5"),
        weekend_multiplier=Decimal("1.25"), holiday_multiplier=Decimal(2),
    )  # fmt: skip
    TimePolicy.objects.create(partner=partner, customer=customers[1], minimum_hours=Decimal(4), rounding_minutes=30)
    TimePolicy.objects.create(partner=partner, provider=providers[1], rounding_minutes=60)
    percent = Coupon.objects.create(partner=partner, code="TEN", percent_off=Decimal(10))
    amount = Coupon.objects.create(partner=partner, code="FIVER", amount_off_units=500)
    scoped = Coupon.objects.create(partner=partner, code="ST", percent_off=Decimal("12.5"))
    scoped.service_types.add(special)
    made = []
    starts = [at(2, 9), at(2, 16, 30), at(7, 10), at(11, 8), at(3, 22), at(4, 9, 7), at(2, 9)]
    for i in range(42):
        customer = customers[i % 3]
        start = starts[i % len(starts)]
        made.append(
            Service.objects.create(
                partner=partner,
                request=factories.ServiceRequestFactory(partner=partner, customer=customer),
                provider=providers[i % 2] if i % 5 else None,
                service_type=special if i % 4 == 0 else plain_type,
                starts_at=start,
                ends_at=start + datetime.timedelta(minutes=[120, 193, 45, 400][i % 4]),
                zone=[metro, far, untaxed, None][i % 4],
                coupon=[None, percent, amount, scoped][i % 4] if i % 3 else None,
                prep_minutes=25 if i % 2 else 0,
                tolls_units=375 if i % 6 == 0 else 0,
                mileage=Decimal("12.5") if i % 7 else Decimal(0),
                status="completed",
            )
        )
    for i, service in enumerate(made[::5]):
        ServiceExtra.objects.create(
            service=service, kind="reimbursement" if i % 2 else "product", description=f"Extra {i}",
            quantity=Decimal("2.5"), bill_rate_units=Decimal("333.3333"), pay_rate_units=Decimal(111),
        )  # fmt: skip
    return partner, made


def test_the_sweep_writes_the_slips_service_slips_prices_from_model_instances(services):
    partner, made = services
    expected, unpriceable = {}, set()
    for service in Service.objects.filter(pk__in=[s.pk for s in made]).select_related("request__customer__zone"):
        try:  # a book of its own per service: nothing shared with another service's pricing
            expected[service.pk] = [_values(slip) for slip in service_slips(service, RateBook(partner))]
        except PricingError:  # the sweep must refuse the same services
            unpriceable.add(service.pk)
    assert unpriceable and len(expected) > 30  # the fixture covers both

    run = proformas_create(service_ids=[s.pk for s in made], partner=partner)

    assert set(run.errors) == unpriceable
    for proforma in Proforma.objects.filter(service_id__in=expected):
        want = expected[proforma.service_id]
        assert [_values(slip) for slip in proforma.slips.order_by("position")] == want  # Decimals compare by value
        assert proforma.bill_subtotal_units == sum(w["bill_amount_units"] for w in want)
        assert proforma.bill_discount_units == sum(w["line_discount_units"] + w["invoice_discount_units"] for w in want)
        assert proforma.bill_tax_units == sum(w["bill_tax_units"] for w in want)
        assert proforma.bill_total_units == sum(w["bill_total_units"] for w in want)
        assert proforma.pay_total_units == sum(w["pay_total_units"] for w in want)
    assert Proforma.objects.filter(service_id__in=expected).count() == len(expected)


def _values(slip) -> dict:
    return {name: getattr(slip, name) for name in SLIP_FIELDS}
