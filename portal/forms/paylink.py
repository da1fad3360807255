"""The pay link's card form: the portal's, without "keep this card on file" (nobody is signed in to agree to it)."""

from __future__ import annotations

from .pay import CardPaymentForm


class PayLinkCardForm(CardPaymentForm):
    """Pay the balance with a card typed in, for this payment only."""

    keep_on_file = None  # removes the portal form's field
