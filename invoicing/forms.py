"""Office forms for invoices and their actions: manual invoices (seed 001), payments, voids, adjustments,
child AR invoices. Money is typed as an amount ("1,234.50") and cleaned to integer minor units; quantities,
prices and tax rates are Decimal. Every error is in plain words and sits on the field it is about."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from django import forms
from django.utils import timezone

from customers.billing import MAX_TERMS_DAYS
from customers.models import BillingContact, Customer
from octoo_billing.forms import AmountField, PercentField, QuantityField, RateField
from octoo_billing.money import MAX_AMOUNT_UNITS, format_units, round_half_up

from .form_fields import coupon_field
from .lifecycle import attachable_children
from .manual import ADJUSTMENT_KINDS, LineInput
from .models import Invoice, Payment
from .pricing import line_amounts

# The most lines one manual invoice takes (its formset's max_num); settings.DATA_UPLOAD_MAX_NUMBER_FIELDS lets a
# request that size through.
MAX_INVOICE_LINES = 500


class DateInput(forms.DateInput):
    """The browser's date picker; it submits ISO dates."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


# --- actions on an invoice ----------------------------------------------------------------------------------


class InvoiceActionForm(forms.Form):
    """Every action form carries the status the page showed, so a stale page changes nothing."""

    expected_status = forms.ChoiceField(choices=Invoice.Status.choices, widget=forms.HiddenInput)
    # The invoice page shows several action forms at once: each gets its own HTML ids.
    id_prefix = "action"

    def __init__(self, *args, invoice: Invoice | None = None, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)
        self.invoice = invoice
        if invoice is not None:
            self.fields["expected_status"].initial = invoice.status


class VoidForm(InvoiceActionForm):
    id_prefix = "void"

    reason = forms.CharField(
        label="Why is it voided?",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the invoice is voided."},
        help_text="Kept on the invoice and in its history. The number stays; its proformas can be invoiced again.",
    )


_KEY_RE = re.compile(r"^[0-9a-f]{32}$")


class PaymentForm(InvoiceActionForm):
    """A payment received (AR) or made (AP). The hidden one-time key makes a double submit record one payment.

    The form reads what was typed; the rules on it (more than zero, within the balance, not in the future, a check
    number for checks) are the record-payment action's guards (invoicing.workflow), put back on these fields."""

    id_prefix = "payment"

    amount = AmountField(label="Amount")
    method = forms.ChoiceField(label="Method", choices=Payment.Method.choices, initial=Payment.Method.CHECK)
    reference = forms.CharField(
        label="Check number or reference",
        max_length=100,
        required=False,
        help_text="Required for checks.",
    )
    received_on = forms.DateField(
        label="Received on", widget=DateInput, error_messages={"required": "Enter the date it was received."}
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, invoice: Invoice, **kwargs):
        super().__init__(*args, invoice=invoice, **kwargs)
        self.fields["amount"].currency = invoice.currency
        self.fields["amount"].initial = max(invoice.outstanding_units, 0) or None
        self.fields["received_on"].initial = timezone.localdate()
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        if invoice.customer_id and invoice.customer.payment_method == Customer.PaymentMethod.CARD:
            self.fields["method"].initial = Payment.Method.CARD

    def clean_idempotency_key(self):
        key = self.cleaned_data["idempotency_key"].strip().lower()
        if not _KEY_RE.match(key):
            raise forms.ValidationError("This form is out of date. Reload the page and try again.")
        return key

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is None:
            raise forms.ValidationError("Enter an amount.")
        return amount


class AdjustmentForm(forms.Form):
    """An adjustment line (seed 001): additional work, reduced scope or a credit."""

    kind = forms.ChoiceField(
        label="Kind",
        choices=[(key, label) for key, (label, _type, _sign) in ADJUSTMENT_KINDS.items()],
        error_messages={"required": "Choose additional work, reduced scope or credit."},
    )
    description = forms.CharField(
        label="Description",
        max_length=250,
        error_messages={"required": "Describe the change so the customer understands it."},
    )
    amount = AmountField(label="Amount", help_text="The size of the change; reduced scope and credits lower the total.")
    tax_rate = PercentField(label="Tax rate %", required=False)

    def __init__(self, *args, currency: str = "USD", tax_rate: Decimal | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = currency
        self.fields["tax_rate"].initial = tax_rate if tax_rate is not None else Decimal(0)

    def clean_description(self):
        description = self.cleaned_data["description"].strip()
        if not description:
            raise forms.ValidationError("Describe the change so the customer understands it.")
        return description

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is None or amount <= 0:
            raise forms.ValidationError("Enter the amount of the change, more than zero.")
        return amount

    def clean_tax_rate(self):
        return self.cleaned_data.get("tax_rate") or Decimal(0)


class InvoiceAdjustmentForm(InvoiceActionForm, AdjustmentForm):
    id_prefix = "adjust"

    def __init__(self, *args, invoice: Invoice, **kwargs):
        zone = invoice.customer.zone if invoice.customer_id else None
        kwargs.setdefault("currency", invoice.currency)
        kwargs.setdefault("tax_rate", zone.tax_rate if zone else Decimal(0))
        super().__init__(*args, invoice=invoice, **kwargs)
        if invoice.kind == Invoice.Kind.AP:
            del self.fields["tax_rate"]  # AP invoices pay the provider's side: no tax


class ProformaAdjustmentForm(AdjustmentForm):
    pay_amount = AmountField(
        label="Provider pay change",
        required=False,
        help_text="Optional: what the provider earns more (or less) for it.",
    )

    def clean_pay_amount(self):
        amount = self.cleaned_data.get("pay_amount")
        if amount is not None and amount < 0:
            raise forms.ValidationError("Enter the size of the change; the kind gives its direction.")
        return amount or 0


class AttachChildForm(InvoiceActionForm):
    """Find the child AR invoice by its number, within the partner's own AR invoices."""

    id_prefix = "attach"

    PICKER_SIZE = 200

    number = forms.CharField(
        label="Child invoice",
        max_length=30,
        error_messages={"required": "Choose the invoice to attach: type its number or its customer's name."},
        help_text="An issued AR invoice with no proformas, e.g. a general slip for a shared amount. "
        "Type to search the invoices that can be attached.",
        widget=forms.TextInput(attrs={"list": "attach-child-options", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.choices = list(attachable_children(self.invoice)[: self.PICKER_SIZE]) if self.invoice else []

    def clean_number(self):
        number = self.cleaned_data["number"].strip()
        child = (
            Invoice.objects.filter(partner_id=self.invoice.partner_id, kind=Invoice.Kind.AR, number__iexact=number)
            .select_related("customer")
            .first()
        )
        if child is None:
            raise forms.ValidationError(f"No AR invoice is numbered “{number}”.")
        self.child = child  # whether it may be attached is the attach action's guard (invoicing.workflow)
        return number


class DetachChildForm(forms.Form):
    """Detach from the parent it was attached to when the page was rendered."""

    parent = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)  # an id: the URL needs it
    back = forms.ChoiceField(choices=[("child", "child"), ("parent", "parent")], widget=forms.HiddenInput)


# --- manual invoices (seed 001) -----------------------------------------------------------------------------


class CustomerPickForm(forms.Form):
    """Step one of a manual invoice (a GET form): the customer. Their contacts, terms and zone tax rate then
    fill in the invoice form; changing the customer reloads the page with ?customer=ID."""

    customer = forms.ModelChoiceField(
        label="Customer",
        queryset=Customer.objects.none(),
        empty_label="Choose a customer…",
        error_messages={"invalid_choice": "Choose one of your customers."},
    )

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.filter(partner=partner, is_active=True).only(
            "id", "name", "partner_id"
        )


class ManualInvoiceForm(forms.Form):
    """The header of a manual AR invoice: customer, billing contact, invoice discount, terms or due date, notes.

    ``customer`` fixes the customer (chosen with ?customer=ID, or the draft's own): the contact select then
    lists that customer's contacts only, its default preselected."""

    customer = forms.ModelChoiceField(
        label="Customer",
        queryset=Customer.objects.none(),
        widget=forms.HiddenInput,  # chosen with CustomerPickForm, which reloads the page with ?customer=ID
        error_messages={
            "required": "Choose the customer to bill.",
            "invalid_choice": "Choose one of your customers.",
        },
    )
    billing_contact = forms.ModelChoiceField(
        label="Billing contact",
        queryset=BillingContact.objects.none(),
        required=False,
        empty_label="The customer's default contact",
        error_messages={"invalid_choice": "Choose one of this customer's billing contacts."},
    )
    discount = AmountField(
        label="Invoice discount",
        required=False,
        help_text="Spread over the lines before tax.",
    )
    payment_terms_days = forms.IntegerField(
        label="Payment terms (days)",
        required=False,
        min_value=0,
        max_value=MAX_TERMS_DAYS,
        error_messages={
            "invalid": "Enter a whole number of days, like 30.",
            "min_value": "Payment terms cannot be negative.",
            "max_value": f"Payment terms are at most {MAX_TERMS_DAYS} days.",
        },
        help_text="Net days after issue. Leave empty for the customer's terms.",
    )
    due_date = forms.DateField(
        label="Due date",
        required=False,
        widget=DateInput,
        error_messages={"invalid": "Enter a date like 2026-03-31."},
        help_text="Overrides the terms if set.",
    )
    notes = forms.CharField(label="Notes", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    coupon = coupon_field("Its discount line comes off the lines before tax and follows them when they change.")

    def __init__(self, *args, partner, customer: Customer | None = None, invoice: Invoice | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.partner = partner
        self.invoice = invoice
        currency = partner.currency
        self.fields["discount"].currency = currency
        self.fields["customer"].queryset = Customer.objects.filter(partner=partner, is_active=True).only(
            "id", "name", "partner_id"
        )
        if invoice is not None:
            customer = invoice.customer
            self.fields["customer"].queryset = Customer.objects.filter(pk=invoice.customer_id)
            self.fields["customer"].disabled = True
            self.fields["customer"].help_text = "A draft's customer cannot change: delete it and start again."
        self.customer = customer
        if customer is not None:
            self.fields["customer"].initial = customer.pk
            contacts = list(BillingContact.objects.filter(customer=customer))
            self.fields["billing_contact"].queryset = BillingContact.objects.filter(customer=customer)
            default = next((c for c in contacts if c.is_default), None)
            self.fields["billing_contact"].initial = default.pk if default else None
            if default is None:
                self.fields["billing_contact"].empty_label = "No default contact yet"
            if customer.payment_terms == Customer.PaymentTerms.NO_PAYMENT:
                self.fields["payment_terms_days"].help_text = "This customer is on “no payment” terms."
                self.fields["due_date"].help_text = "Not used: this customer is on “no payment” terms."
            else:
                self.fields["payment_terms_days"].initial = customer.payment_terms_days
        if invoice is not None:
            self.initial.update(
                {
                    "billing_contact": invoice.billing_contact_id or self.fields["billing_contact"].initial,
                    "discount": invoice.discount_units or None,
                    "payment_terms_days": invoice.payment_terms_days,
                    "due_date": invoice.due_date,
                    "notes": invoice.notes,
                    "coupon": invoice.coupon.code if invoice.coupon_id else "",
                }
            )

    def clean_due_date(self):
        due_date = self.cleaned_data.get("due_date")
        if due_date and due_date < timezone.localdate():
            raise forms.ValidationError("A due date cannot be in the past.")
        return due_date

    def clean_discount(self):
        return self.cleaned_data.get("discount") or 0

    def clean(self):
        cleaned = super().clean()
        customer, contact = cleaned.get("customer"), cleaned.get("billing_contact")
        if customer is not None and contact is not None and contact.customer_id != customer.pk:
            self.add_error("billing_contact", "Choose one of this customer's billing contacts.")
        return cleaned


class InvoiceLineForm(forms.Form):
    """One line of a manual invoice: description, quantity, unit price, tax rate and a per-line discount."""

    description = forms.CharField(
        label="Description", max_length=300, error_messages={"required": "Enter a description."}
    )
    quantity = QuantityField(label="Qty", initial=Decimal(1))
    unit_price = RateField(label="Unit price")
    tax_rate = PercentField(label="Tax %", required=False)
    discount = AmountField(label="Discount", required=False)

    def __init__(self, *args, currency: str = "USD", tax_rate: Decimal | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["unit_price"].currency = currency
        self.fields["discount"].currency = currency
        self.fields["tax_rate"].initial = tax_rate if tax_rate is not None else Decimal(0)
        for name, field in self.fields.items():
            if name != "DELETE":
                field.widget.attrs.setdefault("data-line", name)

    def clean_description(self):
        description = self.cleaned_data["description"].strip()
        if not description:
            raise forms.ValidationError("Enter a description.")
        return description

    def clean(self):
        cleaned = super().clean()
        quantity, price = cleaned.get("quantity"), cleaned.get("unit_price")
        discount = cleaned.get("discount") or 0
        cleaned["discount"] = discount
        cleaned["tax_rate"] = cleaned.get("tax_rate") or Decimal(0)
        if quantity is not None and price is not None:
            amount = round_half_up(quantity * price)  # exact: both are bounded, 24 digits at most
            cleaned["amount_units"] = amount
            if amount > MAX_AMOUNT_UNITS:
                largest = format_units(MAX_AMOUNT_UNITS, self.currency)
                self.add_error(
                    "unit_price", f"The line would come to more than {largest}: lower the quantity or the price."
                )
            elif discount > amount:
                self.add_error(
                    "discount", f"The discount is larger than the line ({format_units(amount, self.currency)})."
                )
        return cleaned

    def total_units(self) -> int:
        """The line's total after its own discount and tax (before any invoice discount)."""
        data = self.cleaned_data
        return line_amounts(
            quantity=data["quantity"],
            unit_price_units=data["unit_price"],
            tax_rate=data["tax_rate"],
            discount_units=data["discount"],
        ).total_units

    def line_input(self) -> LineInput:
        data = self.cleaned_data
        return LineInput(
            description=data["description"],
            quantity=data["quantity"],
            unit_price_units=data["unit_price"],
            tax_rate=data["tax_rate"],
            discount_units=data["discount"],
        )


class BaseInvoiceLineFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_many_forms": "An invoice has at most %(num)d lines: split them over several invoices.",
    }

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = self.kept_forms()
        if not kept:
            raise forms.ValidationError("Add at least one line with a description and a price.")
        # An invoice discount only lowers this; the domain checks the exact total again (invoicing.manual).
        if sum(form.total_units() for form in kept) > MAX_AMOUNT_UNITS:
            largest = format_units(MAX_AMOUNT_UNITS, kept[0].currency)
            raise forms.ValidationError(f"These lines come to more than {largest}: split them over several invoices.")

    def kept_forms(self):
        """The lines to save: every initial line not removed, and the extra rows that were filled in."""
        kept = []
        for index, form in enumerate(self.forms):
            if self.can_delete and self._should_delete_form(form):
                continue
            if index >= self.initial_form_count() and not form.has_changed():
                continue
            kept.append(form)
        return kept

    def lines(self) -> list[LineInput]:
        return [form.line_input() for form in self.kept_forms()]

    def lines_amount_units(self) -> int:
        """The lines' amounts after their own discounts: the most an invoice discount can take."""
        return sum(form.cleaned_data["amount_units"] - form.cleaned_data["discount"] for form in self.kept_forms())


def invoice_line_formset(*, extra: int):
    return forms.formset_factory(
        InvoiceLineForm,
        formset=BaseInvoiceLineFormSet,
        extra=extra,
        can_delete=True,
        max_num=MAX_INVOICE_LINES,
        absolute_max=MAX_INVOICE_LINES,
    )
