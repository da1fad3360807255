"""Requests (bookings) in the office: the page (customer, codes, services, quote), "Generate invoice" from a quote
(seed 002) and publishing a service's outcome (seed 003: it makes the proforma; a pricing error is shown plainly)."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from expense_codes.models import AppliedExpenseCode
from invoicing.models import Invoice, PaySchedule, Proforma, Quote, QuoteLine, Rate, Service
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ServiceFactory,
    ServiceRequestFactory,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db


def request_url(service_request):
    return reverse("office:request_detail", args=[service_request.pk])


def convert_url(service_request):
    return reverse("office:request_quote_convert", args=[service_request.pk])


def publish_url(service):
    return reverse("office:service_publish", args=[service.pk])


def messages_of(response):
    return " ".join(str(m) for m in response.context["messages"])


@pytest.fixture
def quoted_request(customer):
    service_request = ServiceRequestFactory(customer=customer, source="portal", title="Office move")
    AppliedExpenseCode.objects.create(request=service_request, label_name="PO", value="PO-778")
    quote = Quote.objects.create(request=service_request)
    QuoteLine.objects.create(quote=quote, description="Movers, 4 hours", quantity=Decimal(4), unit_price_units=9000)
    QuoteLine.objects.create(
        quote=quote, description="Boxes", quantity=Decimal(10), unit_price_units=250, tax_rate=Decimal("8.25")
    )
    return service_request


@pytest.fixture
def rates(partner):
    for schedule in PaySchedule.values:
        Rate.objects.create(
            partner=partner,
            slip_type="service",
            pay_schedule=schedule,
            bill_rate_units=Decimal(8500),
            pay_rate_units=Decimal(5500),
        )


# --- the request page -----------------------------------------------------------------------------------------


def test_request_page_shows_customer_codes_services_and_quote(client, clerk_user, quoted_request):
    service = ServiceFactory(request=quoted_request, status="scheduled")
    client.force_login(clerk_user)
    body = client.get(request_url(quoted_request)).content.decode()
    assert "Office move" in body and quoted_request.customer.name in body
    assert "PO: PO-778" in body
    assert reverse("office:service_detail", args=[service.pk]) in body and publish_url(service) in body
    assert "Movers, 4 hours" in body and "$360.00" in body  # 4 x 90.00
    assert "$27.06" in body  # 10 x 2.50 = 25.00 + 8.25 % = 2.0625 -> 2.06
    assert "$387.06" in body
    assert convert_url(quoted_request) in body and "Generate invoice" in body


def test_request_page_links_the_proforma_of_a_priced_service(client, clerk_user, customer):
    service = ServiceFactory(request__customer=customer)
    proforma = proforma_with_slips(customer=customer, service=service, number="PF-2026-00009")
    client.force_login(clerk_user)
    body = client.get(request_url(service.request)).content.decode()
    assert "PF-2026-00009" in body and reverse("office:proforma_detail", args=[proforma.pk]) in body
    assert publish_url(service) not in body


def test_request_page_query_count_does_not_grow_with_services(client, clerk_user, customer):
    small = ServiceRequestFactory(customer=customer)
    large = ServiceRequestFactory(customer=customer)
    ServiceFactory(request=small)
    for _ in range(12):
        service = ServiceFactory(request=large)
        AppliedExpenseCode.objects.create(service=service, label_name="Cost center", value="CC")
    client.force_login(clerk_user)
    counts = []
    for service_request in (small, large):
        client.get(request_url(service_request))
        with CaptureQueriesContext(connection) as captured:
            client.get(request_url(service_request))
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_another_partners_request_is_404_on_the_page_and_the_conversion(client, staff_user):
    stranger = CustomerFactory(partner=PartnerFactory())
    service_request = ServiceRequestFactory(customer=stranger)
    quote = Quote.objects.create(request=service_request)
    QuoteLine.objects.create(quote=quote, description="X", unit_price_units=100)
    client.force_login(staff_user)
    assert client.get(request_url(service_request)).status_code == 404
    assert client.post(convert_url(service_request)).status_code == 404
    assert not Invoice.objects.exists()


# --- Generate invoice from the quote (seed 002) -----------------------------------------------------------------


def test_clerk_generates_a_draft_invoice_from_the_quote(client, clerk_user, quoted_request):
    client.force_login(clerk_user)
    response = client.post(convert_url(quoted_request))
    invoice = Invoice.objects.get()
    assert response["Location"] == reverse("office:invoice_detail", args=[invoice.pk])
    assert invoice.status == Invoice.Status.DRAFT and invoice.source == Invoice.Source.QUOTE
    assert invoice.total_units == 38706
    assert list(invoice.expense_codes.values_list("value", flat=True)) == ["PO-778"]
    quote = Quote.objects.get(request=quoted_request)
    assert quote.status == Quote.Status.CONVERTED and quote.invoice == invoice
    body = client.get(response["Location"]).content.decode()
    assert "from the quote of" in body


def test_generating_twice_makes_one_invoice(client, staff_user, quoted_request):
    client.force_login(staff_user)
    client.post(convert_url(quoted_request))
    response = client.post(convert_url(quoted_request), follow=True)
    assert Invoice.objects.count() == 1
    assert "already turned into an invoice" in messages_of(response)


def test_converted_quote_shows_its_invoice_instead_of_the_button(client, clerk_user, quoted_request):
    client.force_login(clerk_user)
    client.post(convert_url(quoted_request))
    body = client.get(request_url(quoted_request)).content.decode()
    assert "Generate invoice" not in body and "Invoiced on" in body


def test_a_request_without_a_quote_has_nothing_to_convert(client, clerk_user, customer):
    service_request = ServiceRequestFactory(customer=customer)
    client.force_login(clerk_user)
    assert client.post(convert_url(service_request)).status_code == 404
    assert "No quote" in client.get(request_url(service_request)).content.decode()


def test_a_get_on_the_conversion_changes_nothing(client, clerk_user, quoted_request):
    client.force_login(clerk_user)
    assert client.get(convert_url(quoted_request))["Location"] == request_url(quoted_request)
    assert not Invoice.objects.exists()


# --- publishing a service's outcome ------------------------------------------------------------------------------


def test_publishing_an_outcome_creates_its_proforma(client, clerk_user, customer, rates):
    starts = timezone.make_aware(datetime.datetime(2026, 3, 3, 9, 0))  # a Tuesday morning
    service = ServiceFactory(
        request__customer=customer, status="scheduled", starts_at=starts, ends_at=starts + datetime.timedelta(hours=2)
    )
    client.force_login(clerk_user)
    response = client.post(publish_url(service), follow=True)
    proforma = Proforma.objects.get(service=service)
    assert "Outcome published" in messages_of(response) and str(proforma) in messages_of(response)
    service.refresh_from_db()
    assert service.status == Service.Status.COMPLETED and service.outcome_published_at
    assert proforma.bill_total_units == 17000  # 2 hours x 85.00
    assert response.redirect_chain[-1][0] == reverse("office:service_detail", args=[service.pk])


def test_publishing_from_the_request_page_returns_there(client, clerk_user, customer, rates):
    service = ServiceFactory(request__customer=customer, status="scheduled")
    client.force_login(clerk_user)
    response = client.post(publish_url(service), {"back": "request"})
    assert response["Location"] == request_url(service.request)


def test_publishing_twice_makes_one_proforma(client, clerk_user, customer, rates):
    service = ServiceFactory(request__customer=customer, status="scheduled")
    client.force_login(clerk_user)
    client.post(publish_url(service))
    response = client.post(publish_url(service), follow=True)
    assert Proforma.objects.filter(service=service).count() == 1
    assert "already has its proforma" in messages_of(response)


def test_a_pricing_error_is_shown_plainly_and_kept_on_the_service(client, clerk_user, customer):
    service = ServiceFactory(request__customer=customer, status="scheduled")  # no rates at all
    client.force_login(clerk_user)
    response = client.post(publish_url(service), follow=True)
    assert response.status_code == 200
    assert "could not be priced" in messages_of(response)
    service.refresh_from_db()
    assert service.pricing_error and service.status == Service.Status.COMPLETED
    assert service.pricing_error in response.content.decode()
    assert not Proforma.objects.exists()


def test_a_cancelled_service_is_not_published(client, clerk_user, customer):
    service = ServiceFactory(request__customer=customer, status="cancelled")
    client.force_login(clerk_user)
    response = client.post(publish_url(service), follow=True)
    assert "cancelled service" in messages_of(response)
    assert Service.objects.get(pk=service.pk).outcome_published_at is None


def test_another_partners_service_is_404_to_publish(client, staff_user):
    service = ServiceFactory(request__customer=CustomerFactory(partner=PartnerFactory()), status="scheduled")
    client.force_login(staff_user)
    assert client.post(publish_url(service)).status_code == 404
    assert Service.objects.get(pk=service.pk).status == "scheduled"


def test_customer_users_cannot_publish(client, customer_user, customer):
    service = ServiceFactory(request__customer=customer, status="scheduled")
    client.force_login(customer_user)
    assert client.post(publish_url(service)).status_code == 403
    assert Service.objects.get(pk=service.pk).status == "scheduled"
