"""Office PDF downloads: an invoice's current PDF (its status stamped over the stored original) with the original
offered beside it once they differ, and a credit note's PDF; partner-scoped (another partner's is a 404)."""

import pytest
from django.urls import reverse

from invoicing.credits import credit_note_issue
from invoicing.payments import payment_record
from invoicing.pdf import credit_notes, documents
from tests.factories import CustomerFactory, PartnerFactory, StaffMembershipFactory, issued_invoice
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
def office(client, staff_user):
    client.force_login(staff_user)
    return client


def url(name, *args):
    return reverse(name, args=args)


def detail(client, invoice) -> str:
    response = client.get(url("office:invoice_detail", invoice.pk))
    assert response.status_code == 200
    return response.content.decode()


def test_a_paid_invoice_downloads_stamped_and_its_original_is_offered(office, customer):
    invoice = issued_invoice(customer, [5000], deliver=False)
    payment_record(invoice=invoice, amount_units=5000, method="check", reference="1042")
    assert "Original PDF" in detail(office, invoice)

    current = office.get(url("office:invoice_pdf", invoice.pk))
    assert current.status_code == 200 and current["Content-Type"] == "application/pdf"
    assert pdf_text(current.content).startswith("Invoice as issued PAID Last payment")
    assert f'attachment; filename="{invoice.number}.pdf"' == current["Content-Disposition"]

    original = office.get(url("office:invoice_pdf", invoice.pk), {"original": "1"})
    assert original.content == INVOICE_PDF
    assert f'filename="{invoice.number}-original.pdf"' in original["Content-Disposition"]

    inline = office.get(url("office:invoice_pdf", invoice.pk), {"inline": "1"})
    assert inline["Content-Disposition"].startswith("inline") and "PAID" in pdf_text(inline.content)


def test_a_pending_invoice_downloads_its_original_and_offers_nothing_else(office, customer):
    invoice = issued_invoice(customer, [5000], deliver=False)
    assert "Original PDF" not in detail(office, invoice)
    assert office.get(url("office:invoice_pdf", invoice.pk)).content == INVOICE_PDF


def test_a_credit_note_downloads_for_its_partner_only(office, customer, staff_user):
    invoice = issued_invoice(customer, [5000], deliver=False)
    note = credit_note_issue(invoice=invoice, amount_units=1000, reason="Late start", user=staff_user)
    response = office.get(url("office:credit_note_pdf", note.pk))
    assert response.status_code == 200 and response.content == CREDIT_NOTE_PDF
    assert f'attachment; filename="{note.number}.pdf"' == response["Content-Disposition"]
    assert url("office:credit_note_pdf", note.pk) == f"/office/credit-notes/{note.pk}/pdf/"
    inline = office.get(url("office:credit_note_pdf", note.pk), {"inline": "1"})
    assert inline["Content-Disposition"].startswith("inline")

    stranger = CustomerFactory(partner=PartnerFactory())
    theirs = credit_note_issue(
        invoice=issued_invoice(stranger, [5000], deliver=False),
        amount_units=1000,
        reason="Late start",
        user=StaffMembershipFactory(partner=stranger.partner).user,
    )
    assert office.get(url("office:credit_note_pdf", theirs.pk)).status_code == 404
    assert not type(theirs).objects.get(pk=theirs.pk).pdf  # nothing rendered for a stranger


def test_customer_users_cannot_download_from_the_office(client, customer_user, customer, staff_user):
    invoice = issued_invoice(customer, [5000], deliver=False)
    note = credit_note_issue(invoice=invoice, amount_units=1000, reason="Late start", user=staff_user)
    client.force_login(customer_user)
    assert client.get(url("office:credit_note_pdf", note.pk)).status_code == 403
