"""Office forms for the extras and coupons of the rate cards (office.views.ratecard_offers); read as
office.forms.ratecards says."""

from __future__ import annotations

from django import forms

from invoicing.models import Coupon, ExtraOffer, ServiceType
from octoo_billing.forms import AmountField, PercentField, RateField

from .ratecards import DATE_ERRORS, DATE_INPUT, plain

# --- extras ---------------------------------------------------------------------------------------------------------


class ExtraForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200, error_messages={"required": "Name the extra."})
    kind = forms.ChoiceField(
        label="Kind",
        choices=ExtraOffer.Kind.choices,
        help_text="A reimbursement is not taxed.",
        error_messages={"invalid_choice": "Choose a product, a reimbursement or other."},
    )
    bill_rate_units = RateField(label="Price per unit", help_text="Charged to the customer.")
    pay_rate_units = RateField(label="Pay per unit", required=False, help_text="Paid to the provider; empty: none.")
    max_quantity = forms.IntegerField(
        label="Most at once",
        min_value=1,
        initial=10,
        help_text="The most a customer may book on one service.",
        error_messages={
            "required": "Enter how many may be booked at once.",
            "invalid": "Enter a whole number.",
            "min_value": "At least 1.",
        },
    )
    is_active = forms.BooleanField(label="Offered on new bookings", required=False, initial=True)

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("bill_rate_units", "pay_rate_units"):
            self.fields[name].currency = partner.currency

    @staticmethod
    def initial_of(offer) -> dict:
        return {
            "name": offer.name,
            "kind": offer.kind,
            "bill_rate_units": offer.bill_rate_units,
            "pay_rate_units": offer.pay_rate_units,
            "max_quantity": offer.max_quantity,
            "is_active": offer.is_active,
        }


# --- coupons --------------------------------------------------------------------------------------------------------


def _limit_field(label: str, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=1,
        required=False,
        help_text=help_text,
        error_messages={"invalid": "Enter a whole number.", "min_value": "At least 1; empty for no limit."},
    )


class CouponForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=40,
        help_text="What customers type; the same in any case.",
        error_messages={"required": "Enter the code customers type, e.g. SPRING10."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    percent_off = PercentField(
        label="Percent off", required=False, max_digits=5, decimal_places=2, help_text="Either a percentage…"
    )
    amount_off_units = AmountField(label="Amount off", required=False, help_text="…or an amount, not both.")
    valid_from = forms.DateField(label="First day", required=False, widget=DATE_INPUT, error_messages=DATE_ERRORS)
    valid_until = forms.DateField(label="Last day", required=False, widget=DATE_INPUT, error_messages=DATE_ERRORS)
    is_active = forms.BooleanField(label="Active", required=False, initial=True)
    service_types = forms.ModelMultipleChoiceField(
        label="Service types",
        queryset=ServiceType.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose among your service types."},
    )
    extra_offers = forms.ModelMultipleChoiceField(
        label="Extras",
        queryset=ExtraOffer.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="With none of these ticked, it applies to every discountable line.",
        error_messages={"invalid_choice": "Choose among your extras."},
    )
    max_redemptions = _limit_field("Uses in all", "Empty: no limit.")
    max_per_customer = _limit_field("Uses per customer", "Empty: no limit.")

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount_off_units"].currency = partner.currency
        self.fields["service_types"].queryset = ServiceType.objects.filter(partner=partner).order_by("name")
        self.fields["extra_offers"].queryset = ExtraOffer.objects.filter(partner=partner).order_by("name")

    def clean(self):
        cleaned = super().clean()
        percent, amount = cleaned.get("percent_off"), cleaned.get("amount_off_units")
        if "percent_off" in cleaned and "amount_off_units" in cleaned:
            if percent is not None and amount is not None:
                self.add_error("percent_off", "Give a percentage or an amount off, not both.")
            elif percent is None and amount is None:
                self.add_error("percent_off", "Enter a percentage or an amount off.")
        return cleaned

    @staticmethod
    def initial_of(coupon: Coupon) -> dict:
        return {
            "code": coupon.code,
            "description": coupon.description,
            "percent_off": plain(coupon.percent_off) if coupon.percent_off is not None else None,
            "amount_off_units": coupon.amount_off_units,
            "valid_from": coupon.valid_from,
            "valid_until": coupon.valid_until,
            "is_active": coupon.is_active,
            "service_types": [item.pk for item in coupon.service_types.all()],
            "extra_offers": [item.pk for item in coupon.extra_offers.all()],
            "max_redemptions": coupon.max_redemptions,
            "max_per_customer": coupon.max_per_customer,
        }
