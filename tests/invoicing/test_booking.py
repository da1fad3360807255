"""Bookings (seed 002): a quote, or an invoice at once when the customer's flag says so; expense-code policy."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.models import Customer
from expense_codes.models import AppliedExpenseCode
from invoicing.booking import ServiceInput, request_book
from invoicing.generation import ar_invoices_generate, service_publish_outcome
from invoicing.models import Invoice, Quote, Rate
from tests import factories


@pytest.fixture
def setup(db):
    partner = factories.PartnerFactory()
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal("10"))
    stype = factories.ServiceTypeFactory(partner=partner)
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal("8000"),
        pay_rate_units=Decimal("5000"),
    )
    customer = factories.CustomerFactory(partner=partner, zone=zone)
    start = timezone.make_aware(datetime.datetime(2026, 12, 2, 9, 0))  # a Wednesday
    return customer, [ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=2))]


def test_booking_with_the_auto_invoice_flag_drafts_an_invoice_at_once(setup):
    customer, services = setup
    request = request_book(customer=customer, title="Deposition", services=services)
    quote = request.quote
    assert quote.status == Quote.Status.CONVERTED
    invoice = quote.invoice
    assert invoice.source == Invoice.Source.BOOKING and invoice.status == Invoice.Status.DRAFT
    assert invoice.total_units == 16000 + 1600


def test_booking_without_the_flag_gets_a_quote_for_staff_to_convert(setup):
    customer, services = setup
    customer.payment_terms = Customer.PaymentTerms.NO_PAYMENT
    customer.auto_invoice_on_booking = False
    customer.save()
    request = request_book(customer=customer, title="Site visit", services=services)
    assert request.quote.status == Quote.Status.OPEN and request.quote.invoice is None
    line = request.quote.lines.get()
    assert line.quantity == Decimal("2") and line.unit_price_units == Decimal("8000")
    assert not Invoice.objects.exists()


def test_required_expense_code_refuses_a_booking_without_one(setup):
    customer, services = setup
    customer.require_expense_code = True
    customer.save()
    with pytest.raises(ValidationError) as error:
        request_book(customer=customer, title="Deposition", services=services)
    assert "expense code is required" in str(error.value.message_dict["codes"])
    request = request_book(customer=customer, title="Deposition", services=services, codes=[("PO", "4711")])
    assert list(request.expense_codes.values_list("value", flat=True)) == ["4711"]


def test_auto_applied_codes_join_every_new_request(setup):
    customer, services = setup
    AppliedExpenseCode.objects.create(default_for=customer, label_name="Cost center", value="CC-9")
    request = request_book(customer=customer, title="Deposition", services=services, codes=[("PO", "1")])
    assert set(request.expense_codes.values_list("value", flat=True)) == {"1", "CC-9"}
    assert set(request.quote.invoice.expense_codes.values_list("value", flat=True)) == {"1", "CC-9"}


def test_a_booking_invoiced_on_creation_is_not_billed_again_when_its_service_is_done(setup):
    customer, services = setup
    request = request_book(customer=customer, title="Deposition", services=services)
    service = request.services.get()
    service.provider = factories.ProviderFactory(partner=customer.partner)
    service.save()
    service_publish_outcome(service=service)
    assert ar_invoices_generate(customer=customer, period_start=None, period_end=datetime.date(2026, 12, 31)) == []


def test_an_unpriceable_booking_is_refused_and_leaves_nothing(setup):
    customer, services = setup
    Rate.objects.all().delete()
    with pytest.raises(ValidationError):
        request_book(customer=customer, title="Deposition", services=services)
    assert not customer.requests.exists()
