"""Charging the card on file (seed 001: "if auto-charge is enabled, payment is processed immediately").

A small payment-gateway interface with two backends, chosen by ``settings.PAYMENT_GATEWAY``:

- ``"manual"``: charges nothing; card payments are taken by hand and recorded as payments.
- ``"simulated"`` (the default, for the demo and tests): a card processor in memory with test card numbers
  that succeed, are declined or fail with a processing error (``SimulatedCardGateway.TEST_CARDS``).

A customer's card on file is the gateway's token plus the brand and the last four digits; the card number
itself is never stored. ``invoice_charge`` charges an invoice's outstanding balance and records the payment
through ``invoicing.payments.payment_record``; a decline or an error is recorded on the invoice
(``charge_error``) and in the audit trail, and the invoice stays as it was (Pending).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .audit import audit_record
from .errors import BillingRuleError
from .lifecycle import invoice_lock
from .models import Invoice, Payment
from .payments import payment_record


@dataclass(frozen=True)
class StoredCard:
    token: str
    brand: str
    last4: str


@dataclass(frozen=True)
class ChargeResult:
    """What the gateway answered. ``status``: succeeded, declined, error (try again later) or not_charged."""

    status: str
    reference: str = ""
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class PaymentGateway(Protocol):
    name: str
    charges_cards: bool

    def card_store(self, *, number: str, exp_month: int, exp_year: int) -> StoredCard: ...

    def charge(
        self, *, token: str, amount_units: int, currency: str, idempotency_key: str, description: str
    ) -> ChargeResult: ...


class ManualGateway:
    """No card processor: nothing is charged automatically."""

    name = "manual"
    charges_cards = False

    def card_store(self, *, number: str, exp_month: int, exp_year: int) -> StoredCard:
        raise BillingRuleError("Cards cannot be kept on file with the manual payment gateway.")

    def charge(self, *, token, amount_units, currency, idempotency_key, description) -> ChargeResult:
        return ChargeResult(
            status="not_charged",
            message="Not charged: the payment gateway is manual. Charge the card by hand, then record the payment.",
        )


def _digits(number: str) -> str:
    return "".join(ch for ch in str(number or "") if ch in "0123456789")


def luhn_valid(number: str) -> bool:
    digits = _digits(number)
    if not 12 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class SimulatedCardGateway:
    """A card processor for the demo and the tests. Only the test card numbers below are accepted."""

    name = "simulated"
    charges_cards = True
    # number -> (brand, behaviour, message shown on failure)
    TEST_CARDS = {
        "4242424242424242": ("Visa", "ok", ""),
        "5555555555554444": ("Mastercard", "ok", ""),
        "4000000000000002": ("Visa", "declined", "The card was declined."),
        "4000000000009995": ("Visa", "declined_funds", "The card was declined: insufficient funds."),
        "4000000000000119": ("Visa", "error", "The card processor had a processing error; try again later."),
    }
    BEHAVIOURS = {behaviour: message for _brand, behaviour, message in TEST_CARDS.values()}

    def card_store(self, *, number: str, exp_month: int, exp_year: int) -> StoredCard:
        digits = _digits(number)
        if not luhn_valid(digits):
            raise BillingRuleError("That card number is not valid: check the digits.")
        today = timezone.localdate()
        if not 1 <= int(exp_month) <= 12:
            raise BillingRuleError("The expiry month must be between 1 and 12.")
        if (int(exp_year), int(exp_month)) < (today.year, today.month):
            raise BillingRuleError("That card has expired.")
        if digits not in self.TEST_CARDS:
            raise BillingRuleError(
                "The simulated gateway only accepts its test cards, e.g. 4242 4242 4242 4242 (succeeds) or "
                "4000 0000 0000 0002 (declined)."
            )
        brand, behaviour, _message = self.TEST_CARDS[digits]
        return StoredCard(token=f"sim_{behaviour}_{secrets.token_hex(8)}", brand=brand, last4=digits[-4:])

    def charge(self, *, token, amount_units, currency, idempotency_key, description) -> ChargeResult:
        behaviour = token[4:].rsplit("_", 1)[0] if token.startswith("sim_") else ""
        if behaviour not in self.BEHAVIOURS:
            return ChargeResult(status="declined", message="The card on file is not known to the gateway.")
        if behaviour != "ok":
            status = "error" if behaviour == "error" else "declined"
            return ChargeResult(status=status, message=self.BEHAVIOURS[behaviour])
        # The same idempotency key always gives the same charge reference, as a real gateway would.
        reference = "sim_ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        return ChargeResult(status="succeeded", reference=reference)


GATEWAYS = {"manual": ManualGateway, "simulated": SimulatedCardGateway}


def payment_gateway() -> PaymentGateway:
    name = getattr(settings, "PAYMENT_GATEWAY", "simulated")
    try:
        return GATEWAYS[name]()
    except KeyError:
        raise BillingRuleError(f"Unknown payment gateway {name!r} (PAYMENT_GATEWAY).") from None


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
) -> ChargeOutcome:
    """Charge an issued AR invoice's outstanding balance to the customer's card on file (or to ``card``, a
    card the gateway tokenised for this one payment).

    Success records a card payment (Partially Paid / Paid as usual). A decline, a processing error, a missing
    card or the manual gateway records ``charge_error`` and a ``charge_failed`` audit event, and leaves the
    invoice's status alone. The invoice row is locked for the whole charge, so two charges of one invoice can
    never both go through; ``idempotency_key`` makes a redelivered task a no-op once its payment exists.
    """
    key = idempotency_key or f"charge-{invoice.pk}-{secrets.token_hex(6)}"
    with transaction.atomic():
        invoice = invoice_lock(invoice.pk)
        if invoice.kind != Invoice.Kind.AR:
            raise BillingRuleError("Only AR invoices are charged to a customer's card.")
        # A redelivered task or a double-submitted form finds its payment, even once the invoice is Paid.
        existing = Payment.objects.filter(partner_id=invoice.partner_id, idempotency_key=key).first()
        if existing is not None:
            return ChargeOutcome(status="succeeded", payment=existing)
        if invoice.status not in Invoice.OPEN_STATUSES:
            if automatic:
                return ChargeOutcome(status="nothing_due", message=f"{invoice} is {invoice.get_status_display()}.")
            raise BillingRuleError(f"A {invoice.get_status_display().lower()} invoice is not charged.")
        amount = invoice.outstanding_units
        if amount <= 0:
            return ChargeOutcome(status="nothing_due", message="Nothing is left to pay.")
        customer = invoice.customer
        gateway = payment_gateway()
        token, last4 = (card.token, card.last4) if card else (customer.card_token, customer.card_last4)
        if not token:
            result = ChargeResult(status="not_charged", message=f"Not charged: {customer} has no card on file.")
        else:
            result = gateway.charge(
                token=token,
                amount_units=amount,
                currency=invoice.currency,
                idempotency_key=key,
                description=f"{invoice.partner.name} invoice {invoice.number}",
            )
        card = f"card ending {last4}" if last4 else "card"
        data = {"gateway": gateway.name, "amount_units": amount, "status": result.status, "automatic": automatic}
        if not result.succeeded:
            message = result.message or "The charge did not go through."
            if result.status in ("declined", "error"):
                message = f"{card.capitalize()} not charged: {message}"
            invoice.charge_error = message
            invoice.save(update_fields=["charge_error", "updated_at"])
            audit_record(
                target=invoice,
                action="charge_failed",
                actor=user,
                from_status=invoice.status,
                to_status=invoice.status,
                reason=message,
                data=data,
            )
            return ChargeOutcome(status=result.status, message=message)
        payment = payment_record(
            invoice=invoice,
            amount_units=amount,
            method=Payment.Method.CARD,
            reference=result.reference,
            received_on=timezone.localdate(),
            user=user,
            idempotency_key=key,
        )
        Invoice.objects.filter(pk=invoice.pk).update(charge_error="")
        audit_record(
            target=invoice,
            action="charge",
            actor=user,
            reason=f"Charged {card}",
            data={**data, "reference": result.reference, "payment_id": payment.pk},
        )
        return ChargeOutcome(status="succeeded", payment=payment)


def invoice_payable_by_card(invoice: Invoice) -> bool:
    """Whether a customer may pay this invoice's balance by card now (the portal's Pay form)."""
    return (
        invoice.kind == Invoice.Kind.AR
        and invoice.status in Invoice.OPEN_STATUSES
        and invoice.outstanding_units > 0
        and payment_gateway().charges_cards
    )


def invoice_pay_by_card(
    *,
    invoice: Invoice,
    user,
    idempotency_key: str,
    number: str = "",
    exp_month: int | None = None,
    exp_year: int | None = None,
    keep_on_file: bool = False,
) -> ChargeOutcome:
    """A customer pays an invoice's balance by card in the portal: with the card on file (no ``number``), or
    with a card typed in, kept on file for later charges when ``keep_on_file`` and the charge went through.
    The same ``idempotency_key`` (one per payment form shown) never charges twice."""
    existing = Payment.objects.filter(partner_id=invoice.partner_id, idempotency_key=idempotency_key).first()
    if existing is not None:
        return ChargeOutcome(status="succeeded", payment=existing)
    if not invoice_payable_by_card(invoice):
        raise BillingRuleError("There is nothing to pay by card on this invoice.")
    if not number:
        if not invoice.customer.card_token:
            raise BillingRuleError("There is no card on file: enter the card to pay with.")
        return invoice_charge(invoice=invoice, user=user, idempotency_key=idempotency_key)
    card = payment_gateway().card_store(number=number, exp_month=exp_month, exp_year=exp_year)
    outcome = invoice_charge(invoice=invoice, user=user, idempotency_key=idempotency_key, card=card)
    if keep_on_file and outcome.succeeded:  # a card that was declined is not kept
        customer_card_keep(customer=invoice.customer, card=card, user=user)
    return outcome


def auto_charge_key(invoice: Invoice) -> str:
    """The idempotency key of an invoice's automatic charge: one automatic charge per invoice, ever."""
    return f"auto-charge-{invoice.pk}"


def invoice_auto_charge(*, invoice: Invoice) -> ChargeOutcome:
    """The charge the worker makes after an issue, when the customer pays by card with auto-charge on.

    Made once: a retried task finds the payment (idempotency key) or the final decline and charges nothing
    again; only a processing error is tried again. After a decline, staff charge by hand (office button)."""
    from .audit import audit_trail

    invoice = Invoice.objects.select_related("customer").get(pk=invoice.pk)
    if not auto_charge_applies(invoice):
        return ChargeOutcome(status="nothing_due", message="Auto-charge is off for this customer.")
    for event in audit_trail(invoice).filter(action="charge_failed"):
        if event.data.get("automatic") and event.data.get("status") != "error":
            return ChargeOutcome(status=event.data.get("status", "declined"), message=event.reason)
    return invoice_charge(invoice=invoice, idempotency_key=auto_charge_key(invoice), automatic=True)


__all__ = [
    "ChargeOutcome",
    "ChargeResult",
    "GATEWAYS",
    "ManualGateway",
    "PaymentGateway",
    "SimulatedCardGateway",
    "StoredCard",
    "auto_charge_applies",
    "customer_card_keep",
    "customer_card_remove",
    "customer_card_save",
    "invoice_auto_charge",
    "invoice_charge",
    "invoice_pay_by_card",
    "invoice_payable_by_card",
    "luhn_valid",
    "payment_gateway",
]
