"""Office forms for the rate cards (office.views.ratecards and office.views.ratecard_offers): rates, tax zones,
time policies, holidays; extras and coupons are office.forms.ratecard_offers, "price this service"
office.forms.price_preview.

They read what was typed: money in the currency's major unit ("60", "0.655") cleaned to the minor units the
models store (``RateField``, ``AmountField``), plain numbers without exponents. The rules (scopes, ranges,
duplicates) are ``invoicing.ratecards``'s, whose ``ValidationError`` names these fields: the field names are the
domain functions' keyword arguments, so ``form.cleaned_data`` is what they take.
"""

from __future__ import annotations

from django import forms

from customers.models import Customer, Provider
from invoicing.models import PaySchedule, ServiceType, Slip, Zone
from invoicing.ratecards import MAX_ROUNDING_MINUTES, RATE_SLIP_TYPES
from octoo_billing.forms import AmountField, PercentField, QuantityField, RateField


def plain(number) -> str:
    """A stored Decimal as it would be typed: 10.000 -> "10", 8.875 -> "8.875" (never "1E+1")."""
    return f"{number.normalize():f}"


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_ERRORS = {"invalid": "Enter a date like 2026-12-24."}


class NumberField(QuantityField):
    """A plain number (no exponents, commas allowed, never negative) whose range the domain checks."""

    kind = "number"
    example = "1.5"
    default_error_messages = {"required": "Enter a number."}

    def validate(self, value):
        forms.Field.validate(self, value)


class MultiplierField(NumberField):
    kind = "multiplier"
    example = "1.25"
    default_error_messages = {"required": "Enter a multiplier: 1 keeps the rate."}

    def validate(self, value):
        super().validate(value)
        if value is not None and value <= 0:
            raise forms.ValidationError("A multiplier is more than zero: 1 keeps the rate.", code="not_positive")


def _party_fields(form: forms.Form, partner, *, customer_empty: str, provider_empty: str) -> None:
    customer, provider = form.fields["customer"], form.fields["provider"]
    customer.queryset = Customer.objects.filter(partner=partner).order_by("name")
    provider.queryset = Provider.objects.filter(partner=partner).order_by("name")
    customer.empty_label, provider.empty_label = customer_empty, provider_empty


def optional_choice(model, label: str, empty: str, **kwargs) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label=label,
        queryset=model.objects.none(),
        required=False,
        empty_label=empty,
        error_messages={"invalid_choice": f"Choose one of your {label.lower()}s."},
        **kwargs,
    )


# --- rates ----------------------------------------------------------------------------------------------------------


class RateForm(forms.Form):
    slip_type = forms.ChoiceField(
        label="Prices",
        choices=[(value, Slip.Type(value).label) for value in RATE_SLIP_TYPES],
        error_messages={"required": "Choose what the rate prices.", "invalid_choice": "Choose what the rate prices."},
    )
    pay_schedule = forms.ChoiceField(
        label="Pay schedule",
        choices=[("", "None (mileage, booking fee)"), *PaySchedule.choices],
        required=False,
        help_text="Service and prep time are priced per schedule; mileage and the booking fee have none.",
        error_messages={"invalid_choice": "Choose one of the pay schedules."},
    )
    service_type = optional_choice(ServiceType, "Service type", "Any service type")
    customer = optional_choice(
        Customer, "Customer", "Any customer", help_text="A customer's rate sets the bill side only."
    )
    provider = optional_choice(
        Provider, "Provider", "Any provider", help_text="A provider's rate sets the pay side only."
    )
    bill_rate_units = RateField(
        label="Bill rate", required=False, help_text="What the customer is charged per hour, mile or booking."
    )
    pay_rate_units = RateField(
        label="Pay rate", required=False, help_text="What the provider is paid per hour, mile or booking."
    )

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service_type"].queryset = ServiceType.objects.filter(partner=partner).order_by("name")
        _party_fields(self, partner, customer_empty="Any customer", provider_empty="Any provider")
        for name in ("bill_rate_units", "pay_rate_units"):
            self.fields[name].currency = partner.currency

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("customer") is not None and cleaned.get("provider") is not None:
            self.add_error("provider", "A rate is for a customer or for a provider, not both.")
        return cleaned

    @staticmethod
    def initial_of(rate) -> dict:
        return {
            "slip_type": rate.slip_type,
            "pay_schedule": rate.pay_schedule,
            "service_type": rate.service_type_id,
            "customer": rate.customer_id,
            "provider": rate.provider_id,
            "bill_rate_units": rate.bill_rate_units,
            "pay_rate_units": rate.pay_rate_units,
        }


# --- zones ----------------------------------------------------------------------------------------------------------


class ZoneForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, error_messages={"required": "Name the zone."})
    tax_rate = PercentField(label="Tax rate %", error_messages={"required": "Enter the tax rate (0 for none)."})
    price_multiplier = MultiplierField(
        label="Price multiplier",
        max_digits=6,
        decimal_places=4,
        initial=1,
        help_text="Multiplies the service time's bill rate in this zone: 1 keeps it, 1.1 is 10 % more.",
    )
    surcharge_units = AmountField(
        label="Surcharge per service", required=False, help_text="A flat amount added to each service; empty: none."
    )

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["surcharge_units"].currency = partner.currency

    def clean_surcharge_units(self):
        return self.cleaned_data.get("surcharge_units") or 0

    @staticmethod
    def initial_of(zone: Zone) -> dict:
        return {
            "name": zone.name,
            "tax_rate": plain(zone.tax_rate),
            "price_multiplier": plain(zone.price_multiplier),
            "surcharge_units": zone.surcharge_units,
        }


class ZoneAreaForm(forms.Form):
    country = forms.CharField(
        label="Country",
        max_length=2,
        help_text="Two-letter code, e.g. US.",
        error_messages={"required": "Enter the two-letter country code, e.g. US."},
    )
    region = forms.CharField(label="Region", max_length=60, required=False, help_text="E.g. NY; empty: all.")
    postal_pattern = forms.CharField(
        label="Postal codes",
        max_length=20,
        required=False,
        help_text="10001, or 100* for all starting 100; empty: all.",
    )

    @staticmethod
    def initial_of(area) -> dict:
        return {"country": area.country, "region": area.region, "postal_pattern": area.postal_pattern}


# --- time policies --------------------------------------------------------------------------------------------------


class PolicyForm(forms.Form):
    customer = optional_choice(
        Customer, "Customer", "No customer", help_text="Its policy counts the hours it is billed for."
    )
    provider = optional_choice(
        Provider, "Provider", "No provider", help_text="Its policy counts the hours it is paid for."
    )
    minimum_hours = NumberField(
        label="Minimum hours", max_digits=5, decimal_places=2, initial=0, help_text="0: no minimum."
    )
    rounding_minutes = forms.IntegerField(
        label="Round worked time up to (minutes)",
        min_value=0,
        max_value=MAX_ROUNDING_MINUTES,
        initial=0,
        help_text="15 rounds 1 h 05 up to 1 h 15; 0: no rounding.",
        error_messages={
            "required": "Enter a step in minutes (0 for no rounding).",
            "invalid": "Enter a whole number of minutes.",
            "min_value": "The step cannot be negative.",
            "max_value": f"Use at most {MAX_ROUNDING_MINUTES} minutes (a day).",
        },
    )
    after_hours_multiplier = MultiplierField(
        label="Weeknight multiplier", max_digits=5, decimal_places=3, initial=1, help_text="On weeknight time's rate."
    )
    weekend_multiplier = MultiplierField(
        label="Weekend multiplier", max_digits=5, decimal_places=3, initial=1, help_text="On weekend time's rate."
    )
    holiday_multiplier = MultiplierField(
        label="Holiday multiplier", max_digits=5, decimal_places=3, initial=1, help_text="On holiday time's rate."
    )

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        _party_fields(self, partner, customer_empty="No customer", provider_empty="No provider")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("customer") is not None and cleaned.get("provider") is not None:
            self.add_error(
                "provider", "A policy is a customer's, a provider's or the default: choose one customer or provider."
            )
        return cleaned

    @staticmethod
    def initial_of(policy) -> dict:
        return {
            "customer": policy.customer_id,
            "provider": policy.provider_id,
            "minimum_hours": plain(policy.minimum_hours),
            "rounding_minutes": policy.rounding_minutes,
            "after_hours_multiplier": plain(policy.after_hours_multiplier),
            "weekend_multiplier": plain(policy.weekend_multiplier),
            "holiday_multiplier": plain(policy.holiday_multiplier),
        }


# --- holidays -------------------------------------------------------------------------------------------------------


class HolidayForm(forms.Form):
    date = forms.DateField(
        label="Date", widget=DATE_INPUT, error_messages={**DATE_ERRORS, "required": "Enter the date."}
    )
    name = forms.CharField(label="Name", max_length=100, error_messages={"required": "Name the holiday."})

    @staticmethod
    def initial_of(holiday) -> dict:
        return {"date": holiday.date, "name": holiday.name}


class HolidaySettingsForm(forms.Form):
    country = forms.CharField(
        label="Country",
        max_length=2,
        help_text="Two-letter code, e.g. US: its public holidays, and the country of an address typed without one.",
        error_messages={"required": "Enter the two-letter country code, e.g. US."},
    )
    region = forms.CharField(
        label="Region", max_length=10, required=False, help_text="State or province code, e.g. NY; empty: none."
    )
    public_holidays = forms.BooleanField(label="Price work on public holidays at the holiday rate", required=False)

    @staticmethod
    def initial_of(partner) -> dict:
        return {"country": partner.country, "region": partner.region, "public_holidays": partner.public_holidays}
