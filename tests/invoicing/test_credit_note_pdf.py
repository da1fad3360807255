"""A credit note's PDF (what it shows, read back with pypdf; stored once, never replaced) and its e-mail: the
worker's ``credit_note`` job stores the PDF and e-mails it to the invoice's billing contact once, whatever the
retries.

One real credit note is rendered per module; the other tests stub WeasyPrint out."""

import datetime
import io
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from pypdf import PdfReader

from audit.recording import audit_trail
from invoicing.credit_note_delivery import credit_note_deliver
from invoicing.credits import credit_note_issue, invoice_lines
from invoicing.lifecycle import invoice_issue
from invoicing.manual import invoice_create_manual
from invoicing.models import CreditNote, OutboxJob
from invoicing.outbox import message_id
from invoicing.outbox_work import HANDLERS, outbox_run
from invoicing.payments import payment_record
from invoicing.pdf import credit_notes
from invoicing.pdf.credit_notes import credit_note_pdf_open, credit_note_pdf_store
from tests.factories import CustomerFactory, PartnerFactory, StaffMembershipFactory, issued_invoice, lines_for

pytestmark = pytest.mark.django_db

FAKE_PDF = b"%PDF-1.7\n% a credit note\n%%EOF\n"
LATER = datetime.timedelta(hours=2)


@pytest.fixture(scope="module")
def rendered(django_db_setup, django_db_blocker):
    """A credit note taking back one taxed line of a partly paid invoice: $80.00 of it lowers the invoice's
    balance, $30.00 is left to the customer. Rendered once; the database work is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        partner = PartnerFactory(name="Harbor Interpreting", email="billing@harbor.example")
        customer = CustomerFactory(partner=partner, name="Mercy General Hospital")
        lines = lines_for([20000, 10000], tax_rate=Decimal("10"))
        lines[1].description = "Evening session, cancelled"
        draft = invoice_create_manual(partner=partner, customer=customer, lines=lines)
        invoice = invoice_issue(invoice=draft, deliver=False)
        payment_record(invoice=invoice, amount_units=25000, method="check", reference="1042")
        slip = invoice_lines(invoice)[1]
        note = credit_note_issue(
            invoice=invoice,
            slip_ids=[slip.pk],
            reason="The hospital cancelled the evening session.",
            user=StaffMembershipFactory(partner=partner).user,
        )
        data = credit_notes.credit_note_pdf_bytes(credit_note=note)
        facts = {"number": note.number, "invoice": invoice.number, "issued": note.issue_date}
        transaction.set_rollback(True)
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())
    return {"data": data, "text": text, **facts}


@pytest.fixture
def fake_render(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    calls = []

    def render(html_text, **kwargs):
        calls.append(html_text)
        return FAKE_PDF

    monkeypatch.setattr(credit_notes, "html_to_pdf", render)
    return calls


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


def credit_note(customer, admin, **kwargs) -> CreditNote:
    invoice = issued_invoice(customer, [10000], deliver=False)
    return credit_note_issue(invoice=invoice, amount_units=4000, reason="Late start", user=admin, **kwargs)


def credit_note_mails(mailoutbox) -> list:
    return [mail for mail in mailoutbox if mail.subject.startswith("Credit note")]


def job_of(note: CreditNote) -> OutboxJob:
    return OutboxJob.objects.get(credit_note=note, kind=OutboxJob.Kind.CREDIT_NOTE)


# --- the document ------------------------------------------------------------------------------------------------


def test_the_pdf_shows_its_number_the_invoice_it_credits_its_date_and_reason(rendered):
    text = rendered["text"]
    assert text.startswith("Harbor Interpreting") and "CREDIT NOTE" in text
    assert f"Credit note number {rendered['number']}" in text
    assert f"Credits invoice {rendered['invoice']}" in text
    issued = rendered["issued"]
    assert f"Date {issued:%b} {issued.day}, {issued.year}" in text
    assert "The hospital cancelled the evening session." in text


def test_the_pdf_shows_its_lines_with_tax_its_total_and_how_it_was_used(rendered):
    text = rendered["text"]
    assert "Evening session, cancelled $100.00 $10.00 $110.00" in text
    assert "Subtotal $100.00 Tax $10.00 Total credited $110.00" in text
    assert f"$80.00 applied to invoice {rendered['invoice']}" in text
    assert "$30.00 is left as credit to Mercy General Hospital" in text and "Credit left $30.00" in text


def test_the_pdf_is_stored_once_and_never_replaced(fake_render, customer, admin):
    note = credit_note(customer, admin)
    stored = credit_note_pdf_store(credit_note=note)
    again = credit_note_pdf_store(credit_note=note)
    data, filename = credit_note_pdf_open(credit_note=note)

    assert len(fake_render) == 1 and note.number in fake_render[0]
    assert stored.pdf.name == again.pdf.name and stored.pdf.name.startswith("credit-notes/")
    assert data == FAKE_PDF and filename == f"{note.number}.pdf"
    assert [event.action for event in audit_trail(note)].count("pdf_stored") == 1


# --- the e-mail ----------------------------------------------------------------------------------------------------


def test_the_credit_note_job_is_handled_by_the_worker():
    assert HANDLERS[OutboxJob.Kind.CREDIT_NOTE] is credit_note_deliver


def test_the_job_stores_the_pdf_and_emails_it_to_the_billing_contact_once_even_when_run_twice(
    fake_render, customer, admin, mailoutbox
):
    note = credit_note(customer, admin)
    job = job_of(note)
    contact = customer.contacts.get(is_default=True)

    outbox_run()

    job.refresh_from_db()
    note.refresh_from_db()
    assert job.status == OutboxJob.Status.DONE and job.result == "stored and sent"
    assert note.pdf and note.sent_at is not None
    [mail] = credit_note_mails(mailoutbox)
    assert mail.to == [contact.email] and note.number in mail.subject and note.invoice.number in mail.subject
    assert mail.extra_headers["Message-ID"] == message_id(job)
    assert mail.attachments == [(f"{note.number}.pdf", FAKE_PDF, "application/pdf")]
    assert "$40.00" in mail.body and "Late start" in mail.body

    assert credit_note_deliver(job) == "stored; already sent"  # a retry after the send: nothing twice
    OutboxJob.objects.filter(pk=job.pk).update(status=OutboxJob.Status.PENDING, run_after=timezone.now())
    outbox_run()
    assert len(credit_note_mails(mailoutbox)) == 1 and len(fake_render) == 1
    assert [event.action for event in audit_trail(note)].count("send") == 1


def test_a_mail_server_failure_is_retried_and_the_note_sent_once_it_is_back(
    fake_render, settings, customer, admin, mailoutbox
):
    settings.EMAIL_BACKEND = "tests.invoicing.test_delivery.FailingBackend"
    note = credit_note(customer, admin)
    outbox_run()
    job = job_of(note)
    assert job.status == OutboxJob.Status.PENDING and "Connection unexpectedly closed" in job.last_error
    assert CreditNote.objects.get(pk=note.pk).sent_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    outbox_run(now=timezone.now() + LATER)
    job.refresh_from_db()
    assert job.status == OutboxJob.Status.DONE and len(credit_note_mails(mailoutbox)) == 1
    assert len(fake_render) == 1  # the PDF stored on the first attempt is the one sent


def test_without_an_address_to_send_to_the_job_gives_up_and_says_why(fake_render, partner, admin, mailoutbox):
    customer = CustomerFactory(partner=partner, default_contact__email="")
    note = credit_note(customer, admin)
    outbox_run()
    job = job_of(note)
    assert job.status == OutboxJob.Status.FAILED and job.attempts == 1
    assert "no e-mail address" in job.last_error
    assert CreditNote.objects.get(pk=note.pk).pdf  # stored all the same
    assert credit_note_mails(mailoutbox) == []
