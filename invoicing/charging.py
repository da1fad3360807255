"""Charging the card on file (seed 001: "if auto-charge is enabled, payment is processed immediately"), through
the payment gateway (``invoicing.gateways``).

A customer's card on file is the gateway's token plus the brand and the last four digits; the card number
itself is never stored. ``invoice_charge`` charges an invoice's outstanding balance and records the payment
through ``invoicing.payments.payment_apply``; a decline or an error is recorded on the invoice
(``charge_error``) and in the audit trail, and the invoice stays as it was (Pending).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.recording import audit_record, audit_trail

from .errors import BillingError, BillingRuleError
from .gateways import StoredCard, payment_gateway
from .models import Invoice, Payment
from .payments import payment_apply
from .workflow import Actor, TransitionRefused, action_check, action_done, action_refusals, actor_for, invoice_lock

# --- Domain functions -----------------------------------------------------------------------------------


def customer_card_save(*, customer, number: str, exp_month: int, exp_year: int, user=None):
    """Put a card on file: the gateway keeps the card, the customer keeps its token and last four digits."""
    card = payment_gateway().card_store(number=number, exp_month=exp_month, exp_year=exp_year)
    return customer_card_keep(customer=customer, card=card, user=user)


def customer_card_keep(*, customer, card: StoredCard, user=None):
    """Keep a card the gateway already tokenised (e.g. one just charged) on file for later charges."""
    customer.card_token, customer.card_brand, customer.card_last4 = card.token, card.brand, card.last4
    customer.save(update_fields=["card_token", "card_brand", "card_last4"])
    audit_record(
        target=customer,
        action="card_saved",
        actor=user,
        data={"brand": card.brand, "last4": card.last4},
    )
    return customer


def customer_card_remove(*, customer, user=None):
    last4 = customer.card_last4
    customer.card_token = customer.card_brand = customer.card_last4 = ""
    customer.save(update_fields=["card_token", "card_brand", "card_last4"])
    audit_record(target=customer, action="card_removed", actor=user, data={"last4": last4})
    return customer


@dataclass(frozen=True)
class ChargeOutcome:
    status: str  # succeeded, declined, error, not_charged, nothing_due
    message: str = ""
    payment: Payment | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def auto_charge_applies(invoice: Invoice) -> bool:
    return invoice.kind == Invoice.Kind.AR and invoice.customer is not None and invoice.customer.charges_automatically


def invoice_charge(
    *,
    invoice: Invoice,
    user=None,
    idempotency_key: str | None = None,
    automatic: bool = False,
    card: StoredCard | None = None,
    actor: Actor | None = None,
) -> ChargeOutcome:
    """Charge an issued AR invoice's outstanding balance to the customer's card on file (staff's Charge, the
    worker's auto-charge), or, for the customer paying in the portal, to ``card``, a card the gateway tokenised for
    this one payment (workflow actions ``charge`` and ``pay_by_card``).

    Success records a card payment (Partially Paid / Paid as usual). A decline or a processing error records
    ``charge_error`` and a ``charge_failed`` audit event, and leaves the invoice's status alone. The invoice row is
    locked for the whole charge, so two charges of one invoice can never both go through; ``idempotency_key``
    makes a redelivered task or a double-submitted form a no-op once its payment exists. ``actor``: who acts when
    no signed-in user does (the pay link: the system on the customer's behalf, ``invoicing.workflow.action_check``).
    """
    key = idempotency_key or f"charge-{invoice.pk}-{secrets.token_hex(6)}"
    action = "pay_by_card" if card is not None else "charge"
    with transaction.atomic():
        invoice = invoice_lock(invoice.pk)
        # A redelivered task or a double-submitted form finds its payment, even once the invoice is Paid.
        existing = Payment.objects.filter(partner_id=invoice.partner_id, idempotency_key=key).first()
        if existing is not None:
            return ChargeOutcome(status="succeeded", payment=existing)
        action_check(action, invoice, user=user, actor=actor)
        amount = invoice.outstanding_units
        token, last4 = (card.token, card.last4) if card else (invoice.customer.card_token, invoice.customer.card_last4)
        gateway = payment_gateway()
        result = gateway.charge(
            token=token,
            amount_units=amount,
            currency=invoice.currency,
            idempotency_key=key,
            description=f"{invoice.partner.name} invoice {invoice.number}",
        )
        label = f"card ending {last4}" if last4 else "card"
        data = {"gateway": gateway.name, "amount_units": amount, "status": result.status, "automatic": automatic}
        if not result.succeeded:
            message = result.message or "The charge did not go through."
            if result.status in ("declined", "error"):
                message = f"{label.capitalize()} not charged: {message}"
            return _charge_failed(invoice, user, ChargeOutcome(status=result.status, message=message), data)
        from_status = invoice.status
        payment = payment_apply(
            invoice=invoice,
            amount_units=amount,
            method=Payment.Method.CARD,
            reference=result.reference,
            received_on=timezone.localdate(),
            user=user,
            idempotency_key=key,
        )
        Invoice.objects.filter(pk=invoice.pk).update(charge_error="")
        data = {**data, "reference": result.reference, "payment_id": payment.pk, "last4": last4}
        reason = f"Charged {label}"
        action_done(
            action, invoice, user=user, from_status=from_status, audit_action="charge", reason=reason, data=data
        )
        return ChargeOutcome(status="succeeded", payment=payment)


def _charge_failed(invoice: Invoice, user, outcome: ChargeOutcome, data: dict) -> ChargeOutcome:
    """A charge that did not go through: on the invoice (``charge_error``) and in its audit trail."""
    invoice.charge_error = outcome.message
    invoice.save(update_fields=["charge_error", "updated_at"])
    audit_record(
        target=invoice,
        action="charge_failed",
        actor=user,
        from_status=invoice.status,
        to_status=invoice.status,
        reason=outcome.message,
        data=data,
    )
    return outcome


def invoice_payable_by_card(invoice: Invoice, user, *, actor: Actor | None = None) -> bool:
    """Whether ``user`` (the invoice's customer) may pay this invoice's balance by card now (the portal's Pay, or
    with ``actor`` the pay link's)."""
    return not action_refusals("pay_by_card", invoice, actor or actor_for(user, invoice))


def invoice_pay_by_card(
    *,
    invoice: Invoice,
    user,
    idempotency_key: str,
    number: str = "",
    exp_month: int | None = None,
    exp_year: int | None = None,
    keep_on_file: bool = False,
    actor: Actor | None = None,
) -> ChargeOutcome:
    """A customer pays an invoice's balance by card in the portal: with the card on file (no ``number``), or
    with a card typed in, kept on file for later charges when ``keep_on_file`` and the charge went through.
    The same ``idempotency_key`` (one per payment form shown) never charges twice. ``actor``: who acts without a
    signed-in user (the pay link: ``Actor(Role.CUSTOMER)``, the system on the customer's behalf)."""
    existing = Payment.objects.filter(partner_id=invoice.partner_id, idempotency_key=idempotency_key).first()
    if existing is not None:
        return ChargeOutcome(status="succeeded", payment=existing)
    customer = invoice.customer
    if not number:
        if not customer.card_token:
            raise BillingRuleError("There is no card on file: enter the card to pay with.", field="number")
        card = StoredCard(token=customer.card_token, brand=customer.card_brand, last4=customer.card_last4)
        return invoice_charge(invoice=invoice, user=user, idempotency_key=idempotency_key, card=card, actor=actor)
    action_check("pay_by_card", invoice, user=user, actor=actor)  # refused before the gateway sees the card
    card = payment_gateway().card_store(number=number, exp_month=exp_month, exp_year=exp_year)
    outcome = invoice_charge(invoice=invoice, user=user, idempotency_key=idempotency_key, card=card, actor=actor)
    if keep_on_file and outcome.succeeded:  # a card that was declined is not kept
        customer_card_keep(customer=customer, card=card, user=user)
    return outcome


def auto_charge_key(invoice: Invoice) -> str:
    """The idempotency key of an invoice's automatic charge: one automatic charge per invoice, ever."""
    return f"auto-charge-{invoice.pk}"


def invoice_auto_charge(*, invoice: Invoice) -> ChargeOutcome:
    """The charge the worker makes after an issue, when the customer pays by card with auto-charge on.

    Made once: a retried task finds the payment (idempotency key) or the final decline and charges nothing
    again; only a processing error is tried again. After a decline, staff charge by hand (office button). When
    the workflow refuses the charge (paid meanwhile, no card on file), nothing is charged: an invoice with a
    balance records why on the invoice."""
    invoice = Invoice.objects.select_related("customer").get(pk=invoice.pk)
    if not auto_charge_applies(invoice):
        return ChargeOutcome(status="nothing_due", message="Auto-charge is off for this customer.")
    for event in audit_trail(invoice).filter(action="charge_failed"):
        if event.data.get("automatic") and event.data.get("status") != "error":
            return ChargeOutcome(status=event.data.get("status", "declined"), message=event.reason)
    existing = Payment.objects.filter(partner_id=invoice.partner_id, idempotency_key=auto_charge_key(invoice)).first()
    if existing is not None:
        return ChargeOutcome(status="succeeded", payment=existing)
    try:
        return invoice_charge(invoice=invoice, idempotency_key=auto_charge_key(invoice), automatic=True)
    except BillingError as error:
        if isinstance(error, TransitionRefused) or invoice.outstanding_units <= 0:
            return ChargeOutcome(status="nothing_due", message=error.message)
        with transaction.atomic():
            invoice = invoice_lock(invoice.pk)
            outcome = ChargeOutcome(status="not_charged", message=f"Not charged: {error.message}")
            data = {"gateway": payment_gateway().name, "status": "not_charged", "automatic": True}
            return _charge_failed(invoice, None, outcome, data)


__all__ = [
    "ChargeOutcome",
    "auto_charge_applies",
    "customer_card_keep",
    "customer_card_remove",
    "customer_card_save",
    "invoice_auto_charge",
    "invoice_charge",
    "invoice_pay_by_card",
    "invoice_payable_by_card",
]
