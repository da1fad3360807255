"""Proformas and slips. Slips are edited on their document, where amounts and totals are recomputed
with invoicing.pricing; a proforma billed on an issued invoice is read-only."""

from django.contrib import admin, messages
from django.db.models import Sum

from octoo_billing.forms import PercentField, QuantityField
from octoo_billing.money import format_units

from ..errors import BillingRuleError
from ..locking import invoices_lock, proforma_lock
from ..models import Invoice, InvoiceProforma, Proforma, Slip
from ..pricing import (
    invoice_discount_apply,
    invoice_slips,
    invoice_totals_refresh,
    proforma_totals_refresh,
    slip_price,
)
from .codes import ProformaExpenseCodeInline
from .common import (
    BillingAdminForm,
    CurrencyInlineMixin,
    LockedInlineMixin,
    OwnedRowsDeleteMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    money_column,
    proforma_is_frozen,
    rate_column,
)


class SlipForm(BillingAdminForm):
    money_fields = ("line_discount_units",)
    rate_fields = ("bill_rate_units", "pay_rate_units")
    negative_fields = ("bill_rate_units", "pay_rate_units")
    quantity = QuantityField()
    tax_rate = PercentField(label="Tax rate %", initial=0)

    def clean(self):
        cleaned = super().clean()
        slip_type = cleaned.get("slip_type")
        if slip_type in Slip.TYPES_REQUIRING_PAY_SCHEDULE and not cleaned.get("pay_schedule"):
            self.add_error("pay_schedule", "Service and prep-time lines need a pay schedule (weekday, weekend, …).")
        for name in ("bill_rate_units", "pay_rate_units"):
            value = cleaned.get(name)
            if value is None:
                continue
            if value < 0 and slip_type not in Slip.TYPES_ALLOWING_NEGATIVE:
                self.add_error(name, "Only adjustment and credit lines can have a negative rate.")
            if value > 0 and slip_type == Slip.Type.CREDIT:
                self.add_error(name, "A credit line's rates are zero or negative.")
        return cleaned


class SlipInline(LockedInlineMixin, CurrencyInlineMixin, admin.TabularInline):
    model = Slip
    form = SlipForm
    extra = 0
    fields = [
        "position",
        "slip_type",
        "pay_schedule",
        "description",
        "quantity",
        "bill_rate_units",
        "pay_rate_units",
        "tax_rate",
        "line_discount_units",
        "amount",
        "invoice_discount",
        "tax",
        "total",
        "pay_total",
    ]
    readonly_fields = ["amount", "invoice_discount", "tax", "total", "pay_total"]
    # On a frozen document the typed fields show as money too, not raw minor units.
    frozen_display = {
        "bill_rate_units": "bill_rate",
        "pay_rate_units": "pay_rate",
        "line_discount_units": "line_discount",
    }
    bill_rate = rate_column("bill_rate_units", "Bill rate")
    pay_rate = rate_column("pay_rate_units", "Pay rate")
    line_discount = money_column("line_discount_units", "Line discount")
    amount = money_column("bill_amount_units", "Amount")
    invoice_discount = money_column("invoice_discount_units", "Invoice discount share")
    tax = money_column("bill_tax_units", "Tax")
    total = money_column("bill_total_units", "Line total")
    pay_total = money_column("pay_total_units", "Pay total")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.parent_is_frozen(obj):
            fields = [self.frozen_display.get(name, name) for name in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self.parent_is_frozen(obj):
            readonly += list(self.frozen_display.values())
        return readonly

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner")


class ProformaSlipInline(SlipInline):
    fk_name = "proforma"


class InvoiceSlipInline(SlipInline):
    fk_name = "invoice"
    verbose_name = "direct line (slip)"
    verbose_name_plural = "direct lines (slips)"


class LockedProformaExpenseCodeInline(LockedInlineMixin, ProformaExpenseCodeInline):
    pass


def invoice_draft_refresh(invoice: Invoice) -> str | None:
    """Recompute a draft's lines and totals after its slips changed; the invoice-level discount is spread
    again over the lines. Returns a message when the discount no longer fits (it then stays as it was)."""
    if invoice.status != Invoice.Status.DRAFT:
        return None
    if invoice.kind != Invoice.Kind.AR:
        invoice_totals_refresh(invoice)
        return None
    try:
        invoice_discount_apply(invoice, invoice.discount_units)
    except BillingRuleError as exc:
        # Nothing was spread: the lines keep their shares, so the discount goes back to what they add up to.
        invoice.discount_units = invoice_slips(invoice).aggregate(total=Sum("invoice_discount_units", default=0))[
            "total"
        ]
        invoice.save(update_fields=["discount_units", "updated_at"])
        invoice_totals_refresh(invoice)
        return (
            f"{invoice}: {exc} The invoice discount stays at {format_units(invoice.discount_units, invoice.currency)}."
        )
    return None


class SlipSavingMixin:
    """Saves slip inlines through invoicing.pricing.slip_price, so a line's amounts always add up."""

    def save_formset(self, request, form, formset, change):
        if formset.model is not Slip:
            return super().save_formset(request, form, formset, change)
        parent = form.instance
        # The lock order (invoicing.locking): an issue of the same document waits for this save, and the database
        # guards refuse the save if it was issued meanwhile.
        if isinstance(parent, Proforma):
            proforma_lock(parent.pk)
        else:
            invoices_lock([parent.pk])
        instances = formset.save(commit=False)
        for slip in formset.deleted_objects:
            slip.delete()
        for slip in instances:
            slip.partner_id = parent.partner_id
            slip_price(slip)
            slip.save()
        formset.save_m2m()


class InvoiceLinkInline(ReadOnlyInline):
    """The invoices this proforma is (or was) on."""

    model = InvoiceProforma
    fk_name = "proforma"
    fields = ["invoice", "kind", "is_active"]
    readonly_fields = fields
    verbose_name = "invoice link"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice")


class ProformaForm(BillingAdminForm):
    def clean(self):
        cleaned = super().clean()
        service, customer = cleaned.get("service"), cleaned.get("customer")
        if service and customer and service.request.customer_id != customer.pk:
            self.add_error("service", "That service was booked by another customer.")
        return cleaned


@admin.register(Proforma)
class ProformaAdmin(OwnedRowsDeleteMixin, SlipSavingMixin, admin.ModelAdmin):
    form = ProformaForm
    owned_models = (Slip,)
    list_display = ["__str__", "customer", "provider", "service_date", "status", "bill_total", "pay_total", "partner"]
    list_filter = ["status", "partner"]
    search_fields = ["number", "customer__name", "provider__name"]
    date_hierarchy = "service_date"
    list_select_related = ["customer", "provider", "partner"]
    autocomplete_fields = ["partner", "customer", "provider", "service"]
    show_full_result_count = False
    inlines = [ProformaSlipInline, LockedProformaExpenseCodeInline, InvoiceLinkInline]
    readonly_fields = [
        "number",
        "expense_code_key",
        "bill_subtotal",
        "bill_discount",
        "bill_tax",
        "bill_total",
        "pay_total",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["partner", "number", "status", "customer", "provider", "service", "service_date"]}),
        ("Totals", {"fields": ["bill_subtotal", "bill_discount", "bill_tax", "bill_total", "pay_total"]}),
        ("Record", {"fields": ["expense_code_key", "created_at"]}),
    ]
    bill_subtotal = money_column("bill_subtotal_units", "Bill subtotal")
    bill_discount = money_column("bill_discount_units", "Bill discounts")
    bill_tax = money_column("bill_tax_units", "Bill tax")
    bill_total = money_column("bill_total_units", "Bill total")
    pay_total = money_column("pay_total_units", "Pay total")

    def has_change_permission(self, request, obj=None):
        if proforma_is_frozen(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.invoice_links.exists():
            return False  # it is, or was, on an invoice: cancel it instead
        return super().has_delete_permission(request, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        proforma = form.instance
        proforma_totals_refresh(proforma)
        drafts = Invoice.objects.filter(
            proforma_links__proforma=proforma, proforma_links__is_active=True, status=Invoice.Status.DRAFT
        )
        for invoice in drafts:
            problem = invoice_draft_refresh(invoice)
            if problem:
                self.message_user(request, problem, level=messages.WARNING)


@admin.register(Slip)
class SlipAdmin(ReadOnlyAdmin):
    """Slips are listed here for searching; they are edited on their proforma or draft invoice,
    where amounts and totals are recomputed."""

    list_display = [
        "description",
        "slip_type",
        "document",
        "quantity",
        "bill_rate",
        "bill_total",
        "pay_total",
        "partner",
    ]
    list_filter = ["slip_type", "partner"]
    search_fields = ["description", "invoice__number", "proforma__number"]
    list_select_related = ["partner", "invoice", "proforma"]
    show_full_result_count = False
    bill_rate = rate_column("bill_rate_units", "Bill rate")
    bill_total = money_column("bill_total_units", "Line total")
    pay_total = money_column("pay_total_units", "Pay total")

    @admin.display(description="On")
    def document(self, obj):
        return obj.proforma or obj.invoice
