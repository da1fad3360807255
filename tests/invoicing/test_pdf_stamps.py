"""An invoice's current PDF: the stored original with its status stamped over every page once it was paid,
credited or voided (read back with pypdf), never re-rendered; the original's bytes and its pages' content
streams stay as they were; a pending invoice's current PDF is the original itself.

One real two-page invoice PDF is rendered per module: every test's invoice stores those bytes as its PDF."""

import datetime
import io

import pikepdf
import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from pypdf import PdfReader

from invoicing.credits import credit_note_issue
from invoicing.lifecycle import invoice_void
from invoicing.models import Invoice
from invoicing.payments import payment_record
from invoicing.pdf import documents
from invoicing.pdf.stamps import (
    StampKind,
    invoice_pdf_current,
    invoice_pdf_original,
    invoice_pdf_stamped,
    invoice_stamp,
)
from tests.factories import CustomerFactory, PartnerFactory, StaffMembershipFactory, issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def rendered(django_db_setup, django_db_blocker) -> bytes:
    """A real invoice PDF of two pages, rendered once; the database work is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        customer = CustomerFactory(partner=PartnerFactory(name="Harbor Interpreting"))
        invoice = issued_invoice(customer, [1000] * 80, deliver=False)
        data = documents.invoice_pdf_bytes(invoice=invoice)
        transaction.set_rollback(True)
    assert len(PdfReader(io.BytesIO(data)).pages) >= 2
    return data


@pytest.fixture(autouse=True)
def renders(settings, tmp_path, monkeypatch, rendered) -> list:
    """Every invoice's stored PDF is the module's rendered one; returns the renders asked for."""
    settings.MEDIA_ROOT = tmp_path
    calls = []

    def render(html_text, **kwargs):
        calls.append(html_text)
        return rendered

    monkeypatch.setattr(documents, "html_to_pdf", render)
    return calls


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


@pytest.fixture
def invoice(customer) -> Invoice:
    """An issued $100.00 invoice with its PDF stored."""
    invoice = issued_invoice(customer, [10000], deliver=False)
    return documents.invoice_pdf_store(invoice=invoice)


def refreshed(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_related("partner").get(pk=invoice.pk)


def pages_text(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def day(date: datetime.date) -> str:
    return f"{date:%b} {date.day}, {date.year}"


def today(invoice: Invoice) -> datetime.date:
    return timezone.localdate(timezone=invoice.partner.tzinfo)


def content_streams(page: pikepdf.Page) -> list[pikepdf.Stream]:
    contents = page.obj.Contents
    return [contents] if isinstance(contents, pikepdf.Stream) else list(contents)


def test_a_pending_invoice_is_served_as_its_original(invoice, rendered):
    assert invoice_stamp(refreshed(invoice)) is None and not invoice_pdf_stamped(refreshed(invoice))
    data, filename = invoice_pdf_current(invoice)
    assert data == rendered and filename == f"{invoice.number}.pdf"


def test_a_partly_paid_invoice_shows_partially_paid_and_the_balance_due_on_every_page(invoice, rendered):
    payment_record(invoice=invoice, amount_units=4000, method="check", reference="1042")
    assert invoice_stamp(refreshed(invoice)).kind == StampKind.PARTIALLY_PAID
    data, filename = invoice_pdf_current(invoice)
    assert filename == f"{invoice.number}.pdf" and data != rendered
    stamp = f"PARTIALLY PAID — $60.00 due Balance as of {day(today(invoice))} · last payment {day(today(invoice))}"
    texts = pages_text(data)
    assert len(texts) == len(pages_text(rendered))
    assert all(stamp in text for text in texts)


def test_the_original_keeps_its_bytes_and_its_page_content_streams_survive_under_the_stamp(invoice, rendered, renders):
    payment_record(invoice=invoice, amount_units=4000, method="check", reference="1042")
    stamped, _name = invoice_pdf_current(invoice)

    original, filename = invoice_pdf_original(invoice)
    assert original == rendered and filename == f"{invoice.number}-original.pdf"
    assert refreshed(invoice).pdf.read() == rendered and len(renders) == 1  # stored at issue, never rendered again

    with pikepdf.open(io.BytesIO(rendered)) as before, pikepdf.open(io.BytesIO(stamped)) as after:
        assert len(before.pages) == len(after.pages)
        for old, new in zip(before.pages, after.pages, strict=True):
            kept = [stream.read_raw_bytes() for stream in content_streams(old)]
            streams = content_streams(new)
            assert streams[0].read_bytes() == b"q\n"  # the original's graphics state is saved ...
            assert [stream.read_raw_bytes() for stream in streams[1:-1]] == kept  # ... its streams as they were
            assert streams[-1].read_bytes().startswith(b"Q\n")  # ... restored, then the stamp drawn over it
            assert b" Do" in streams[-1].read_bytes()
            assert set(old.Resources.Font.keys()) <= set(new.Resources.Font.keys())
    for before_text, after_text in zip(pages_text(rendered), pages_text(stamped), strict=True):
        assert after_text.startswith(before_text)  # every word of the original is still there, in order


def test_a_paid_invoice_shows_paid_with_the_date_of_its_last_payment(invoice):
    first = today(refreshed(invoice)) - datetime.timedelta(days=3)
    payment_record(invoice=invoice, amount_units=4000, method="check", reference="1", received_on=first)
    last = first + datetime.timedelta(days=2)
    payment_record(invoice=invoice, amount_units=6000, method="check", reference="2", received_on=last)
    assert invoice_stamp(refreshed(invoice)).kind == StampKind.PAID

    text = pages_text(invoice_pdf_current(invoice)[0])[0]
    assert f"PAID Last payment {day(last)}" in text and "PARTIALLY" not in text


def test_a_credited_invoice_shows_credited_with_its_credit_note_number(invoice, admin):
    note = credit_note_issue(invoice=invoice, whole=True, reason="Service cancelled", user=admin)
    assert refreshed(invoice).status == Invoice.Status.CREDITED
    assert invoice_stamp(refreshed(invoice)).kind == StampKind.CREDITED

    text = pages_text(invoice_pdf_current(invoice)[0])[0]
    assert f"CREDITED Credit note {note.number}" in text


def test_a_partly_credited_invoice_shows_what_is_still_due(invoice, admin):
    note = credit_note_issue(invoice=invoice, amount_units=3000, reason="Late start", user=admin)
    assert invoice_stamp(refreshed(invoice)).kind == StampKind.PARTIALLY_CREDITED

    text = pages_text(invoice_pdf_current(invoice)[0])[0]
    assert f"PARTIALLY CREDITED — $70.00 due Balance as of {day(today(refreshed(invoice)))}" in text
    assert f"Credit note {note.number}" in text


def test_a_void_invoice_shows_void_with_the_void_date(invoice, admin):
    invoice_void(invoice=invoice, reason="Billed twice", user=admin)
    voided = refreshed(invoice)
    assert invoice_stamp(voided).kind == StampKind.VOID

    text = pages_text(invoice_pdf_current(invoice)[0])[0]
    assert f"VOID Voided {day(timezone.localtime(voided.voided_at, voided.partner.tzinfo).date())}" in text


def test_a_missing_pdf_is_stored_first_then_stamped(customer, renders, rendered):
    invoice = issued_invoice(customer, [10000], deliver=False)
    payment_record(invoice=invoice, amount_units=2500, method="check", reference="77")
    assert not refreshed(invoice).pdf

    data, _name = invoice_pdf_current(invoice)
    assert "PARTIALLY PAID — $75.00 due" in pages_text(data)[0]
    assert refreshed(invoice).pdf.read() == rendered  # the original, stored unstamped
    invoice_pdf_current(invoice)
    assert len(renders) == 1


def test_a_stored_file_that_cannot_be_read_as_a_pdf_is_served_unstamped(customer):
    invoice = issued_invoice(customer, [10000], deliver=False)
    invoice.pdf.save("broken.pdf", ContentFile(b"%PDF-1.7\n% not really\n%%EOF\n"), save=True)
    payment_record(invoice=invoice, amount_units=10000, method="check", reference="9")

    data, filename = invoice_pdf_current(invoice)
    assert data == b"%PDF-1.7\n% not really\n%%EOF\n" and filename == f"{invoice.number}.pdf"


def test_a_paid_invoice_credited_afterwards_names_the_credit_note_left_to_the_customer(invoice, admin):
    payment_record(invoice=invoice, amount_units=10000, method="check", reference="5")
    note = credit_note_issue(invoice=invoice, whole=True, reason="Service cancelled", user=admin)
    assert note.credit_left_units == 10000 and refreshed(invoice).status == Invoice.Status.PAID

    text = pages_text(invoice_pdf_current(invoice)[0])[0]
    assert f"PAID Last payment {day(today(refreshed(invoice)))} Credit note {note.number}" in text
