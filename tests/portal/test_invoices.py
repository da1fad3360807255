"""Customer portal invoices: a customer sees and downloads only its own issued invoices; drafts never."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from invoicing.lifecycle import invoice_void
from invoicing.models import Invoice, Quote, SupportingDocument
from invoicing.pdf import documents
from tests.factories import (
    CustomerFactory,
    CustomerMembershipFactory,
    PartnerFactory,
    ServiceRequestFactory,
    draft_invoice,
    issued_invoice,
)

pytestmark = pytest.mark.django_db

STORED = b"%PDF-1.7\n% the stored document\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def fake_render(monkeypatch):
    calls = []

    def render(html_text, **kwargs):
        calls.append(html_text)
        return b"%PDF-1.7\n% rendered now\n%%EOF\n"

    monkeypatch.setattr(documents, "html_to_pdf", render)
    return calls


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    return client


def url(name, *args):
    return reverse(name, args=args)


def test_list_shows_the_customers_issued_invoices_only(portal, customer, partner):
    mine = issued_invoice(customer, [12000])
    draft = draft_invoice(customer, [777])
    neighbour = issued_invoice(CustomerFactory(partner=partner), [3300])
    stranger = issued_invoice(CustomerFactory(partner=PartnerFactory()), [4400])
    response = portal.get(url("portal:invoice_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert mine.number in body and "$120.00" in body
    assert f"/portal/invoices/{draft.pk}/" not in body and "$7.77" not in body
    assert f"/portal/invoices/{neighbour.pk}/" not in body and f"/portal/invoices/{stranger.pk}/" not in body
    assert 'aria-current="page">Invoices<' in body  # the nav marks the section


def test_list_filters_by_status(portal, customer):
    open_invoice = issued_invoice(customer, [12000])
    void = invoice_void(invoice=issued_invoice(customer, [5000]), reason="duplicate")
    body = portal.get(url("portal:invoice_list") + "?status=void").content.decode()
    assert void.number in body and open_invoice.number not in body


def test_list_costs_the_same_queries_for_many_invoices(portal, customer, django_assert_max_num_queries):
    issued_invoice(customer, [100])
    with django_assert_max_num_queries(12) as few:
        portal.get(url("portal:invoice_list"))
    for amount in range(10):
        issued_invoice(customer, [200 + amount])
    with django_assert_max_num_queries(len(few.captured_queries)):
        portal.get(url("portal:invoice_list"))


def test_detail_shows_lines_totals_and_balance(portal, customer):
    invoice = issued_invoice(customer, [12000, 3050])
    response = portal.get(url("portal:invoice_detail", invoice.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert invoice.number in body and "Line 1" in body and "Line 2" in body
    assert "$150.50" in body and "To pay" in body
    assert url("portal:invoice_pdf", invoice.pk) in body


def test_detail_costs_the_same_queries_for_many_lines(portal, customer, django_assert_max_num_queries):
    from invoicing.lifecycle import invoice_issue
    from tests.factories import draft_with_proformas, proforma_with_slips

    small = issued_invoice(customer, [100])
    big = invoice_issue(
        invoice=draft_with_proformas(
            proformas=[proforma_with_slips(customer=customer, amounts=[100] * 4) for _ in range(5)], customer=customer
        )
    )
    with django_assert_max_num_queries(20) as few:
        portal.get(url("portal:invoice_detail", small.pk))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert portal.get(url("portal:invoice_detail", big.pk)).status_code == 200


def test_detail_lists_and_serves_the_supporting_documents(portal, customer):
    service_request = ServiceRequestFactory(customer=customer, partner=customer.partner)
    document = SupportingDocument(request=service_request, name="po.pdf", content_type="application/pdf", size=9)
    document.file.save("po.pdf", ContentFile(b"%PDF-1.4\n"), save=True)
    invoice = issued_invoice(customer, [5000])
    Quote.objects.create(request=service_request, status=Quote.Status.CONVERTED, invoice=invoice)
    body = portal.get(url("portal:invoice_detail", invoice.pk)).content.decode()
    assert "po.pdf" in body
    response = portal.get(url("portal:invoice_document", invoice.pk, document.pk))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4\n"
    other = issued_invoice(customer, [100])
    assert portal.get(url("portal:invoice_document", other.pk, document.pk)).status_code == 404


def test_pdf_download_serves_the_stored_document(portal, customer, fake_render):
    invoice = issued_invoice(customer, [12000])
    invoice.pdf.save("stored.pdf", ContentFile(STORED), save=True)
    response = portal.get(url("portal:invoice_pdf", invoice.pk))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == STORED and fake_render == []
    assert f"{invoice.number}.pdf" in response["Content-Disposition"]


def test_pdf_not_rendered_yet_is_rendered_once_and_kept(portal, customer, fake_render):
    invoice = issued_invoice(customer, [12000])
    first = portal.get(url("portal:invoice_pdf", invoice.pk)).content
    second = portal.get(url("portal:invoice_pdf", invoice.pk)).content
    assert first == second and len(fake_render) == 1
    assert Invoice.objects.get(pk=invoice.pk).pdf


@pytest.mark.parametrize("name", ["portal:invoice_detail", "portal:invoice_pdf"])
def test_another_customers_invoice_and_drafts_are_404(portal, customer, partner, name, fake_render):
    neighbour = issued_invoice(CustomerFactory(partner=partner), [3300])
    stranger = issued_invoice(CustomerFactory(partner=PartnerFactory()), [4400])
    draft = draft_invoice(customer, [500])
    for invoice in (neighbour, stranger, draft):
        assert portal.get(url(name, invoice.pk)).status_code == 404
    assert fake_render == []


def test_staff_and_anonymous_users_cannot_use_the_portal(client, staff_user, customer):
    invoice = issued_invoice(customer, [100])
    response = client.get(url("portal:invoice_detail", invoice.pk))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(staff_user)
    assert client.get(url("portal:invoice_list")).status_code == 403


def test_a_user_of_another_customer_sees_none_of_these_invoices(client, customer):
    invoice = issued_invoice(customer, [100])
    other_user = CustomerMembershipFactory(customer=CustomerFactory(partner=customer.partner)).user
    client.force_login(other_user)
    assert invoice.number not in client.get(url("portal:invoice_list")).content.decode()
    assert client.get(url("portal:invoice_detail", invoice.pk)).status_code == 404
