"""Office forms for customers, billing contacts, billing settings and providers.

Forms read and check the typed input only; the rules (seed 002's booking flags, one default contact,
unique names) live in the domain functions (customers.billing, customers.contacts, customers.providers),
whose ``ValidationError`` the views put back on these forms, field by field.
"""

from __future__ import annotations

import datetime
import unicodedata

from django import forms
from django.utils import timezone

from octoo_billing.cards import luhn_valid
from octoo_billing.forms import PercentField
from octoo_billing.locale import LOCALE_CHOICES

from .billing import BILLING_SETTINGS, MAX_TERMS_DAYS
from .company import SETTINGS as COMPANY_SETTINGS
from .models import Customer, Provider, time_zone_names

TEXTAREA = forms.Textarea(attrs={"rows": 2})


class CustomerDetailsForm(forms.Form):
    name = forms.CharField(max_length=200, error_messages={"required": "Enter the customer's name."})
    email = forms.EmailField(label="E-mail", required=False, help_text="The customer's general address.")
    phone = forms.CharField(max_length=40, required=False)
    address = forms.CharField(widget=TEXTAREA, required=False)
    monthly_statement = forms.BooleanField(
        label="E-mail a monthly statement of account",
        required=False,
        help_text="Early each month, last month's statement goes to the billing contact, as a PDF.",
    )

    @classmethod
    def for_customer(cls, customer: Customer, data=None):
        fields = ("name", "email", "phone", "address", "monthly_statement")
        return cls(data, initial={f: getattr(customer, f) for f in fields})


class CustomerCreateForm(CustomerDetailsForm):
    """A new customer and its first billing contact, which becomes the default (seed 000)."""

    monthly_statement = None  # chosen on the customer's edit page

    contact_name = forms.CharField(
        label="Contact name", max_length=200, error_messages={"required": "Enter the billing contact's name."}
    )
    contact_email = forms.EmailField(
        label="Contact e-mail",
        error_messages={"required": "Enter the e-mail address invoices are sent to."},
        help_text="Invoices are sent here.",
    )
    contact_phone = forms.CharField(label="Contact phone", max_length=40, required=False)
    contact_address = forms.CharField(
        label="Billing address", widget=TEXTAREA, required=False, help_text="Printed on invoices."
    )

    DETAIL_FIELDS = ("name", "email", "phone", "address")
    CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone", "contact_address")


class BillingContactForm(forms.Form):
    name = forms.CharField(max_length=200, error_messages={"required": "Enter the contact's name."})
    email = forms.EmailField(
        label="E-mail", error_messages={"required": "Enter the e-mail address invoices are sent to."}
    )
    phone = forms.CharField(max_length=40, required=False)
    address = forms.CharField(label="Billing address", widget=TEXTAREA, required=False)
    receives_invoices = forms.BooleanField(
        label="Copy on invoice e-mails", required=False, help_text="Sent a copy (cc) of every invoice e-mail."
    )

    FIELDS = ("name", "email", "phone", "address", "receives_invoices")

    @classmethod
    def for_contact(cls, contact, data=None):
        return cls(data, initial={f: getattr(contact, f) for f in cls.FIELDS})


class BillingContactCreateForm(BillingContactForm):
    make_default = forms.BooleanField(
        label="Make this the default contact", required=False, help_text="Every new invoice is addressed to it."
    )


class BillingSettingsForm(forms.Form):
    """The billing settings a billing admin changes. Seed 002's rules are checked by
    customers.billing.customer_billing_settings_update; static/js/billing_settings.js hides the auto-invoice
    flag while recurring bookings are allowed."""

    invoicing_schedule = forms.ChoiceField(
        label="Invoicing schedule",
        choices=Customer.Schedule.choices,
        help_text="When automatic runs put confirmed proformas on an invoice.",
    )
    payment_method = forms.ChoiceField(label="Payment method", choices=Customer.PaymentMethod.choices)
    payment_terms = forms.ChoiceField(label="Payment terms", choices=Customer.PaymentTerms.choices)
    payment_terms_days = forms.IntegerField(
        label="Days to pay",
        min_value=0,
        max_value=MAX_TERMS_DAYS,
        required=False,
        help_text="Net N days after issue; 0 means due on receipt.",
        error_messages={
            "invalid": "Enter a whole number of days.",
            "min_value": "The number of days cannot be negative.",
            "max_value": f"Use at most {MAX_TERMS_DAYS} days.",
        },
    )
    zone = forms.ModelChoiceField(
        label="Tax zone",
        queryset=None,
        required=False,
        empty_label="No zone (no default tax)",
        help_text="Its tax rate is the default on manual invoice lines.",
    )
    discount_percent = PercentField(
        label="Subscription discount %", max_digits=5, decimal_places=2, help_text="Taken off service lines."
    )
    expense_code_mode = forms.ChoiceField(
        label="Expense codes on invoices", choices=Customer.ExpenseCodeMode.choices, widget=forms.RadioSelect
    )
    require_expense_code = forms.BooleanField(label="Require an expense code to submit a request", required=False)
    allow_recurring_bookings = forms.BooleanField(
        label="Allow the customer to make repeat/recurring bookings",
        required=False,
        help_text="Recurring bookings carry their own invoicing.",
    )
    auto_invoice_on_booking = forms.BooleanField(
        label="Generate an invoice automatically when the customer books",
        required=False,
        help_text="Off: the customer gets a quote, which staff turn into an invoice. "
        "Can be off only on “No payment” terms.",
    )
    auto_send = forms.BooleanField(label="E-mail invoices when they are issued", required=False)
    sends_reminders = forms.BooleanField(
        label="E-mail payment reminders",
        required=False,
        help_text="Before and after an invoice's due date, on the company's reminder schedule.",
    )
    auto_charge = forms.BooleanField(
        label="Charge the card on file when an invoice is issued",
        required=False,
        help_text="Only for customers who pay by credit card.",
    )
    is_active = forms.BooleanField(
        label="Active", required=False, help_text="Inactive customers are left out of automatic invoicing runs."
    )

    def __init__(self, *args, customer: Customer, **kwargs):
        kwargs.setdefault("initial", {f: getattr(customer, f) for f in BILLING_SETTINGS})
        super().__init__(*args, **kwargs)
        self.customer = customer
        zones = Customer._meta.get_field("zone").related_model.objects  # invoicing's tax zones
        self.fields["zone"].queryset = zones.filter(partner_id=customer.partner_id).order_by("name")
        self.fields["allow_recurring_bookings"].widget.attrs["data-recurring-toggle"] = "1"

    def settings(self) -> dict:
        """The cleaned values, as customer_billing_settings_update takes them."""
        values = dict(self.cleaned_data)
        if values.get("payment_terms_days") is None:
            values.pop("payment_terms_days", None)
        return values

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("payment_terms") == Customer.PaymentTerms.NET and cleaned.get("payment_terms_days") is None:
            if "payment_terms_days" not in self.errors:
                self.add_error("payment_terms_days", "Enter the number of days the customer has to pay.")
        return cleaned


class ProviderForm(forms.Form):
    name = forms.CharField(max_length=200, error_messages={"required": "Enter the provider's name."})
    email = forms.EmailField(label="E-mail", required=False, help_text="Where remittance advice goes.")
    phone = forms.CharField(max_length=40, required=False)
    address = forms.CharField(widget=TEXTAREA, required=False)
    payment_terms_days = forms.IntegerField(
        label="Days to pay",
        min_value=0,
        max_value=MAX_TERMS_DAYS,
        initial=30,
        help_text="When the partner pays the provider's bills, counted from issue.",
        error_messages={
            "required": "Enter the number of days.",
            "invalid": "Enter a whole number of days.",
            "min_value": "The number of days cannot be negative.",
            "max_value": f"Use at most {MAX_TERMS_DAYS} days.",
        },
    )
    is_active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="Inactive providers are left out of automatic runs."
    )

    FIELDS = ("name", "email", "phone", "address", "payment_terms_days", "is_active")

    @classmethod
    def for_provider(cls, provider: Provider, data=None):
        return cls(data, initial={f: getattr(provider, f) for f in cls.FIELDS})


class RunPeriodForm(forms.Form):
    """Which period a "run now" covers: the latest closed period of the schedule (catching up anything
    earlier still uninvoiced), or one chosen calendar month."""

    LATEST = "latest"
    MONTH = "month"

    period = forms.ChoiceField(
        choices=[(LATEST, "Latest closed period, with anything earlier"), (MONTH, "A chosen month")],
        initial=LATEST,
        widget=forms.RadioSelect,
    )
    month = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text="The calendar month whose work to invoice.",
    )

    def clean_month(self):
        text = (self.cleaned_data.get("month") or "").strip()
        if not text:
            return None
        try:
            day = datetime.datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            raise forms.ValidationError("Enter a month as YYYY-MM, for example 2026-02.") from None
        if day.year < 2000:
            raise forms.ValidationError("Enter a month as YYYY-MM, for example 2026-02.")
        if day > timezone.localdate().replace(day=1):
            raise forms.ValidationError("That month has not started yet.")
        return day

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("period") == self.MONTH and cleaned.get("month") is None and "month" not in self.errors:
            self.add_error("month", "Choose the month to invoice.")
        return cleaned


MAX_CARD_YEARS_AHEAD = 20  # cards are issued for a few years; 2099 is a typo


def _ascii_digits(text: str) -> str:
    """The decimal digits of ``text`` as ASCII: "٤٢" (Arabic-Indic) -> "42". Superscripts and fractions ("²", "½")
    pass str.isdigit() but are no digits of a number (int() refuses them): they are left out, like other signs."""
    return "".join(str(unicodedata.decimal(ch)) for ch in text if ch.isdecimal())


class _NoEchoInput(forms.TextInput):
    """A text input that never writes the typed value back into the page (a card number, on an error)."""

    def format_value(self, value):
        return None


class CardOnFileForm(forms.Form):
    """A card to keep on file for automatic charges. The number goes to the payment gateway, which keeps it;
    the customer keeps the gateway's token, the brand and the last four digits (invoicing.charging)."""

    number = forms.CharField(
        label="Card number",
        max_length=30,
        widget=_NoEchoInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric", "spellcheck": "false"}),
        error_messages={"required": "Enter the card number."},
    )
    expiry = forms.CharField(
        label="Expires (MM/YY)",
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": "MM/YY"}),
        error_messages={"required": "Enter the month and year the card expires, as MM/YY."},
    )

    def clean_number(self):
        text = self.cleaned_data["number"]
        digits = _ascii_digits(text)
        if any(not (ch.isdecimal() or ch in " -") for ch in text) or not 12 <= len(digits) <= 19:
            raise forms.ValidationError("Enter the card number: 12 to 19 digits, spaces allowed.")
        if not luhn_valid(digits):
            raise forms.ValidationError("That card number is not valid: check the digits.")
        return digits

    def clean_expiry(self):
        text = self.cleaned_data["expiry"].strip().replace(" ", "")
        month_text, _, year_text = text.partition("/")
        if not (month_text.isdecimal() and year_text.isdecimal() and len(year_text) in (2, 4)):
            raise forms.ValidationError("Enter the expiry as MM/YY, for example 08/29.")
        month, year = int(_ascii_digits(month_text)), int(_ascii_digits(year_text))
        if len(year_text) == 2:
            year += 2000
        if not 1 <= month <= 12:
            raise forms.ValidationError("The expiry month must be between 01 and 12.")
        today = timezone.localdate()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("That card has expired.")
        if year > today.year + MAX_CARD_YEARS_AHEAD:
            raise forms.ValidationError("That expiry year is too far ahead: check the card.")
        return month, year


def _time_zone_choices():
    return [(name, name.replace("_", " ")) for name in sorted(time_zone_names())]


class CompanySettingsForm(forms.Form):
    """A partner's company settings (billing admins). The rules (prefixes, forward-only numbers, the logo's content,
    the time zone) are checked by invoicing.company.company_settings_update, whose ``ValidationError`` the view
    puts back on these fields. The next numbers post the value the page showed too (``show_hidden_initial``): one
    left as shown is not sent, so an invoice issued meanwhile never makes an untouched field an error."""

    # Company
    name = forms.CharField(label="Company name", max_length=200, help_text="On every page, PDF and e-mail.")
    legal_name = forms.CharField(label="Legal name", max_length=200, required=False)
    address = forms.CharField(widget=TEXTAREA, required=False, help_text="Printed on PDFs and check instructions.")
    tax_id = forms.CharField(label="Tax ID", max_length=50, required=False)
    phone = forms.CharField(max_length=40, required=False)
    logo = forms.FileField(
        required=False,
        help_text="PNG or SVG, at most 1 MB; printed at the top of PDFs.",
        widget=forms.FileInput(attrs={"accept": ".png,.svg,image/png,image/svg+xml"}),
    )
    logo_remove = forms.BooleanField(label="Remove the logo", required=False)
    # Invoices & numbering
    ar_prefix = forms.CharField(label="AR invoice prefix", max_length=10)
    ap_prefix = forms.CharField(label="AP invoice prefix", max_length=10)
    proforma_prefix = forms.CharField(label="Proforma prefix", max_length=10)
    next_ar_number = forms.IntegerField(
        label="Next AR invoice number",
        min_value=1,
        show_hidden_initial=True,
        help_text="Can only move forward.",
        error_messages={"invalid": "Enter a whole number.", "min_value": "Numbers start at 1."},
    )
    next_ap_number = forms.IntegerField(
        label="Next AP invoice number",
        min_value=1,
        show_hidden_initial=True,
        help_text="Can only move forward.",
        error_messages={"invalid": "Enter a whole number.", "min_value": "Numbers start at 1."},
    )
    default_payment_terms_days = forms.IntegerField(
        label="Default payment terms (days)",
        min_value=0,
        max_value=MAX_TERMS_DAYS,
        help_text="For new customers; 0 means due on receipt.",
        error_messages={
            "invalid": "Enter a whole number of days.",
            "min_value": "The number of days cannot be negative.",
            "max_value": f"Use at most {MAX_TERMS_DAYS} days.",
        },
    )
    issue_generated_invoices = forms.BooleanField(
        label="Issue generated invoices at once", required=False, help_text="Off: they wait as drafts."
    )
    # Payment & remittance
    remittance = forms.CharField(
        label="How to pay",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Printed on AR invoices with a balance to pay.",
    )
    bank_name = forms.CharField(label="Bank", max_length=100, required=False)
    bank_account_name = forms.CharField(label="Account holder", max_length=200, required=False)
    bank_account_number = forms.CharField(
        label="Account number / IBAN",
        max_length=34,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    bank_routing = forms.CharField(label="Routing number / SWIFT", max_length=40, required=False)
    # E-mail
    email = forms.EmailField(label="Sender address", required=False, help_text="Invoices are sent from this address.")
    email_sender_name = forms.CharField(
        label="Sender name", max_length=100, required=False, help_text="The “From” name; the company name if empty."
    )
    # Time zone
    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Pages, periods and pay schedules are in this zone.",
        error_messages={
            "invalid_choice": "“%(value)s” is not a time zone name. Choose one from the list, e.g. America/New_York."
        },
    )
    locale = forms.ChoiceField(
        label="Language and region",
        choices=LOCALE_CHOICES,
        help_text="How money and dates are written on pages, PDFs, e-mails and CSV files.",
        error_messages={"invalid_choice": "“%(value)s” is not a locale Octoo offers. Choose one from the list."},
    )
    # Payment reminders (checked by invoicing.company.company_settings_update, with invoicing.reminders)
    reminder_days = forms.CharField(
        label="Reminder days",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "-3, 1, 7, 14, 30", "spellcheck": "false", "autocomplete": "off"}),
        help_text="When to e-mail a payment reminder, in days from the due date, separated by commas: -3 is three "
        "days before it, 7 a week after. At most 10, from -60 to 365. Empty: no reminders.",
        error_messages={"max_length": "That is too long for a schedule: use at most 10 days, e.g. -3, 1, 7, 14, 30."},
    )

    SECTIONS = (
        ("Company", ("name", "legal_name", "address", "tax_id", "phone", "logo", "logo_remove")),
        (
            "Invoices & numbering",
            (
                "ar_prefix",
                "next_ar_number",
                "ap_prefix",
                "next_ap_number",
                "proforma_prefix",
                "default_payment_terms_days",
                "issue_generated_invoices",
            ),
        ),
        (
            "Payment & remittance",
            ("remittance", "bank_name", "bank_account_name", "bank_account_number", "bank_routing"),
        ),
        ("E-mail", ("email_sender_name", "email")),
        ("Time zone and formats", ("time_zone", "locale")),
        ("Payment reminders", ("reminder_days",)),
    )

    def __init__(self, *args, partner, next_numbers: dict, **kwargs):
        initial = {field: getattr(partner, field) for field in COMPANY_SETTINGS}
        initial["next_ar_number"] = next_numbers["ar"].value
        initial["next_ap_number"] = next_numbers["ap"].value
        days = partner.reminder_days if isinstance(partner.reminder_days, list) else []
        initial["reminder_days"] = ", ".join(str(day) for day in days)
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.partner = partner
        self.fields["time_zone"].choices = _time_zone_choices()
        if not partner.logo:
            del self.fields["logo_remove"]

    def sections(self) -> list[tuple[str, list]]:
        """(title, bound fields) for each section of the page."""
        return [(title, [self[name] for name in names if name in self.fields]) for title, names in self.SECTIONS]

    def values(self) -> dict:
        """The cleaned values, as invoicing.company.company_settings_update takes them."""
        values = {field: self.cleaned_data[field] for field in COMPANY_SETTINGS}
        if self.cleaned_data.get("logo"):
            values["logo"] = self.cleaned_data["logo"]
        if self.cleaned_data.get("logo_remove"):
            values["logo_remove"] = True
        for field in ("next_ar_number", "next_ap_number"):
            if field in self.changed_data and self.cleaned_data.get(field) is not None:
                values[field] = self.cleaned_data[field]
        return values
