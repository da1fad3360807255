"""Customer portal requests and bookings (seeds 000 and 002): the list, "Book a service" (an invoice issued at once
or a quote to accept or decline), the request page, expense codes on a request and on each service until they are
invoiced, and supporting documents. A customer reaches only its own requests: anyone else's is a 404."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from expense_codes.models import AppliedExpenseCode
from invoicing.booking import ExtraInput, ServiceInput, request_book
from invoicing.models import (
    ExtraOffer,
    Invoice,
    Quote,
    Rate,
    Service,
    ServiceRequest,
    SupportingDocument,
)
from tests.factories import (
    CustomerFactory,
    CustomerMembershipFactory,
    ExpenseCodeLabelFactory,
    PartnerFactory,
    ServiceRequestFactory,
    ServiceTypeFactory,
    ZoneFactory,
)
from tests.support.documents import plain_pdf_bytes, png_bytes, upload

pytestmark = pytest.mark.django_db


# --- fixtures and helpers ------------------------------------------------------------------------------------


PDF = plain_pdf_bytes()
PNG = png_bytes()


def stored_files(root):
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def zone(partner):
    return ZoneFactory(partner=partner, name="Downtown", tax_rate=Decimal("10"))


@pytest.fixture
def customer(partner, zone):
    return CustomerFactory(partner=partner, zone=zone)


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
def parking(partner):
    return ExtraOffer.objects.create(partner=partner, name="Parking", bill_rate_units=Decimal("1250"), max_quantity=3)


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    return client


@pytest.fixture
def quoting(customer):
    """The customer gets a quote to answer (the flag may be off only on "no payment" terms)."""
    customer.payment_terms = Customer.PaymentTerms.NO_PAYMENT
    customer.auto_invoice_on_booking = False
    customer.save()
    return customer


def weekday_ahead(days: int = 7) -> datetime.date:
    """A weekday at least ``days`` from today: bookings are in the future and priced on the weekday rate."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


def at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def booked(customer, stype, *, title="Deposition", codes=(), extras=(), days=7):
    """A booking made through the domain (for pages that show one)."""
    day = weekday_ahead(days)
    service = ServiceInput(service_type=stype, starts_at=at(day, 9), ends_at=at(day, 11), extras=list(extras))
    return request_book(customer=customer, title=title, services=[service], codes=list(codes))


def booking_data(stype, **overrides) -> dict:
    data = {
        "service_type": stype.pk,
        "date": weekday_ahead().isoformat(),
        "starts_at": "09:00",
        "ends_at": "11:00",
        "address": "1 Court St, Springfield",
        "zone": "",
        "title": "Deposition Smith v. Jones",
        "notes": "",
    }
    data.update(overrides)
    return data


def url(name, *args):
    return reverse(name, args=args)


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


# --- the list ------------------------------------------------------------------------------------------------


def test_list_shows_only_the_customers_own_requests(portal, customer, partner):
    mine = ServiceRequestFactory(customer=customer, title="Our board meeting")
    neighbour = ServiceRequestFactory(customer=CustomerFactory(partner=partner), title="Neighbour's hearing")
    stranger = ServiceRequestFactory(customer=CustomerFactory(partner=PartnerFactory()), title="Stranger's visit")
    response = portal.get(url("portal:request_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Our board meeting" in body and url("portal:request_detail", mine.pk) in body
    assert "Neighbour" not in body and url("portal:request_detail", neighbour.pk) not in body
    assert "Stranger" not in body and url("portal:request_detail", stranger.pk) not in body
    assert 'aria-current="page">Requests<' in body  # the nav marks the section


def test_list_shows_date_codes_total_and_the_issued_invoice_or_the_quote(portal, customer, stype):
    invoiced = booked(customer, stype, title="Invoiced one", codes=[("PO", "4711")])
    invoice = invoiced.quote.invoice
    body = portal.get(url("portal:request_list")).content.decode()
    assert f"R-{invoiced.pk}" in body and "PO: 4711" in body
    assert invoice.number in body and url("portal:invoice_detail", invoice.pk) in body
    assert "$176.00" in body  # 2 h × $80.00 + 10 % tax
    assert f"{invoiced.services.get().starts_at:%b} {invoiced.services.get().starts_at.day}," in body

    Customer.objects.filter(pk=customer.pk).update(
        payment_terms=Customer.PaymentTerms.NO_PAYMENT, auto_invoice_on_booking=False
    )
    customer.refresh_from_db()
    quoted = booked(customer, stype, title="Quoted one", days=9)
    body = portal.get(url("portal:request_list")).content.decode()
    assert f"R-{quoted.pk}" in body and "Quote (open)" in body
    assert body.count("$176.00") == 2  # the quote's total, added up like an invoice


def test_list_filters_by_status_text_and_created_date(portal, customer):
    old = ServiceRequestFactory(customer=customer, title="Archive visit")
    ServiceRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=40))
    cancelled = ServiceRequestFactory(customer=customer, title="Cancelled hearing", status="cancelled")
    coded = ServiceRequestFactory(customer=customer, title="Coded meeting")
    AppliedExpenseCode.objects.create(request=coded, label_name="PO", value="ZX-991")

    def listed(**params):
        body = portal.get(url("portal:request_list"), params).content.decode()
        return {r.title for r in (old, cancelled, coded) if url("portal:request_detail", r.pk) in body}

    assert listed() == {"Archive visit", "Cancelled hearing", "Coded meeting"}
    assert listed(status="cancelled") == {"Cancelled hearing"}
    assert listed(q="zx-99") == {"Coded meeting"}  # a code's value
    assert listed(q="hearing") == {"Cancelled hearing"}  # the title
    assert listed(q=f"R-{old.pk}") == {"Archive visit"}  # the number
    since = (timezone.localdate() - datetime.timedelta(days=7)).isoformat()
    assert listed(created_from=since) == {"Cancelled hearing", "Coded meeting"}
    assert listed(created_to=since) == {"Archive visit"}


def test_list_filter_errors_are_shown_and_the_rest_still_applies(portal, customer):
    ServiceRequestFactory(customer=customer, title="Open one")
    response = portal.get(url("portal:request_list"), {"created_from": "0001-01-01", "status": "bogus", "q": "x" * 500})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a date between" in body and "Select a valid choice" in body


def test_list_is_paginated_by_25_and_keeps_the_filters(portal, customer):
    for n in range(26):
        ServiceRequestFactory(customer=customer, title=f"Job {n}")
    response = portal.get(url("portal:request_list"), {"status": "submitted"})
    assert len(response.context["rows"]) == 25
    body = response.content.decode()
    assert "Page 1 of 2" in body and "status=submitted&amp;page=2" in body
    second = portal.get(url("portal:request_list"), {"status": "submitted", "page": 2})
    assert len(second.context["rows"]) == 1


def test_list_empty_state_links_to_booking(portal):
    body = portal.get(url("portal:request_list")).content.decode()
    assert "No requests yet" in body and url("portal:request_create") in body


def test_list_costs_the_same_queries_for_many_requests(portal, customer, stype):
    booked(customer, stype, codes=[("PO", "1")])

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert portal.get(url("portal:request_list")).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for n in range(5):
        booked(customer, stype, title=f"Booking {n}", codes=[("PO", str(n)), ("Cost center", "CC")], days=8 + n)
        ServiceRequestFactory(customer=customer)
    assert queries() == few


# --- booking a service -------------------------------------------------------------------------------------------


def test_the_dashboard_and_the_list_offer_to_book_a_service(portal):
    body = portal.get(url("portal:dashboard")).content.decode()
    assert url("portal:request_create") in body and "Book a service" in body


def test_the_booking_form_offers_the_partners_types_zones_extras_and_labels(portal, customer, partner, stype, zone):
    ServiceTypeFactory(partner=PartnerFactory(), name="Foreign service")
    ExtraOffer.objects.create(partner=partner, name="Parking", bill_rate_units=Decimal("1250"), max_quantity=3)
    ExtraOffer.objects.create(partner=partner, name="Retired extra", bill_rate_units=1, is_active=False)
    label = ExpenseCodeLabelFactory(customer=customer, name="Cost center", is_required=True)
    AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name=label.name, value="CC-9")
    ExpenseCodeLabelFactory(customer=CustomerFactory(partner=partner), name="Neighbour label")
    response = portal.get(url("portal:request_create"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Interpreting" in body and "Foreign service" not in body
    assert "Downtown" in body and "Your usual area (Downtown)" in body
    assert "Parking" in body and "$12.50 each" in body and "Retired extra" not in body
    assert f'name="code_{label.pk}"' in body and 'value="CC-9"' in body  # the auto-applied value, pre-filled
    assert "Applied automatically to every request: CC-9" in body and "Required</span>" in body
    assert "Neighbour label" not in body
    assert 'type="file" name="documents"' in body and "multiple" in body


def test_booking_with_the_auto_invoice_flag_issues_a_numbered_invoice_at_once(portal, customer, stype):
    response = portal.post(url("portal:request_create"), booking_data(stype), follow=True)
    service_request = ServiceRequest.objects.get()
    invoice = service_request.quote.invoice
    assert invoice.status == Invoice.Status.PENDING and invoice.number
    assert invoice.total_units == 17600
    assert response.redirect_chain[-1][0] == url("portal:request_detail", service_request.pk)
    assert f"Booked. Invoice {invoice.number} was issued" in messages_of(response)
    assert service_request.customer == customer and service_request.source == "portal"
    assert service_request.status == ServiceRequest.Status.CONFIRMED
    service = service_request.services.get()
    assert timezone.localtime(service.starts_at).time() == datetime.time(9)
    assert service.zone == customer.zone and service.address == "1 Court St, Springfield"
    assert invoice.number in portal.get(url("portal:invoice_list")).content.decode()
    detail = response.content.decode()
    assert url("portal:invoice_detail", invoice.pk) in detail and "$176.00" in detail


def test_booking_without_the_flag_gives_an_open_quote_on_the_request_page(portal, quoting, stype):
    response = portal.post(url("portal:request_create"), booking_data(stype, title=""), follow=True)
    service_request = ServiceRequest.objects.get()
    assert service_request.title == "Interpreting"  # the service's name when left empty
    assert service_request.quote.status == Quote.Status.OPEN and not Invoice.objects.exists()
    assert "Booked. Your quote is ready below." in messages_of(response)
    body = response.content.decode()
    assert "$80.00" in body and "$16.00" in body and "$176.00" in body  # 2 h × $80.00, 10 % tax
    assert url("portal:quote_accept", service_request.pk) in body
    assert url("portal:quote_decline", service_request.pk) in body and "data-confirm=" in body
    assert "we will send your invoice once we have prepared it" in body


def test_booking_with_extras_copies_them_onto_the_service_and_prices_them(portal, quoting, parking, stype):
    response = portal.post(url("portal:request_create"), booking_data(stype, **{f"extra_{parking.pk}": "2"}))
    assert response.status_code == 302
    extra = Service.objects.get().extras.get()
    assert extra.description == "Parking" and extra.quantity == 2 and extra.offer == parking
    body = portal.get(response.url).content.decode()
    assert "2 × Parking" in body and "$12.50" in body and "$27.50" in body  # 2 × $12.50 + 10 % tax, on the quote


def test_too_many_extras_are_an_error_on_their_input_and_save_nothing(portal, parking, stype):
    for quantity in ("4", "-1", "1.5", "9" * 5000):
        response = portal.post(url("portal:request_create"), booking_data(stype, **{f"extra_{parking.pk}": quantity}))
        assert response.status_code == 400
        assert response.context["form"].errors[f"extra_{parking.pk}"]
    assert not ServiceRequest.objects.exists()


def test_a_missing_required_code_is_refused_naming_the_label_and_nothing_is_saved(portal, customer, stype, media):
    label = ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    data = booking_data(stype, documents=[upload("order.pdf", PDF)])
    response = portal.post(url("portal:request_create"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors[f"code_{label.pk}"]
    assert "Enter the Purchase order" in errors[0]
    assert not ServiceRequest.objects.exists() and not SupportingDocument.objects.exists()
    assert stored_files(media) == []
    response = portal.post(url("portal:request_create"), booking_data(stype, **{f"code_{label.pk}": "PO-1"}))
    assert response.status_code == 302
    assert list(ServiceRequest.objects.get().expense_codes.values_list("label_name", "value")) == [
        ("Purchase order", "PO-1")
    ]


def test_auto_applied_codes_are_kept_once_when_the_prefilled_value_is_sent_back(portal, customer, stype):
    label = ExpenseCodeLabelFactory(customer=customer, name="Cost center", is_required=True)
    AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name=label.name, value="CC-9")
    response = portal.post(url("portal:request_create"), booking_data(stype, **{f"code_{label.pk}": "CC-9, CC-10"}))
    assert response.status_code == 302
    codes = ServiceRequest.objects.get().expense_codes.values_list("value", flat=True)
    assert sorted(codes) == ["CC-10", "CC-9"]


@pytest.mark.parametrize(
    "service_type",
    [lambda: ServiceTypeFactory(partner=PartnerFactory()).pk, lambda: 999_999, lambda: "not-a-number"],
    ids=["another-partners", "unknown", "garbage"],
)
def test_a_service_type_not_offered_is_refused(portal, stype, service_type):
    response = portal.post(url("portal:request_create"), booking_data(stype, service_type=service_type()))
    assert response.status_code == 400
    assert response.context["form"].errors["service_type"] == ["Choose one of the services offered."]
    assert not ServiceRequest.objects.exists()


def test_another_partners_zone_is_refused(portal, stype):
    foreign = ZoneFactory(partner=PartnerFactory())
    response = portal.post(url("portal:request_create"), booking_data(stype, zone=foreign.pk))
    assert response.status_code == 400 and response.context["form"].errors["zone"]
    assert not ServiceRequest.objects.exists()


def test_an_end_before_the_start_is_an_error_on_the_end_time(portal, stype):
    response = portal.post(url("portal:request_create"), booking_data(stype, starts_at="14:00", ends_at="13:00"))
    assert response.status_code == 400
    assert response.context["form"].errors["ends_at"] == ["The service must end after it starts."]
    assert not ServiceRequest.objects.exists()


@pytest.mark.parametrize("date", ["2000-01-01", "9999-12-31", "0001-01-01", "31/12/2026", ""])
def test_a_date_out_of_range_or_unreadable_is_an_error_on_the_date(portal, stype, date):
    response = portal.post(url("portal:request_create"), booking_data(stype, date=date))
    assert response.status_code == 400 and response.context["form"].errors["date"]
    assert not ServiceRequest.objects.exists()


def test_a_start_in_the_past_is_refused_by_the_booking_rules_on_the_start_time(portal, stype):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)  # the form lets a day of slack through
    response = portal.post(url("portal:request_create"), booking_data(stype, date=yesterday.isoformat()))
    assert response.status_code == 400
    assert "cannot start in the past" in response.context["form"].errors["starts_at"][0]
    assert not ServiceRequest.objects.exists()


def test_overlong_text_is_an_error_on_its_field(portal, stype):
    data = booking_data(stype, title="t" * 201, address="a" * 1001, notes="n" * 5001)
    response = portal.post(url("portal:request_create"), data)
    assert response.status_code == 400
    assert set(response.context["form"].errors) >= {"title", "address", "notes"}
    assert not ServiceRequest.objects.exists()


def test_a_label_of_another_customer_in_the_post_is_never_attached(portal, partner, stype):
    theirs = ExpenseCodeLabelFactory(customer=CustomerFactory(partner=partner), name="Their PO")
    response = portal.post(url("portal:request_create"), booking_data(stype, **{f"code_{theirs.pk}": "HACK"}))
    assert response.status_code == 302
    assert not AppliedExpenseCode.objects.filter(value="HACK").exists()
    assert not AppliedExpenseCode.objects.filter(label=theirs).exists()


def test_a_forged_customer_in_the_post_is_ignored(portal, customer, partner, stype):
    other = CustomerFactory(partner=partner)
    response = portal.post(url("portal:request_create"), booking_data(stype, customer=other.pk, partner=999))
    assert response.status_code == 302
    service_request = ServiceRequest.objects.get()
    assert service_request.customer == customer and service_request.partner == partner
    assert not other.requests.exists()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("scan.pdf", PNG, "is named as a PDF but its content is a PNG image"),
        ("notes.pdf", b"just some text, not a PDF at all", "is not a PDF, PNG or JPG file"),
        ("empty.pdf", b"", "is empty"),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_refused_and_nothing_is_saved(
    portal, stype, media, name, content, reason
):
    data = booking_data(stype, documents=[upload("fine.pdf", PDF), upload(name, content)])
    response = portal.post(url("portal:request_create"), data)
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["documents"])
    assert name in errors and reason in errors
    assert "choose your documents again" in response.content.decode()
    assert not ServiceRequest.objects.exists() and not SupportingDocument.objects.exists()
    assert stored_files(media) == []


def test_several_documents_are_attached_and_downloaded_as_private_attachments(portal, customer, stype):
    data = booking_data(stype, documents=[upload("order.pdf", PDF), upload("badge.png", PNG)])
    response = portal.post(url("portal:request_create"), data, follow=True)
    service_request = ServiceRequest.objects.get()
    documents = list(service_request.documents.order_by("name"))
    assert [d.name for d in documents] == ["badge.png", "order.pdf"]
    body = response.content.decode()
    for document in documents:
        assert url("portal:request_document", service_request.pk, document.pk) in body
    download = portal.get(url("portal:request_document", service_request.pk, documents[1].pk))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment") and "order.pdf" in download["Content-Disposition"]
    assert download["Cache-Control"] == "private, no-store"
    assert b"".join(download.streaming_content) == PDF


def test_an_inactive_customer_cannot_book(portal, customer, stype):
    Customer.objects.filter(pk=customer.pk).update(is_active=False)
    response = portal.post(url("portal:request_create"), booking_data(stype))
    assert response.status_code == 400 and "Choose an active customer." in response.content.decode()
    assert not ServiceRequest.objects.exists()


# --- answering the quote -----------------------------------------------------------------------------------------


def test_accepting_the_quote_confirms_the_booking_and_a_second_answer_is_refused(portal, quoting, stype):
    service_request = booked(quoting, stype)
    response = portal.post(url("portal:quote_accept", service_request.pk), follow=True)
    assert "Quote accepted" in messages_of(response)
    service_request.refresh_from_db()
    assert service_request.status == ServiceRequest.Status.CONFIRMED
    assert service_request.quote.status == Quote.Status.ACCEPTED
    assert "You accepted this quote" in response.content.decode()
    again = portal.post(url("portal:quote_decline", service_request.pk), follow=True)
    assert "already accepted" in messages_of(again)
    assert Quote.objects.get().status == Quote.Status.ACCEPTED


def test_declining_the_quote_cancels_the_booking_and_a_second_answer_is_refused(portal, quoting, stype):
    service_request = booked(quoting, stype)
    response = portal.post(url("portal:quote_decline", service_request.pk), {"reason": "Plans changed"}, follow=True)
    assert "Quote declined" in messages_of(response)
    service_request.refresh_from_db()
    assert service_request.status == ServiceRequest.Status.CANCELLED
    assert service_request.services.get().status == Service.Status.CANCELLED
    again = portal.post(url("portal:quote_accept", service_request.pk), follow=True)
    assert "already declined" in messages_of(again)
    assert Quote.objects.get().status == Quote.Status.DECLINED


def test_a_decline_reason_too_long_changes_nothing(portal, quoting, stype):
    service_request = booked(quoting, stype)
    response = portal.post(url("portal:quote_decline", service_request.pk), {"reason": "x" * 501}, follow=True)
    assert "500 characters" in messages_of(response)
    assert Quote.objects.get().status == Quote.Status.OPEN


def test_answering_a_quote_is_post_only(portal, quoting, stype):
    service_request = booked(quoting, stype)
    assert portal.get(url("portal:quote_accept", service_request.pk)).status_code == 405
    assert portal.get(url("portal:quote_decline", service_request.pk)).status_code == 405
    assert Quote.objects.get().status == Quote.Status.OPEN


# --- expense codes of a request and of its services -------------------------------------------------------------


def test_request_codes_can_be_changed_while_not_invoiced(portal, quoting, stype):
    label = ExpenseCodeLabelFactory(customer=quoting, name="Purchase order")
    service_request = booked(quoting, stype, codes=[(label, "PO-1")])
    page = portal.get(url("portal:request_codes", service_request.pk))
    assert page.status_code == 200 and 'value="PO-1"' in page.content.decode()
    response = portal.post(url("portal:request_codes", service_request.pk), {f"code_{label.pk}": "PO-2, PO-3"})
    assert response.status_code == 302
    assert sorted(service_request.expense_codes.values_list("value", flat=True)) == ["PO-2", "PO-3"]


def test_request_codes_errors_are_shown_on_the_form_and_change_nothing(portal, quoting, stype):
    label = ExpenseCodeLabelFactory(customer=quoting, name="Purchase order", is_required=True)
    service_request = booked(quoting, stype, codes=[(label, "PO-1")])
    response = portal.post(url("portal:request_codes", service_request.pk), {f"code_{label.pk}": ""})
    assert response.status_code == 400
    assert "Enter the Purchase order" in response.context["form"].errors[f"code_{label.pk}"][0]
    response = portal.post(url("portal:request_codes", service_request.pk), {f"code_{label.pk}": "x" * 101})
    assert response.status_code == 400 and "100 characters" in response.context["form"].errors[f"code_{label.pk}"][0]
    assert list(service_request.expense_codes.values_list("value", flat=True)) == ["PO-1"]


def test_a_service_code_is_edited_and_shown_at_the_end_of_its_line_while_not_invoiced(portal, quoting, stype):
    label = ExpenseCodeLabelFactory(customer=quoting, name="Cost center")
    service_request = booked(quoting, stype)
    service = service_request.services.get()
    codes_url = url("portal:service_codes", service_request.pk, service.pk)
    detail = portal.get(url("portal:request_detail", service_request.pk)).content.decode()
    assert codes_url in detail and "Edit expense code" in detail
    assert portal.get(codes_url).status_code == 200
    response = portal.post(codes_url, {f"code_{label.pk}": "CC-77"}, follow=True)
    assert "were saved" in messages_of(response)
    assert list(service.expense_codes.values_list("label_name", "value")) == [("Cost center", "CC-77")]
    assert "Cost center: CC-77" in response.content.decode()


def test_service_codes_are_read_only_with_the_reason_once_the_invoice_is_issued(portal, customer, stype):
    label = ExpenseCodeLabelFactory(customer=customer, name="Cost center")
    service_request = booked(customer, stype, codes=[(label, "CC-1")])
    number = service_request.quote.invoice.number
    service = service_request.services.get()
    codes_url = url("portal:service_codes", service_request.pk, service.pk)
    detail = portal.get(url("portal:request_detail", service_request.pk)).content.decode()
    assert codes_url not in detail and url("portal:request_codes", service_request.pk) not in detail
    assert f"It is billed on invoice {number}, already issued" in detail
    page = portal.get(codes_url)
    body = page.content.decode()
    assert page.status_code == 200 and number in body and 'name="code_' not in body
    response = portal.post(codes_url, {f"code_{label.pk}": "CC-2"}, follow=True)
    assert "can no longer change" in messages_of(response)
    assert not service.expense_codes.exists()
    response = portal.post(url("portal:request_codes", service_request.pk), {f"code_{label.pk}": "CC-2"}, follow=True)
    assert "can no longer change" in messages_of(response)
    assert list(service_request.expense_codes.values_list("value", flat=True)) == ["CC-1"]


# --- the request page and what is not yours -----------------------------------------------------------------------


def test_the_request_page_shows_codes_services_and_documents(portal, quoting, partner, stype):
    parking = ExtraOffer.objects.create(partner=partner, name="Parking", bill_rate_units=Decimal("500"))
    service_request = booked(quoting, stype, codes=[("PO", "4711")], extras=[ExtraInput(offer=parking, quantity=2)])
    body = portal.get(url("portal:request_detail", service_request.pk)).content.decode()
    assert f"R-{service_request.pk} Deposition" in body and "PO: 4711" in body
    assert "Interpreting" in body and "09:00–11:00" in body and "2 × Parking" in body
    assert url("portal:request_codes", service_request.pk) in body


def test_another_customers_request_service_quote_and_document_are_404(portal, partner, stype, media):
    other = CustomerFactory(partner=partner, payment_terms="no_payment", auto_invoice_on_booking=False)
    theirs = booked(other, stype)
    document = SupportingDocument.objects.create(
        request=theirs, file="supporting/x.pdf", name="x.pdf", content_type="application/pdf", size=1
    )
    service = theirs.services.get()
    for name, args in [
        ("portal:request_detail", [theirs.pk]),
        ("portal:request_codes", [theirs.pk]),
        ("portal:service_codes", [theirs.pk, service.pk]),
        ("portal:request_document", [theirs.pk, document.pk]),
    ]:
        assert portal.get(url(name, *args)).status_code == 404, name
    for name in ("portal:quote_accept", "portal:quote_decline", "portal:request_codes"):
        assert portal.post(url(name, theirs.pk)).status_code == 404, name
    assert portal.post(url("portal:service_codes", theirs.pk, service.pk)).status_code == 404
    assert Quote.objects.get().status == Quote.Status.OPEN


def test_a_service_or_document_of_another_request_is_404_under_mine(portal, customer, quoting, partner, stype):
    mine = booked(quoting, stype)
    other = CustomerFactory(partner=partner, payment_terms="no_payment", auto_invoice_on_booking=False)
    theirs = booked(other, stype, days=9)
    document = SupportingDocument.objects.create(
        request=theirs, file="supporting/x.pdf", name="x.pdf", content_type="application/pdf", size=1
    )
    assert portal.get(url("portal:service_codes", mine.pk, theirs.services.get().pk)).status_code == 404
    assert portal.get(url("portal:request_document", mine.pk, document.pk)).status_code == 404


def test_staff_and_anonymous_users_do_not_reach_the_portal_pages(client, staff_user, customer):
    service_request = ServiceRequestFactory(customer=customer)
    response = client.get(url("portal:request_detail", service_request.pk))
    assert response.status_code == 302 and reverse("login") in response.url
    client.force_login(staff_user)
    assert client.get(url("portal:request_list")).status_code == 403


def test_a_second_user_of_the_same_customer_sees_its_requests(client, customer):
    service_request = ServiceRequestFactory(customer=customer, title="Shared booking")
    client.force_login(CustomerMembershipFactory(customer=customer).user)
    assert "Shared booking" in client.get(url("portal:request_detail", service_request.pk)).content.decode()
