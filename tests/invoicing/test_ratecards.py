"""Rate cards' domain functions (invoicing.ratecards) and the "price this service" preview (invoicing.price_preview):
what they refuse in words, what they save and audit, and that a preview writes nothing."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from customers.models import Partner
from invoicing import ratecards
from invoicing.errors import BillingRuleError
from invoicing.models import (
    Coupon,
    CouponRedemption,
    ExtraOffer,
    Holiday,
    Proforma,
    Rate,
    Service,
    ServiceExtra,
    ServiceRequest,
    Slip,
    TimePolicy,
    Zone,
    ZoneArea,
)
from invoicing.price_preview import service_preview, typed_preview
from invoicing.ratecard_selectors import precedence_sentences, public_holidays_ahead, rate_groups, rate_level
from invoicing.ratecards.common import save_unique
from tests import factories

pytestmark = pytest.mark.django_db


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


@pytest.fixture
def service_type(partner):
    return factories.ServiceTypeFactory(partner=partner, name="Interpreting")


# --- rates ----------------------------------------------------------------------------------------------------------


def test_rate_save_adds_a_rate_and_audits_it(partner, staff_user, service_type, customer):
    rate = ratecards.rate_save(
        partner=partner,
        user=staff_user,
        slip_type="service",
        pay_schedule="weekday",
        service_type=service_type,
        customer=customer,
        bill_rate_units=Decimal(8000),
    )
    assert (rate.bill_rate_units, rate.pay_rate_units) == (Decimal(8000), None)
    event = AuditEvent.objects.get(action="rate_create")
    assert event.target_id == rate.pk and event.data["bill_rate_units"] == "8000"
    assert event.data["customer_id"] == customer.pk


def test_a_second_rate_for_the_same_scope_is_refused_and_nothing_changes(partner, staff_user, service_type):
    scope = {"slip_type": "service", "pay_schedule": "weekday", "service_type": service_type}
    ratecards.rate_save(partner=partner, user=staff_user, bill_rate_units=Decimal(6000), **scope)
    with pytest.raises(ValidationError) as excinfo:
        ratecards.rate_save(partner=partner, user=staff_user, bill_rate_units=Decimal(9000), **scope)
    assert errors_of(excinfo)[NON_FIELD_ERRORS][0].startswith("A rate for this scope already exists")
    assert list(Rate.objects.values_list("bill_rate_units", flat=True)) == [Decimal(6000)]
    assert AuditEvent.objects.filter(action="rate_create").count() == 1


def test_editing_a_rate_into_another_rows_scope_is_refused(partner, staff_user):
    ratecards.rate_save(partner=partner, user=staff_user, slip_type="mileage", bill_rate_units=Decimal("65.5"))
    fee = ratecards.rate_save(partner=partner, user=staff_user, slip_type="booking_fee", bill_rate_units=500)
    with pytest.raises(ValidationError):
        ratecards.rate_save(partner=partner, user=staff_user, rate=fee, slip_type="mileage", bill_rate_units=1)
    fee.refresh_from_db()
    assert fee.slip_type == "booking_fee"


def test_the_database_constraint_is_turned_into_the_same_words(partner):
    """Two admins saving the same scope at once: the check passes for both, the unique constraint refuses one."""
    Rate.objects.create(partner=partner, slip_type="mileage", bill_rate_units=Decimal(60))
    twin = Rate(partner=partner, slip_type="mileage", bill_rate_units=Decimal(70))
    with pytest.raises(ValidationError) as excinfo:
        save_unique(twin, {"rate_unique_per_scope": {NON_FIELD_ERRORS: ratecards.RATE_DUPLICATE}})
    assert errors_of(excinfo) == {NON_FIELD_ERRORS: [ratecards.RATE_DUPLICATE]}
    assert Rate.objects.count() == 1


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"slip_type": "service", "pay_schedule": "", "bill_rate_units": 1}, "pay_schedule", "Choose the pay schedule"),
        ({"slip_type": "mileage", "pay_schedule": "weekday", "bill_rate_units": 1}, "pay_schedule", "no pay schedule"),
        ({"slip_type": "tolls", "bill_rate_units": 1}, "slip_type", "Choose what the rate prices"),
        ({"slip_type": "mileage"}, "bill_rate_units", "Enter a bill rate, a pay rate or both"),
        ({"slip_type": "mileage", "bill_rate_units": Decimal(-1)}, "bill_rate_units", "cannot be negative"),
    ],
)
def test_rate_input_is_refused_in_words(partner, staff_user, values, field, words):
    with pytest.raises(ValidationError) as excinfo:
        ratecards.rate_save(partner=partner, user=staff_user, **values)
    assert words in errors_of(excinfo)[field][0]
    assert not Rate.objects.exists()


def test_a_customers_rate_sets_the_bill_side_only(partner, staff_user, customer, provider):
    with pytest.raises(ValidationError) as excinfo:
        ratecards.rate_save(
            partner=partner, user=staff_user, slip_type="mileage", customer=customer, pay_rate_units=Decimal(10)
        )
    assert set(errors_of(excinfo)) == {"bill_rate_units", "pay_rate_units"}
    with pytest.raises(ValidationError) as excinfo:
        ratecards.rate_save(
            partner=partner,
            user=staff_user,
            slip_type="mileage",
            customer=customer,
            provider=provider,
            bill_rate_units=1,
        )
    assert "not both" in errors_of(excinfo)["provider"][0]


def test_another_partners_customer_is_refused(partner, staff_user):
    foreign = factories.CustomerFactory()
    with pytest.raises(ValidationError) as excinfo:
        ratecards.rate_save(partner=partner, user=staff_user, slip_type="mileage", customer=foreign, bill_rate_units=1)
    assert errors_of(excinfo)["customer"] == ["Choose one of your customers."]


def test_a_clerk_cannot_change_rates(partner, clerk_user):
    with pytest.raises(PermissionDenied):
        ratecards.rate_save(partner=partner, user=clerk_user, slip_type="mileage", bill_rate_units=1)
    assert not Rate.objects.exists()


def test_rate_rows_carry_their_precedence_level(partner, service_type, customer, provider):
    base = {"partner": partner, "slip_type": "service", "pay_schedule": "weekday"}
    rows = {
        "default": Rate.objects.create(**base, bill_rate_units=6000, pay_rate_units=4000),
        "type": Rate.objects.create(**base, service_type=service_type, bill_rate_units=7000),
        "customer": Rate.objects.create(**base, customer=customer, bill_rate_units=7500),
        "customer+type": Rate.objects.create(**base, service_type=service_type, customer=customer, bill_rate_units=1),
        "provider+type": Rate.objects.create(**base, service_type=service_type, provider=provider, pay_rate_units=1),
    }
    assert rate_level(rows["default"]).label == "default"
    assert rate_level(rows["default"]).sides == ("bill", "pay")
    assert rate_level(rows["type"]).label == "service type"
    assert rate_level(rows["customer"]).label == "customer"
    assert rate_level(rows["customer+type"]).label == "customer + service type"
    assert rate_level(rows["provider+type"]).label == "provider + service type"
    assert rate_level(rows["provider+type"]).sides == ("pay",)
    groups = rate_groups(partner=partner)
    assert [(g.slip_type, g.service_type_name) for g in groups] == [("service", ""), ("service", "Interpreting")]
    assert [row.level.rank for row in groups[1].rows] == [1, 1, 3]
    assert (
        precedence_sentences()[0]
        == "Bill side: customer + service type beats customer beats service type beats default."
    )


# --- zones ----------------------------------------------------------------------------------------------------------


def test_zone_names_are_unique_per_partner_in_any_case(partner, staff_user):
    ratecards.zone_save(partner=partner, user=staff_user, name="Manhattan", tax_rate=Decimal("8.875"))
    with pytest.raises(ValidationError) as excinfo:
        ratecards.zone_save(partner=partner, user=staff_user, name=" manhattan ", tax_rate=Decimal(0))
    assert errors_of(excinfo)["name"] == ["There is already a zone called “manhattan”."]
    other = factories.PartnerFactory()
    assert ratecards.zone_save(partner=other, user=None, name="Manhattan", tax_rate=Decimal(0)).pk


@pytest.mark.parametrize(
    ("values", "field"),
    [({"tax_rate": Decimal(101)}, "tax_rate"), ({"price_multiplier": Decimal(0)}, "price_multiplier")],
)
def test_zone_figures_out_of_range_are_refused(partner, staff_user, values, field):
    with pytest.raises(ValidationError) as excinfo:
        ratecards.zone_save(partner=partner, user=staff_user, **{"name": "Z", "tax_rate": Decimal(5), **values})
    assert field in errors_of(excinfo)
    assert not Zone.objects.exists()


def test_a_zone_in_use_is_not_deleted(partner, staff_user, customer):
    zone = factories.ZoneFactory(partner=partner, name="Brooklyn")
    customer.zone = zone
    customer.save(update_fields=["zone"])
    with pytest.raises(BillingRuleError) as excinfo:
        ratecards.zone_delete(zone=zone, user=staff_user)
    assert excinfo.value.message.startswith("Zone Brooklyn cannot be deleted: 1 customer (as their default zone) use")
    assert Zone.objects.filter(pk=zone.pk).exists()
    assert not AuditEvent.objects.filter(action="zone_delete").exists()


def test_a_zone_nobody_uses_is_deleted_with_its_areas(partner, staff_user):
    zone = factories.ZoneFactory(partner=partner)
    factories.ZoneAreaFactory(zone=zone, region="NY")
    ratecards.zone_delete(zone=zone, user=staff_user)
    assert not Zone.objects.exists() and not ZoneArea.objects.exists()
    assert AuditEvent.objects.get(action="zone_delete").data["areas"] == ["US NY"]


def test_an_area_is_tidied_and_checked(partner, staff_user):
    zone = factories.ZoneFactory(partner=partner)
    area = ratecards.zone_area_save(zone=zone, user=staff_user, country=" us", region="ny ", postal_pattern="100 *")
    assert (area.country, area.region, area.postal_pattern) == ("US", "NY", "100*")
    with pytest.raises(ValidationError) as excinfo:
        ratecards.zone_area_save(zone=zone, user=staff_user, country="USA", postal_pattern="1*0")
    assert set(errors_of(excinfo)) == {"country", "postal_pattern"}


def test_an_area_belongs_to_one_zone(partner, staff_user):
    first = factories.ZoneFactory(partner=partner, name="Queens")
    second = factories.ZoneFactory(partner=partner)
    ratecards.zone_area_save(zone=first, user=staff_user, country="US", region="NY", postal_pattern="113*")
    with pytest.raises(ValidationError) as excinfo:
        ratecards.zone_area_save(zone=second, user=staff_user, country="us", region="ny", postal_pattern="113*")
    assert errors_of(excinfo)[NON_FIELD_ERRORS] == [
        "Zone Queens already covers US NY 113*: an area belongs to one zone."
    ]
    assert ZoneArea.objects.count() == 1


# --- time policies --------------------------------------------------------------------------------------------------


def test_one_time_policy_per_scope(partner, staff_user, customer):
    ratecards.policy_save(partner=partner, user=staff_user, minimum_hours=Decimal(1), rounding_minutes=15)
    ratecards.policy_save(partner=partner, user=staff_user, customer=customer, minimum_hours=Decimal(3))
    with pytest.raises(ValidationError) as excinfo:
        ratecards.policy_save(partner=partner, user=staff_user, customer=customer, minimum_hours=Decimal(2))
    message = errors_of(excinfo)[NON_FIELD_ERRORS][0]
    assert message.startswith("A time policy for this scope already exists") and customer.name in message
    assert TimePolicy.objects.get(customer=customer).minimum_hours == Decimal(3)


def test_policy_figures_are_checked(partner, staff_user, customer, provider):
    with pytest.raises(ValidationError) as excinfo:
        ratecards.policy_save(
            partner=partner,
            user=staff_user,
            customer=customer,
            provider=provider,
            weekend_multiplier=Decimal(0),
            rounding_minutes=2000,
        )
    assert set(errors_of(excinfo)) == {"provider", "weekend_multiplier", "rounding_minutes"}
    assert not TimePolicy.objects.exists()


# --- holidays -------------------------------------------------------------------------------------------------------


def test_one_own_holiday_a_day(partner, staff_user):
    day = datetime.date(2026, 12, 24)
    ratecards.holiday_save(partner=partner, user=staff_user, date=day, name="Christmas Eve")
    with pytest.raises(ValidationError) as excinfo:
        ratecards.holiday_save(partner=partner, user=staff_user, date=day, name="Office party")
    assert errors_of(excinfo)["date"] == ["There is already a holiday on Dec 24, 2026: Christmas Eve. One a day."]
    assert list(Holiday.objects.values_list("name", flat=True)) == ["Christmas Eve"]


@pytest.mark.parametrize(
    ("country", "region", "field"),
    [("ZZ", "", "country"), ("US", "XX", "region"), ("U1", "", "country")],
)
def test_holiday_settings_are_checked_with_the_holidays_package(partner, staff_user, country, region, field):
    with pytest.raises(ValidationError) as excinfo:
        ratecards.partner_holidays_update(
            partner=partner, user=staff_user, country=country, region=region, public_holidays=True
        )
    assert field in errors_of(excinfo)
    partner = Partner.objects.get(pk=partner.pk)
    assert (partner.country, partner.region, partner.public_holidays) == ("US", "", False)


def test_holiday_settings_are_saved_and_used(partner, staff_user):
    ratecards.partner_holidays_update(partner=partner, user=staff_user, country="us", region="ny", public_holidays=True)
    partner = Partner.objects.get(pk=partner.pk)
    assert (partner.country, partner.region, partner.public_holidays) == ("US", "NY", True)
    assert AuditEvent.objects.get(action="holiday_settings").data["public_holidays"] == [False, True]
    ahead = public_holidays_ahead(partner=partner, today=datetime.date(2026, 3, 1))
    names = dict(ahead.days)
    assert names[datetime.date(2026, 12, 25)] == "Christmas Day"
    assert datetime.date(2027, 2, 28) == ahead.end


# --- extras and coupons ---------------------------------------------------------------------------------------------


def test_an_unused_extra_is_deleted_and_a_booked_one_deactivated(partner, staff_user):
    unused = factories.ExtraOfferFactory(partner=partner)
    booked = factories.ExtraOfferFactory(partner=partner)
    service = factories.ServiceFactory(request__customer__partner=partner)
    ServiceExtra.objects.create(service=service, offer=booked, description=booked.name, bill_rate_units=1)
    assert ratecards.extra_remove(offer=unused, user=staff_user) is ratecards.ExtraRemoval.DELETED
    assert ratecards.extra_remove(offer=booked, user=staff_user) is ratecards.ExtraRemoval.DEACTIVATED
    assert list(ExtraOffer.objects.values_list("pk", "is_active")) == [(booked.pk, False)]


def test_coupon_codes_are_unique_in_any_case(partner, staff_user):
    ratecards.coupon_save(partner=partner, user=staff_user, code="SPRING10", percent_off=Decimal(10))
    with pytest.raises(ValidationError) as excinfo:
        ratecards.coupon_save(partner=partner, user=staff_user, code="spring10", amount_off_units=500)
    assert "There is already a coupon spring10" in errors_of(excinfo)["code"][0]
    assert Coupon.objects.count() == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"percent_off": Decimal(10), "amount_off_units": 500}, "percent_off"),
        ({}, "percent_off"),
        ({"percent_off": Decimal(0)}, "percent_off"),
        ({"percent_off": Decimal(101)}, "percent_off"),
        ({"amount_off_units": 0}, "amount_off_units"),
        (
            {
                "percent_off": Decimal(5),
                "valid_from": datetime.date(2026, 5, 2),
                "valid_until": datetime.date(2026, 5, 1),
            },
            "valid_until",
        ),
    ],
)
def test_coupon_figures_are_checked(partner, staff_user, values, field):
    with pytest.raises(ValidationError) as excinfo:
        ratecards.coupon_save(partner=partner, user=staff_user, code="X1", **values)
    assert field in errors_of(excinfo)
    assert not Coupon.objects.exists()


def test_a_coupon_limit_cannot_drop_below_its_uses(partner, staff_user):
    coupon = factories.CouponFactory(partner=partner, redeemed_count=3)
    with pytest.raises(ValidationError) as excinfo:
        ratecards.coupon_save(
            partner=partner,
            user=staff_user,
            coupon=coupon,
            code=coupon.code,
            percent_off=Decimal(10),
            max_redemptions=2,
        )
    assert "used 3 times already" in errors_of(excinfo)["max_redemptions"][0]


def test_a_coupons_scope_is_saved_and_audited(partner, staff_user, service_type):
    coupon = ratecards.coupon_save(
        partner=partner, user=staff_user, code="TYPE5", amount_off_units=500, service_types=[service_type]
    )
    assert list(coupon.service_types.all()) == [service_type]
    assert AuditEvent.objects.get(action="coupon_create").data["service_types"] == [service_type.pk]


def test_a_used_coupon_is_not_deleted(partner, staff_user, customer):
    coupon = factories.CouponFactory(partner=partner)
    request = factories.ServiceRequestFactory(customer=customer)
    CouponRedemption.objects.create(coupon=coupon, customer=customer, request=request)
    with pytest.raises(BillingRuleError):
        ratecards.coupon_delete(coupon=coupon, user=staff_user)
    assert Coupon.objects.filter(pk=coupon.pk).exists()


# --- the preview ----------------------------------------------------------------------------------------------------


def monday(partner, hour):
    return timezone.make_aware(datetime.datetime(2026, 11, 2, hour), partner.tzinfo)


@pytest.fixture
def priced_world(partner, service_type, customer, provider):
    base = {"partner": partner, "slip_type": "service", "pay_schedule": "weekday"}
    Rate.objects.create(**base, bill_rate_units=Decimal(6000), pay_rate_units=Decimal(4000))
    special = Rate.objects.create(**base, service_type=service_type, customer=customer, bill_rate_units=Decimal(8000))
    return special


def counts():
    return [
        model.objects.count()
        for model in (Service, ServiceRequest, Slip, Proforma, CouponRedemption, AuditEvent, Rate, Coupon)
    ]


def test_a_typed_preview_shows_which_rate_and_level_priced_each_side_and_writes_nothing(
    partner, service_type, customer, provider, priced_world
):
    coupon = factories.CouponFactory(partner=partner, code="TEN", percent_off=Decimal(10))
    before = counts()
    preview = typed_preview(
        partner=partner,
        service_type=service_type,
        customer=customer,
        provider=provider,
        starts_at=monday(partner, 9),
        ends_at=monday(partner, 11),
        coupon_code="ten",
    )
    assert counts() == before
    assert Coupon.objects.get(pk=coupon.pk).redeemed_count == 0
    assert preview.error == ""
    time, discount = preview.lines
    assert time.slip.quantity == Decimal(2) and time.slip.bill_amount_units == 16000
    assert time.bill.rate == priced_world and time.bill.level == "customer + service type"
    assert time.pay.rate.pay_rate_units == Decimal(4000) and time.pay.level == "default"
    assert time.worked_hours == Decimal(2) and time.bill.policy is None
    assert discount.slip.bill_amount_units == -1600 and discount.note == "Coupon TEN, before tax"
    assert preview.totals.total_units == 14400 and preview.totals.pay_units == 8000


def test_a_preview_names_the_policy_of_each_side(partner, service_type, customer, provider, priced_world):
    TimePolicy.objects.create(partner=partner, customer=customer, minimum_hours=Decimal(3))
    TimePolicy.objects.create(partner=partner, rounding_minutes=15)
    preview = typed_preview(
        partner=partner,
        service_type=service_type,
        customer=customer,
        provider=provider,
        starts_at=monday(partner, 9),
        ends_at=monday(partner, 10) + datetime.timedelta(minutes=5),
    )
    (line,) = preview.lines
    assert (line.slip.quantity, line.slip.paid_quantity) == (Decimal(3), Decimal("1.25"))
    assert line.bill.policy_words == f"{customer}'s policy: minimum 3 h, no rounding."
    assert line.pay.policy_words == "The default policy: no minimum, rounded up to 15 min."


def test_a_missing_rate_is_said_in_words(partner, service_type, customer, provider, priced_world):
    preview = typed_preview(
        partner=partner,
        service_type=service_type,
        customer=customer,
        provider=provider,
        starts_at=monday(partner, 20),
        ends_at=monday(partner, 22),
    )
    assert preview.lines == [] and preview.totals is None
    assert preview.error == f"No weeknight service bill rate for {customer} ({service_type})."


def test_a_coupon_that_may_not_be_used_is_refused_on_its_field(partner, service_type, customer, priced_world):
    factories.CouponFactory(partner=partner, code="OLD", is_active=False)
    with pytest.raises(BillingRuleError) as excinfo:
        typed_preview(
            partner=partner,
            service_type=service_type,
            customer=customer,
            starts_at=monday(partner, 9),
            ends_at=monday(partner, 11),
            coupon_code="OLD",
        )
    assert excinfo.value.field == "coupon"


def test_a_typed_preview_finds_the_zone_from_the_address(partner, service_type, customer, priced_world):
    zone = factories.ZoneFactory(partner=partner, name="Manhattan", tax_rate=Decimal("8.875"))
    factories.ZoneAreaFactory(zone=zone, region="NY", postal_pattern="100*")
    preview = typed_preview(
        partner=partner,
        service_type=service_type,
        customer=customer,
        starts_at=monday(partner, 9),
        ends_at=monday(partner, 11),
        region="ny",
        postal_code="10001",
    )
    assert preview.zone.explanation == "Manhattan: the address matches its area US NY 100*."
    assert preview.lines[0].slip.tax_rate == Decimal("8.875")


def test_a_saved_service_is_priced_as_it_stands(partner, service_type, customer, provider, priced_world):
    request = factories.ServiceRequestFactory(customer=customer)
    service = factories.ServiceFactory(
        request=request,
        service_type=service_type,
        provider=provider,
        starts_at=monday(partner, 9),
        ends_at=monday(partner, 11),
    )
    ServiceExtra.objects.create(service=service, description="Transcript", bill_rate_units=Decimal(2500))
    before = counts()
    preview = service_preview(service=service)
    assert counts() == before
    assert [line.slip.description for line in preview.lines][1] == "Transcript"
    assert preview.lines[0].bill.rate == priced_world
    assert preview.zone.explanation.startswith("No tax zone")
