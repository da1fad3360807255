"""Recurring bookings in the portal (seed 002): "Repeat", "Until" or "Number of times" and "Invoicing" on the booking
form for a customer that allows them (absent otherwise), the booking saved as its occurrences, and the request page
listing them with the recurrence in words."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from invoicing.models import Invoice, Quote, Rate, Service, ServiceRequest
from tests.factories import CustomerFactory, CustomerMembershipFactory, ServiceTypeFactory, ZoneFactory

pytestmark = pytest.mark.django_db

FIELDS = ('name="repeat"', 'name="repeat_until"', 'name="repeat_count"', 'name="recurring_invoicing"')


@pytest.fixture
def customer(partner):
    zone = ZoneFactory(partner=partner, name="Downtown", tax_rate=Decimal("10"))
    return CustomerFactory(partner=partner, zone=zone, allow_recurring_bookings=True)


@pytest.fixture
def stype(partner):
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal("8000"),
        pay_rate_units=Decimal("5000"),
    )
    return ServiceTypeFactory(partner=partner, name="Interpreting")


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    return client


def weekday_ahead(days: int = 7) -> datetime.date:
    day = timezone.localdate() + datetime.timedelta(days=days)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


def booking_data(stype, **overrides) -> dict:
    data = {
        "service_type": stype.pk,
        "date": weekday_ahead().isoformat(),
        "starts_at": "09:00",
        "ends_at": "11:00",
        "address": "1 Court St, Springfield",
        "zone": "",
        "title": "Weekly deposition",
        "notes": "",
        "repeat": "weekly",
        "repeat_until": "",
        "repeat_count": "4",
        "recurring_invoicing": "each",
    }
    data.update(overrides)
    return data


CREATE = reverse("portal:request_create")


def test_the_booking_form_offers_the_recurrence_to_a_customer_that_allows_it(portal):
    body = portal.get(CREATE).content.decode()
    assert all(field in body for field in FIELDS)
    assert "Does not repeat" in body and "Every week" in body and "Every month" in body
    assert "An invoice for each occurrence" in body and "One invoice per month" in body


def test_a_customer_not_allowed_sees_no_recurrence_and_a_forged_one_books_once(client, partner, stype):
    other = CustomerFactory(partner=partner, allow_recurring_bookings=False)
    client.force_login(CustomerMembershipFactory(customer=other).user)
    body = client.get(CREATE).content.decode()
    assert not any(field in body for field in FIELDS)
    response = client.post(CREATE, booking_data(stype))  # the fields are not read for this customer
    assert response.status_code == 302
    request = ServiceRequest.objects.get(customer=other)
    assert not request.is_recurring and request.services.count() == 1


def test_a_weekly_booking_makes_its_occurrences_and_the_page_lists_them(portal, customer, stype):
    day = weekday_ahead()
    response = portal.post(CREATE, booking_data(stype, date=day.isoformat()))
    assert response.status_code == 302
    request = ServiceRequest.objects.get(customer=customer)
    assert request.repeat == "weekly" and request.repeat_count == 4 and request.recurring_invoicing == "each"
    occurrences = list(request.services.order_by("starts_at"))
    assert [timezone.localtime(s.starts_at).date() for s in occurrences] == [
        day + datetime.timedelta(weeks=n) for n in range(4)
    ]
    assert [s.occurrence for s in occurrences] == [1, 2, 3, 4]
    assert request.quote.status == Quote.Status.OPEN and not Invoice.objects.exists()  # a quote, never an invoice

    page = portal.get(response.url)
    body = page.content.decode()
    assert "Booked 4 occurrences" in " ".join(str(m) for m in page.context["messages"])
    assert "4 occurrences" in body and "Every week, 4 times, an invoice for each occurrence" in body
    for occurrence in occurrences:
        assert (
            f">#{occurrence.occurrence}</span>" in body
            and f"{occurrence.starts_at:%a, %b} {occurrence.starts_at.day}," in body
        )
    assert body.count("Scheduled") >= 4  # each occurrence's status
    assert "The quote prices every occurrence" in body


def test_a_monthly_booking_until_a_date_invoiced_per_month(portal, customer, stype):
    day = weekday_ahead(10)
    until = day + datetime.timedelta(days=70)
    data = booking_data(stype, date=day.isoformat(), repeat="monthly", repeat_count="", repeat_until=until.isoformat())
    data["recurring_invoicing"] = "monthly"
    Rate.objects.create(
        partner=customer.partner,
        slip_type="service",
        pay_schedule="weekend",
        bill_rate_units=Decimal("9000"),
        pay_rate_units=Decimal("5000"),
    )
    assert portal.post(CREATE, data).status_code == 302
    request = ServiceRequest.objects.get(customer=customer)
    assert request.services.count() == 3 and request.recurring_invoicing == "monthly"
    body = portal.get(reverse("portal:request_detail", args=[request.pk])).content.decode()
    assert f"Every month, until {until:%b} {until.day}, {until.year}, one invoice per month" in body


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"repeat_count": ""}, "repeat_until", "an end date or a number of times"),
        ({"repeat_until": "2099-01-01"}, "repeat_count", "not both"),
        ({"repeat_count": "500"}, "repeat_count", "from 1 to 104"),
        ({"repeat_count": "two"}, "repeat_count", "whole number"),
        ({"repeat": "daily"}, "repeat", "every week or every month"),
        ({"repeat": "", "repeat_count": "3"}, "repeat", "Choose how often"),
        ({"repeat_count": "", "repeat_until": "2000-01-01"}, "repeat_until", "on or after the first date"),
        ({"date": weekday_ahead(14).isoformat(), "repeat_count": "104"}, "repeat_count", "Bookings can be made up to"),
    ],
)
def test_a_bad_recurrence_is_refused_on_its_field_and_nothing_is_saved(portal, stype, overrides, field, words):
    response = portal.post(CREATE, booking_data(stype, **overrides))
    assert response.status_code == 400
    errors = response.context["recurrence_form"].errors
    assert field in errors and words in errors[field][0]
    assert words in response.content.decode().replace("&#x27;", "'")
    assert not ServiceRequest.objects.exists() and not Service.objects.exists()


def test_turning_recurring_bookings_off_takes_the_fields_away(portal, customer, stype):
    Customer.objects.filter(pk=customer.pk).update(allow_recurring_bookings=False)
    body = portal.get(CREATE).content.decode()
    assert not any(field in body for field in FIELDS)
