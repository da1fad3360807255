"""Pricing tables: zones, service types, rates, time policies, holidays, coupons, extras offered on bookings."""

from django import forms
from django.contrib import admin

from ..models import Coupon, ExtraOffer, Holiday, Rate, ServiceType, Slip, TimePolicy, Zone
from .common import BillingAdminForm, money_column, rate_column


class ZoneForm(BillingAdminForm):
    money_fields = ("surcharge_units",)


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    form = ZoneForm
    list_display = ["name", "partner", "tax_rate", "price_multiplier", "surcharge"]
    list_filter = ["partner"]
    search_fields = ["name"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]
    surcharge = money_column("surcharge_units", "Surcharge")


@admin.register(ServiceType)
class ServiceTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "partner"]
    list_filter = ["partner"]
    search_fields = ["name", "code"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]


class RateForm(BillingAdminForm):
    rate_fields = ("bill_rate_units", "pay_rate_units")
    slip_type = forms.ChoiceField(choices=Slip.Type.choices)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("bill_rate_units") is None and cleaned.get("pay_rate_units") is None:
            raise forms.ValidationError("Enter a bill rate, a pay rate, or both.")
        if cleaned.get("customer") and cleaned.get("provider"):
            raise forms.ValidationError("A rate is for a customer or for a provider, not both.")
        return cleaned


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    form = RateForm
    list_display = ["slip_type", "pay_schedule", "service_type", "scope", "bill_rate", "pay_rate", "partner"]
    list_filter = ["partner", "slip_type", "pay_schedule"]
    search_fields = ["slip_type", "service_type__name", "customer__name", "provider__name"]
    list_select_related = ["partner", "service_type", "customer", "provider"]
    autocomplete_fields = ["partner", "service_type", "customer", "provider"]
    bill_rate = rate_column("bill_rate_units", "Bill rate")
    pay_rate = rate_column("pay_rate_units", "Pay rate")

    @admin.display(description="For")
    def scope(self, obj):
        return obj.customer or obj.provider or "Everyone"


class TimePolicyForm(BillingAdminForm):
    def clean(self):
        cleaned = super().clean()
        if cleaned.get("customer") and cleaned.get("provider"):
            raise forms.ValidationError("A policy is for a customer or for a provider, not both.")
        return cleaned


@admin.register(TimePolicy)
class TimePolicyAdmin(admin.ModelAdmin):
    form = TimePolicyForm
    list_display = ["__str__", "partner", "customer", "provider", "minimum_hours", "rounding_minutes"]
    list_filter = ["partner"]
    search_fields = ["customer__name", "provider__name"]
    list_select_related = ["partner", "customer", "provider"]
    autocomplete_fields = ["partner", "customer", "provider"]


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name", "partner"]
    list_filter = ["partner"]
    search_fields = ["name"]
    date_hierarchy = "date"
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]


class CouponForm(BillingAdminForm):
    money_fields = ("amount_off_units",)

    def clean(self):
        cleaned = super().clean()
        percent, amount = cleaned.get("percent_off"), cleaned.get("amount_off_units")
        if (percent is None) == (amount is None) and "percent_off" not in self.errors:
            raise forms.ValidationError("Give either a percentage off or an amount off, not both.")
        if percent is not None and not 0 < percent <= 100:
            self.add_error("percent_off", "Enter a percentage above 0 and at most 100.")
        if amount is not None and amount <= 0:
            self.add_error("amount_off_units", "The amount off must be more than zero.")
        start, end = cleaned.get("valid_from"), cleaned.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", "The coupon must end on or after its first day.")
        return cleaned


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    form = CouponForm
    list_display = ["code", "partner", "percent_off", "amount_off", "valid_from", "valid_until", "is_active"]
    list_filter = ["is_active", "partner"]
    search_fields = ["code"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]
    amount_off = money_column("amount_off_units", "Amount off")


class ExtraOfferForm(BillingAdminForm):
    rate_fields = ("bill_rate_units", "pay_rate_units")


@admin.register(ExtraOffer)
class ExtraOfferAdmin(admin.ModelAdmin):
    """Extras a customer may add when booking in the portal; a booking copies the name and rates."""

    form = ExtraOfferForm
    list_display = ["name", "kind", "bill_rate", "pay_rate", "max_quantity", "is_active", "partner"]
    list_filter = ["is_active", "kind", "partner"]
    search_fields = ["name"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]
    bill_rate = rate_column("bill_rate_units", "Bill rate")
    pay_rate = rate_column("pay_rate_units", "Pay rate")
