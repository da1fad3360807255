"""Recording payments: partial allowed, overpayment refused, a double submit never doubles anything."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import BillingRuleError, InvalidTransition
from .models import Invoice, Payment
from .workflow import action_begin, action_done, settled_status

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

    ``idempotency_key`` (the form's one-time token) makes a double-submitted payment a no-op that returns the
    first one, marked ``replayed``. ``expected_status`` is the invoice's status as the caller saw it: a payment
    on an invoice that moved meanwhile is refused (a double submit with the same key still returns the first).
    """
    if idempotency_key:
        existing = Payment.objects.filter(partner_id=invoice.partner_id, idempotency_key=idempotency_key).first()
        if existing:
            existing.replayed = True
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
                existing.replayed = True
                return existing
        raise


def _payment_record(invoice, amount_units, method, reference, received_on, user, idempotency_key, expected_status=None):
    reference = (reference or "").strip()
    params = {"amount_units": amount_units, "method": method, "reference": reference, "received_on": received_on}
    invoice = action_begin("record_payment", invoice.pk, user=user, expected_status=expected_status, params=params)
    return payment_apply(
        invoice=invoice,
        amount_units=amount_units,
        method=method,
        reference=reference,
        received_on=received_on,
        user=user,
        idempotency_key=idempotency_key,
    )


def payment_apply(
    *,
    invoice: Invoice,
    amount_units: int,
    method: str,
    reference: str = "",
    received_on: datetime.date | None = None,
    user=None,
    idempotency_key: str | None = None,
) -> Payment:
    """The change a payment makes, on an invoice its action has locked and checked (``record_payment`` above, or a
    card charge in ``invoicing.charging``): the payment row, the invoice's paid amount and status, the audit row."""
    payment = Payment.objects.create(
        partner_id=invoice.partner_id,
        invoice=invoice,
        amount_units=amount_units,
        method=method,
        reference=reference,
        received_on=received_on or timezone.localdate(),
        created_by=user if user is not None and user.is_authenticated else None,
        idempotency_key=idempotency_key or None,
    )
    from_status = invoice.status
    invoice.paid_units += amount_units
    invoice.status = settled_status(invoice)
    invoice.save(update_fields=["paid_units", "status", "updated_at"])
    data = {"payment_id": payment.pk, "amount_units": amount_units, "method": method, "reference": reference}
    audit = {"audit_action": "payment", "data": data, "subject": payment}
    action_done("record_payment", invoice, user=user, from_status=from_status, **audit)
    return payment
