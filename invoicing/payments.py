"""Recording payments: partial allowed, overpayment refused, a double submit never doubles anything."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .audit import audit_record
from .errors import BillingRuleError, InvalidTransition
from .lifecycle import invoice_lock, settled_status
from .models import Invoice, Payment

Status = Invoice.Status


def payment_record(
    *,
    invoice: Invoice,
    amount_units: int,
    method: str,
    reference: str = "",
    received_on: datetime.date | None = None,
    user=None,
    idempotency_key: str | None = None,
    expected_status: str | None = None,
) -> Payment:
    """Record money received against an issued invoice: Partially Paid, then Paid.

    ``idempotency_key`` (the form's one-time token) makes a double-submitted payment a no-op that
    returns the first one. ``expected_status`` is the invoice's status as the caller saw it: a payment on
    an invoice that moved meanwhile is refused (a double submit with the same key still returns the first).
    """
    if idempotency_key:
        existing = Payment.objects.filter(partner_id=invoice.partner_id, idempotency_key=idempotency_key).first()
        if existing:
            return existing
    try:
        with transaction.atomic():
            return _payment_record(
                invoice, amount_units, method, reference, received_on, user, idempotency_key, expected_status
            )
    except (IntegrityError, BillingRuleError, InvalidTransition):  # lost a race with the same idempotency key?
        if idempotency_key:
            existing = Payment.objects.filter(partner_id=invoice.partner_id, idempotency_key=idempotency_key).first()
            if existing:
                return existing
        raise


def _payment_record(invoice, amount_units, method, reference, received_on, user, idempotency_key, expected_status=None):
    if amount_units is None or amount_units <= 0:
        raise BillingRuleError("A payment must be more than zero.", field="amount")
    if method not in Payment.Method.values:
        raise BillingRuleError("Choose how the payment was made: check, card or transfer.", field="method")
    reference = (reference or "").strip()
    if method == Payment.Method.CHECK and not reference:
        raise BillingRuleError("Enter the check number.", field="reference")
    invoice = invoice_lock(invoice.pk, expected_status=expected_status)
    if invoice.status not in Invoice.OPEN_STATUSES:
        if invoice.status == Status.DRAFT:
            raise InvalidTransition("Issue the invoice before recording a payment on it.")
        raise InvalidTransition(f"A {invoice.get_status_display().lower()} invoice takes no payment.")
    if amount_units > invoice.outstanding_units:
        from octoo_billing.money import format_units

        balance = format_units(invoice.outstanding_units, invoice.currency)
        raise BillingRuleError(f"That is more than the outstanding balance of {balance}.", field="amount")
    received_on = received_on or timezone.localdate()
    if received_on > timezone.localdate():
        raise BillingRuleError("A payment cannot be received in the future.", field="received_on")
    payment = Payment.objects.create(
        partner_id=invoice.partner_id,
        invoice=invoice,
        amount_units=amount_units,
        method=method,
        reference=reference,
        received_on=received_on,
        created_by=user if user is not None and user.is_authenticated else None,
        idempotency_key=idempotency_key or None,
    )
    from_status = invoice.status
    invoice.paid_units += amount_units
    invoice.status = settled_status(invoice)
    invoice.save(update_fields=["paid_units", "status", "updated_at"])
    audit_record(
        target=invoice,
        action="payment",
        actor=user,
        from_status=from_status,
        to_status=invoice.status,
        data={"payment_id": payment.pk, "amount_units": amount_units, "method": method, "reference": reference},
    )
    return payment
