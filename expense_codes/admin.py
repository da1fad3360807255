"""Admin for expense-code labels, and what the admin pages of applied codes share: their form and base inline.

The customer page (customers.admin) shows a customer's labels and default codes with the inlines here;
invoicing.admin.codes adds the inlines on requests, services, proformas and invoices, and registers the admin of
applied codes (a code is frozen with the document it is on)."""

from django import forms
from django.contrib import admin

from .models import OWNER_FIELDS, AppliedExpenseCode, ExpenseCodeLabel


def carrier_of(code: AppliedExpenseCode):
    """The record a code is applied to (customer default, request, service, proforma or invoice)."""
    for field in OWNER_FIELDS:
        if getattr(code, f"{field}_id", None):
            return field, getattr(code, field)
    return None, None


def carrier_customer_id(field, carrier):
    if carrier is None:
        return None
    if field == "default_for":
        return carrier.pk
    if field == "service":
        return carrier.request.customer_id if carrier.request_id else None
    return getattr(carrier, "customer_id", None)


class AppliedExpenseCodeForm(forms.ModelForm):
    """Type the label's name, or pick one of the customer's labels and its name is copied."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "label_name" in self.fields:
            self.fields["label_name"].required = False
            self.fields["label_name"].help_text = "Copied from the label if left empty."

    def clean(self):
        cleaned = super().clean()
        label = cleaned.get("label")
        name = (cleaned.get("label_name") or "").strip()
        if not name and label is not None:
            name = label.name
        if "label_name" in self.fields:
            if not name:
                self.add_error("label_name", "Choose a label or type the label's name.")
            cleaned["label_name"] = name
        if "value" in cleaned:
            cleaned["value"] = (cleaned.get("value") or "").strip()
            if not cleaned["value"]:
                self.add_error("value", "Enter the code's value, e.g. ABC123.")
        carriers = [(f, cleaned.get(f) or getattr(self.instance, f, None)) for f in OWNER_FIELDS]
        carriers = [(f, c) for f, c in carriers if c is not None]
        if len(carriers) > 1:
            raise forms.ValidationError("A code goes on exactly one record: a customer, request, service, …")
        if not carriers:
            raise forms.ValidationError("Choose the customer, request, service, proforma or invoice it goes on.")
        if len(carriers) == 1 and label is not None:
            customer_id = carrier_customer_id(*carriers[0])
            if customer_id is not None and label.customer_id != customer_id:
                self.add_error("label", f"The label “{label}” belongs to another customer.")
        return cleaned


class AppliedExpenseCodeInline(admin.TabularInline):
    """Base inline; subclasses say which carrier (fk_name) they hang on."""

    model = AppliedExpenseCode
    form = AppliedExpenseCodeForm
    fields = ["label", "label_name", "value"]
    raw_id_fields = ["label"]
    extra = 0
    verbose_name = "expense code"
    verbose_name_plural = "expense codes"


class DefaultExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "default_for"
    verbose_name = "auto-applied expense code"
    verbose_name_plural = "auto-applied expense codes (added to every new request)"


class ExpenseCodeLabelInline(admin.TabularInline):
    model = ExpenseCodeLabel
    fields = ["name", "is_active"]
    extra = 0


@admin.register(ExpenseCodeLabel)
class ExpenseCodeLabelAdmin(admin.ModelAdmin):
    list_display = ["name", "customer", "partner", "is_active"]
    list_filter = ["is_active", "customer__partner"]
    search_fields = ["name", "customer__name"]
    list_select_related = ["customer__partner"]
    autocomplete_fields = ["customer"]

    @admin.display(description="Partner", ordering="customer__partner__name")
    def partner(self, obj):
        return obj.customer.partner
