"""Admin for partners, customers, billing contacts, providers and memberships (platform support)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models

from expense_codes.admin import DefaultExpenseCodeInline, ExpenseCodeLabelInline
from octoo_billing.admin_files import stored_file_column

from .contacts import CONTACT_FIELDS, contact_create, contact_delete, contact_set_default, contact_update
from .models import BillingContact, Customer, CustomerMembership, Partner, Provider, StaffMembership

ANOTHER_PARTNER = "“%(value)s” belongs to %(other)s, not to %(partner)s."


def partner_id_of(obj):
    """The partner a record belongs to (``None`` when it has none, e.g. a user)."""
    if obj is None:
        return None
    if isinstance(obj, Partner):
        return obj.pk
    if getattr(obj, "partner_id", None) is not None:
        return obj.partner_id
    for parent in ("customer", "request", "quote", "service"):
        if getattr(obj, f"{parent}_id", None) is not None:
            return partner_id_of(getattr(obj, parent))
    return None


class TenantCheckedForm(forms.ModelForm):
    """An admin form that refuses to link records of two partners (say, a customer of partner A on an
    invoice of partner B): a plain error on the field instead of a cross-tenant row.

    Admin forms here have no Meta: the admin's modelform_factory supplies the model and fields."""

    def clean(self):
        cleaned = super().clean()
        related = {name: value for name, value in cleaned.items() if isinstance(value, models.Model)}
        partner = related.get("partner")
        if partner is None:
            owner_id = partner_id_of(self.instance) if self.instance.pk else None
            partner = Partner.objects.filter(pk=owner_id).first() if owner_id else None
        if partner is None:  # no partner field: the first related record decides (e.g. the customer)
            for value in related.values():
                owner_id = partner_id_of(value)
                if owner_id is not None:
                    partner = Partner.objects.filter(pk=owner_id).first()
                    break
        if partner is None:
            return cleaned
        for name, value in related.items():
            owner_id = partner_id_of(value)
            if name != "partner" and owner_id is not None and owner_id != partner.pk and name in self.fields:
                other = Partner.objects.filter(pk=owner_id).first()
                self.add_error(name, ANOTHER_PARTNER % {"value": value, "other": other, "partner": partner})
        return cleaned


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "ar_prefix", "ap_prefix", "proforma_prefix", "created_at"]
    search_fields = ["name", "slug", "legal_name", "email"]
    prepopulated_fields = {"slug": ["name"]}
    stored_logo = stored_file_column("logo", "Logo")  # through the app, not the storage's URL
    readonly_fields = [
        "created_at",
        # Changed by the partner's billing admins on the office's company settings page (customers.company), which
        # checks the logo's content and the time zone and writes the audit row; shown here for support.
        "stored_logo",
        "remittance",
        "bank_name",
        "bank_account_name",
        "bank_account_number",
        "bank_routing",
        "email_sender_name",
        "time_zone",
    ]
    fieldsets = [
        (None, {"fields": ["name", "slug", "currency"]}),
        (
            "Company settings (changed in the office: Settings)",
            {
                "fields": [
                    "stored_logo",
                    "remittance",
                    "bank_name",
                    "bank_account_name",
                    "bank_account_number",
                    "bank_routing",
                    "email_sender_name",
                    "time_zone",
                ]
            },
        ),
        ("Company details (printed on PDFs)", {"fields": ["legal_name", "address", "tax_id", "email", "phone"]}),
        (
            "Numbering",
            {
                "fields": ["ar_prefix", "ap_prefix", "proforma_prefix"],
                "description": "A new prefix applies to numbers issued from now on; issued numbers never change.",
            },
        ),
        (
            "Billing",
            {
                "fields": [
                    "default_payment_terms_days",
                    "issue_generated_invoices",
                    "weeknight_starts",
                    "weeknight_ends",
                    "created_at",
                ]
            },
        ),
    ]


class BillingContactFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        live = [f for f in self.forms if f.has_changed() or f.instance.pk]
        live = [f for f in live if not self._should_delete_form(f) and f.cleaned_data]
        defaults = [f for f in live if f.cleaned_data.get("is_default")]
        if len(defaults) > 1:
            raise forms.ValidationError("Only one contact can be the default. Untick “is default” on the others.")
        if live and not defaults:
            raise forms.ValidationError("Tick “is default” on one contact: every invoice is sent to the default.")


class BillingContactInline(admin.TabularInline):
    model = BillingContact
    formset = BillingContactFormSet
    fields = ["name", "email", "phone", "address", "is_default", "receives_invoices"]
    extra = 0
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 30})}}


class CustomerAdminForm(TenantCheckedForm):
    def clean(self):
        cleaned = super().clean()
        if (
            not cleaned.get("allow_recurring_bookings")
            and cleaned.get("payment_terms") != Customer.PaymentTerms.NO_PAYMENT
            and cleaned.get("auto_invoice_on_booking") is False
        ):
            self.add_error(
                "auto_invoice_on_booking",
                "With recurring bookings off, invoicing on booking can be turned off only on “no payment” terms.",
            )
        discount = cleaned.get("discount_percent")
        if discount is not None and not 0 <= discount <= 100:
            self.add_error("discount_percent", "Enter a percentage between 0 and 100.")
        return cleaned


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = [
        "name",
        "partner",
        "payment_method",
        "terms",
        "invoicing_schedule",
        "expense_code_mode",
        "require_expense_code",
        "is_active",
    ]
    list_filter = ["is_active", "partner", "payment_method", "payment_terms", "invoicing_schedule", "expense_code_mode"]
    search_fields = ["name", "email", "phone"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner", "zone"]
    readonly_fields = ["created_at"]
    inlines = [BillingContactInline, ExpenseCodeLabelInline, DefaultExpenseCodeInline]
    fieldsets = [
        (None, {"fields": ["partner", "name", "email", "phone", "address", "zone", "is_active", "created_at"]}),
        (
            "Payment and invoicing",
            {
                "fields": [
                    "payment_method",
                    "payment_terms",
                    "payment_terms_days",
                    "invoicing_schedule",
                    "discount_percent",
                    "auto_send",
                    "auto_charge",
                ]
            },
        ),
        ("Expense codes", {"fields": ["expense_code_mode", "require_expense_code"]}),
        ("Portal bookings", {"fields": ["allow_recurring_bookings", "auto_invoice_on_booking"]}),
    ]

    @admin.display(description="Terms", ordering="payment_terms_days")
    def terms(self, obj):
        return obj.terms_label

    def save_formset(self, request, form, formset, change):
        if formset.model is not BillingContact:
            return super().save_formset(request, form, formset, change)
        # Through customers.contacts, as in the office: audited, and one default at every step (the new
        # default is set before the contacts removed are deleted).
        customer = form.instance
        formset.save(commit=False)
        for contact in formset.new_objects:
            fields = {name: getattr(contact, name) for name in CONTACT_FIELDS}
            contact_create(customer=customer, user=request.user, make_default=contact.is_default, **fields)
        for contact, changed in formset.changed_objects:
            fields = {name: getattr(contact, name) for name in CONTACT_FIELDS if name in changed}
            if fields:
                contact_update(contact=contact, user=request.user, **fields)
            if "is_default" in changed and contact.is_default:
                contact_set_default(contact=contact, user=request.user)
        for contact in formset.deleted_objects:
            contact_delete(contact=contact, user=request.user)


class BillingContactAdminForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        customer = cleaned.get("customer") or (self.instance.customer if self.instance.pk else None)
        if self.instance.is_default and not cleaned.get("is_default", True):
            self.add_error("is_default", "Make another contact the default on the customer's page instead.")
        if customer and cleaned.get("is_default"):
            other = customer.contacts.filter(is_default=True).exclude(pk=self.instance.pk).first()
            if other:
                self.add_error(
                    "is_default",
                    f"{customer} already has a default contact ({other.name}). "
                    "Change the default on the customer's page.",
                )
        return cleaned


@admin.register(BillingContact)
class BillingContactAdmin(admin.ModelAdmin):
    form = BillingContactAdminForm
    list_display = ["name", "email", "customer", "partner", "is_default", "receives_invoices"]
    list_filter = ["is_default", "receives_invoices", "customer__partner"]
    search_fields = ["name", "email", "customer__name"]
    list_select_related = ["customer__partner"]
    autocomplete_fields = ["customer"]

    @admin.display(description="Partner", ordering="customer__partner__name")
    def partner(self, obj):
        return obj.customer.partner

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "customer"] if obj is not None else readonly  # a contact stays with its customer

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_default:
            return False  # every invoice is sent to the default: make another the default first
        return super().has_delete_permission(request, obj)

    # Through customers.contacts, as in the office: audited, one default per customer.
    def save_model(self, request, obj, form, change):
        fields = {name: getattr(obj, name) for name in CONTACT_FIELDS}
        if not change:
            created = contact_create(customer=obj.customer, user=request.user, make_default=obj.is_default, **fields)
            obj.pk, obj.is_default = created.pk, created.is_default
            return
        changed = {name: value for name, value in fields.items() if name in form.changed_data}
        if changed:
            contact_update(contact=obj, user=request.user, **changed)
        if "is_default" in form.changed_data and obj.is_default:
            contact_set_default(contact=obj, user=request.user)

    def delete_model(self, request, obj):
        contact_delete(contact=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for contact in queryset.select_related("customer"):
            try:
                contact_delete(contact=contact, user=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{contact}: {' '.join(exc.messages)}", level=messages.ERROR)


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "email", "phone", "payment_terms_days", "is_active"]
    list_filter = ["is_active", "partner"]
    search_fields = ["name", "email", "phone"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]
    readonly_fields = ["created_at"]


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "partner", "role"]
    list_filter = ["role", "partner"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name", "partner__name"]
    list_select_related = ["user", "partner"]
    autocomplete_fields = ["user", "partner"]


@admin.register(CustomerMembership)
class CustomerMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "customer", "partner", "can_manage_expense_codes"]
    list_filter = ["can_manage_expense_codes", "customer__partner"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name", "customer__name"]
    list_select_related = ["user", "customer__partner"]
    autocomplete_fields = ["user", "customer"]

    @admin.display(description="Partner", ordering="customer__partner__name")
    def partner(self, obj):
        return obj.customer.partner
