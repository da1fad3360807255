"""Coupons and service addresses in the office: a coupon code on a new request and on a manual invoice (created and
edited: its discount line follows the lines, its use is counted once), refusals on the coupon field with nothing
saved; a service's country, state and postal code finding its zone (the "Zone" choice only overrides it), and the
service page saying which zone and why."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from invoicing.booking import ServiceInput, request_book, request_submit
from invoicing.manual import quote_convert
from invoicing.models import Coupon, CouponRedemption, Invoice, Rate, Service, ServiceRequest, Slip
from tests import factories

pytestmark = pytest.mark.django_db

MANAGEMENT = {"INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}
EXTRA = 3  # the empty invoice line rows the page renders


@pytest.fixture
def zone(partner):
    return factories.ZoneFactory(partner=partner, name="Springfield", tax_rate=Decimal("10"))


@pytest.fixture
def customer(partner, zone):
    return factories.CustomerFactory(partner=partner, zone=zone)


@pytest.fixture
def stype(partner):
    return factories.ServiceTypeFactory(partner=partner, name="Interpreting")


@pytest.fixture
def spring(partner):
    return factories.CouponFactory(partner=partner, code="SPRING20", percent_off=Decimal(20))


@pytest.fixture
def manhattan(partner):
    zone = factories.ZoneFactory(partner=partner, name="Manhattan", tax_rate=Decimal("8.875"))
    factories.ZoneAreaFactory(zone=zone, country="US", region="NY", postal_pattern="100*")
    return zone


def weekday_at(hour: int, days: int = -7) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=days)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def service_fields(stype, start=None, **extra) -> dict:
    start = start or weekday_at(9)
    return {
        "service_type": stype.pk,
        "starts_at": local(start),
        "ends_at": local(start + datetime.timedelta(hours=2)),
        "address": "12 Court St",
        "country": "US",
        **extra,
    }


def edit_data(stype, **fields) -> dict:
    """What the service's edit page posts: its fields and no extras."""
    extras = {"extras-TOTAL_FORMS": "0", **{f"extras-{k}": v for k, v in MANAGEMENT.items()}}
    return {**service_fields(stype, **fields), **extras}


def request_data(customer, rows, **fields) -> dict:
    data = {"customer": customer.pk, "title": "Hearing", "services-TOTAL_FORMS": str(len(rows))}
    data.update({f"services-{k}": v for k, v in MANAGEMENT.items()})
    for index, row in enumerate(rows):
        data.update({f"services-{index}-{name}": value for name, value in row.items()})
    data.update(fields)
    return data


# --- a coupon on a new request -------------------------------------------------------------------------------------


def test_a_new_request_with_a_coupon_puts_it_on_its_services_and_counts_it_once(
    client, clerk_user, customer, stype, spring
):
    client.force_login(clerk_user)
    page = client.get(reverse("office:request_create"), {"customer": customer.pk}).content.decode()
    assert 'name="coupon"' in page and "Coupon code" in page
    data = request_data(customer, [service_fields(stype), service_fields(stype, weekday_at(9, -6))], coupon="spring20")
    response = client.post(reverse("office:request_create"), data)
    assert response.status_code == 302
    service_request = ServiceRequest.objects.get()
    assert [s.coupon for s in service_request.services.all()] == [spring, spring]  # a percentage: every service
    assert CouponRedemption.objects.get().request == service_request
    assert Coupon.objects.get(pk=spring.pk).redeemed_count == 1


def test_a_new_request_with_a_coupon_that_cannot_be_used_saves_nothing(client, clerk_user, customer, stype, spring):
    spring.valid_until = timezone.localdate() - datetime.timedelta(days=2)
    spring.save()
    client.force_login(clerk_user)
    response = client.post(
        reverse("office:request_create"), request_data(customer, [service_fields(stype)], coupon="SPRING20")
    )
    assert response.status_code == 400
    [error] = response.context["form"].errors["coupon"]
    assert error.startswith("Coupon SPRING20 expired on ")
    assert "Nothing was saved" in response.content.decode()
    assert not ServiceRequest.objects.exists() and not CouponRedemption.objects.exists()


# --- a service's address and zone --------------------------------------------------------------------------------


def test_the_service_form_has_the_address_fields_and_the_zone_as_an_override(client, clerk_user, customer, partner):
    partner.country = "CA"
    partner.save()
    client.force_login(clerk_user)
    response = client.get(reverse("office:request_create"), {"customer": customer.pk})
    row = response.context["formset"].forms[0]
    assert row["country"].value() == "CA"
    assert row.fields["zone"].label == "Zone (override)" and row.fields["zone"].empty_label == "From the address"
    body = response.content.decode()
    assert "Leave empty to use the zone of the address" in body
    assert 'name="services-0-region"' in body and 'name="services-0-postal_code"' in body


def test_the_address_finds_the_zone_and_the_service_page_explains_it(
    client, clerk_user, customer, stype, manhattan, zone
):
    client.force_login(clerk_user)
    row = service_fields(stype, region="ny", postal_code="10001")
    response = client.post(reverse("office:request_create"), request_data(customer, [row]))
    assert response.status_code == 302
    service = Service.objects.get()
    assert (service.zone, service.zone_source, service.region) == (manhattan, Service.ZoneSource.ADDRESS, "NY")
    page = client.get(reverse("office:service_detail", args=[service.pk])).content.decode()
    assert "Manhattan: the address matches its area US NY 100*." in page

    # Moved out of the area: found again from the new address (else the customer's zone).
    edit = reverse("office:service_edit", args=[service.pk])
    assert client.get(edit).context["form"]["zone"].value() is None  # found from the address, not an override
    response = client.post(edit, edit_data(stype, region="NJ", postal_code="07001"))
    assert response.status_code == 302
    service.refresh_from_db()
    assert (service.zone, service.zone_source) == (zone, Service.ZoneSource.CUSTOMER)
    page = client.get(reverse("office:service_detail", args=[service.pk])).content.decode()
    assert "Springfield: the customer&#x27;s default zone (the address matches no zone&#x27;s area)." in page

    # A zone chosen outright overrides the address, and stays chosen on the next edit.
    response = client.post(edit, edit_data(stype, region="NY", postal_code="10001", zone=zone.pk))
    service.refresh_from_db()
    assert (service.zone, service.zone_source) == (zone, Service.ZoneSource.CHOSEN)
    assert (
        "Springfield: chosen for this service (not found from the address)."
        in client.get(reverse("office:service_detail", args=[service.pk])).content.decode()
    )
    assert client.get(edit).context["form"]["zone"].value() == zone.pk


def test_a_priced_services_country_state_and_postal_code_are_shown_not_editable(client, clerk_user, customer, stype):
    Rate.objects.create(
        partner=customer.partner, slip_type="service", pay_schedule="weekday", bill_rate_units=8000, pay_rate_units=5000
    )
    start = weekday_at(9, days=7)
    service_request = request_book(
        customer=customer,
        title="Booked",
        services=[ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=1))],
    )
    service = service_request.services.get()
    client.force_login(clerk_user)
    form = client.get(reverse("office:service_edit", args=[service.pk])).context["form"]
    assert all(form.fields[name].disabled for name in ("zone", "country", "region", "postal_code"))


# --- a coupon on a manual invoice --------------------------------------------------------------------------------


def invoice_line(description, quantity, unit_price, tax_rate="10", discount=""):
    return {
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "tax_rate": tax_rate,
        "discount": discount,
    }


def invoice_data(customer, lines, *, initial=0, **header) -> dict:
    rows = list(lines) + [invoice_line("", "1", "")] * EXTRA
    data = {
        "customer": customer.pk,
        "billing_contact": "",
        "discount": "",
        "payment_terms_days": "",
        "due_date": "",
        "notes": "",
        "coupon": "",
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "500",
    }
    for index, row in enumerate(rows):
        data.update({f"lines-{index}-{key}": value for key, value in row.items()})
    data.update(header)
    return data


def discounts(invoice) -> list[tuple[str, int, int]]:
    slips = Slip.objects.filter(invoice=invoice, slip_type=Slip.Type.COUPON)
    return [(s.description, s.bill_amount_units, s.bill_tax_units) for s in slips]


def test_a_manual_invoice_with_a_coupon_then_edited_keeps_its_discount_right(client, clerk_user, customer, spring):
    client.force_login(clerk_user)
    response = client.post(
        reverse("office:invoice_create"),
        invoice_data(customer, [invoice_line("Consulting", "1", "100")], coupon="spring20"),
    )
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert discounts(invoice) == [("Coupon SPRING20 (20% off)", -2000, -200)]
    assert (invoice.tax_units, invoice.total_units) == (800, 8800)

    edit = reverse("office:invoice_edit", args=[invoice.pk])
    page = client.get(edit)
    assert page.context["form"]["coupon"].value() == "SPRING20"
    assert page.context["formset"].initial_form_count() == 1  # the discount is not a typed line
    assert "recomputed from the lines on save" in page.content.decode()
    lines = [invoice_line("Consulting", "2", "100"), invoice_line("Travel", "1", "50", tax_rate="0")]
    response = client.post(edit, invoice_data(customer, lines, initial=1, coupon="SPRING20"))
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert discounts(invoice) == [
        ("Coupon SPRING20 (20% off), 10% tax", -4000, -400),
        ("Coupon SPRING20 (20% off), 0% tax", -1000, 0),
    ]
    assert invoice.total_units == 20000 + 5000 - 5000 + 1600
    assert Coupon.objects.get(pk=spring.pk).redeemed_count == 1 and CouponRedemption.objects.count() == 1

    detail = client.get(reverse("office:invoice_detail", args=[invoice.pk])).content.decode()
    assert "Coupon SPRING20 (20% off), 10% tax" in detail and "-$40.00" in detail


def test_a_manual_invoice_coupon_refusal_is_on_its_field_and_saves_nothing(client, clerk_user, customer, spring):
    spring.max_redemptions, spring.redeemed_count = 1, 1
    spring.save()
    client.force_login(clerk_user)
    response = client.post(
        reverse("office:invoice_create"),
        invoice_data(customer, [invoice_line("Consulting", "1", "100")], coupon="SPRING20"),
    )
    assert response.context["form"].errors["coupon"] == ["Coupon SPRING20 has been used up."]
    assert not Invoice.objects.exists()
    narrow = factories.CouponFactory(partner=customer.partner, code="ONLYINTERP")
    narrow.service_types.add(factories.ServiceTypeFactory(partner=customer.partner))
    response = client.post(
        reverse("office:invoice_create"),
        invoice_data(customer, [invoice_line("Consulting", "1", "100")], coupon="onlyinterp"),
    )
    assert "cannot be used on typed lines" in response.context["form"].errors["coupon"][0]
    assert not Invoice.objects.exists()


def test_an_invoice_from_a_booking_quote_keeps_its_coupon_line_when_edited(client, clerk_user, customer, stype, spring):
    Rate.objects.create(
        partner=customer.partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=10000,
        pay_rate_units=6000,
    )
    customer.payment_terms, customer.auto_invoice_on_booking = customer.PaymentTerms.NO_PAYMENT, False
    customer.save()
    start = weekday_at(9, days=7)
    service_request = request_submit(
        customer=customer,
        services=[ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=1))],
        book=True,
        coupon_code="SPRING20",
    )
    invoice = quote_convert(quote=service_request.quote, user=clerk_user)
    assert invoice.total_units == 8800
    client.force_login(clerk_user)
    edit = reverse("office:invoice_edit", args=[invoice.pk])
    page = client.get(edit)
    assert [slip.slip_type for slip in page.context["kept"]] == [Slip.Type.COUPON]  # kept as it is, not retyped
    [typed] = page.context["formset"].initial
    response = client.post(
        edit,
        invoice_data(
            customer,
            [invoice_line(typed["description"], "1", "100")],
            initial=1,
            notes="Edited",
        ),
    )
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.total_units == 8800 and invoice.notes == "Edited"
    # A second coupon is refused: the booking's discount is already on it.
    response = client.post(edit, invoice_data(customer, [invoice_line("X", "1", "100")], initial=1, coupon="SPRING20"))
    assert "already has the discount of its booking's coupon" in response.context["form"].errors["coupon"][0]
