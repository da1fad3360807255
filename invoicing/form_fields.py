"""Form fields the portal's and the office's forms share: the structured part of a service's address (what its tax
zone is found from, ``invoicing.zones``) and a coupon code (``invoicing.coupons``).

Each call makes a new field, so a form declares them as its own (``country = country_field()``); a form that knows
the partner sets the country's initial value to the partner's (``country_default``). The forms only bound what is
typed: the rules (two letters, a coupon that may be used) are the domain's, which refuses on these field names.
"""

from __future__ import annotations

from django import forms

from .models import Coupon, Service

COUNTRY_MESSAGE = "Enter the country as its two-letter code, such as US or CA."


def country_field() -> forms.CharField:
    field = forms.CharField(
        label="Country",
        max_length=Service._meta.get_field("country").max_length,
        required=False,
        help_text="Two letters, e.g. US.",
        error_messages={"max_length": COUNTRY_MESSAGE},
    )
    field.widget.attrs.update({"autocomplete": "country", "size": "4"})
    return field


def region_field() -> forms.CharField:
    field = forms.CharField(
        label="State or region",
        max_length=Service._meta.get_field("region").max_length,
        required=False,
        help_text="Its code, e.g. NY.",
    )
    field.widget.attrs.update({"autocomplete": "address-level1"})
    return field


def postal_code_field() -> forms.CharField:
    field = forms.CharField(
        label="Postal code", max_length=Service._meta.get_field("postal_code").max_length, required=False
    )
    field.widget.attrs.update({"autocomplete": "postal-code"})
    return field


def country_default(form: forms.Form, partner) -> None:
    """The country field starts at the partner's country (an address without one is read in it anyway)."""
    form.fields["country"].initial = partner.country
    form.fields["country"].help_text = f"Two letters, e.g. {partner.country or 'US'}."


def coupon_field(help_text: str = "") -> forms.CharField:
    field = forms.CharField(
        label="Coupon code",
        max_length=Coupon._meta.get_field("code").max_length,
        required=False,
        help_text=help_text,
        error_messages={"max_length": "There is no coupon with so long a code. Check the code and try again."},
    )
    field.widget.attrs.update({"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})
    return field
