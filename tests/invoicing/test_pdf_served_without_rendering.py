"""No page renders an issued document's PDF on a request once it is stored (issue 15): the office's and the portal's
invoice PDF (current, stamped, and original), the pay link's PDF and both credit note downloads serve the stored
file, stamped without rendering it again. Each test stores the PDFs first, then makes any render fail the test."""

from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from invoicing.credits import credit_note_issue
from invoicing.paylinks import pay_link_token
from invoicing.payments import payment_record
from invoicing.pdf import credit_notes, documents
from invoicing.pdf.credit_notes import credit_note_pdf_store
from invoicing.pdf.documents import invoice_pdf_store
from tests.factories import StaffMembershipFactory, issued_invoice
from tests.support.pdf_text import pdf_text, text_pdf_bytes

pytestmark = pytest.mark.django_db

INVOICE_PDF = text_pdf_bytes("Invoice as issued")
CREDIT_NOTE_PDF = text_pdf_bytes("Credit note as issued")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@dataclass
class Renders:
    """The renders made; once ``stored`` is set, any render fails the test."""

    made: list[str] = field(default_factory=list)
    stored: bool = False


@pytest.fixture
def renders(monkeypatch) -> Renders:
    seen = Renders()

    def render(pdf):
        def html_to_pdf(html_text, **kwargs):
            assert not seen.stored, "a stored PDF was rendered again on a request"
            seen.made.append(html_text)
            return pdf

        return html_to_pdf

    monkeypatch.setattr(documents, "html_to_pdf", render(INVOICE_PDF))
    monkeypatch.setattr(credit_notes, "html_to_pdf", render(CREDIT_NOTE_PDF))
    return seen


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


@pytest.fixture
def stored(customer, admin, renders):
    """A partly paid, partly credited invoice and its credit note, both PDFs stored; rendering is off from here."""
    invoice = issued_invoice(customer, [10000], deliver=False)
    invoice_pdf_store(invoice=invoice)
    payment_record(invoice=invoice, amount_units=2500, method="check", reference="1042")
    note = credit_note_issue(invoice=invoice, amount_units=1000, reason="Late start", user=admin)
    credit_note_pdf_store(credit_note=note)
    renders.stored = True
    return invoice, note


def test_office_invoice_and_credit_note_pdfs_serve_the_stored_files(client, staff_user, stored, renders):
    invoice, note = stored
    client.force_login(staff_user)
    current = client.get(reverse("office:invoice_pdf", args=[invoice.pk]))
    assert current.status_code == 200 and "Invoice as issued" in pdf_text(current.content)
    assert "PARTIALLY PAID" in pdf_text(current.content) or "CREDITED" in pdf_text(current.content)
    original = client.get(reverse("office:invoice_pdf", args=[invoice.pk]), {"original": "1"})
    assert original.content == INVOICE_PDF
    assert client.get(reverse("office:credit_note_pdf", args=[note.pk])).content == CREDIT_NOTE_PDF
    assert len(renders.made) == 2  # the two stores, before the requests


def test_portal_invoice_and_credit_note_pdfs_serve_the_stored_files(client, customer_user, stored, renders):
    invoice, note = stored
    client.force_login(customer_user)
    current = client.get(reverse("portal:invoice_pdf", args=[invoice.pk]))
    assert current.status_code == 200 and "Invoice as issued" in pdf_text(current.content)
    assert client.get(reverse("portal:invoice_pdf", args=[invoice.pk]), {"original": "1"}).content == INVOICE_PDF
    assert client.get(reverse("portal:credit_note_pdf", args=[note.pk])).content == CREDIT_NOTE_PDF
    assert len(renders.made) == 2


def test_the_pay_links_pdf_serves_the_stored_file_stamped(client, stored, renders):
    invoice, _note = stored
    response = client.get(reverse("paylink:pdf", args=[pay_link_token(invoice)]))
    assert response.status_code == 200 and "Invoice as issued" in pdf_text(response.content)
    assert len(renders.made) == 2
