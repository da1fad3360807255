"""Receipts: the e-mail a customer gets when money moves on one of their AR invoices.

A payment (recorded in the office, charged to a card, paid through the pay link) and a refund once it is made each
leave one outbox job of kind RECEIPT, keyed by that payment or refund (``invoicing.payments.payment_apply``,
``invoicing.credits.refund_settle``). The worker runs ``receipt_job_run`` for it (``invoicing.outbox_work``).

Sent once per job, as the invoice e-mail is: right after the mail server accepts the receipt, a ``receipt_sent``
event carrying the job's key goes on the invoice's audit trail, and a job that finds it sends nothing. The
message's Message-ID is made from the same key, so the one resend a crash between the acceptance and that record
can cause is the same message to the recipient's mail system, which shows it once.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from enum import StrEnum

from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from audit.recording import audit_record, audit_trail

from .delivery import invoice_pay_url, partner_email, sender_name
from .models import CreditNote, Invoice, OutboxJob, Payment, Refund
from .outbox import JobGiveUp, JobRetry, message_id
from .recipients import invoice_recipients

logger = logging.getLogger(__name__)

SENT = "receipt_sent"  # the audit event that records a receipt as sent


class ReceiptKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True)
class Receipt:
    """What a receipt says: the money that moved, how, and what the invoice owes now."""

    kind: ReceiptKind
    invoice: Invoice
    amount_units: int
    on: datetime.date
    method: str  # how it was paid ("Card ending 4242", "Check"), or where a refund went ("the card ending 4242")
    reference: str  # the check number, the gateway's or the transfer's reference
    balance_units: int  # due now
    credit_note: CreditNote | None = None  # a refund paid out of a credit note's credit
    pay_url: str = ""  # "View and pay", while something is due

    @property
    def is_refund(self) -> bool:
        return self.kind == ReceiptKind.REFUND


def _card_last4(invoice: Invoice, payment: Payment) -> str:
    """The last four digits of the card a payment was charged to, as its charge recorded them (none for a card
    payment staff recorded by hand)."""
    charge = audit_trail(invoice).filter(action="charge", data__payment_id=payment.pk).first()
    return (charge.data.get("last4") or "") if charge is not None else ""


def _method(invoice: Invoice, payment: Payment) -> str:
    if payment.method == Payment.Method.CARD:
        last4 = _card_last4(invoice, payment)
        return f"Card ending {last4}" if last4 else "Card"
    return payment.get_method_display()


def _paid_back_to(invoice: Invoice, refund: Refund) -> str:
    if refund.method == Payment.Method.CARD:
        last4 = _card_last4(invoice, refund.payment)
        return f"the card ending {last4}" if last4 else "the card that paid it"
    return "a check" if refund.method == Payment.Method.CHECK else "a bank transfer"


def receipt_for(job: OutboxJob, invoice: Invoice) -> Receipt:
    """The receipt a RECEIPT job sends about ``invoice``: its payment's, or its refund's."""
    common = {"invoice": invoice, "balance_units": invoice.outstanding_units, "pay_url": invoice_pay_url(invoice)}
    if job.refund_id:
        refund = Refund.objects.select_related("payment", "credit_note").get(pk=job.refund_id)
        return Receipt(
            kind=ReceiptKind.REFUND,
            amount_units=refund.amount_units,
            on=refund.refunded_on or timezone.localdate(),
            method=_paid_back_to(invoice, refund),
            reference=refund.reference,
            credit_note=refund.credit_note,
            **common,
        )
    payment = Payment.objects.get(pk=job.payment_id)
    return Receipt(
        kind=ReceiptKind.PAYMENT,
        amount_units=payment.amount_units,
        on=payment.received_on,
        method=_method(invoice, payment),
        reference=payment.reference,
        **common,
    )


def receipt_email_build(*, receipt: Receipt, to: list[str], cc: list[str], message_id: str) -> EmailMultiAlternatives:
    invoice = receipt.invoice
    partner = invoice.partner
    context = {
        "receipt": receipt,
        "invoice": invoice,
        "partner": partner,
        "sender_name": sender_name(partner),
        "customer": invoice.customer,
        "contact_name": invoice.contact_name,
        "currency": invoice.currency,
    }
    message = partner_email(partner, "receipt", context, to=to, cc=cc, message_id=message_id)
    return message


def receipt_sent(job: OutboxJob, invoice: Invoice) -> bool:
    """Whether this job's receipt was sent already (a retried job, or one run again after its lease ran out)."""
    return audit_trail(invoice).filter(action=SENT, data__job=job.key).exists()


def receipt_job_run(job: OutboxJob) -> str:
    """The worker's handler of a RECEIPT job: e-mail the receipt to the invoice's billing contact (contacts flagged
    "receives invoices" in cc), once. No e-mail address to send it to: the job gives up, saying so."""

    invoice = Invoice.objects.select_related("partner", "customer", "billing_contact").get(pk=job.invoice_id)
    if receipt_sent(job, invoice):
        return "already sent"
    if invoice.kind != Invoice.Kind.AR:
        return "not sent: receipts are for AR invoices"
    if job.refund_id and not Refund.objects.filter(pk=job.refund_id, status=Refund.Status.SUCCEEDED).exists():
        return "not sent: the refund was not made"
    receipt = receipt_for(job, invoice)
    to, cc = invoice_recipients(invoice)
    if not to:
        raise JobGiveUp(
            f"No receipt sent: {invoice.customer} has no billing contact with an e-mail address. Add one, then retry."
        )
    message = receipt_email_build(receipt=receipt, to=to, cc=cc, message_id=message_id(job))
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend failure (SMTP, network) is tried again later
        logger.warning("Sending the receipt of job %s failed: %s", job.key, exc)
        raise JobRetry(f"Receipt not sent: the mail server refused it ({type(exc).__name__}: {exc}).") from exc
    subject = {"refund_id": job.refund_id} if job.refund_id else {"payment_id": job.payment_id}
    audit_record(
        target=invoice,
        action=SENT,
        data={"job": job.key, "kind": str(receipt.kind), "to": to, "cc": cc, **subject},
    )
    return "sent"


__all__ = ["Receipt", "ReceiptKind", "receipt_email_build", "receipt_for", "receipt_job_run", "receipt_sent"]
