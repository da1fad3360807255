"""Submitting requests and bookings (seeds 000, 002, 003): one function for the portal, the office and the admin;
expense-code rules (required labels, auto-applied codes, several codes); the booking outcome (an issued invoice at
once, or a quote the customer accepts or declines); codes that can change until the service is invoiced."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from audit.recording import audit_trail
from customers.models import Customer
from expense_codes.models import AppliedExpenseCode
from invoicing.booking import ExtraInput, ServiceInput, request_book, request_submit
from invoicing.errors import BillingRuleError, InvalidTransition
from invoicing.invoices_from_proformas import ar_invoices_generate
from invoicing.lifecycle import invoice_issue
from invoicing.manual import quote_convert
from invoicing.models import (
    ExtraOffer,
    Invoice,
    InvoiceProforma,
    OutboxJob,
    Quote,
    Rate,
    Service,
    ServiceRequest,
    SupportingDocument,
)
from invoicing.proformas import service_publish_outcome
from invoicing.quotes import quote_accept, quote_decline, quote_totals
from invoicing.request_codes import request_codes_set, service_codes_frozen, service_codes_set
from tests import factories
from tests.support.documents import upload

pytestmark = pytest.mark.django_db


def next_weekday_at(hour: int, days_ahead: int = 7) -> datetime.datetime:
    """A weekday a week or so ahead, at ``hour`` local time: always in the future, always on weekday rates."""
    day = timezone.localdate() + datetime.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def world(db):
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
    customer = factories.CustomerFactory(partner=partner, zone=zone, auto_send=False)
    return customer, stype


def two_hours(stype, **kwargs):
    start = next_weekday_at(9)
    return ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=2), **kwargs)


def quote_customer(customer):
    """Seed 002: with recurring bookings off, only "no payment" terms may turn invoicing on booking off."""
    Customer.objects.filter(pk=customer.pk).update(payment_terms="no_payment", auto_invoice_on_booking=False)
    customer.refresh_from_db()
    return customer


def codes_of(**carrier):
    return sorted(AppliedExpenseCode.objects.filter(**carrier).values_list("label_name", "value"))


# --- the booking outcome ----------------------------------------------------------------------------------------


def test_a_booking_with_the_auto_invoice_flag_is_invoiced_and_issued_at_once(world):
    customer, stype = world
    Customer.objects.filter(pk=customer.pk).update(auto_send=True)
    customer.refresh_from_db()

    request = request_book(customer=customer, title="Deposition", services=[two_hours(stype)])

    invoice = request.quote.invoice
    assert request.quote.status == Quote.Status.CONVERTED
    assert invoice.source == Invoice.Source.BOOKING and invoice.status == Invoice.Status.PENDING
    assert invoice.number.startswith("INV-") and invoice.total_units == 16000 + 1600
    assert ServiceRequest.objects.get(pk=request.pk).status == ServiceRequest.Status.CONFIRMED
    assert set(OutboxJob.objects.filter(invoice=invoice).values_list("kind", flat=True)) == {"pdf", "email"}


def test_a_booking_by_an_auto_charged_customer_is_charged_through_the_outbox(world):
    customer, stype = world
    Customer.objects.filter(pk=customer.pk).update(
        payment_method="card", auto_charge=True, card_token="tok_1", card_last4="4242"
    )
    customer.refresh_from_db()
    request = request_book(customer=customer, services=[two_hours(stype)])
    assert OutboxJob.objects.filter(invoice=request.quote.invoice, kind="charge").exists()


def test_a_booking_without_the_flag_gets_a_quote_that_the_customer_accepts(world):
    customer, stype = quote_customer(world[0]), world[1]
    request = request_book(customer=customer, title="Site visit", services=[two_hours(stype)])

    quote = request.quote
    assert quote.status == Quote.Status.OPEN and quote.invoice is None and not Invoice.objects.exists()
    line = quote.lines.get()
    assert line.quantity == Decimal("2") and line.unit_price_units == Decimal("8000")
    assert quote_totals(quote).total_units == 17600

    quote_accept(quote=quote)
    assert Quote.objects.get(pk=quote.pk).status == Quote.Status.ACCEPTED
    assert ServiceRequest.objects.get(pk=request.pk).status == ServiceRequest.Status.CONFIRMED
    with pytest.raises(InvalidTransition):
        quote_decline(quote=quote)
    invoice = quote_convert(quote=quote)  # staff generate the invoice as before
    assert invoice.total_units == 17600 and Quote.objects.get(pk=quote.pk).status == Quote.Status.CONVERTED


def test_a_declined_quote_cancels_the_booking_and_cannot_be_invoiced(world):
    customer, stype = quote_customer(world[0]), world[1]
    request = request_book(customer=customer, services=[two_hours(stype)])

    quote_decline(quote=request.quote, reason="Too dear")

    assert Quote.objects.get(pk=request.quote.pk).status == Quote.Status.DECLINED
    assert ServiceRequest.objects.get(pk=request.pk).status == ServiceRequest.Status.CANCELLED
    assert Service.objects.get(request=request).status == Service.Status.CANCELLED
    with pytest.raises(InvalidTransition):
        quote_convert(quote=request.quote)


def test_only_the_customer_or_its_partner_answers_a_quote(world):
    customer, stype = quote_customer(world[0]), world[1]
    request = request_book(customer=customer, services=[two_hours(stype)])
    stranger = factories.CustomerMembershipFactory(customer=factories.CustomerFactory(partner=customer.partner)).user
    with pytest.raises(PermissionDenied):
        quote_accept(quote=request.quote, user=stranger)


def test_a_quote_whose_services_a_run_already_billed_is_not_invoiced_twice(world):
    customer, stype = quote_customer(world[0]), world[1]
    request = request_book(customer=customer, services=[two_hours(stype)])
    service = request.services.get()
    service.provider = factories.ProviderFactory(partner=customer.partner)
    service.save()
    service_publish_outcome(service=service)
    [invoice] = ar_invoices_generate(customer=customer, period_start=None, period_end=datetime.date(2099, 1, 1))

    with pytest.raises(BillingRuleError, match="already billed"):
        quote_convert(quote=request.quote)
    assert InvoiceProforma.objects.filter(invoice=invoice).count() == 1


def test_a_booking_invoiced_on_creation_is_not_billed_again_when_its_service_is_done(world):
    customer, stype = world
    request = request_book(customer=customer, title="Deposition", services=[two_hours(stype)])
    service = request.services.get()
    service.provider = factories.ProviderFactory(partner=customer.partner)
    service.save()
    service_publish_outcome(service=service)
    assert ar_invoices_generate(customer=customer, period_start=None, period_end=datetime.date(2099, 1, 1)) == []


def test_an_unpriceable_booking_is_refused_and_leaves_nothing(world):
    customer, stype = world
    Rate.objects.all().delete()
    with pytest.raises(ValidationError) as error:
        request_book(customer=customer, title="Deposition", services=[two_hours(stype)], documents=[pdf_file()])
    assert "cannot be booked online" in error.value.message_dict["service_type"][0]
    assert not ServiceRequest.objects.exists() and not SupportingDocument.objects.exists()


def test_booked_extras_are_copied_from_the_offer_and_priced_on_the_quote(world):
    customer, stype = quote_customer(world[0]), world[1]
    offer = ExtraOffer.objects.create(partner=customer.partner, name="Transcript", bill_rate_units=Decimal(2500))

    request = request_book(customer=customer, services=[two_hours(stype, extras=[ExtraInput(offer=offer, quantity=2)])])

    extra = request.services.get().extras.get()
    assert (extra.description, extra.quantity, extra.bill_rate_units) == ("Transcript", 2, Decimal(2500))
    assert quote_totals(request.quote).total_units == 17600 + 5000 + 500


# --- expense codes ----------------------------------------------------------------------------------------------


def test_a_required_label_without_a_code_is_refused_by_name_and_nothing_is_saved(world):
    customer, stype = world
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    with pytest.raises(ValidationError) as error:
        request_submit(customer=customer, title="Deposition", services=[two_hours(stype)], documents=[pdf_file()])
    assert "Purchase order" in error.value.message_dict[f"code_{label.pk}"][0]
    assert not ServiceRequest.objects.exists() and not Service.objects.exists()
    assert not SupportingDocument.objects.exists()

    request = request_submit(customer=customer, title="Deposition", codes=[(label, "PO-7")])
    assert codes_of(request=request) == [("Purchase order", "PO-7")]


def test_a_customer_requiring_any_code_refuses_a_request_without_one(world):
    customer, stype = world
    Customer.objects.filter(pk=customer.pk).update(require_expense_code=True)
    customer.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        request_book(customer=customer, title="Deposition", services=[two_hours(stype)])
    assert "expense code is required" in error.value.message_dict["codes"][0]
    request = request_book(customer=customer, title="Deposition", services=[two_hours(stype)], codes=[("PO", "4711")])
    assert codes_of(request=request) == [("PO", "4711")]


def test_auto_applied_codes_join_every_new_request_and_satisfy_a_required_label(world):
    customer, stype = world
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Cost center", is_required=True)
    AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name="Cost center", value="CC-9")

    request = request_book(customer=customer, services=[two_hours(stype)], codes=[("PO", "1"), ("Project", "X")])

    assert codes_of(request=request) == [("Cost center", "CC-9"), ("PO", "1"), ("Project", "X")]
    assert codes_of(invoice=request.quote.invoice) == [("Cost center", "CC-9"), ("PO", "1"), ("Project", "X")]


def test_a_label_of_another_customer_is_refused(world):
    customer, stype = world
    foreign = factories.ExpenseCodeLabelFactory(customer=factories.CustomerFactory(partner=customer.partner))
    with pytest.raises(ValidationError) as error:
        request_submit(customer=customer, title="x", codes=[(foreign, "PO-1")])
    assert "not one of" in error.value.message_dict["codes"][0]
    with pytest.raises(ValidationError):
        request_submit(customer=customer, title="x", codes=[(foreign.pk, "PO-1")])
    assert not ServiceRequest.objects.exists()


def test_each_service_can_carry_its_own_codes(world):
    customer, stype = world
    request = request_submit(customer=customer, title="Two days", services=[two_hours(stype, codes=[("Day", "1")])])
    assert codes_of(service=request.services.get()) == [("Day", "1")]


# --- bad input --------------------------------------------------------------------------------------------------


def pdf_file(name="po.pdf", content=None):
    return upload(name, content)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"service_type": "foreign"}, "service_type", "Choose one of the services"),
        ({"ends_at": "before"}, "ends_at", "must end after it starts"),
        ({"starts_at": "past"}, "starts_at", "cannot start in the past"),
        ({"zone": "foreign"}, "zone", "tax zones"),
    ],
)
def test_bad_service_input_is_refused_on_its_field(world, change, field, words):
    customer, stype = world
    service = two_hours(stype)
    other = factories.PartnerFactory()
    if change.get("service_type"):
        service.service_type = factories.ServiceTypeFactory(partner=other)
    if change.get("ends_at"):
        service.ends_at = service.starts_at - datetime.timedelta(minutes=30)
    if change.get("starts_at"):
        service.starts_at = timezone.now() - datetime.timedelta(days=2)
        service.ends_at = service.starts_at + datetime.timedelta(hours=1)
    if change.get("zone"):
        service.zone = factories.ZoneFactory(partner=other)
    with pytest.raises(ValidationError) as error:
        request_book(customer=customer, services=[service])
    assert words in error.value.message_dict[field][0]
    assert not ServiceRequest.objects.exists()


def test_a_document_that_is_not_what_its_name_says_refuses_the_whole_request(world, media):
    customer, stype = world
    with pytest.raises(ValidationError) as error:
        request_book(
            customer=customer,
            services=[two_hours(stype)],
            documents=[pdf_file(), pdf_file("scan.pdf", b"just some text, not a PDF")],
        )
    assert "scan.pdf" in error.value.message_dict["documents"][0]
    assert not ServiceRequest.objects.exists() and not SupportingDocument.objects.exists()
    assert not list(media.rglob("*.pdf"))


def test_documents_are_stored_with_the_request(world):
    customer, stype = world
    request = request_book(customer=customer, services=[two_hours(stype)], documents=[pdf_file()])
    assert list(request.documents.values_list("name", "content_type")) == [("po.pdf", "application/pdf")]


def test_an_inactive_customer_cannot_submit(world):
    customer, stype = world
    Customer.objects.filter(pk=customer.pk).update(is_active=False)
    customer.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        request_submit(customer=customer, title="x")
    assert "customer" in error.value.message_dict


# --- changing codes until the service is invoiced ---------------------------------------------------------------


def published(request):
    service = request.services.get()
    service.provider = factories.ProviderFactory(partner=request.customer.partner)
    service.save()
    return service_publish_outcome(service=service)


def test_service_codes_change_until_the_service_is_on_an_issued_invoice(world):
    customer, stype = world
    Customer.objects.filter(pk=customer.pk).update(auto_invoice_on_booking=True)
    request = request_submit(customer=customer, title="Office job", services=[two_hours(stype)], codes=[("PO", "1")])
    service = request.services.get()
    proforma = published(request)
    [draft] = ar_invoices_generate(customer=customer, period_start=None, period_end=datetime.date(2099, 1, 1))
    assert draft.expense_code_key == "PO: 1"

    service_codes_set(service=service, codes=[("Task", "T-9")])

    proforma.refresh_from_db()
    assert codes_of(service=service) == [("Task", "T-9")]
    assert codes_of(proforma=proforma) == [("PO", "1"), ("Task", "T-9")]
    assert proforma.expense_code_key == "PO: 1 | Task: T-9"
    assert not Invoice.objects.filter(pk=draft.pk).exists()  # it left the draft of its old codes, now empty
    [regrouped] = ar_invoices_generate(customer=customer, period_start=None, period_end=datetime.date(2099, 1, 1))
    assert regrouped.expense_code_key == "PO: 1 | Task: T-9"

    invoice_issue(invoice=regrouped)
    assert "already issued" in service_codes_frozen(service)
    with pytest.raises(BillingRuleError):
        service_codes_set(service=service, codes=[("Task", "T-10")])
    with pytest.raises(BillingRuleError):
        request_codes_set(service_request=request, codes=[("PO", "2")])
    assert codes_of(service=service) == [("Task", "T-9")]


def test_request_codes_keep_required_labels(world):
    customer, stype = world
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    request = request_submit(customer=customer, title="x", codes=[(label, "PO-1")])
    with pytest.raises(ValidationError):
        request_codes_set(service_request=request, codes=[])
    request_codes_set(service_request=request, codes=[(label, "PO-2"), ("Project", "Q")])
    assert codes_of(request=request) == [("Project", "Q"), ("Purchase order", "PO-2")]


def test_another_customers_user_cannot_change_codes(world):
    customer, stype = world
    request = request_submit(customer=customer, title="x")
    stranger = factories.CustomerMembershipFactory(customer=factories.CustomerFactory(partner=customer.partner)).user
    with pytest.raises(PermissionDenied):
        request_codes_set(service_request=request, user=stranger, codes=[("PO", "1")])


# --- the Django admin goes the same way -------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    return client


def admin_add(admin_client, customer, codes=()):
    data = {
        "partner": customer.partner_id,
        "customer": customer.pk,
        "title": "From the admin",
        "description": "",
        "status": "submitted",
        "source": "office",
        "expense_codes-TOTAL_FORMS": str(len(codes)),
        "expense_codes-INITIAL_FORMS": "0",
        "services-TOTAL_FORMS": "0",
        "services-INITIAL_FORMS": "0",
        "documents-TOTAL_FORMS": "0",
        "documents-INITIAL_FORMS": "0",
    }
    for i, (label, value) in enumerate(codes):
        data[f"expense_codes-{i}-label_name"] = label
        data[f"expense_codes-{i}-value"] = value
    return admin_client.post(reverse("admin:invoicing_servicerequest_add"), data)


def test_a_request_added_in_the_admin_obeys_the_required_and_auto_applied_codes(admin_client, world):
    customer, _ = world
    factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    AppliedExpenseCode.objects.create(default_for=customer, label_name="Cost center", value="CC-9")

    refused = admin_add(admin_client, customer)
    assert refused.status_code == 200 and "Purchase order" in refused.content.decode()
    assert not ServiceRequest.objects.exists()

    saved = admin_add(admin_client, customer, codes=[("Purchase order", "PO-1"), ("Project", "P")])
    assert saved.status_code == 302, saved.content.decode()[:2000]
    request = ServiceRequest.objects.get()
    assert codes_of(request=request) == [("Cost center", "CC-9"), ("Project", "P"), ("Purchase order", "PO-1")]
    assert [e.action for e in audit_trail(request)] == ["submit"]


def test_a_removed_label_keeps_its_codes_on_an_edit_but_takes_no_new_one(world):
    customer, _ = world
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Grant")
    request = request_submit(customer=customer, title="x", codes=[(label, "G-1")])
    label.is_active = False
    label.save()

    request_codes_set(service_request=request, codes=[(label, "G-1"), ("Project", "P")])
    assert codes_of(request=request) == [("Grant", "G-1"), ("Project", "P")]
    with pytest.raises(ValidationError) as error:
        request_codes_set(service_request=request, codes=[(label, "G-2")])
    assert "no longer in use" in error.value.message_dict[f"code_{label.pk}"][0]
