"""Booking a service in the customer portal, in a real browser (Debian's Chromium through Playwright): invoiced at
once with the customer's flag on, a quote to accept (then invoiced by staff) with it off, and a booking refused for
a missing required expense code."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from expense_codes.models import AppliedExpenseCode
from invoicing.models import Invoice, Quote, Rate, ServiceRequest
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    factories.ServiceTypeFactory(partner=partner, name="Medical interpreting")
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal(8000),
        pay_rate_units=Decimal(5000),
    )
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical", auto_send=False)
    factories.CustomerMembershipFactory(customer=customer, user__username="helen")
    return partner, customer


def next_weekday() -> datetime.date:
    day = timezone.localdate() + datetime.timedelta(days=7)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


def book(page, *, codes: dict | None = None):
    page.goto("/portal/requests/")
    page.get_by_role("link", name="Book a service").first.click()
    page.wait_for_load_state()
    page.select_option("[name=service_type]", label="Medical interpreting")
    page.fill("[name=date]", next_weekday().isoformat())
    page.fill("[name=starts_at]", "09:00")
    page.fill("[name=ends_at]", "11:00")
    page.fill("[name=address]", "1450 Harbor Way, Oakland")
    page.fill("[name=title]", "Cardiology follow-up")
    for name, value in (codes or {}).items():
        page.fill(f"[name={name}]", value)
    page.get_by_role("button", name="Book").click()
    page.wait_for_load_state()


def test_a_booking_with_the_flag_on_is_invoiced_and_numbered_at_once(page, world):
    _, customer = world
    sign_in(page, "helen", factories.PASSWORD)

    book(page)

    invoice = Invoice.objects.get(customer=customer)
    assert invoice.number and invoice.status == Invoice.Status.PENDING
    assert f"Invoice {invoice.number} was issued" in page.inner_text(".messages")
    page.goto("/portal/invoices/")
    assert invoice.number in page.inner_text("main")
    page.get_by_role("link", name=invoice.number).first.click()
    page.wait_for_load_state()
    assert "$160.00" in page.inner_text("main")


def test_a_booking_with_the_flag_off_gets_a_quote_that_staff_invoice_once_accepted(page, world):
    partner, customer = world
    Customer.objects.filter(pk=customer.pk).update(payment_terms="no_payment", auto_invoice_on_booking=False)
    factories.StaffMembershipFactory(partner=partner, user__username="nora")
    sign_in(page, "helen", factories.PASSWORD)

    book(page)

    assert "Your quote is ready" in page.inner_text(".messages")
    assert "$160.00" in page.inner_text("main") and not Invoice.objects.exists()
    page.get_by_role("button", name="Accept the quote").click()
    page.wait_for_load_state()
    request = ServiceRequest.objects.get(customer=customer)
    assert request.quote.status == Quote.Status.ACCEPTED

    page.context.clear_cookies()
    sign_in(page, "nora", factories.PASSWORD)
    page.goto(f"/office/requests/{request.pk}/")
    assert "accepted this quote" in page.inner_text("#quote")
    page.get_by_role("button", name="Generate invoice").click()
    page.wait_for_load_state()
    invoice = Invoice.objects.get(customer=customer)
    assert invoice.total_units == 16000 and invoice.status == Invoice.Status.DRAFT
    assert Quote.objects.get(pk=request.quote.pk).invoice_id == invoice.pk


def test_a_booking_without_a_required_code_is_refused_and_saves_nothing(page, world):
    _, customer = world
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Authorization code", is_required=True)
    AppliedExpenseCode.objects.create(default_for=customer, label_name="Cost center", value="CC-9")
    sign_in(page, "helen", factories.PASSWORD)

    book(page)

    assert "Enter the Authorization code: Harborview Medical requires one" in page.inner_text("main form")
    assert not ServiceRequest.objects.exists()
    book(page, codes={f"code_{label.pk}": "ABC123"})
    request = ServiceRequest.objects.get()
    assert sorted(request.expense_codes.values_list("value", flat=True)) == ["ABC123", "CC-9"]
