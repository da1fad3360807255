"""Office rate card pages (billing admins): rates with their precedence level, tax zones and areas, time policies,
holidays, extras, coupons, and "price this service", which writes nothing."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from customers.models import Partner
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
from tests import factories

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"office:{name}", args=args)


@pytest.fixture
def admin(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def service_type(partner):
    return factories.ServiceTypeFactory(partner=partner, name="Interpreting")


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def message_texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def rate_data(**overrides) -> dict:
    data = {
        "slip_type": "service",
        "pay_schedule": "weekday",
        "service_type": "",
        "customer": "",
        "provider": "",
        "bill_rate_units": "",
        "pay_rate_units": "",
    }
    data.update(overrides)
    return data


# --- who may see them -----------------------------------------------------------------------------------------------

LIST_PAGES = [
    "ratecard_rates",
    "ratecard_zones",
    "ratecard_policies",
    "ratecard_holidays",
    "ratecard_extras",
    "ratecard_coupons",
    "price_preview",
]


@pytest.mark.parametrize("name", LIST_PAGES)
def test_a_billing_admin_sees_each_page(admin, name):
    html = page(admin.get(url(name)))
    assert "Rate cards" in html and 'aria-current="page"' in html


@pytest.mark.parametrize("name", LIST_PAGES)
def test_a_clerk_gets_403(client, clerk_user, name):
    client.force_login(clerk_user)
    assert client.get(url(name)).status_code == 403


def test_a_clerk_cannot_post_and_sees_no_link(client, clerk_user, partner):
    client.force_login(clerk_user)
    assert client.post(url("ratecard_rate_create"), rate_data(bill_rate_units="60")).status_code == 403
    assert client.post(url("ratecard_holiday_create"), {"date": "2026-12-24", "name": "Eve"}).status_code == 403
    assert not Rate.objects.exists() and not Holiday.objects.exists()
    assert url("ratecard_rates") not in page(client.get(url("dashboard")))


def test_a_billing_admin_sees_the_rate_cards_link(admin):
    assert f'href="{url("ratecard_rates")}"' in page(admin.get(url("dashboard")))


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(url("ratecard_rates"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("method", "name", "make"),
    [
        ("get", "ratecard_rate_edit", lambda p: Rate.objects.create(partner=p, slip_type="mileage", bill_rate_units=1)),
        (
            "post",
            "ratecard_rate_delete",
            lambda p: Rate.objects.create(partner=p, slip_type="mileage", pay_rate_units=1),
        ),
        ("get", "ratecard_zone", lambda p: factories.ZoneFactory(partner=p)),
        ("post", "ratecard_zone_delete", lambda p: factories.ZoneFactory(partner=p)),
        ("post", "ratecard_area_create", lambda p: factories.ZoneFactory(partner=p)),
        ("get", "ratecard_area_edit", lambda p: factories.ZoneAreaFactory(zone__partner=p)),
        ("post", "ratecard_area_delete", lambda p: factories.ZoneAreaFactory(zone__partner=p)),
        ("get", "ratecard_policy_edit", lambda p: TimePolicy.objects.create(partner=p)),
        ("post", "ratecard_policy_delete", lambda p: TimePolicy.objects.create(partner=p)),
        ("get", "ratecard_holiday_edit", lambda p: Holiday.objects.create(partner=p, date="2026-12-24", name="Eve")),
        ("post", "ratecard_holiday_delete", lambda p: Holiday.objects.create(partner=p, date="2026-12-24", name="E")),
        ("get", "ratecard_extra_edit", lambda p: factories.ExtraOfferFactory(partner=p)),
        ("post", "ratecard_extra_remove", lambda p: factories.ExtraOfferFactory(partner=p)),
        ("get", "ratecard_coupon_edit", lambda p: factories.CouponFactory(partner=p)),
        ("post", "ratecard_coupon_delete", lambda p: factories.CouponFactory(partner=p)),
    ],
)
def test_another_partners_row_is_a_404_and_stays(admin, method, name, make):
    other = factories.PartnerFactory()
    row = make(other)
    response = getattr(admin, method)(url(name, row.pk), {"country": "US", "name": "x"} if method == "post" else None)
    assert response.status_code == 404
    assert type(row).objects.filter(pk=row.pk).exists()


# --- rates ----------------------------------------------------------------------------------------------------------


def test_the_rates_page_shows_each_rows_level_and_the_order(admin, partner, service_type, customer, provider):
    base = {"partner": partner, "slip_type": "service", "pay_schedule": "weekday"}
    Rate.objects.create(**base, bill_rate_units=Decimal(6000), pay_rate_units=Decimal(4000))
    special = Rate.objects.create(**base, service_type=service_type, customer=customer, bill_rate_units=8000)
    Rate.objects.create(**base, provider=provider, pay_rate_units=Decimal(4500))
    html = page(admin.get(url("ratecard_rates")))
    assert "Bill side: customer + service type beats customer beats service type beats default." in html
    assert "Pay side: provider + service type beats provider beats service type beats default." in html
    row = html.split(f'id="rate-{special.pk}"')[1].split("</tr>")[0]
    assert "customer + service type</span>" in row and "$80.00" in row and customer.name in row
    assert ">default</span>" in html and ">provider</span>" in html
    assert "Service · Interpreting" in html


def test_adding_a_rate_in_dollars(admin, partner, service_type, customer):
    response = admin.post(
        url("ratecard_rate_create"),
        rate_data(service_type=service_type.pk, customer=customer.pk, bill_rate_units="80"),
    )
    assert response.status_code == 302 and response["Location"] == url("ratecard_rates")
    rate = Rate.objects.get()
    assert (rate.bill_rate_units, rate.pay_rate_units, rate.customer) == (Decimal(8000), None, customer)
    followed = admin.get(response["Location"])
    assert "level “customer + service type”" in message_texts(followed)[0]


def test_mileage_rates_keep_fractions_of_a_cent(admin):
    data = rate_data(slip_type="mileage", pay_schedule="", bill_rate_units="0.655", pay_rate_units="$0.50")
    assert admin.post(url("ratecard_rate_create"), data).status_code == 302
    rate = Rate.objects.get()
    assert (rate.bill_rate_units, rate.pay_rate_units, rate.pay_schedule) == (Decimal("65.5"), Decimal(50), "")


def test_a_duplicate_rate_is_a_form_error_and_changes_nothing(admin, partner):
    Rate.objects.create(partner=partner, slip_type="service", pay_schedule="weekday", bill_rate_units=6000)
    html = page(admin.post(url("ratecard_rate_create"), rate_data(bill_rate_units="70")))
    assert "A rate for this scope already exists" in html and "Nothing was saved" in html
    assert list(Rate.objects.values_list("bill_rate_units", flat=True)) == [Decimal(6000)]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (rate_data(bill_rate_units="1e3"), "is not a price"),
        (rate_data(bill_rate_units="-5"), "cannot be negative"),
        (rate_data(pay_schedule=""), "Choose the pay schedule"),
        (rate_data(), "Enter a bill rate, a pay rate or both"),
    ],
)
def test_bad_rate_input_changes_nothing(admin, data, words):
    html = page(admin.post(url("ratecard_rate_create"), data))
    assert words in html
    assert not Rate.objects.exists()


def test_a_customer_and_a_provider_on_one_rate_is_refused(admin, customer, provider):
    data = rate_data(customer=customer.pk, provider=provider.pk, bill_rate_units="60")
    assert "not both" in page(admin.post(url("ratecard_rate_create"), data))
    assert not Rate.objects.exists()


def test_editing_and_deleting_a_rate(admin, partner):
    rate = Rate.objects.create(partner=partner, slip_type="mileage", bill_rate_units=Decimal("65.5"))
    html = page(admin.get(url("ratecard_rate_edit", rate.pk)))
    assert 'value="0.655"' in html and "default</span>" in html
    data = rate_data(slip_type="mileage", pay_schedule="", bill_rate_units="0.70")
    assert admin.post(url("ratecard_rate_edit", rate.pk), data).status_code == 302
    rate.refresh_from_db()
    assert rate.bill_rate_units == Decimal(70)
    assert admin.post(url("ratecard_rate_delete", rate.pk)).status_code == 302
    assert not Rate.objects.exists()
    assert AuditEvent.objects.filter(action__in=["rate_update", "rate_delete"]).count() == 2


def test_deleting_is_a_post(admin, partner):
    rate = Rate.objects.create(partner=partner, slip_type="mileage", bill_rate_units=1)
    assert admin.get(url("ratecard_rate_delete", rate.pk)).status_code == 405
    assert Rate.objects.exists()


# --- zones ----------------------------------------------------------------------------------------------------------


def test_the_zones_page_explains_how_a_zone_is_found(admin, partner):
    zone = factories.ZoneFactory(partner=partner, name="Manhattan")
    factories.ZoneAreaFactory(zone=zone, region="NY", postal_pattern="100*")
    html = page(admin.get(url("ratecard_zones")))
    assert "the most specific match wins" in html and "US NY 100*" in html and "Manhattan" in html


def test_adding_a_zone_then_its_areas(admin, partner):
    data = {"name": "Manhattan", "tax_rate": "8.875", "price_multiplier": "1.1", "surcharge_units": "5"}
    response = admin.post(url("ratecard_zone_create"), data)
    zone = Zone.objects.get()
    assert response["Location"] == url("ratecard_zone", zone.pk)
    assert (zone.tax_rate, zone.price_multiplier, zone.surcharge_units) == (Decimal("8.875"), Decimal("1.1"), 500)
    response = admin.post(
        url("ratecard_area_create", zone.pk), {"country": "us", "region": "NY", "postal_pattern": "100*"}
    )
    assert response.status_code == 302
    area = ZoneArea.objects.get()
    assert str(area) == "US NY 100*"
    html = page(
        admin.post(url("ratecard_area_create", zone.pk), {"country": "US", "region": "ny", "postal_pattern": "100*"})
    )
    assert "This zone already covers US NY 100*" in html
    assert ZoneArea.objects.count() == 1
    assert admin.post(url("ratecard_area_edit", area.pk), {"country": "US", "region": "NY", "postal_pattern": "10001"})
    area.refresh_from_db()
    assert area.postal_pattern == "10001"
    admin.post(url("ratecard_area_delete", area.pk))
    assert not ZoneArea.objects.exists()


def test_bad_zone_input_changes_nothing(admin, partner):
    zone = factories.ZoneFactory(partner=partner, name="Queens", tax_rate=Decimal(8))
    data = {"name": "Queens", "tax_rate": "150", "price_multiplier": "0", "surcharge_units": ""}
    html = page(admin.post(url("ratecard_zone", zone.pk), data))
    assert "A percentage cannot be more than 100" in html and "A multiplier is more than zero" in html
    zone.refresh_from_db()
    assert zone.tax_rate == Decimal(8)
    html = page(admin.post(url("ratecard_area_create", zone.pk), {"country": "USA", "postal_pattern": "1*0"}))
    assert "The area was not added" in html and not ZoneArea.objects.exists()


def test_a_zone_in_use_cannot_be_deleted_and_the_page_says_why(admin, partner, service_type):
    zone = factories.ZoneFactory(partner=partner, name="Brooklyn")
    factories.ServiceFactory(request__customer__partner=partner, service_type=service_type, zone=zone)
    html = page(admin.get(url("ratecard_zone", zone.pk)))
    assert "Zone Brooklyn cannot be deleted: 1 service use it." in html
    assert "In use: cannot be deleted" in page(admin.get(url("ratecard_zones")))
    response = admin.post(url("ratecard_zone_delete", zone.pk), follow=True)
    assert message_texts(response)[0].startswith("Zone Brooklyn cannot be deleted: 1 service use it.")
    assert Zone.objects.filter(pk=zone.pk).exists()


def test_an_unused_zone_is_deleted(admin, partner):
    zone = factories.ZoneFactory(partner=partner)
    admin.post(url("ratecard_zone_delete", zone.pk))
    assert not Zone.objects.exists()


# --- time policies --------------------------------------------------------------------------------------------------


def policy_data(**overrides) -> dict:
    data = {
        "customer": "",
        "provider": "",
        "minimum_hours": "1",
        "rounding_minutes": "15",
        "after_hours_multiplier": "1",
        "weekend_multiplier": "1.5",
        "holiday_multiplier": "2",
    }
    data.update(overrides)
    return data


def test_time_policies_say_whose_prices_which_side(admin, partner, customer):
    TimePolicy.objects.create(partner=partner, customer=customer, minimum_hours=Decimal(3))
    html = page(admin.get(url("ratecard_policies")))
    assert (
        "A customer&#x27;s policy prices the bill side of its services, a provider&#x27;s policy the pay side" in html
    )
    assert "The bill side of this customer&#x27;s services" in html and f"Customer {customer.name}" in html


def test_adding_editing_and_deleting_a_policy(admin, partner, customer):
    assert admin.post(url("ratecard_policy_create"), policy_data()).status_code == 302
    policy = TimePolicy.objects.get()
    assert (policy.minimum_hours, policy.rounding_minutes, policy.weekend_multiplier) == (1, 15, Decimal("1.5"))
    html = page(admin.post(url("ratecard_policy_create"), policy_data(minimum_hours="2")))
    assert "A time policy for this scope already exists: the default policy." in html
    assert TimePolicy.objects.count() == 1
    assert admin.post(url("ratecard_policy_edit", policy.pk), policy_data(customer=customer.pk)).status_code == 302
    policy.refresh_from_db()
    assert policy.customer == customer
    admin.post(url("ratecard_policy_delete", policy.pk))
    assert not TimePolicy.objects.exists()


def test_bad_policy_input_changes_nothing(admin):
    data = policy_data(minimum_hours="-1", rounding_minutes="5000", weekend_multiplier="0")
    html = page(admin.post(url("ratecard_policy_create"), data))
    assert "cannot be negative" in html and "Use at most 1440 minutes" in html and "more than zero" in html
    assert not TimePolicy.objects.exists()


# --- holidays -------------------------------------------------------------------------------------------------------


def test_own_holidays_added_edited_and_deleted(admin, partner):
    assert (
        admin.post(url("ratecard_holiday_create"), {"date": "2026-12-24", "name": "Christmas Eve"}).status_code == 302
    )
    holiday = Holiday.objects.get()
    html = page(admin.post(url("ratecard_holiday_create"), {"date": "2026-12-24", "name": "Party"}))
    assert "There is already a holiday on Dec 24, 2026: Christmas Eve." in html
    assert Holiday.objects.count() == 1
    admin.post(url("ratecard_holiday_edit", holiday.pk), {"date": "2026-12-31", "name": "Year end"})
    holiday.refresh_from_db()
    assert (holiday.date, holiday.name) == (datetime.date(2026, 12, 31), "Year end")
    assert "Year end" in page(admin.get(url("ratecard_holidays")))
    admin.post(url("ratecard_holiday_delete", holiday.pk))
    assert not Holiday.objects.exists()


def test_the_next_twelve_months_of_public_holidays_are_listed(admin, partner):
    partner.public_holidays = True
    partner.save(update_fields=["public_holidays"])
    html = page(admin.get(url("ratecard_holidays")))
    assert "Christmas Day" in html and "Thanksgiving" in html  # both fall in any twelve months
    partner.public_holidays = False
    partner.save(update_fields=["public_holidays"])
    html = page(admin.get(url("ratecard_holidays")))
    assert "Public holidays are off" in html and "Christmas Day" not in html


def test_holiday_settings_are_saved_or_refused_on_the_field(admin, partner):
    data = {"country": "US", "region": "XX", "public_holidays": "on"}
    html = page(admin.post(url("ratecard_holiday_settings"), data))
    assert "No public holidays are known for region XX of US" in html
    assert Partner.objects.get(pk=partner.pk).region == ""
    data = {"country": "ca", "region": "on", "public_holidays": "on"}
    assert admin.post(url("ratecard_holiday_settings"), data).status_code == 302
    partner.refresh_from_db()
    assert (partner.country, partner.region, partner.public_holidays) == ("CA", "ON", True)
    assert "Canada Day" in page(admin.get(url("ratecard_holidays")))


# --- extras ---------------------------------------------------------------------------------------------------------


def extra_data(**overrides) -> dict:
    data = {"name": "Transcript", "kind": "product", "bill_rate_units": "25", "pay_rate_units": "10"}
    data.update({"max_quantity": "5", "is_active": "on"}, **overrides)
    return data


def test_extras_added_edited_and_removed(admin, partner):
    assert admin.post(url("ratecard_extra_create"), extra_data()).status_code == 302
    offer = ExtraOffer.objects.get()
    assert (offer.bill_rate_units, offer.pay_rate_units, offer.max_quantity) == (Decimal(2500), Decimal(1000), 5)
    assert "There is already an extra called" in page(admin.post(url("ratecard_extra_create"), extra_data()))
    admin.post(url("ratecard_extra_edit", offer.pk), extra_data(bill_rate_units="30"))
    offer.refresh_from_db()
    assert offer.bill_rate_units == Decimal(3000)
    admin.post(url("ratecard_extra_remove", offer.pk))
    assert not ExtraOffer.objects.exists()


def test_a_booked_extra_is_deactivated_not_deleted(admin, partner):
    offer = factories.ExtraOfferFactory(partner=partner)
    service = factories.ServiceFactory(request__customer__partner=partner)
    ServiceExtra.objects.create(service=service, offer=offer, description=offer.name, bill_rate_units=1)
    assert "Deactivate</button>" in page(admin.get(url("ratecard_extras")))
    response = admin.post(url("ratecard_extra_remove", offer.pk), follow=True)
    assert "deactivated rather than deleted" in message_texts(response)[0]
    offer.refresh_from_db()
    assert offer.is_active is False


# --- coupons --------------------------------------------------------------------------------------------------------


def coupon_data(**overrides) -> dict:
    data = {"code": "SPRING10", "description": "Spring", "percent_off": "10", "amount_off_units": "", "is_active": "on"}
    data.update(overrides)
    return data


def test_coupons_added_and_edited(admin, partner, service_type):
    data = coupon_data(service_types=[service_type.pk], max_redemptions="100")
    assert admin.post(url("ratecard_coupon_create"), data).status_code == 302
    coupon = Coupon.objects.get()
    assert (coupon.percent_off, coupon.max_redemptions) == (Decimal(10), 100)
    assert list(coupon.service_types.all()) == [service_type]
    html = page(admin.get(url("ratecard_coupons")))
    assert "SPRING10" in html and "10 % off" in html and "Interpreting" in html
    data = coupon_data(code="SPRING15", percent_off="", amount_off_units="15")
    assert admin.post(url("ratecard_coupon_edit", coupon.pk), data).status_code == 302
    coupon.refresh_from_db()
    assert (coupon.code, coupon.percent_off, coupon.amount_off_units) == ("SPRING15", None, 1500)
    assert list(coupon.service_types.all()) == []


def test_a_duplicate_coupon_code_in_any_case_is_a_form_error(admin, partner):
    factories.CouponFactory(partner=partner, code="SPRING10")
    html = page(admin.post(url("ratecard_coupon_create"), coupon_data(code="spring10")))
    assert "There is already a coupon spring10" in html
    assert Coupon.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"percent_off": "10", "amount_off_units": "5"}, "not both"),
        ({"percent_off": "", "amount_off_units": ""}, "Enter a percentage or an amount off"),
        ({"percent_off": "0"}, "more than 0 and at most 100"),
        ({"percent_off": "101"}, "cannot be more than 100"),
        ({"percent_off": "", "amount_off_units": "0"}, "must be more than zero"),
    ],
)
def test_bad_coupon_figures_change_nothing(admin, overrides, words):
    html = page(admin.post(url("ratecard_coupon_create"), coupon_data(**overrides)))
    assert words in html
    assert not Coupon.objects.exists()


def test_a_coupons_page_lists_its_uses_read_only(admin, partner, customer):
    coupon = factories.CouponFactory(partner=partner, code="USED", redeemed_count=1)
    request = factories.ServiceRequestFactory(customer=customer)
    CouponRedemption.objects.create(coupon=coupon, customer=customer, request=request)
    html = page(admin.get(url("ratecard_coupon_edit", coupon.pk)))
    assert "Uses: 1" in html and customer.name in html and url("request_detail", request.pk) in html
    assert "untick “Active” to stop it" in html
    response = admin.post(url("ratecard_coupon_delete", coupon.pk), follow=True)
    assert "has been used" in message_texts(response)[0]
    assert Coupon.objects.filter(pk=coupon.pk).exists()


def test_an_unused_coupon_is_deleted(admin, partner):
    coupon = factories.CouponFactory(partner=partner)
    admin.post(url("ratecard_coupon_delete", coupon.pk))
    assert not Coupon.objects.exists()


# --- price this service ---------------------------------------------------------------------------------------------


def monday(partner, hour):
    return timezone.make_aware(datetime.datetime(2026, 11, 2, hour), partner.tzinfo)


@pytest.fixture
def rates(partner, service_type, customer):
    base = {"partner": partner, "slip_type": "service", "pay_schedule": "weekday"}
    default = Rate.objects.create(**base, bill_rate_units=Decimal(6000), pay_rate_units=Decimal(4000))
    special = Rate.objects.create(**base, service_type=service_type, customer=customer, bill_rate_units=Decimal(8000))
    return default, special


def counts():
    return [
        model.objects.count()
        for model in (Service, ServiceRequest, Slip, Proforma, CouponRedemption, AuditEvent, Rate, Coupon)
    ]


@pytest.fixture
def service(partner, service_type, customer, provider):
    request = factories.ServiceRequestFactory(customer=customer)
    return factories.ServiceFactory(
        request=request,
        service_type=service_type,
        provider=provider,
        starts_at=monday(partner, 9),
        ends_at=monday(partner, 11),
        status=Service.Status.SCHEDULED,
    )


def test_the_service_page_links_to_its_preview(admin, client, service, clerk_user):
    link = f"{url('price_preview')}?service={service.pk}"
    assert link in page(admin.get(url("service_detail", service.pk)))
    client.force_login(clerk_user)
    assert link not in page(client.get(url("service_detail", service.pk)))


def test_pricing_a_saved_service_shows_the_worked_figures_and_writes_nothing(admin, service, rates):
    _, special = rates
    before = counts()
    html = page(admin.get(url("price_preview"), {"service": service.pk}))
    assert counts() == before
    result = html.split('id="preview-result"')[1]
    assert "Interpreting – weekday (2 h)" in result
    assert (
        f'rate #{special.pk}</a> ($80.00) at level <span class="badge text-bg-info rate-level">customer + service type'
        in (" ".join(result.split()))
    )
    assert "$160.00" in result and "$80.00" in result  # the line and the pay at the $40 default rate
    assert "No time policy: the hours worked, unrounded." in result
    assert "No tax zone" in result


def test_a_typed_preview_shows_policies_zone_and_coupon_and_writes_nothing(
    admin, partner, service_type, customer, provider, rates
):
    TimePolicy.objects.create(partner=partner, customer=customer, minimum_hours=Decimal(3))
    zone = factories.ZoneFactory(partner=partner, name="Manhattan", tax_rate=Decimal("8.875"))
    factories.ZoneAreaFactory(zone=zone, region="NY", postal_pattern="100*")
    coupon = factories.CouponFactory(partner=partner, code="TEN", percent_off=Decimal(10))
    before = counts()
    query = {
        "service_type": service_type.pk,
        "customer": customer.pk,
        "provider": provider.pk,
        "starts_at": "2026-11-02T09:00",
        "ends_at": "2026-11-02T11:00",
        "region": "NY",
        "postal_code": "10001",
        "coupon": "ten",
    }
    html = " ".join(page(admin.get(url("price_preview"), query)).split())
    assert counts() == before
    assert Coupon.objects.get(pk=coupon.pk).redeemed_count == 0
    assert "Manhattan: the address matches its area US NY 100*." in html
    assert f"{customer.name}&#x27;s policy: minimum 3 h, no rounding." in html
    assert "Interpreting – weekday (3 h)" in html and "$240.00" in html  # 3 h billed at $80
    assert "Coupon TEN (10% off)" in html and "-$24.00" in html
    assert "looked up only, not redeemed" in html


def test_a_missing_rate_is_shown_as_a_message(admin, partner, service_type, customer, rates):
    query = {
        "service_type": service_type.pk,
        "customer": customer.pk,
        "starts_at": "2026-11-07T09:00",  # a Saturday: no weekend rate
        "ends_at": "2026-11-07T11:00",
    }
    html = page(admin.get(url("price_preview"), query))
    assert "It cannot be priced:" in html
    assert f"No weekend service bill rate for {customer.name} ({service_type.name})." in html


def test_bad_preview_input_and_unusable_coupons_are_form_errors(admin, partner, service_type, customer, rates):
    factories.CouponFactory(partner=partner, code="GONE", is_active=False)
    query = {
        "service_type": service_type.pk,
        "customer": customer.pk,
        "starts_at": "2026-11-02T11:00",
        "ends_at": "2026-11-02T09:00",
    }
    assert "The service must end after it starts." in page(admin.get(url("price_preview"), query))
    query["ends_at"] = "2026-11-02T12:00"
    html = page(admin.get(url("price_preview"), {**query, "coupon": "GONE"}))
    assert "There is no coupon “GONE”" in html and 'id="preview-result"' not in html


def test_another_partners_service_is_a_404(admin):
    foreign = factories.ServiceFactory()
    assert admin.get(url("price_preview"), {"service": foreign.pk}).status_code == 404
    assert admin.get(url("price_preview"), {"service": "x1"}).status_code == 404


def test_edit_forms_show_round_numbers_as_typed(admin, partner, customer):
    coupon = factories.CouponFactory(partner=partner, percent_off=Decimal("10.00"))
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal("10.000"), price_multiplier=Decimal("10.0000"))
    policy = TimePolicy.objects.create(partner=partner, minimum_hours=Decimal("10.00"), weekend_multiplier=Decimal(2))
    assert 'name="percent_off" value="10"' in page(admin.get(url("ratecard_coupon_edit", coupon.pk)))
    html = page(admin.get(url("ratecard_zone", zone.pk)))
    assert 'name="tax_rate" value="10"' in html and 'name="price_multiplier" value="10"' in html
    html = page(admin.get(url("ratecard_policy_edit", policy.pk)))
    assert 'name="minimum_hours" value="10"' in html and 'name="weekend_multiplier" value="2"' in html


def test_the_list_pages_cost_a_fixed_number_of_queries(admin, partner, service_type, customer, provider):
    def count(name):
        with CaptureQueriesContext(connection) as ctx:
            page(admin.get(url(name)))
        return len(ctx.captured_queries)

    def add(n):
        for i in range(n):
            other = factories.ServiceTypeFactory(partner=partner)
            Rate.objects.create(
                partner=partner,
                slip_type="service",
                pay_schedule="weekday",
                service_type=other,
                customer=customer,
                bill_rate_units=i + 1,
            )
            zone = factories.ZoneFactory(partner=partner)
            factories.ZoneAreaFactory(zone=zone, region=f"R{i}")
            coupon = factories.CouponFactory(partner=partner)
            coupon.service_types.add(other)
            factories.ExtraOfferFactory(partner=partner)
            TimePolicy.objects.create(partner=partner, customer=factories.CustomerFactory(partner=partner))

    names = ["ratecard_rates", "ratecard_zones", "ratecard_coupons", "ratecard_extras", "ratecard_policies"]
    add(1)
    few = [count(name) for name in names]
    add(4)
    assert [count(name) for name in names] == few
