"""The office form of "price this service" (office.views.price_preview): a service to price, sent by GET."""

from __future__ import annotations

from django import forms

from customers.models import Customer, Provider
from invoicing.models import ServiceType, Zone
from invoicing.ratecards import MAX_ROUNDING_MINUTES

from .intake import datetime_field
from .ratecards import NumberField, optional_choice, plain

# --- "price this service" -------------------------------------------------------------------------------------------


class PricePreviewForm(forms.Form):
    """A service to price without saving it (sent by GET: nothing is written)."""

    service_type = forms.ModelChoiceField(
        label="Service type",
        queryset=ServiceType.objects.none(),
        empty_label="Choose a service type",
        error_messages={"required": "Choose the service type.", "invalid_choice": "Choose one of your service types."},
    )
    customer = forms.ModelChoiceField(
        label="Customer",
        queryset=Customer.objects.none(),
        empty_label="Choose a customer",
        error_messages={"required": "Choose the customer.", "invalid_choice": "Choose one of your customers."},
    )
    provider = optional_choice(Provider, "Provider", "No provider yet (no pay side)")
    starts_at = datetime_field("Starts", "Enter when the service starts.")
    ends_at = datetime_field("Ends", "Enter when the service ends.")
    country = forms.CharField(label="Country", max_length=2, required=False, help_text="Empty: yours.")
    region = forms.CharField(label="Region", max_length=60, required=False)
    postal_code = forms.CharField(label="Postal code", max_length=20, required=False)
    zone = optional_choice(Zone, "Zone", "From the address")
    prep_minutes = forms.IntegerField(
        label="Prep minutes",
        min_value=0,
        max_value=MAX_ROUNDING_MINUTES,
        required=False,
        error_messages={
            "invalid": "Enter a whole number of minutes.",
            "min_value": "Prep time cannot be negative.",
            "max_value": f"Use at most {MAX_ROUNDING_MINUTES} minutes.",
        },
    )
    mileage = NumberField(label="Miles", max_digits=10, decimal_places=2, required=False)
    coupon = forms.CharField(
        label="Coupon code", max_length=40, required=False, help_text="Only checked, never redeemed."
    )

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service_type"].queryset = ServiceType.objects.filter(partner=partner).order_by("name")
        self.fields["customer"].queryset = Customer.objects.filter(partner=partner).order_by("name")
        self.fields["provider"].queryset = Provider.objects.filter(partner=partner).order_by("name")
        zone = self.fields["zone"]
        zone.queryset = Zone.objects.filter(partner=partner).order_by("name")
        zone.label_from_instance = lambda z: z.name

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The service must end after it starts.")
        elif starts and ends and (ends - starts).days >= 7:
            self.add_error("ends_at", "Price at most a week at a time.")
        return cleaned

    def preview_values(self) -> dict:
        """The keyword arguments of ``price_preview.typed_preview`` (besides the partner)."""
        data = self.cleaned_data
        return {
            "service_type": data["service_type"],
            "customer": data["customer"],
            "provider": data.get("provider"),
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "country": data.get("country") or "",
            "region": data.get("region") or "",
            "postal_code": data.get("postal_code") or "",
            "zone": data.get("zone"),
            "prep_minutes": data.get("prep_minutes") or 0,
            "mileage": data.get("mileage") or 0,
            "coupon_code": data.get("coupon") or "",
        }

    @staticmethod
    def initial_of(service) -> dict:
        return {
            "service_type": service.service_type_id,
            "customer": service.request.customer_id,
            "provider": service.provider_id,
            "starts_at": service.starts_at,
            "ends_at": service.ends_at,
            "country": service.country,
            "region": service.region,
            "postal_code": service.postal_code,
            "zone": service.zone_id if service.zone_source == "chosen" else None,
            "prep_minutes": service.prep_minutes or None,
            "mileage": plain(service.mileage) if service.mileage else None,
        }
