"""E-mailing a credit note: its PDF, to the billing contact of the invoice it credits (and the contacts flagged
for invoices in cc), from the partner's address, once.

The worker's ``credit_note`` job (``credit_note_deliver``, in ``invoicing.outbox_work.HANDLERS``) stores the PDF
(``invoicing.pdf.credit_notes``), then sends the e-mail with a Message-ID made from the job's key and records
``sent_at``: a retry after a crash between the two sends the same message (a duplicate the mail system folds),
and a retry after the record sends nothing.
"""

from __future__ import annotations

import logging

from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from audit.recording import audit_record

from .delivery import DeliveryError, partner_email, sender_name
from .models import CreditNote, OutboxJob
from .outbox import JobGiveUp, JobRetry, message_id
from .pdf.credit_notes import credit_note_pdf_filename, credit_note_pdf_store
from .pdf.documents import PdfRenderError
from .recipients import invoice_recipients

logger = logging.getLogger(__name__)


def _note(credit_note: CreditNote) -> CreditNote:
    return CreditNote.objects.select_related(
        "partner", "customer", "invoice", "invoice__customer", "invoice__billing_contact"
    ).get(pk=credit_note.pk)


def credit_note_email_build(*, credit_note: CreditNote, message_id: str | None = None) -> EmailMultiAlternatives:
    """The e-mail of an issued credit note with its stored PDF attached (``credit_note`` as ``_note`` loads it).
    ``message_id``: the same on every attempt of one delivery."""
    note, invoice, partner = credit_note, credit_note.invoice, credit_note.partner
    to, cc = invoice_recipients(invoice)
    context = {
        "note": note,
        "invoice": invoice,
        "partner": partner,
        "sender_name": sender_name(partner),
        "customer": note.customer,
        "contact_name": invoice.contact_name,
        "currency": note.currency,
        "applied_here_units": sum(a.amount_units for a in note.applications.all() if a.invoice_id == invoice.pk),
    }
    message = partner_email(partner, "credit_note", context, to=to, cc=cc, message_id=message_id)
    with note.pdf.open("rb") as handle:
        message.attach(credit_note_pdf_filename(note), handle.read(), "application/pdf")
    return message


def _failed(note: CreditNote, user, message: str, *, retryable: bool) -> DeliveryError:
    audit_record(target=note, action="send_failed", actor=user, reason=message[:2000])
    return DeliveryError(message, retryable=retryable)


def credit_note_send(*, credit_note: CreditNote, user=None, message_id: str | None = None) -> CreditNote:
    """E-mail a credit note (its PDF stored first if it is missing) and record ``sent_at`` and an audit event.
    A failure is recorded in the audit trail and raised as ``DeliveryError`` (``retryable=False``: nobody to
    send it to)."""
    note = _note(credit_note)
    to, _cc = invoice_recipients(note.invoice)
    if not to:
        raise _failed(note, user, "Not sent: the invoice's billing contact has no e-mail address.", retryable=False)
    try:
        note.pdf = credit_note_pdf_store(credit_note=note, user=user).pdf
    except PdfRenderError as exc:
        raise _failed(note, user, f"Not sent: {exc}", retryable=True) from exc
    try:
        message = credit_note_email_build(credit_note=note, message_id=message_id)
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend failure (SMTP, network, file) is recorded, then raised
        logger.warning("Sending credit note %s failed: %s", note.pk, exc)
        raise _failed(
            note, user, f"Not sent: the mail server refused it ({type(exc).__name__}: {exc}).", retryable=True
        ) from exc
    now = timezone.now()
    CreditNote.objects.filter(pk=note.pk).update(sent_at=now)
    note.sent_at = now
    audit_record(
        target=note,
        action="send",
        actor=user,
        data={"to": message.to, "cc": message.cc, "attachments": [name for name, _c, _m in message.attachments]},
    )
    return note


def credit_note_deliver(job: OutboxJob) -> str:
    """The outbox handler of a ``credit_note`` job: store the PDF, e-mail it once."""

    note = CreditNote.objects.get(pk=job.credit_note_id)
    try:
        credit_note_pdf_store(credit_note=note)
    except PdfRenderError as exc:
        raise JobRetry(str(exc)) from exc
    if note.sent_at is not None:
        return "stored; already sent"
    try:
        credit_note_send(credit_note=note, message_id=message_id(job))
    except DeliveryError as exc:
        raise (JobRetry if exc.retryable else JobGiveUp)(exc.message) from exc
    return "stored and sent"
