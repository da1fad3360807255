"""Portal PDF downloads: the customer's invoice as it stands now (its status stamped over the document it was
sent), that document itself once they differ, and its credit notes; anyone else's is a 404."""

import pytest
from django.urls import reverse

from invoicing.credits import credit_note_issue
from invoicing.payments import payment_record
from invoicing.pdf import credit_notes, documents
from tests.factories import CustomerFactory, StaffMembershipFactory, issued_invoice
from tests.support.pdf_text import pdf_text, text_pdf_bytes

pytestmark = pytest.mark.django_db

INVOICE_PDF = text_pdf_bytes("Invoice as issued")
CREDIT_NOTE_PDF = text_pdf_bytes("Credit note as issued")


@pytest.fixture(autouse=True)
def setup(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: INVOICE_PDF)
    monkeypatch.setattr(credit_notes, "html_to_pdf", lambda html_text, **kwargs: CREDIT_NOTE_PDF)


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    return client


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


def url(name, *args):
    return reverse(name, args=args)


def test_a_partly_paid_invoice_downloads_stamped_with_what_is_due_and_its_original_is_offered(portal, customer):
    invoice = issued_invoice(customer, [10000], deliver=False)
    payment_record(invoice=invoice, amount_units=2500, method="check", reference="1042")
    page = portal.get(url("portal:invoice_detail", invoice.pk)).content.decode()
    assert "Original PDF" in page and f"{url('portal:invoice_pdf', invoice.pk)}?original=1" in page

    current = portal.get(url("portal:invoice_pdf", invoice.pk))
    assert current.status_code == 200
    assert pdf_text(current.content).startswith("Invoice as issued PARTIALLY PAID — $75.00 due")
    original = portal.get(url("portal:invoice_pdf", invoice.pk), {"original": "1"})
    assert original.content == INVOICE_PDF
    assert f'filename="{invoice.number}-original.pdf"' in original["Content-Disposition"]
    inline = portal.get(url("portal:invoice_pdf", invoice.pk), {"inline": "1"})
    assert inline["Content-Disposition"].startswith("inline")


def test_a_pending_invoice_offers_only_the_document_it_was_sent(portal, customer):
    invoice = issued_invoice(customer, [10000], deliver=False)
    assert "Original PDF" not in portal.get(url("portal:invoice_detail", invoice.pk)).content.decode()
    assert portal.get(url("portal:invoice_pdf", invoice.pk)).content == INVOICE_PDF


def test_another_customers_invoice_is_404_current_or_original(portal, partner):
    theirs = issued_invoice(CustomerFactory(partner=partner), [10000], deliver=False)
    assert portal.get(url("portal:invoice_pdf", theirs.pk)).status_code == 404
    assert portal.get(url("portal:invoice_pdf", theirs.pk), {"original": "1"}).status_code == 404


def test_a_credit_note_downloads_for_its_customer_only(portal, customer, partner, admin):
    note = credit_note_issue(
        invoice=issued_invoice(customer, [10000], deliver=False), amount_units=1000, reason="Late", user=admin
    )
    response = portal.get(url("portal:credit_note_pdf", note.pk))
    assert response.status_code == 200 and response.content == CREDIT_NOTE_PDF
    assert f'filename="{note.number}.pdf"' in response["Content-Disposition"]
    assert url("portal:credit_note_pdf", note.pk) == f"/portal/credit-notes/{note.pk}/pdf/"

    neighbour = CustomerFactory(partner=partner)
    theirs = credit_note_issue(
        invoice=issued_invoice(neighbour, [10000], deliver=False), amount_units=1000, reason="Late", user=admin
    )
    assert portal.get(url("portal:credit_note_pdf", theirs.pk)).status_code == 404


def test_staff_cannot_use_the_portals_credit_note_download(client, staff_user, customer, admin):
    note = credit_note_issue(
        invoice=issued_invoice(customer, [10000], deliver=False), amount_units=1000, reason="Late", user=admin
    )
    client.force_login(staff_user)
    assert client.get(url("portal:credit_note_pdf", note.pk)).status_code == 403
