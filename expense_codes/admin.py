"""Admin for expense-code labels and applied codes. The inlines are reused on customers, requests,
services, proformas and invoices (see customers.admin and invoicing.admin)."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

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


def code_is_frozen(code: AppliedExpenseCode) -> bool:
    """Codes on an issued invoice, on a proforma billed by one, or on a request or service it bills, are frozen."""
    from invoicing.admin.common import invoice_is_frozen, proforma_is_frozen  # cycle: invoicing.admin uses ours
    from invoicing.booking import request_codes_frozen, service_codes_frozen  # cycle: as above

    if code.request_id:
        return bool(request_codes_frozen(code.request))
    if code.service_id:
        return bool(service_codes_frozen(code.service))

    if code.invoice_id:
        return invoice_is_frozen(code.invoice)
    if code.proforma_id:
        return proforma_is_frozen(code.proforma)
    return False


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


class RequestExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "request"


class ServiceExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "service"


class ProformaExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "proforma"


class InvoiceExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "invoice"


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


class CarrierFilter(admin.SimpleListFilter):
    title = "applied to"
    parameter_name = "carrier"

    def lookups(self, request, model_admin):
        return [
            ("default_for", "Customer defaults"),
            ("request", "Requests"),
            ("service", "Services"),
            ("proforma", "Proformas"),
            ("invoice", "Invoices"),
        ]

    def queryset(self, request, queryset):
        if self.value() in OWNER_FIELDS:
            return queryset.filter(**{f"{self.value()}__isnull": False})
        return queryset


@admin.register(AppliedExpenseCode)
class AppliedExpenseCodeAdmin(admin.ModelAdmin):
    form = AppliedExpenseCodeForm
    list_display = ["label_name", "value", "applied_to"]
    list_filter = [CarrierFilter]
    search_fields = ["label_name", "value", "invoice__number", "proforma__number"]
    list_select_related = ["default_for", "request", "service__service_type", "proforma", "invoice"]
    raw_id_fields = ["label", *OWNER_FIELDS]
    show_full_result_count = False

    @admin.display(description="Applied to")
    def applied_to(self, obj):
        field, carrier = carrier_of(obj)
        if carrier is None:
            return "—"
        opts = carrier._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[carrier.pk])
        return format_html('{}: <a href="{}">{}</a>', opts.verbose_name.capitalize(), url, carrier)

    def has_change_permission(self, request, obj=None):
        if obj is not None and code_is_frozen(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and code_is_frozen(obj):
            return False
        return super().has_delete_permission(request, obj)
