"""Portal forms: paying an invoice by card."""

from __future__ import annotations

import re
import secrets

from django import forms

from customers.forms import CardOnFileForm

PAY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,40}$")


def new_pay_key() -> str:
    """One per payment form shown: submitting that form twice charges once."""
    return secrets.token_urlsafe(16)


class PayKeyForm(forms.Form):
    """Pay with the card on file: only the form's one-time key."""

    pay_key = forms.CharField(widget=forms.HiddenInput)

    def clean_pay_key(self):
        key = self.cleaned_data["pay_key"]
        if not PAY_KEY.match(key):
            raise forms.ValidationError("This payment form has expired: reload the page and try again.")
        return key


class CardPaymentForm(CardOnFileForm, PayKeyForm):
    """Pay with a card typed in, kept on file for later invoices only if asked."""

    keep_on_file = forms.BooleanField(
        label="Keep this card on file for future invoices",
        required=False,
        help_text="Your provider then charges it when invoices are issued, if automatic charging is agreed.",
    )
