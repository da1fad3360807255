"""Credit notes, customer credit and refunds (workflow actions ``credit``, ``apply_credit`` and ``refund``).

A credit note takes back part or all of what an issued AR invoice billed: the whole invoice, chosen lines, or an
amount, never more than is left to credit. It gets the next number of the partner's gapless CN series at issue.
Its total first lowers the invoice's balance; what the invoice no longer owes (it was paid) stays on the credit
note as the customer's credit, to apply to another of their invoices or to refund.

A refund pays money back on a payment. A card payment is refunded through the gateway from the worker (the
refund is pending until the gateway answers; a failure is shown on the invoice and retried through the outbox);
a check or transfer refund is recorded as made. Out of a credit note, the refund uses up its credit and the
invoice stays settled; otherwise the invoice owes the refunded amount again.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from audit.recording import audit_record
from octoo_billing.money import allocate

from .errors import BillingRuleError
from .gateways import payment_gateway
from .models import CreditApplication, CreditNote, CreditNoteLine, Invoice, OutboxJob, Payment, Refund, Slip
from .numbering import Series, number_take
from .outbox import outbox_add
from .workflow import (
    InvoiceFacts,
    Refusal,
    TransitionRefused,
    action_begin,
    action_done,
    invoice_lock,
    settled_status,
)

Status = Invoice.Status


@dataclass(frozen=True)
class CreditLine:
    """A line of a credit note: what it takes back before tax, and its tax."""

    description: str
    amount_units: int
    tax_units: int
    slip: Slip | None = None

    @property
    def total_units(self) -> int:
        return self.amount_units + self.tax_units


def invoice_lines(invoice: Invoice) -> list[Slip]:
    """The lines an invoice billed (its own and its proformas'), as its PDF lists them."""
    direct = Slip.objects.filter(invoice=invoice)
    on_proformas = Slip.objects.filter(
        proforma__invoice_links__invoice=invoice, proforma__invoice_links__is_active=True
    )
    return list((direct | on_proformas).distinct().order_by("position", "id"))


def _slip_line(slip: Slip) -> CreditLine:
    net = slip.bill_total_units - slip.bill_tax_units
    return CreditLine(description=slip.description, amount_units=net, tax_units=slip.bill_tax_units, slip=slip)


def _lowers(line: CreditLine) -> bool:
    """A line that lowers the bill (a coupon's discount, a credit, reduced scope) cannot be a credit note's."""
    return line.amount_units < 0 or line.tax_units < 0


def _amount_line(invoice: Invoice, amount_units: int, description: str) -> CreditLine:
    """An amount credited, its tax in the invoice's own proportion of tax to total."""
    if invoice.total_units <= 0:
        return CreditLine(description=description, amount_units=amount_units, tax_units=0)
    [tax, _net] = allocate(amount_units, [invoice.tax_units, invoice.total_units - invoice.tax_units])
    return CreditLine(description=description, amount_units=amount_units - tax, tax_units=tax)


def credit_lines(
    invoice: Invoice, *, whole: bool = False, slip_ids=(), amount_units: int | None = None, description: str = ""
) -> list[CreditLine]:
    """What a credit note takes back: the whole invoice (what is left to credit), chosen lines, or an amount."""
    if whole:
        credited = CreditNote.objects.filter(invoice=invoice).aggregate(s=Sum("total_units", default=0))["s"]
        if credited == 0:
            lines = [_slip_line(slip) for slip in invoice_lines(invoice)]
            if lines and not any(_lowers(line) for line in lines):
                return lines
            # No lines, or some lower the bill (a coupon, a credit): a credit note's lines are never negative.
            return [_amount_line(invoice, invoice.total_units, "The whole invoice")]
        return [_amount_line(invoice, invoice.total_units - credited, "The rest of the invoice")]
    if slip_ids:
        chosen = {int(pk) for pk in slip_ids}
        lines = [_slip_line(slip) for slip in invoice_lines(invoice) if slip.pk in chosen]
        if len(lines) != len(chosen):
            raise BillingRuleError("Choose lines of this invoice.", field="lines")
        lowering = next((line for line in lines if _lowers(line)), None)
        if lowering is not None:
            raise BillingRuleError(
                f"“{lowering.description}” lowers the invoice: it cannot be credited. Credit the whole invoice, "
                "other lines or an amount.",
                field="lines",
            )
        return lines
    return [_amount_line(invoice, amount_units or 0, description.strip() or "Credit")]


@transaction.atomic
def credit_note_issue(
    *,
    invoice: Invoice,
    reason: str,
    whole: bool = False,
    slip_ids=(),
    amount_units: int | None = None,
    description: str = "",
    user=None,
    expected_status: str | None = None,
    expected_creditable_units: int | None = None,
    issue_date: datetime.date | None = None,
) -> CreditNote:
    """Issue a credit note against an issued AR invoice (the whole of it, chosen lines, or an amount). It is
    numbered in the partner's CN series, applied to the invoice's balance as far as it goes, and leaves the rest
    as the customer's credit; its PDF and e-mail follow from the worker.

    ``expected_creditable_units``: what was left to credit on the page the request came from; checked under the
    invoice's lock, so a double submit (even two at once) issues one credit note and refuses the other."""
    invoice = invoice_lock(invoice.pk, expected_status=expected_status)  # before the lines are read
    if expected_creditable_units is not None and InvoiceFacts(invoice).creditable_units != expected_creditable_units:
        raise TransitionRefused(
            Refusal(f"{invoice} was credited meanwhile; nothing was changed. Check it and try again.")
        )
    lines = credit_lines(invoice, whole=whole, slip_ids=slip_ids, amount_units=amount_units, description=description)
    total = sum(line.total_units for line in lines)
    params = {"amount_units": total, "reason": reason}
    invoice = action_begin("credit", invoice.pk, user=user, expected_status=expected_status, params=params)
    issue_date = issue_date or timezone.localdate(timezone=invoice.partner.tzinfo)
    [(sequence, number)] = number_take(partner=invoice.partner, series=Series.CREDIT_NOTE, on_date=issue_date)
    note = CreditNote.objects.create(
        partner_id=invoice.partner_id,
        invoice=invoice,
        customer_id=invoice.customer_id,
        number=number,
        sequence=sequence,
        currency=invoice.currency,
        issue_date=issue_date,
        issued_at=timezone.now(),
        reason=reason.strip(),
        subtotal_units=sum(line.amount_units for line in lines),
        tax_units=sum(line.tax_units for line in lines),
        total_units=total,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(
            credit_note=note,
            slip=line.slip,
            position=position,
            description=line.description[:500],
            amount_units=line.amount_units,
            tax_units=line.tax_units,
        )
        for position, line in enumerate(lines, start=1)
    )
    from_status = invoice.status
    _apply(note, invoice, min(total, max(invoice.outstanding_units, 0)), user=user, on=issue_date)
    data = {"credit_note": number, "credit_note_id": note.pk, "total_units": total, "applied_units": note.applied_units}
    action_done("credit", invoice, user=user, from_status=from_status, reason=note.reason, data=data, subject=note)
    return note


def _apply(note: CreditNote, invoice: Invoice, amount: int, *, user, on: datetime.date) -> None:
    """Lower ``invoice``'s balance by ``amount`` of ``note``'s credit (both rows locked by the caller)."""
    if amount <= 0:
        return
    CreditApplication.objects.create(
        credit_note=note,
        invoice=invoice,
        amount_units=amount,
        applied_on=on,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    note.applied_units += amount
    note.save(update_fields=["applied_units"])
    invoice.credited_units += amount
    invoice.status = settled_status(invoice)
    invoice.save(update_fields=["credited_units", "status", "updated_at"])


@transaction.atomic
def credit_apply(
    *,
    credit_note: CreditNote,
    invoice: Invoice,
    amount_units: int,
    user=None,
    expected_status: str | None = None,
    expected_credit_left_units: int | None = None,
    expected_outstanding_units: int | None = None,
) -> CreditApplication:
    """Apply a customer's credit (what a credit note has left) to another of their open invoices.
    ``expected_credit_left_units`` / ``expected_outstanding_units``: the credit left or the invoice's balance the
    page showed, checked under the locks (a double submit, even two at once, applies it once)."""
    invoice = invoice_lock(invoice.pk, expected_status=expected_status)  # the lock order: invoices, then notes
    note = CreditNote.objects.select_for_update().get(pk=credit_note.pk)
    moved = (expected_credit_left_units is not None and note.credit_left_units != expected_credit_left_units) or (
        expected_outstanding_units is not None and invoice.outstanding_units != expected_outstanding_units
    )
    if moved:
        raise TransitionRefused(
            Refusal("The credit or the balance changed meanwhile; nothing was changed. Check them.")
        )
    params = {"credit_note": note, "amount_units": amount_units}
    invoice = action_begin("apply_credit", invoice.pk, user=user, params=params)
    from_status = invoice.status
    _apply(note, invoice, amount_units, user=user, on=timezone.localdate(timezone=invoice.partner.tzinfo))
    data = {"credit_note": note.number, "credit_note_id": note.pk, "amount_units": amount_units}
    action_done("apply_credit", invoice, user=user, from_status=from_status, data=data)
    audit_record(target=note, action="credit_applied", actor=user, data={"invoice": str(invoice), **data})
    return note.applications.latest("id")


# --- refunds --------------------------------------------------------------------------------------------------


def refundable_units(payment: Payment) -> int:
    """What a payment may still pay back: refunds made or under way counted."""
    back = payment.refunds.exclude(status=Refund.Status.FAILED).aggregate(s=Sum("amount_units", default=0))["s"]
    return payment.amount_units - back


@transaction.atomic
def payment_refund(
    *,
    payment: Payment,
    amount_units: int,
    credit_note: CreditNote | None = None,
    reason: str = "",
    reference: str = "",
    user=None,
    idempotency_key: str | None = None,
) -> Refund:
    """Pay back ``amount_units`` of a payment: a card payment through the gateway (pending until the worker hears
    back), a check or transfer as made now (``reference``: the check number sent back). ``credit_note``: out of
    its remaining credit. A double submit with the same ``idempotency_key`` returns the first refund."""
    if idempotency_key:
        earlier = Refund.objects.filter(partner_id=payment.partner_id, idempotency_key=idempotency_key).first()
        if earlier is not None:
            return earlier
    invoice = invoice_lock(payment.invoice_id)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    note = CreditNote.objects.select_for_update().get(pk=credit_note.pk) if credit_note is not None else None
    params = {
        "payment": payment,
        "amount_units": amount_units,
        "credit_note": note,
        "payment_refundable_units": refundable_units(payment),
    }
    invoice = action_begin("refund", invoice.pk, user=user, params=params)
    if note is not None and note.invoice.customer_id != invoice.customer_id:
        raise BillingRuleError("That credit note is another customer's.", field="credit_note")
    refund = Refund.objects.create(
        partner_id=payment.partner_id,
        payment=payment,
        invoice=invoice,
        credit_note=note,
        amount_units=amount_units,
        method=payment.method,
        reason=reason.strip()[:500],
        reference=reference.strip()[:100],
        idempotency_key=idempotency_key or None,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    data = {"refund_id": refund.pk, "payment_id": payment.pk, "amount_units": amount_units, "method": payment.method}
    if payment.method == Payment.Method.CARD:  # the gateway is asked by the worker (outbox)
        action_done(
            "refund",
            invoice,
            user=user,
            from_status=invoice.status,
            audit_action="refund_queued",
            data=data,
            subject=refund,
        )
        return refund
    from_status = invoice.status
    refund = refund_settle(refund, reference=refund.reference, user=user)
    invoice.refresh_from_db(fields=["paid_units", "status"])
    action_done("refund", invoice, user=user, from_status=from_status, data=data, deliver=False)
    return refund


def refund_settle(refund: Refund, *, reference: str, user=None) -> Refund:
    """The money went back: the refund is made, its payment, its credit note or its invoice's balance follow, and
    the customer gets a receipt. Inside the caller's transaction, with the invoice locked."""
    invoice = invoice_lock(refund.invoice_id)
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status == Refund.Status.SUCCEEDED:
        return refund
    refund.status, refund.reference, refund.error = Refund.Status.SUCCEEDED, reference[:100], ""
    refund.refunded_on = timezone.localdate(timezone=invoice.partner.tzinfo)
    refund.save(update_fields=["status", "reference", "error", "refunded_on"])
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    payment.refunded_units += refund.amount_units
    payment.save(update_fields=["refunded_units"])
    from_status = invoice.status
    if refund.credit_note_id:
        note = CreditNote.objects.select_for_update().get(pk=refund.credit_note_id)
        note.refunded_units += refund.amount_units
        note.save(update_fields=["refunded_units"])
    else:
        invoice.paid_units -= refund.amount_units
        invoice.status = settled_status(invoice)
        invoice.save(update_fields=["paid_units", "status", "updated_at"])
    audit_record(
        target=invoice,
        action="refund",
        actor=user,
        from_status=from_status,
        to_status=invoice.status,
        data={"refund_id": refund.pk, "amount_units": refund.amount_units, "reference": refund.reference},
    )
    outbox_add(invoice=invoice, kinds=[OutboxJob.Kind.RECEIPT], subject=refund)
    return refund


def refund_through_gateway(refund: Refund) -> Refund:
    """The worker's part of a card refund: ask the gateway (the same key on every attempt, so it refunds once),
    then record the outcome. A refusal is recorded on the refund (shown on the invoice; it stays pending and
    counts as under way) and raised for the outbox to retry, or for staff to retry once the outbox gives up."""
    refund = Refund.objects.select_related("payment", "invoice").get(pk=refund.pk)
    if refund.status == Refund.Status.SUCCEEDED:
        return refund
    result = payment_gateway().refund(
        charge_reference=refund.payment.reference,
        amount_units=refund.amount_units,
        currency=refund.invoice.currency,
        idempotency_key=f"refund-{refund.pk}",
    )
    if not result.succeeded:
        message = f"Card not refunded: {result.message or 'the gateway refused it.'}"
        Refund.objects.filter(pk=refund.pk).update(error=message[:2000])
        raise RefundFailed(message)
    with transaction.atomic():
        return refund_settle(refund, reference=result.reference)


class RefundFailed(BillingRuleError):
    """The gateway did not refund (yet); the outbox tries again."""
