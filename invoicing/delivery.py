"""E-mailing issued invoices: to the default billing contact, contacts flagged for invoices in cc, from the
partner's address, with the PDF and the request's supporting documents attached.

``invoice_send`` is called by the worker after an issue (customers with auto-send on) and by the office's
Send / Resend button. A failure is recorded on the invoice (``send_error``) and in the audit trail, and raised
as ``DeliveryError``; the task re-raises it so django-q2 retries the delivery. The invoice stays issued and
shows as "not sent" until a send succeeds.
"""

from __future__ import annotations

import logging
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone

from audit.recording import audit_record
from customers.formats import partner_formats

from .errors import BillingError
from .models import Invoice, InvoiceProforma, OutboxJob, Quote, SupportingDocument
from .paylinks import pay_link_url
from .pdf.documents import PdfRenderError, invoice_pdf_store, pdf_filename
from .recipients import invoice_recipients
from .workflow import ActionRefused, action_begin, action_check, action_done

logger = logging.getLogger(__name__)

# Supporting documents attached to one e-mail, at most (larger sets are listed, not attached).
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


class DeliveryError(BillingError):
    """The e-mail could not be sent. ``retryable`` is False when trying again cannot help (no recipient)."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def invoice_supporting_documents(invoice: Invoice):
    """The supporting documents of the requests an invoice bills (through its proformas or its quote)."""
    live = Q(request__services__proforma__invoice_links__invoice=invoice)
    if invoice.status != Invoice.Status.VOID:
        live &= Q(request__services__proforma__invoice_links__is_active=True)
    return (
        SupportingDocument.objects.filter(live | Q(request__quote__invoice=invoice))
        .distinct()
        .order_by("uploaded_at", "id")
    )


def sender_name(partner) -> str:
    """The "From" name of the partner's e-mails: its sender name (company settings), else its name."""
    return " ".join((partner.email_sender_name or partner.name or "").split())  # no line breaks in a header


def from_address(partner) -> str:
    """The partner's sender name and address. Without an address of its own, the app's (DEFAULT_FROM_EMAIL):
    named only when the partner set a sender name, else bare."""
    address = partner.email or settings.DEFAULT_FROM_EMAIL
    name = sender_name(partner) if partner.email else " ".join(partner.email_sender_name.split())
    return formataddr((name, address)) if name else address


def invoice_pay_url(invoice: Invoice) -> str:
    """The "View and pay" link of an issued AR invoice with something due now (empty otherwise)."""
    due = invoice.kind == Invoice.Kind.AR and invoice.status in Invoice.OPEN_STATUSES and invoice.outstanding_units > 0
    return pay_link_url(invoice) if due else ""


def partner_email(
    partner, template: str, context: dict, *, to, cc=(), message_id: str | None = None
) -> EmailMultiAlternatives:
    """A partner's e-mail to a customer, from ``emails/<template>_subject.txt``, ``_body.txt`` and ``_body.html``
    rendered in the partner's time zone and locale (the same in the worker as on a page): from the partner's address and
    sender name, replies to the partner; ``message_id`` the same on every attempt of one job."""
    with partner_formats(partner):
        subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
        body = render_to_string(f"emails/{template}_body.txt", context)
        html = render_to_string(f"emails/{template}_body.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=from_address(partner),
        to=list(to),
        cc=list(cc),
        reply_to=[partner.email] if partner.email else None,
        headers={"Message-ID": message_id} if message_id else None,
    )
    message.attach_alternative(html, "text/html")
    return message


def invoice_send_read(invoice_id: int) -> Invoice:
    """An invoice with everything its e-mail needs, in two queries: its partner, customer and billing contact, with
    whether any supporting document may be attached (``may_have_documents``: it bills proformas or a quote, whose
    requests may have some; False spares ``invoice_supporting_documents``' query), then the customer's contacts (for
    ``invoice_recipients``, read along)."""
    billed_requests = Exists(InvoiceProforma.objects.filter(invoice=OuterRef("pk"))) | Exists(
        Quote.objects.filter(invoice=OuterRef("pk"))
    )  # what invoice_supporting_documents follows to the requests, asked cheaply (two index probes)
    return (
        Invoice.objects.select_related("partner", "customer", "billing_contact")
        .prefetch_related("customer__contacts")
        .annotate(may_have_documents=billed_requests)
        .get(pk=invoice_id)
    )


def invoice_email_build(
    *,
    invoice: Invoice,
    documents=None,
    message_id: str | None = None,
    recipients: tuple[list[str], list[str]] | None = None,
    pdf_data: bytes | None = None,
) -> EmailMultiAlternatives:
    """The e-mail for an issued invoice, with its stored PDF and the supporting documents attached.
    ``message_id``: the same on every attempt of one delivery, so a resend after a crash is one message.
    ``recipients``: (to, cc) when the caller has them; ``pdf_data``: the stored PDF's bytes when the caller holds
    them (the worker that just rendered and stored it), else the file is read from the storage."""
    to, cc = recipients if recipients is not None else invoice_recipients(invoice)
    documents = list(invoice_supporting_documents(invoice) if documents is None else documents)
    attached, listed, budget = [], [], MAX_ATTACHMENT_BYTES
    for document in documents:
        if document.size <= budget:
            attached.append(document)
            budget -= document.size
        else:
            listed.append(document)
    customer = invoice.customer
    context = {
        "invoice": invoice,
        "partner": invoice.partner,
        "sender_name": sender_name(invoice.partner),
        "customer": customer,
        "contact_name": invoice.contact_name,
        "currency": invoice.currency,
        "attached_documents": attached,
        "listed_documents": listed,
        "card_auto": invoice.charged_on_issue and bool(customer.card_last4),
        "card_last4": customer.card_last4,
        "pay_url": invoice_pay_url(invoice),
    }
    message = partner_email(invoice.partner, "invoice", context, to=to, cc=cc, message_id=message_id)
    if pdf_data is None:
        with invoice.pdf.open("rb") as handle:
            pdf_data = handle.read()
    message.attach(pdf_filename(invoice), pdf_data, "application/pdf")
    for document in attached:
        with document.file.open("rb") as handle:
            message.attach(document.name, handle.read(), document.content_type)
    return message


def _failed(invoice: Invoice, user, message: str, *, retryable: bool) -> DeliveryError:
    Invoice.objects.filter(pk=invoice.pk).update(send_error=message[:2000], updated_at=timezone.now())
    invoice.send_error = message
    audit_record(target=invoice, action="send_failed", actor=user, reason=message[:2000])
    return DeliveryError(message, retryable=retryable)


def invoice_send(
    *, invoice: Invoice, user=None, message_id: str | None = None, read: bool = True, pdf: tuple | None = None
) -> Invoice:
    """E-mail an issued AR invoice (Send, and Resend once sent). Records ``sent_at`` and an audit event.

    Refuses drafts, void and AP invoices (``BillingError``); a delivery failure is recorded in ``send_error``
    and raised as ``DeliveryError``. The invoice's status never changes here.

    ``read=False``: ``invoice`` was just read by ``invoice_send_read`` (the worker's e-mail job), not read again.
    ``pdf``: (stored file name, its bytes) of a PDF the caller stored itself; attached when the invoice's stored
    file is that one (a stored PDF never changes), instead of reading it back.
    """
    if read:
        invoice = invoice_send_read(invoice.pk)
    try:
        action_check("send", invoice, user=user)
    except ActionRefused as error:  # e.g. nobody to send it to: recorded on the invoice, not tried again
        raise _failed(invoice, user, f"Not sent: {error.message}", retryable=False) from error
    to, cc = invoice_recipients(invoice)  # no query: the contacts were read with the invoice
    pdf_data = pdf[1] if pdf is not None and invoice.pdf and pdf[0] == invoice.pdf.name else None
    if not invoice.pdf:  # read just now: a stored PDF is there for good, else it is rendered and stored here
        try:
            stored = invoice_pdf_store(invoice=invoice, user=user)
        except PdfRenderError as exc:
            raise _failed(invoice, user, f"Not sent: {exc}", retryable=True) from exc
        invoice.pdf, pdf_data = stored.pdf, stored.rendered_pdf
    may_have = getattr(invoice, "may_have_documents", True)
    documents = list(invoice_supporting_documents(invoice)) if may_have else []
    resend = invoice.sent_at is not None
    try:
        message = invoice_email_build(
            invoice=invoice, documents=documents, message_id=message_id, recipients=(to, cc), pdf_data=pdf_data
        )
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend failure (SMTP, network, file) is recorded, then raised
        logger.warning("Sending invoice %s failed: %s", invoice.pk, exc)
        raise _failed(
            invoice, user, f"Not sent: the mail server refused it ({type(exc).__name__}: {exc}).", retryable=True
        ) from exc
    now = timezone.now()
    with transaction.atomic():  # the record and its audit row: one commit (one WAL flush) for both
        Invoice.objects.filter(pk=invoice.pk).update(sent_at=now, send_error="", updated_at=now)
        invoice.sent_at, invoice.send_error = now, ""
        audit_record(
            target=invoice,
            action="resend" if resend else "send",
            actor=user,
            data={
                "to": message.to,
                "cc": message.cc,
                "attachments": [name for name, _content, _mime in message.attachments],
            },
        )
    return invoice


def invoice_resend_queue(*, invoice: Invoice, user=None) -> OutboxJob:
    """Staff's Resend through the outbox (workflow action ``send``): e-mail an issued AR invoice again, from the
    worker. Its own job (a new key, so a new Message-ID) that sends unless the invoice was sent after the job was
    made, so a retry after a crash between the send and its record sends nothing twice. A resend already waiting
    is not doubled. Refused, with the reason, like the Send button."""
    with transaction.atomic():
        invoice = action_begin("send", invoice.pk, user=user)
        waiting = OutboxJob.objects.filter(
            invoice=invoice,
            kind__in=[OutboxJob.Kind.EMAIL, OutboxJob.Kind.RESEND],
            status__in=[OutboxJob.Status.PENDING, OutboxJob.Status.RUNNING],
        ).first()
        if waiting is not None:
            return waiting
        to, _cc = invoice_recipients(invoice)
        [job] = action_done(
            "send", invoice, user=user, from_status=invoice.status, audit_action="resend_queued", data={"to": to}
        )
    return OutboxJob.objects.get(key=job.key)


__all__ = [
    "DeliveryError",
    "invoice_email_build",
    "invoice_pay_url",
    "invoice_resend_queue",
    "invoice_send",
    "invoice_send_read",
    "invoice_supporting_documents",
]
