"""Requests (bookings), shifts, services and their extras, quotes and supporting documents."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from expense_codes.applying import codes_pairs
from octoo_billing.admin_files import stored_file_column
from octoo_billing.forms import PercentField, QuantityField

from ..booking import request_submit
from ..errors import BillingError
from ..models import Quote, QuoteLine, Service, ServiceExtra, ServiceRequest, Shift, SupportingDocument
from ..request_codes import (
    request_codes_check,
    request_codes_frozen,
    request_codes_set,
    service_codes_frozen,
    service_codes_set,
)
from .codes import RequestExpenseCodeInline, ServiceExpenseCodeInline
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
    fields = ["name", "stored_file", "content_type", "size", "uploaded_at"]
    readonly_fields = fields
    show_change_link = False
    stored_file = stored_file_column("file", "File")  # through the app, not the storage's URL


class CodesFormSet(BaseInlineFormSet):
    """A request's or a service's codes in the admin obey the rules of the portal and the office: checked here
    with ``invoicing.request_codes`` (the customer's labels, required labels, frozen once invoiced) and saved by the
    admin through the same functions (``save_related``), never written straight to the table."""

    def entered(self) -> list[tuple]:
        pairs = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or not (data.get("value") or "").strip():
                continue
            pairs.append((data.get("label") or data.get("label_name") or "", data["value"]))
        return pairs

    def pairs(self) -> list[tuple[str, str]]:
        return sorted((getattr(label, "name", label), value.strip()) for label, value in self.entered())

    def changed(self, carrier: dict) -> bool:
        return self.pairs() != sorted(codes_pairs(**carrier))

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        owner = self.instance
        if isinstance(owner, Service):
            service_request, carrier = owner.request if owner.request_id else None, {"service": owner}
        else:
            service_request, carrier = owner, {"request": owner}
        customer = getattr(service_request, "customer", None) if service_request is not None else None
        if customer is None:
            return  # the parent form says what is missing
        new = owner.pk is None
        if not new and not self.changed(carrier):
            return
        if not new:
            frozen = service_codes_frozen(owner) if isinstance(owner, Service) else request_codes_frozen(owner)
            if frozen:
                raise forms.ValidationError(f"These codes can no longer change. {frozen}")
        if isinstance(owner, Service):
            return  # a service's own codes add to the request's: the request already meets the required labels
        services = [codes_pairs(service=s) for s in owner.services.all()] if not new else []
        try:
            request_codes_check(customer=customer, codes=self.entered(), service_codes=services, new=new)
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None


class RequestCodesInline(RequestExpenseCodeInline):
    formset = CodesFormSet


class ServiceCodesInline(ServiceExpenseCodeInline):
    formset = CodesFormSet


def codes_formset(formsets) -> CodesFormSet | None:
    return next((f for f in formsets if isinstance(f, CodesFormSet)), None)


class ServiceRequestForm(BillingAdminForm):
    """No cross-tenant customer."""


@admin.register(ServiceRequest)
class ServiceRequestAdmin(admin.ModelAdmin):
    """A new request is submitted through ``invoicing.booking.request_submit``, like the portal's and the office's:
    the customer's auto-applied codes join it and a code the customer requires must be there."""

    form = ServiceRequestForm
    list_display = ["__str__", "customer", "status", "source", "is_recurring", "created_at", "partner"]
    list_filter = ["status", "source", "is_recurring", "partner"]
    search_fields = ["title", "customer__name"]
    date_hierarchy = "created_at"
    list_select_related = ["customer", "partner"]
    autocomplete_fields = ["partner", "customer", "created_by"]
    readonly_fields = ["created_at"]
    inlines = [RequestCodesInline, ServiceListInline, SupportingDocumentInline]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["created_by", "created_at"]
        return ["partner", "customer", "created_by", "created_at"]  # its services and codes belong to them

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        # a new request is saved with its codes in save_related, through request_submit

    def save_related(self, request, form, formsets, change):
        codes = codes_formset(formsets)
        for formset in formsets if not change else [codes] if codes else []:
            # saved below through the domain (or read-only); the admin's change message reads these
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        obj = form.instance
        if not change:
            created = request_submit(
                customer=obj.customer,
                user=request.user,
                source=obj.source,
                title=obj.title,
                description=obj.description,
                codes=codes.entered() if codes else [],
                status=obj.status,
                is_recurring=obj.is_recurring,
                book=False,
            )
            obj.pk, obj.created_at, obj.created_by = created.pk, created.created_at, created.created_by
            obj._state.adding = False
            return
        if codes is not None and codes.changed({"request": obj}):
            try:
                request_codes_set(service_request=obj, user=request.user, codes=codes.entered())
            except BillingError as error:  # frozen meanwhile (checked on the form first)
                self.message_user(request, error.message, level="error")
        for formset in formsets:
            if formset is not codes:
                self.save_formset(request, form, formset, change=change)


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
    inlines = [ServiceExtraInline, ServiceCodesInline]
    show_full_result_count = False

    def save_related(self, request, form, formsets, change):
        codes = codes_formset(formsets)
        if codes is not None:  # saved below through the domain; the admin's change message reads these
            codes.new_objects, codes.changed_objects, codes.deleted_objects = [], [], []
        for formset in formsets:
            if formset is not codes:
                self.save_formset(request, form, formset, change=change)
        form.save_m2m()
        if codes is not None and codes.changed({"service": form.instance}):
            try:
                service_codes_set(service=form.instance, user=request.user, codes=codes.entered())
            except BillingError as error:  # frozen meanwhile (checked on the form first)
                self.message_user(request, error.message, level="error")

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
    fields = readonly_fields = ["request", "stored_file", "name", "content_type", "size", "uploaded_at"]
    stored_file = stored_file_column("file", "File")  # through the app, not the storage's URL

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
