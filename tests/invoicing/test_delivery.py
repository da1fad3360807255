"""E-mailing issued invoices: recipients, sender, bodies, the PDF and the supporting documents attached;
failures recorded on the invoice and the e-mail job retried by the outbox until a send succeeds."""

import datetime
import smtplib

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from audit.recording import audit_trail
from invoicing.delivery import DeliveryError, invoice_send, invoice_supporting_documents
from invoicing.errors import BillingRuleError, InvalidTransition
from invoicing.lifecycle import invoice_issue, invoice_void
from invoicing.models import Invoice, OutboxJob, Quote, SupportingDocument
from invoicing.outbox import message_id
from invoicing.outbox_work import outbox_run
from invoicing.pdf import documents
from invoicing.recipients import invoice_recipients
from tests.factories import (
    BillingContactFactory,
    CustomerFactory,
    PartnerFactory,
    ProviderFactory,
    ServiceFactory,
    ServiceRequestFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

FAKE_PDF = b"%PDF-1.7\n% a rendered invoice\n%%EOF\n"


class FailingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture(autouse=True)
def _media_and_hooks(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.OUTBOX_NUDGE = True  # an issue's commit drains the outbox (django-q2 runs it inline in tests)


@pytest.fixture
def fake_render(monkeypatch):
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: FAKE_PDF)


def issue(invoice, capture):
    with capture(execute=True):
        return invoice_issue(invoice=invoice)


def document_for(service_request, name="scan.pdf", content=b"%PDF-1.4 supporting\n", content_type="application/pdf"):
    document = SupportingDocument(request=service_request, name=name, content_type=content_type, size=len(content))
    document.file.save(name, ContentFile(content), save=True)
    return document


def invoice_with_a_document(customer):
    """A draft AR invoice billing a service of a request that carries a supporting document."""
    service_request = ServiceRequestFactory(customer=customer, partner=customer.partner)
    service = ServiceFactory(request=service_request, partner=customer.partner)
    proforma = proforma_with_slips(customer=customer, amounts=[15000], service=service, number="PF-2026-00901")
    document = document_for(service_request, "purchase-order.pdf")
    return draft_with_proformas(proformas=[proforma], customer=customer), document


# --- the e-mail -----------------------------------------------------------------------------------------------


def test_issuing_for_an_auto_send_customer_emails_the_pdf_and_the_supporting_documents(
    partner, django_capture_on_commit_callbacks
):
    """The real renderer, once: the attachment is the stored PDF."""
    customer = CustomerFactory(partner=partner, auto_send=True)
    cc_contact = BillingContactFactory(customer=customer, receives_invoices=True, email="ap-team@customer.example")
    BillingContactFactory(customer=customer, receives_invoices=False, email="not-me@customer.example")
    draft, document = invoice_with_a_document(customer)

    invoice = issue(draft, django_capture_on_commit_callbacks)

    invoice.refresh_from_db()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    default = customer.contacts.get(is_default=True)
    assert message.to == [default.email]
    assert message.cc == [cc_contact.email]
    assert partner.email in message.from_email and partner.name in message.from_email
    assert invoice.number in message.subject
    assert invoice.number in message.body and "Balance due" in message.body
    [(html, mime)] = message.alternatives
    assert mime == "text/html" and invoice.number in html
    names = {name: (content, mimetype) for name, content, mimetype in message.attachments}
    pdf_bytes, pdf_type = names[f"{invoice.number}.pdf"]
    assert pdf_type == "application/pdf" and pdf_bytes.startswith(b"%PDF")
    assert pdf_bytes == invoice.pdf.read()  # the stored document, not another render
    assert names["purchase-order.pdf"] == (b"%PDF-1.4 supporting\n", "application/pdf")
    assert "purchase-order.pdf" in message.body
    assert invoice.sent_at is not None and invoice.send_error == ""
    assert invoice.status == Invoice.Status.PENDING
    [event] = [e for e in audit_trail(invoice) if e.action == "send"]
    assert event.data["to"] == [default.email] and f"{invoice.number}.pdf" in event.data["attachments"]
    assert document in invoice_supporting_documents(invoice)


def test_customer_with_auto_send_off_gets_nothing_until_staff_send(
    fake_render, partner, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(partner=partner, auto_send=False)
    invoice = issue(draft_invoice(customer, [5000]), django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert mail.outbox == [] and invoice.sent_at is None
    assert invoice.pdf  # rendered and stored all the same

    invoice_send(invoice=invoice)
    assert len(mail.outbox) == 1
    assert Invoice.objects.get(pk=invoice.pk).sent_at is not None


def test_resend_sends_again_and_is_audited_as_a_resend(fake_render, customer):
    invoice = issued_invoice(customer, [5000])
    invoice_send(invoice=invoice)
    invoice_send(invoice=invoice)
    assert len(mail.outbox) == 2
    assert [e.action for e in audit_trail(invoice) if e.action in ("send", "resend")] == ["send", "resend"]


def test_email_goes_to_the_contacts_current_address_with_the_sender_fallback(fake_render, settings):
    settings.DEFAULT_FROM_EMAIL = "invoices@octoo.example"
    partner = PartnerFactory(email="")
    customer = CustomerFactory(partner=partner)
    invoice = issued_invoice(customer, [5000])
    contact = customer.contacts.get(is_default=True)
    contact.email = "new-ap@customer.example"
    contact.save()
    invoice_send(invoice=invoice)
    assert mail.outbox[0].to == ["new-ap@customer.example"]
    assert mail.outbox[0].from_email == "invoices@octoo.example"


def test_cc_never_repeats_the_main_recipient(customer):
    default = customer.contacts.get(is_default=True)
    default.receives_invoices = True
    default.save()
    other = BillingContactFactory(customer=customer, receives_invoices=True)
    invoice = issued_invoice(customer, [5000])
    assert invoice_recipients(invoice) == ([default.email], [other.email])


def test_quote_invoices_carry_the_requests_documents(fake_render, customer):
    service_request = ServiceRequestFactory(customer=customer, partner=customer.partner)
    document = document_for(service_request, "authorization.png", b"\x89PNG\r\n\x1a\n...", "image/png")
    invoice = issued_invoice(customer, [5000])
    Quote.objects.create(request=service_request, status=Quote.Status.CONVERTED, invoice=invoice)
    invoice_send(invoice=invoice)
    assert ("authorization.png", document.file.open("rb").read(), "image/png") in mail.outbox[0].attachments


def test_drafts_void_and_ap_invoices_are_not_sent(fake_render, customer):
    with pytest.raises(InvalidTransition):
        invoice_send(invoice=draft_invoice(customer, [5000]))
    void = invoice_void(invoice=issued_invoice(customer, [5000]), reason="entered twice")
    with pytest.raises(BillingRuleError):
        invoice_send(invoice=void)
    provider = ProviderFactory(partner=customer.partner)
    proforma = proforma_with_slips(customer=customer, provider=provider)
    ap = invoice_issue(invoice=draft_with_proformas(proformas=[proforma], provider=provider))
    with pytest.raises(BillingRuleError):
        invoice_send(invoice=ap)
    assert mail.outbox == []


def test_no_contact_email_is_recorded_and_not_worth_retrying(fake_render, partner):
    customer = CustomerFactory(partner=partner, default_contact=False)
    contact = BillingContactFactory(customer=customer, email="", is_default=True)  # none in the issue's snapshot
    invoice = issued_invoice(customer, [5000])
    contact.delete()
    invoice.refresh_from_db()
    with pytest.raises(DeliveryError) as raised:
        invoice_send(invoice=invoice)
    assert raised.value.retryable is False
    invoice.refresh_from_db()
    assert "no billing contact with an e-mail address" in invoice.send_error and invoice.sent_at is None


def test_a_pdf_that_cannot_render_is_a_failed_send(monkeypatch, customer):
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: 1 / 0)
    invoice = issued_invoice(customer, [5000])
    with pytest.raises(DeliveryError):
        invoice_send(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.send_error.startswith("Not sent: The PDF could not be rendered")
    assert mail.outbox == []


# --- failures and outbox retries --------------------------------------------------------------------------------


def jobs_of(invoice) -> dict[str, OutboxJob]:
    return {job.kind: job for job in OutboxJob.objects.filter(invoice=invoice)}


def after_the_backoff():
    """A time past any job's backoff: what the outbox worker sees once the retry delay has passed."""
    return timezone.now() + datetime.timedelta(hours=2)


def redelivered(job: OutboxJob) -> None:
    """Put a job back to pending, as a worker that crashed after the side effect and before recording it would
    leave it for the next worker."""
    OutboxJob.objects.filter(pk=job.pk).update(status=OutboxJob.Status.PENDING, run_after=timezone.now())


def test_a_failing_mail_server_is_retried_by_the_outbox_and_the_invoice_shows_not_sent(
    fake_render, settings, customer, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.invoicing.test_delivery.FailingBackend"
    customer.auto_send = True
    customer.save()
    invoice = issue(draft_invoice(customer, [5000]), django_capture_on_commit_callbacks)  # the nudge drains it

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and invoice.number  # still issued
    assert invoice.sent_at is None and "Connection unexpectedly closed" in invoice.send_error
    assert invoice.pdf  # the rendering job succeeded and is kept
    jobs = jobs_of(invoice)
    assert set(jobs) == {"pdf", "email"}
    assert jobs["pdf"].status == OutboxJob.Status.DONE and jobs["pdf"].result == "stored"
    email = jobs["email"]
    assert email.status == OutboxJob.Status.PENDING and email.attempts == 1
    assert "Connection unexpectedly closed" in email.last_error
    assert email.run_after > timezone.now()  # backing off
    assert "send_failed" in [e.action for e in audit_trail(invoice)]
    assert outbox_run().results == []  # not due again before its backoff

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the server is back
    report = outbox_run(now=after_the_backoff())

    assert report.done == 1 and report.results == [f"{email.key}: done"]
    invoice.refresh_from_db()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == message_id(email)  # the same on every attempt
    assert invoice.sent_at is not None and invoice.send_error == ""
    email.refresh_from_db()
    assert email.status == OutboxJob.Status.DONE and email.attempts == 2
    assert email.result == "sent" and email.last_error == "" and email.done_at is not None
    assert outbox_run(now=after_the_backoff()).results == []  # nothing left to do


def test_a_pdf_that_fails_to_render_holds_the_email_and_both_jobs_are_retried(
    monkeypatch, customer, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: 1 / 0)
    customer.auto_send = True
    customer.save()
    invoice = issue(draft_invoice(customer, [5000]), django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert mail.outbox == [] and not invoice.pdf
    assert invoice.send_error.startswith("Not sent: The PDF could not be rendered")
    assert "ZeroDivisionError" in invoice.pdf_error
    jobs = jobs_of(invoice)
    for kind in ("pdf", "email"):  # both failed in a way a retry can fix
        assert jobs[kind].status == OutboxJob.Status.PENDING and jobs[kind].attempts == 1
        assert "The PDF could not be rendered" in jobs[kind].last_error

    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: FAKE_PDF)
    report = outbox_run(now=after_the_backoff())

    assert report.done == 2 and report.retried == report.failed == 0
    jobs = jobs_of(invoice)
    assert (jobs["pdf"].status, jobs["pdf"].attempts) == (OutboxJob.Status.DONE, 2)
    assert (jobs["email"].status, jobs["email"].result, jobs["email"].attempts) == (OutboxJob.Status.DONE, "sent", 2)
    assert len(mail.outbox) == 1
    invoice.refresh_from_db()
    assert invoice.pdf and invoice.pdf_error == "" and invoice.sent_at is not None and invoice.send_error == ""

    redelivered(jobs["email"])  # run again: no resend
    assert outbox_run().done == 1
    assert OutboxJob.objects.get(pk=jobs["email"].pk).result == "already sent"
    assert len(mail.outbox) == 1


def test_a_rerun_email_job_does_not_send_twice(fake_render, customer):
    invoice = issued_invoice(customer, [5000])  # customers auto-send by default
    outbox_run()
    email = jobs_of(invoice)["email"]
    assert email.status == OutboxJob.Status.DONE and email.result == "sent"
    assert len(mail.outbox) == 1

    redelivered(email)
    outbox_run()

    email.refresh_from_db()
    assert email.status == OutboxJob.Status.DONE and email.result == "already sent" and email.attempts == 2
    assert len(mail.outbox) == 1


def test_a_mail_server_failure_leaves_the_email_job_pending_for_a_retry(fake_render, settings, customer):
    settings.EMAIL_BACKEND = "tests.invoicing.test_delivery.FailingBackend"
    invoice = issued_invoice(customer, [5000])
    report = outbox_run()
    assert (report.done, report.retried, report.failed) == (1, 1, 0)  # the PDF stored; the e-mail will retry
    email = jobs_of(invoice)["email"]
    assert email.status == OutboxJob.Status.PENDING and email.run_after > timezone.now()
    assert "Connection unexpectedly closed" in email.last_error


def test_no_recipient_fails_the_email_job_for_good(fake_render, partner):
    customer = CustomerFactory(partner=partner, default_contact=False)
    BillingContactFactory(customer=customer, email="", is_default=True)  # no address in the issue's snapshot
    invoice = issued_invoice(customer, [5000])
    report = outbox_run()
    assert (report.done, report.failed) == (1, 1)
    email = jobs_of(invoice)["email"]
    assert email.status == OutboxJob.Status.FAILED and email.attempts == 1
    assert "no billing contact with an e-mail address" in email.last_error
    assert outbox_run(now=after_the_backoff()).results == []  # never retried by itself: staff must act
    assert mail.outbox == []
    assert "no billing contact" in Invoice.objects.get(pk=invoice.pk).send_error


def test_no_payment_terms_read_the_same_on_the_pdf_and_in_the_email(monkeypatch, customer):
    """An invoice on "no payment" terms has no due date but a balance: neither its PDF nor its e-mail says that
    no payment is due, and both say there is no due date."""
    pages = []
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: pages.append(html_text) or FAKE_PDF)
    draft = draft_invoice(customer, [5000])
    Invoice.objects.filter(pk=draft.pk).update(no_payment=True)
    invoice = invoice_issue(invoice=draft)
    outbox_run()
    sent = mail.outbox[-1]
    body = sent.body + sent.alternatives[0][0]
    text = (pages[-1] + body).lower()
    assert "no payment is due" not in text and "no payment due" not in text
    assert "no due date" in body.lower() and "no payment terms" in pages[-1].lower()
    assert "$50.00" in sent.subject and invoice.outstanding_units == 5000
