"""Requests (bookings), shifts, services and their extras, quotes and supporting documents."""

from django.contrib import admin

from expense_codes.admin import RequestExpenseCodeInline, ServiceExpenseCodeInline
from octoo_billing.forms import PercentField, QuantityField

from ..models import Quote, QuoteLine, Service, ServiceExtra, ServiceRequest, Shift, SupportingDocument
from .common import (
    BillingAdminForm,
    CurrencyInlineMixin,
    ReadOnlyInline,
    money_column,
    rate_column,
)


class ServiceListInline(ReadOnlyInline):
    """The request's services, listed; each is edited on its own page."""

    model = Service
    fields = ["service_type", "provider", "starts_at", "ends_at", "status"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("service_type", "provider")


class SupportingDocumentInline(ReadOnlyInline):
    """Uploaded in the portal, where the file type and size are checked; listed here."""

    model = SupportingDocument
    fields = ["name", "file", "content_type", "size", "uploaded_at"]
    readonly_fields = fields
    show_change_link = False


class ServiceRequestForm(BillingAdminForm):
    """No cross-tenant customer."""


@admin.register(ServiceRequest)
class ServiceRequestAdmin(admin.ModelAdmin):
    form = ServiceRequestForm
    list_display = ["__str__", "customer", "status", "source", "is_recurring", "created_at", "partner"]
    list_filter = ["status", "source", "is_recurring", "partner"]
    search_fields = ["title", "customer__name"]
    date_hierarchy = "created_at"
    list_select_related = ["customer", "partner"]
    autocomplete_fields = ["partner", "customer", "created_by"]
    readonly_fields = ["created_at"]
    inlines = [RequestExpenseCodeInline, ServiceListInline, SupportingDocumentInline]
    show_full_result_count = False


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "starts_at", "ends_at", "finished_at"]
    list_filter = ["partner"]
    search_fields = ["name"]
    date_hierarchy = "starts_at"
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]


class ServiceExtraForm(BillingAdminForm):
    rate_fields = ("bill_rate_units", "pay_rate_units")
    quantity = QuantityField()


class ServiceExtraInline(CurrencyInlineMixin, admin.TabularInline):
    model = ServiceExtra
    form = ServiceExtraForm
    fields = ["kind", "description", "quantity", "bill_rate_units", "pay_rate_units"]
    extra = 0


class ServiceForm(BillingAdminForm):
    money_fields = ("tolls_units",)

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "A service must end after it starts.")
        return cleaned


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = ["__str__", "request", "provider", "starts_at", "ends_at", "status", "zone", "partner"]
    list_filter = ["status", "partner"]
    search_fields = ["request__title", "request__customer__name", "provider__name", "address"]
    date_hierarchy = "starts_at"
    list_select_related = ["request", "service_type", "provider", "zone", "partner"]
    autocomplete_fields = ["partner", "request", "provider", "service_type", "zone", "shift"]
    inlines = [ServiceExtraInline, ServiceExpenseCodeInline]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["partner", "request", "service_type", "provider", "shift", "status"]}),
        ("When and where", {"fields": ["starts_at", "ends_at", "address", "zone"]}),
        ("Outcome", {"fields": ["checked_out_at", "outcome_published_at", "mileage", "tolls_units", "prep_minutes"]}),
        ("Notes", {"fields": ["notes", "pricing_error"]}),
    ]


@admin.register(ServiceExtra)
class ServiceExtraAdmin(admin.ModelAdmin):
    form = ServiceExtraForm
    list_display = ["description", "kind", "service", "quantity", "bill_rate", "pay_rate"]
    list_filter = ["kind"]
    search_fields = ["description"]
    list_select_related = ["service__service_type", "service__partner"]
    raw_id_fields = ["service"]
    bill_rate = rate_column("bill_rate_units", "Bill rate")
    pay_rate = rate_column("pay_rate_units", "Pay rate")


class QuoteLineForm(BillingAdminForm):
    money_fields = ("discount_units",)
    rate_fields = ("unit_price_units",)
    quantity = QuantityField()
    tax_rate = PercentField(label="Tax rate %", initial=0)


class QuoteLineInline(CurrencyInlineMixin, admin.TabularInline):
    model = QuoteLine
    form = QuoteLineForm
    fields = ["description", "quantity", "unit_price_units", "tax_rate", "discount_units"]
    extra = 0

    def _locked(self, obj):
        return obj is not None and obj.status != Quote.Status.OPEN

    def has_add_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_delete_permission(request, obj)


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    """Converting a quote into an invoice happens in the office (a domain function): status and
    invoice are read-only here, and a converted or declined quote cannot be changed."""

    list_display = ["__str__", "status", "invoice", "created_at"]
    list_filter = ["status", "request__partner"]
    search_fields = ["request__title", "request__customer__name", "invoice__number"]
    list_select_related = ["request", "invoice"]
    autocomplete_fields = ["request"]
    readonly_fields = ["status", "invoice", "created_at"]
    inlines = [QuoteLineInline]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != Quote.Status.OPEN:
            return False
        return super().has_change_permission(request, obj)


@admin.register(QuoteLine)
class QuoteLineAdmin(admin.ModelAdmin):
    form = QuoteLineForm
    list_display = ["description", "quote", "quantity", "unit_price", "tax_rate", "discount"]
    search_fields = ["description"]
    list_select_related = ["quote__request__partner"]
    raw_id_fields = ["quote"]
    unit_price = rate_column("unit_price_units", "Unit price")
    discount = money_column("discount_units", "Discount")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.quote.status != Quote.Status.OPEN:
            return False
        return super().has_change_permission(request, obj)


@admin.register(SupportingDocument)
class SupportingDocumentAdmin(admin.ModelAdmin):
    """Uploaded in the portal (where type and size are checked); here they can be looked at or removed."""

    list_display = ["name", "request", "content_type", "size", "uploaded_at"]
    list_filter = ["content_type"]
    search_fields = ["name", "request__title"]
    date_hierarchy = "uploaded_at"
    list_select_related = ["request"]
    readonly_fields = ["request", "file", "name", "content_type", "size", "uploaded_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
