"""Expense codes on requests, services, proformas and invoices: their inlines, and the admin of every applied
code, which refuses to change or delete one frozen with its document (on an issued invoice, on a proforma billed
by one, on a request or service it bills). The label admin and the customers' default codes are expense_codes'."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from expense_codes.admin import AppliedExpenseCodeForm, AppliedExpenseCodeInline, carrier_of
from expense_codes.models import OWNER_FIELDS, AppliedExpenseCode

from ..request_codes import request_codes_frozen, service_codes_frozen
from .common import invoice_is_frozen, proforma_is_frozen


def code_is_frozen(code: AppliedExpenseCode) -> bool:
    """Codes on an issued invoice, on a proforma billed by one, or on a request or service it bills, are frozen."""
    if code.request_id:
        return bool(request_codes_frozen(code.request))
    if code.service_id:
        return bool(service_codes_frozen(code.service))
    if code.invoice_id:
        return invoice_is_frozen(code.invoice)
    if code.proforma_id:
        return proforma_is_frozen(code.proforma)
    return False


class RequestExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "request"


class ServiceExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "service"


class ProformaExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "proforma"


class InvoiceExpenseCodeInline(AppliedExpenseCodeInline):
    fk_name = "invoice"


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
