"""Invoices, their proforma links and payments.

Drafts are editable; issued invoices (void included) are read-only, with no delete. Issuing, overdue
marking and deleting a draft go through invoicing.lifecycle. Payments are read-only here: they are
recorded in the office through invoicing.payments.payment_record, which locks the invoice, refuses
overpayment and writes the audit trail (an admin form cannot turn its refusals into form errors).
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from audit.recording import audit_record
from customers.models import Partner
from octoo_billing.admin_files import stored_file_column
from octoo_billing.money import format_units

from ..errors import BillingError
from ..lifecycle import invoice_delete_draft, invoice_issue, invoices_mark_overdue
from ..models import Invoice, InvoiceProforma, Payment, Slip
from .codes import InvoiceExpenseCodeInline
from .common import (
    BillingAdminForm,
    LockedInlineMixin,
    OwnedRowsDeleteMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    invoice_is_frozen,
    money_column,
)
from .documents import InvoiceSlipInline, SlipSavingMixin, invoice_draft_refresh

Status = Invoice.Status


class InvoiceForm(BillingAdminForm):
    money_fields = ("discount_units",)

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind", self.instance.kind)
        customer, provider = cleaned.get("customer"), cleaned.get("provider")
        if kind == Invoice.Kind.AR:
            if provider:
                self.add_error("provider", "An AR invoice goes to a customer: leave the provider empty.")
            if not customer and "customer" in self.fields and "customer" not in self.errors:
                self.add_error("customer", "Choose the customer this AR invoice goes to.")
        elif kind == Invoice.Kind.AP:
            if customer:
                self.add_error("customer", "An AP invoice comes from a provider: leave the customer empty.")
            if not provider and "provider" in self.fields and "provider" not in self.errors:
                self.add_error("provider", "Choose the provider this AP invoice comes from.")
        contact = cleaned.get("billing_contact")
        if contact and customer and contact.customer_id != customer.pk:
            self.add_error("billing_contact", f"{contact.name} is a contact of another customer.")
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", "The period must end on or after its first day.")
        return cleaned


class ProformaLinkInline(ReadOnlyInline):
    """Proformas on this invoice: put there by generation, never by hand."""

    model = InvoiceProforma
    fk_name = "invoice"
    fields = ["proforma", "kind", "is_active", "proforma_total"]
    readonly_fields = fields
    verbose_name = "proforma"

    @admin.display(description="Bill total")
    def proforma_total(self, obj):
        return format_units(obj.proforma.bill_total_units, obj.invoice.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("proforma", "invoice")


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["received_on", "amount", "method", "reference", "created_by", "created_at"]
    readonly_fields = fields
    amount = money_column("amount_units", "Amount")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice", "created_by")


class ChildInvoiceInline(ReadOnlyInline):
    """Child AR invoices attached to this one (attached and detached in the office)."""

    model = Invoice
    fk_name = "parent"
    fields = ["number", "customer", "status", "total"]
    readonly_fields = fields
    verbose_name = "attached child invoice"
    total = money_column("total_units", "Total")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer")


class LockedInvoiceExpenseCodeInline(LockedInlineMixin, InvoiceExpenseCodeInline):
    pass


@admin.register(Invoice)
class InvoiceAdmin(OwnedRowsDeleteMixin, SlipSavingMixin, admin.ModelAdmin):
    form = InvoiceForm
    owned_models = (Slip, InvoiceProforma)
    list_display = [
        "__str__",
        "kind",
        "party",
        "issue_date",
        "due_date",
        "status",
        "total",
        "outstanding",
        "source",
        "partner",
    ]
    list_display_links = ["__str__"]
    list_filter = ["status", "kind", "source", "partner"]
    search_fields = ["number", "customer__name", "provider__name", "bill_to_name", "contact_email"]
    date_hierarchy = "issue_date"
    list_select_related = ["partner", "customer", "provider"]
    autocomplete_fields = ["partner", "customer", "provider", "billing_contact"]
    show_full_result_count = False
    actions = ["issue_drafts", "mark_overdue"]
    inlines = [
        InvoiceSlipInline,
        ProformaLinkInline,
        LockedInvoiceExpenseCodeInline,
        PaymentInline,
        ChildInvoiceInline,
    ]
    readonly_fields = [
        "status",
        "number",
        "sequence",
        "currency",
        "parent",
        "issue_date",
        "contact_name",
        "contact_email",
        "contact_address",
        "bill_to_name",
        "expense_code_key",
        "generation_key",
        "subtotal",
        "discount_total",
        "tax",
        "total",
        "paid",
        "children",
        "outstanding",
        "void_reason",
        "issued_at",
        "voided_at",
        "sent_at",
        "send_error",
        "stored_pdf",
        "pdf_error",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["partner", "kind", "source", "status", "number", "customer", "provider", "parent"]}),
        (
            "Dates and terms",
            {"fields": ["period_start", "period_end", "issue_date", "due_date", "payment_terms_days", "no_payment"]},
        ),
        (
            "Billing contact",
            {
                "fields": ["billing_contact", "bill_to_name", "contact_name", "contact_email", "contact_address"],
                "description": "The name and addresses are copied from the contact when the invoice is issued.",
            },
        ),
        (
            "Totals",
            {
                "fields": [
                    "currency",
                    "discount_units",
                    "subtotal",
                    "discount_total",
                    "tax",
                    "total",
                    "paid",
                    "children",
                    "outstanding",
                ],
                "description": "Totals are recomputed from the lines when the draft is saved.",
            },
        ),
        ("Notes", {"fields": ["notes", "void_reason"]}),
        ("Expense codes", {"fields": ["expense_code_mode", "expense_code_key"], "classes": ["collapse"]}),
        (
            "Delivery and record",
            {
                "fields": [
                    "sequence",
                    "generation_key",
                    "issued_at",
                    "voided_at",
                    "sent_at",
                    "send_error",
                    "stored_pdf",
                    "pdf_error",
                    "created_by",
                    "created_at",
                    "updated_at",
                ],
                "classes": ["collapse"],
            },
        ),
    ]

    discount = money_column("discount_units", "Invoice discount")
    stored_pdf = stored_file_column("pdf", "PDF")  # through the app, not the storage's URL
    subtotal = money_column("subtotal_units", "Subtotal")
    discount_total = money_column("discount_total_units", "Discounts")
    tax = money_column("tax_units", "Tax")
    total = money_column("total_units", "Total")
    paid = money_column("paid_units", "Paid")
    children = money_column("children_units", "Covered by child invoices")

    @admin.display(description="Outstanding")
    def outstanding(self, obj):
        return format_units(obj.outstanding_units, obj.currency)

    @admin.display(description="Customer / provider")
    def party(self, obj):
        return obj.customer or obj.provider or "—"

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not invoice_is_frozen(obj):
            return fieldsets
        # Read-only view: show the typed discount as money rather than raw minor units.
        return [
            (name, {**opts, "fields": ["discount" if f == "discount_units" else f for f in opts["fields"]]})
            for name, opts in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "discount"] if invoice_is_frozen(obj) else readonly

    # Issued invoices are never edited: the change page becomes a read-only view, inlines included.
    def has_change_permission(self, request, obj=None):
        if invoice_is_frozen(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status != Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # drafts are deleted one by one, through invoice_delete_draft
        return actions

    def save_model(self, request, obj, form, change):
        if not change:
            obj.currency = obj.partner.currency
            obj.created_by = request.user
            if obj.customer_id:
                obj.expense_code_mode = obj.customer.expense_code_mode
                obj.no_payment = obj.no_payment or obj.customer.payment_terms == obj.customer.PaymentTerms.NO_PAYMENT
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        invoice = form.instance
        problem = invoice_draft_refresh(invoice)
        if problem:
            self.message_user(request, problem, level=messages.WARNING)
        audit_record(
            target=invoice,
            action="edit_draft" if change else "create",
            actor=request.user,
            from_status=Status.DRAFT if change else "",
            to_status=Status.DRAFT,
            data={"via": "admin"},
        )

    def delete_model(self, request, obj):
        invoice_delete_draft(invoice=obj, user=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except BillingError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return redirect("admin:invoicing_invoice_change", object_id)

    @admin.action(description="Issue selected drafts", permissions=["change"])
    def issue_drafts(self, request, queryset):
        issued = []
        for invoice in queryset.order_by("id"):
            try:
                issued.append(invoice_issue(invoice=invoice, user=request.user))
            except (BillingError, ValidationError) as exc:
                self.message_user(request, f"{invoice}: {_message(exc)}", level=messages.ERROR)
        if issued:
            numbers = ", ".join(invoice.number for invoice in issued)
            self.message_user(request, f"Issued {len(issued)} invoice(s): {numbers}.", level=messages.SUCCESS)

    @admin.action(
        description="Mark past-due invoices overdue (for the selected invoices' partners)", permissions=["change"]
    )
    def mark_overdue(self, request, queryset):
        partners = Partner.objects.filter(pk__in=queryset.values("partner_id")).order_by("name")
        for partner in partners:
            try:
                marked = invoices_mark_overdue(partner=partner)
            except (BillingError, ValidationError) as exc:
                self.message_user(request, f"{partner}: {_message(exc)}", level=messages.ERROR)
                continue
            if marked:
                self.message_user(request, f"{partner}: {marked} invoice(s) marked overdue.", level=messages.SUCCESS)
            else:
                self.message_user(request, f"{partner}: no invoice is past due.", level=messages.INFO)


def _message(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


@admin.register(InvoiceProforma)
class InvoiceProformaAdmin(ReadOnlyAdmin):
    """Links are made and unmade by generation and voiding, never by hand."""

    list_display = ["invoice", "proforma", "kind", "is_active", "position"]
    list_filter = ["kind", "is_active"]
    search_fields = ["invoice__number", "proforma__number"]
    list_select_related = ["invoice", "proforma"]
    show_full_result_count = False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Read-only: payments are recorded in the office through invoicing.payments.payment_record."""

    list_display = ["received_on", "invoice", "amount", "method", "reference", "created_by", "partner"]
    list_filter = ["method", "partner"]
    search_fields = ["invoice__number", "reference", "invoice__customer__name"]
    date_hierarchy = "received_on"
    list_select_related = ["invoice", "created_by", "partner"]
    show_full_result_count = False
    amount = money_column("amount_units", "Amount")
