"""Shared admin pieces: money columns and inputs, read-only admins, and locks on issued documents."""

from __future__ import annotations

from django.contrib import admin

from customers.admin import TenantCheckedForm
from octoo_billing.forms import AmountField, RateField
from octoo_billing.money import format_units

from ..models import Invoice, InvoiceProforma, Proforma
from ..templatetags.money import rate as format_rate

DEFAULT_CURRENCY = "USD"


def currency_of(obj) -> str | None:
    """The currency a record's amounts are in: its own, else its partner's (through its parent)."""
    if obj is None:
        return None
    currency = getattr(obj, "currency", None)
    if currency:
        return currency
    if getattr(obj, "partner_id", None):
        return obj.partner.currency
    for parent in ("invoice", "proforma", "request", "quote", "service", "customer"):
        if getattr(obj, f"{parent}_id", None):
            return currency_of(getattr(obj, parent))
    return None


def money_column(field: str, description: str):
    """A changelist/readonly column showing ``field`` (integer minor units) as money."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return format_units(getattr(obj, field), currency_of(obj) or DEFAULT_CURRENCY)

    column.__name__ = f"{field}_money"
    return column


def rate_column(field: str, description: str):
    """A column showing ``field`` (Decimal minor units per unit) as a price, exactly ($0.655)."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return format_rate(getattr(obj, field), currency_of(obj) or DEFAULT_CURRENCY) or "—"

    column.__name__ = f"{field}_money"
    return column


class BillingAdminForm(TenantCheckedForm):
    """Admin form: amounts typed as money ("1,234.50") instead of raw minor units, and no cross-tenant links.

    ``money_fields`` are integer ``*_units`` fields, ``rate_fields`` Decimal ``*_rate_units`` fields;
    ``negative_fields`` may go below zero. Inlines set ``currency`` from their parent.
    """

    money_fields: tuple[str, ...] = ()
    rate_fields: tuple[str, ...] = ()
    negative_fields: tuple[str, ...] = ()
    currency: str | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currency = self.currency or currency_of(self.instance) or DEFAULT_CURRENCY
        for name in (*self.money_fields, *self.rate_fields):
            if name not in self.fields:
                continue  # read-only here
            model_field = self._meta.model._meta.get_field(name)
            field_class = AmountField if name in self.money_fields else RateField
            old = self.fields[name]
            self.fields[name] = field_class(
                currency=currency,
                allow_negative=name in self.negative_fields,
                required=old.required,
                label=model_field.verbose_name.removesuffix(" units").capitalize(),
                help_text=old.help_text
                or (f"In {currency}." if name in self.money_fields else f"{currency} per unit."),
                initial=old.initial,
            )
            self.fields[name].widget.attrs.setdefault("size", 12)


class CurrencyInlineMixin:
    """Gives an inline's BillingAdminForm the parent document's currency."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.currency = currency_of(obj)  # a fresh class per call: safe to set
        return formset


class ReadOnlyAdmin(admin.ModelAdmin):
    """View-only: the rows are written by domain functions, never by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OwnedRowsDeleteMixin:
    """Deleting a document deletes its own lines and links with it. Those rows have view-only admins
    (never deleted on their own), which would otherwise make Django refuse the delete for want of
    permission on them."""

    owned_models: tuple = ()

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        owned = {str(model._meta.verbose_name) for model in self.owned_models}
        return deleted, model_count, {p for p in perms_needed if str(p) not in owned}, protected


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def invoice_is_frozen(invoice: Invoice | None) -> bool:
    """Issued invoices (void included) are never edited."""
    return invoice is not None and invoice.pk is not None and invoice.status != Invoice.Status.DRAFT


def proforma_is_frozen(proforma: Proforma | None) -> bool:
    """A proforma on a live issued invoice (AR or AP) is frozen with it."""
    if proforma is None or proforma.pk is None:
        return False
    if not hasattr(proforma, "_admin_frozen"):
        proforma._admin_frozen = (
            InvoiceProforma.objects.filter(proforma=proforma, is_active=True)
            .exclude(invoice__status=Invoice.Status.DRAFT)
            .exists()
        )
    return proforma._admin_frozen


class LockedInlineMixin:
    """An inline that can be edited only while its parent document is editable."""

    def parent_is_frozen(self, obj) -> bool:
        if isinstance(obj, Invoice):
            return invoice_is_frozen(obj)
        if isinstance(obj, Proforma):
            return proforma_is_frozen(obj)
        return False

    def has_add_permission(self, request, obj=None):
        return not self.parent_is_frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self.parent_is_frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self.parent_is_frozen(obj) and super().has_delete_permission(request, obj)
