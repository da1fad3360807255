"""The payment-gateway interface and its two backends, chosen by ``settings.PAYMENT_GATEWAY``:

- ``"manual"``: charges nothing; card payments are taken by hand and recorded as payments.
- ``"simulated"`` (the default, for the demo and tests): a card processor in memory with test card numbers
  that succeed, are declined or fail with a processing error (``SimulatedCardGateway.TEST_CARDS``).

A card is the gateway's token plus the brand and the last four digits; the card number itself is never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from octoo_billing.cards import luhn_valid

from .errors import BillingRuleError


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

    def refund(self, *, charge_reference: str, amount_units: int, currency: str, idempotency_key: str) -> ChargeResult:
        """Pay back part or all of a charge: ``succeeded`` with the refund's reference, or why not."""
        ...

    def charge(
        self, *, token: str, amount_units: int, currency: str, idempotency_key: str, description: str
    ) -> ChargeResult: ...


class ManualGateway:
    """No card processor: nothing is charged automatically."""

    name = "manual"
    charges_cards = False

    def card_store(self, *, number: str, exp_month: int, exp_year: int) -> StoredCard:
        raise BillingRuleError("Cards cannot be kept on file with the manual payment gateway.")

    def refund(self, *, charge_reference, amount_units, currency, idempotency_key) -> ChargeResult:
        return ChargeResult(
            status="error", message="The manual gateway refunds nothing: refund the card by hand, then retry."
        )

    def charge(self, *, token, amount_units, currency, idempotency_key, description) -> ChargeResult:
        return ChargeResult(
            status="not_charged",
            message="Not charged: the payment gateway is manual. Charge the card by hand, then record the payment.",
        )


def _digits(number: str) -> str:
    return "".join(ch for ch in str(number or "") if ch in "0123456789")


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

    def refund(self, *, charge_reference, amount_units, currency, idempotency_key) -> ChargeResult:
        """Refunds a charge it made (a ``sim_ch_`` reference); the same key gives the same refund."""
        if not charge_reference.startswith("sim_ch_"):
            return ChargeResult(status="error", message="The gateway does not know this charge; refund it by hand.")
        reference = "sim_re_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        return ChargeResult(status="succeeded", reference=reference)


GATEWAYS = {"manual": ManualGateway, "simulated": SimulatedCardGateway}


def payment_gateway() -> PaymentGateway:
    name = getattr(settings, "PAYMENT_GATEWAY", "simulated")
    try:
        return GATEWAYS[name]()
    except KeyError:
        raise BillingRuleError(f"Unknown payment gateway {name!r} (PAYMENT_GATEWAY).") from None
