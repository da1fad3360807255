"""Recurring requests entered in the office (seed 002): the recurrence fields on the new-request form for a customer
that allows recurring bookings (absent otherwise), the request saved as its occurrences, refusals on their fields
that save nothing, and the request page and list showing the recurrence."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from invoicing.booking import ServiceInput, request_book
from invoicing.models import Rate, Service, ServiceRequest
from tests import factories

pytestmark = pytest.mark.django_db

CREATE = reverse("office:request_create")
FIELDS = ('name="repeat"', 'name="repeat_until"', 'name="repeat_count"', 'name="recurring_invoicing"')
MANAGEMENT = {"TOTAL_FORMS": "1", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}


@pytest.fixture
def customer(partner):
    return factories.CustomerFactory(partner=partner, allow_recurring_bookings=True)


@pytest.fixture
def stype(partner):
    return factories.ServiceTypeFactory(partner=partner, name="Interpreting")


@pytest.fixture
def office(client, clerk_user):
    client.force_login(clerk_user)
    return client


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def request_data(customer, stype, start: datetime.datetime, rows: int = 1, **recurrence) -> dict:
    data = {"customer": customer.pk, "title": "Weekly hearing", "description": ""}
    data.update({f"services-{key}": value for key, value in MANAGEMENT.items()})
    data["services-TOTAL_FORMS"] = str(rows)
    for index in range(rows):
        row_start = start + datetime.timedelta(days=index)
        row = {
            "service_type": stype.pk,
            "starts_at": local(row_start),
            "ends_at": local(row_start + datetime.timedelta(hours=2)),
            "address": "12 Court St",
        }
        data.update({f"services-{index}-{name}": value for name, value in row.items()})
    data.update({"repeat": "", "repeat_until": "", "repeat_count": "", "recurring_invoicing": "each", **recurrence})
    return data


def test_the_new_request_form_offers_the_recurrence_only_for_a_customer_that_allows_it(office, partner, customer):
    body = office.get(CREATE, {"customer": customer.pk}).content.decode()
    assert all(field in body for field in FIELDS) and "Number of times" in body
    other = factories.CustomerFactory(partner=partner)
    body = office.get(CREATE, {"customer": other.pk}).content.decode()
    assert not any(field in body for field in FIELDS)


def test_staff_enter_a_monthly_request_saved_as_its_occurrences(office, customer, stype):
    start = timezone.make_aware(datetime.datetime(2027, 1, 31, 9))
    data = request_data(customer, stype, start, repeat="monthly", repeat_until="2027-04-30")
    data["recurring_invoicing"] = "monthly"
    response = office.post(CREATE, data)
    assert response.status_code == 302
    request = ServiceRequest.objects.get(customer=customer)
    assert request.is_recurring and request.repeat == "monthly" and request.recurring_invoicing == "monthly"
    occurrences = list(request.services.order_by("starts_at"))
    assert [timezone.localtime(s.starts_at).date().isoformat() for s in occurrences] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
    ]
    assert [s.occurrence for s in occurrences] == [1, 2, 3, 4]

    body = office.get(response.url).content.decode()
    assert "Every month, until Apr 30, 2027, one invoice per month" in body and "Occurrences (4)" in body
    for occurrence in occurrences:
        assert f">#{occurrence.occurrence}</span>" in body
    listed = office.get(reverse("office:request_list")).content.decode()
    assert "Recurring</span>" in listed


def test_a_request_that_does_not_repeat_is_saved_as_before(office, customer, stype):
    start = timezone.make_aware(datetime.datetime(2027, 1, 4, 9))
    assert office.post(CREATE, request_data(customer, stype, start, rows=2)).status_code == 302
    request = ServiceRequest.objects.get(customer=customer)
    assert not request.is_recurring and request.repeat == "" and request.services.count() == 2
    assert set(request.services.values_list("occurrence", flat=True)) == {None}


@pytest.mark.parametrize(
    ("rows", "recurrence", "field", "words"),
    [
        (2, {"repeat": "weekly", "repeat_count": "3"}, "repeat", "repeats one service"),
        (1, {"repeat": "weekly"}, "repeat_until", "an end date or a number of times"),
        (1, {"repeat": "weekly", "repeat_count": "3", "repeat_until": "2027-03-01"}, "repeat_count", "not both"),
        (1, {"repeat": "weekly", "repeat_count": "0"}, "repeat_count", "from 1 to 104"),
        (1, {"repeat": "weekly", "repeat_until": "2026-01-01"}, "repeat_until", "on or after the first date"),
        (1, {"repeat": "weekly", "repeat_until": "2031-01-01"}, "repeat_until", "Choose an earlier end"),
        (1, {"repeat": "weekly", "repeat_count": "3", "recurring_invoicing": "yearly"}, "recurring_invoicing", "how"),
    ],
)
def test_a_bad_recurrence_is_refused_on_its_field_and_nothing_is_saved(
    office, customer, stype, rows, recurrence, field, words
):
    start = timezone.make_aware(datetime.datetime(2027, 1, 4, 9))
    response = office.post(CREATE, request_data(customer, stype, start, rows=rows, **recurrence))
    assert response.status_code == 400
    errors = response.context["recurrence_form"].errors
    assert field in errors and words in errors[field][0]
    assert "Nothing was saved" in response.content.decode()
    assert not ServiceRequest.objects.exists() and not Service.objects.exists()


def test_a_recurring_bookings_quote_is_not_turned_into_an_invoice(office, partner, customer, stype):
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal("8000"),
        pay_rate_units=Decimal("5000"),
    )
    day = timezone.localdate() + datetime.timedelta(days=7)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))
    request = request_book(
        customer=customer,
        services=[ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=2))],
        repeat="weekly",
        repeat_count=2,
        recurring_invoicing="each",
    )
    page = office.get(reverse("office:request_detail", args=[request.pk]))
    body = page.content.decode()
    assert page.context["can_convert"] is False and "Generate invoice" not in body
    assert "not invoiced from its quote" in body
    response = office.post(reverse("office:request_quote_convert", args=[request.pk]), follow=True)
    assert "is invoiced as it says (an invoice for each occurrence)" in " ".join(
        str(m) for m in response.context["messages"]
    )


def test_the_auto_invoice_flag_stays_hidden_while_recurring_bookings_are_allowed(client, staff_user, partner, customer):
    office = client
    office.force_login(staff_user)  # billing settings are a billing admin's
    page = office.get(reverse("office:customer_billing_settings", args=[customer.pk])).content.decode()
    assert "<div data-auto-invoice hidden>" in page
    assert "While recurring bookings are allowed, the automatic invoice on booking does not apply" in page
    other = factories.CustomerFactory(partner=partner)
    page = office.get(reverse("office:customer_billing_settings", args=[other.pk])).content.decode()
    assert "<div data-auto-invoice>" in page
