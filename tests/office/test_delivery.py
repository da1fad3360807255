"""Office delivery views: PDF download and retry, Send/Resend, the card charge, a request's documents;
partner scoping (404), the admin-only charge (403 for clerks), bad uploads shown on the form."""

import io

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from invoicing.charging import customer_card_save
from invoicing.models import Invoice, Payment, SupportingDocument
from invoicing.pdf import documents
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ServiceRequestFactory,
    draft_invoice,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

RENDERED = b"%PDF-1.7\n% rendered by the test\n%%EOF\n"


class DownBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


@pytest.fixture(autouse=True)
def setup(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    settings.PAYMENT_GATEWAY = "simulated"
    calls = []

    def render(html_text, **kwargs):
        calls.append(html_text)
        return RENDERED

    monkeypatch.setattr(documents, "html_to_pdf", render)
    return calls


@pytest.fixture
def office(client, staff_user):
    client.force_login(staff_user)
    return client


def url(name, *args):
    return reverse(name, args=args)


def detail(client, invoice):
    response = client.get(url("office:invoice_detail", invoice.pk))
    assert response.status_code == 200
    return response.content.decode()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- PDF -------------------------------------------------------------------------------------------------------


def test_draft_pdf_is_rendered_on_demand_with_the_draft_mark(office, customer, setup):
    invoice = draft_invoice(customer, [5000])
    response = office.get(url("office:invoice_pdf", invoice.pk))
    assert response.status_code == 200 and response.content == RENDERED
    assert response["Content-Type"] == "application/pdf"
    assert "DRAFT" in setup[0] and not Invoice.objects.get(pk=invoice.pk).pdf


def test_issued_pdf_serves_the_stored_file(office, customer, setup):
    invoice = issued_invoice(customer, [5000])
    invoice.pdf.save("kept.pdf", ContentFile(b"%PDF-1.7 kept"), save=True)
    response = office.get(url("office:invoice_pdf", invoice.pk))
    assert response.content == b"%PDF-1.7 kept" and setup == []
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]


def test_a_missing_pdf_shows_on_the_invoice_with_a_retry_that_stores_it(office, customer, setup):
    invoice = issued_invoice(customer, [5000])
    Invoice.objects.filter(pk=invoice.pk).update(pdf_error="The PDF could not be rendered: boom")
    page = detail(office, invoice)
    assert "The PDF could not be rendered: boom" in page and "Retry PDF" in page
    response = office.post(url("office:invoice_pdf_render", invoice.pk))
    assert response.status_code == 302 and response["Location"] == url("office:invoice_detail", invoice.pk)
    invoice.refresh_from_db()
    assert invoice.pdf and invoice.pdf_error == "" and len(setup) == 1
    assert "Retry PDF" not in detail(office, invoice)


def test_a_failed_retry_says_why(office, customer, monkeypatch):
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: 1 / 0)
    invoice = issued_invoice(customer, [5000])
    response = office.post(url("office:invoice_pdf_render", invoice.pk), follow=True)
    assert "The PDF could not be rendered: ZeroDivisionError" in response.content.decode()
    assert not Invoice.objects.get(pk=invoice.pk).pdf


def test_proforma_pdf_renders_either_side(office, customer, setup):
    proforma = proforma_with_slips(customer=customer, amounts=[10000], number="PF-2026-00042")
    assert office.get(url("office:proforma_pdf", proforma.pk)).content == RENDERED
    assert office.get(url("office:proforma_pdf", proforma.pk) + "?side=pay").status_code == 200
    assert "$100.00" in setup[0] and "$60.00" in setup[1]


# --- sending ---------------------------------------------------------------------------------------------------


def test_send_emails_the_invoice_and_the_page_shows_it_sent(office, customer):
    invoice = issued_invoice(customer, [5000])
    page = detail(office, invoice)
    assert "Not sent" in page and ">Send<" in page
    response = office.post(url("office:invoice_send", invoice.pk), follow=True)
    assert "was e-mailed to" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].attachments[0][1] == RENDERED
    page = detail(office, invoice)
    assert "✓ Sent" in page and ">Resend<" in page and "Not sent" not in page


def test_a_clerk_can_send_too(client, clerk_user, customer):
    client.force_login(clerk_user)
    invoice = issued_invoice(customer, [5000])
    client.post(url("office:invoice_send", invoice.pk))
    assert len(mail.outbox) == 1


def test_a_failed_send_leaves_the_invoice_issued_and_visibly_not_sent(office, customer, settings):
    settings.EMAIL_BACKEND = "tests.office.test_delivery.DownBackend"
    invoice = issued_invoice(customer, [5000])
    response = office.post(url("office:invoice_send", invoice.pk), follow=True)
    assert "mail server down" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and invoice.sent_at is None
    page = detail(office, invoice)
    assert "Not sent" in page and "mail server down" in page and ">Send<" in page


def test_send_returns_to_the_page_it_came_from_but_never_off_site(office, customer):
    invoice = issued_invoice(customer, [5000])
    back = office.post(url("office:invoice_send", invoice.pk), {"next": "/office/invoices/ar/?status=open"})
    assert back["Location"] == "/office/invoices/ar/?status=open"
    evil = office.post(url("office:invoice_send", invoice.pk), {"next": "https://evil.example/"})
    assert evil["Location"] == url("office:invoice_detail", invoice.pk)


def test_sending_a_draft_says_issue_it_first(office, customer):
    invoice = draft_invoice(customer, [5000])
    response = office.post(url("office:invoice_send", invoice.pk), follow=True)
    assert "Issue the invoice before sending it." in response.content.decode()
    assert mail.outbox == []


def test_actions_are_post_only(office, customer):
    invoice = issued_invoice(customer, [5000])
    for name in ("office:invoice_send", "office:invoice_pdf_render", "office:invoice_charge"):
        assert office.get(url(name, invoice.pk)).status_code == 405
    assert mail.outbox == []


# --- charging --------------------------------------------------------------------------------------------------


def card_customer(partner, number="4242424242424242"):
    customer = CustomerFactory(partner=partner, payment_method="card", auto_charge=True)
    return customer_card_save(customer=customer, number=number, exp_month=12, exp_year=2099)


def test_admin_charges_the_card_on_file(office, partner):
    invoice = issued_invoice(card_customer(partner), [5000])
    assert "Charge card ·4242" in detail(office, invoice)
    response = office.post(url("office:invoice_charge", invoice.pk), follow=True)
    assert "Charged $50.00 to the card on file ending 4242" in response.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID


def test_a_declined_charge_shows_on_the_invoice(office, partner):
    invoice = issued_invoice(card_customer(partner, "4000000000000002"), [5000])
    office.post(url("office:invoice_charge", invoice.pk))
    page = detail(office, invoice)
    assert "The card was declined." in page
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PENDING


def test_a_clerk_cannot_charge_a_card(client, clerk_user, partner):
    client.force_login(clerk_user)
    invoice = issued_invoice(card_customer(partner), [5000])
    assert "Charge card" not in detail(client, invoice)
    assert client.post(url("office:invoice_charge", invoice.pk)).status_code == 403
    assert not Payment.objects.filter(invoice=invoice).exists()


# --- supporting documents --------------------------------------------------------------------------------------


def test_upload_attaches_a_document_and_lists_it_on_the_request(office, customer):
    service_request = ServiceRequestFactory(customer=customer, partner=customer.partner)
    response = office.post(
        url("office:request_document_upload", service_request.pk),
        {"file": SimpleUploadedFile("authorization.png", png(), content_type="image/png")},
    )
    assert response.status_code == 302 and response["Location"] == url("office:request_detail", service_request.pk)
    document = SupportingDocument.objects.get(request=service_request)
    assert document.content_type == "image/png"
    page = office.get(url("office:request_detail", service_request.pk)).content.decode()
    assert "authorization.png" in page and url("office:request_document_download", document.pk) in page
    download = office.get(url("office:request_document_download", document.pk))
    assert download.status_code == 200 and b"".join(download.streaming_content) == png()


def test_a_refused_upload_shows_the_reason_next_to_the_field_and_stores_nothing(office, customer, tmp_path):
    service_request = ServiceRequestFactory(customer=customer, partner=customer.partner)
    response = office.post(
        url("office:request_document_upload", service_request.pk),
        {"file": SimpleUploadedFile("invoice.pdf", png(), content_type="application/pdf")},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "named as a PDF but its content is a PNG image" in body
    assert 'id="error_1_id_file"' in body or "invalid-feedback" in body  # crispy: the error under the field
    assert not SupportingDocument.objects.exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_another_partners_objects_are_404(office, customer):
    stranger = CustomerFactory(partner=PartnerFactory())
    invoice = issued_invoice(stranger, [5000])
    service_request = ServiceRequestFactory(customer=stranger, partner=stranger.partner)
    document = SupportingDocument(request=service_request, name="x.pdf", content_type="application/pdf", size=5)
    document.file.save("x.pdf", ContentFile(b"%PDF-"), save=True)
    proforma = proforma_with_slips(customer=stranger)
    assert office.get(url("office:invoice_pdf", invoice.pk)).status_code == 404
    assert office.get(url("office:proforma_pdf", proforma.pk)).status_code == 404
    assert office.get(url("office:request_document_download", document.pk)).status_code == 404
    for name in ("office:invoice_send", "office:invoice_pdf_render", "office:invoice_charge"):
        assert office.post(url(name, invoice.pk)).status_code == 404
    upload = SimpleUploadedFile("a.png", png(), content_type="image/png")
    assert office.post(url("office:request_document_upload", service_request.pk), {"file": upload}).status_code == 404
    assert mail.outbox == [] and SupportingDocument.objects.count() == 1


def test_customer_users_cannot_use_office_delivery(client, customer_user, customer):
    client.force_login(customer_user)
    invoice = issued_invoice(customer, [5000])
    assert client.get(url("office:invoice_pdf", invoice.pk)).status_code == 403
    assert client.post(url("office:invoice_send", invoice.pk)).status_code == 403
