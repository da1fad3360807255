"""django-filter FilterSets for the office lists (office.views.lists) and their CSV exports.

Every FilterSet takes the signed-in staff user's ``partner``: the customer and provider choices are that
partner's own (another partner's id is refused like any unknown one), and typed amounts are read in the
partner's currency. A bad amount or date is an error on the filter form in plain words; the list then shows
no rows rather than rows that look filtered but are not.
"""

from __future__ import annotations

import copy
import re
from html import escape

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.safestring import mark_safe

from customers.models import BillingContact, Customer, Provider
from expense_codes.models import AppliedExpenseCode
from octoo_billing.forms import AmountField

from .models import Invoice, InvoiceProforma, Payment, Proforma, Service, ServiceRequest

# --- widgets, fields and the shared form -------------------------------------------------------------------


class CompactSelect(forms.Select):
    """A ``<select>`` rendered in Python. Django renders each option through a template (and
    format_html costs as much again), which is tens of milliseconds for a partner's thousand customers
    on every list page."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs["name"] = name
        selected = {str(v) for v in self.format_value(value)}
        parts = [f"<select{flatatt(final_attrs)}>"]
        for option_value, label in self.choices:
            text = str(option_value)
            mark = " selected" if text in selected else ""
            value_html = text if isinstance(option_value, int) else escape(text)
            parts.append(f'<option value="{value_html}"{mark}>{escape(str(label))}</option>')
        parts.append("</select>")
        return mark_safe("".join(parts))


class PartyField(forms.Field):
    """A choice among the partner's own customers or providers, given as ``options`` [(pk, name), ...].

    A plain field rather than a ChoiceField: Django normalises and deep-copies a ChoiceField's choices on
    every form, several milliseconds a page for a few hundred customers."""

    widget = CompactSelect
    default_error_messages = {"invalid_choice": "Choose one of the names in the list."}

    def __init__(self, *, options=(), empty_label="Any", **kwargs):
        super().__init__(**kwargs)
        self.options = list(options)
        self.valid = {str(pk) for pk, _ in self.options}
        self.widget.choices = [("", empty_label), *self.options]

    def __deepcopy__(self, memo):
        result = copy.copy(self)
        memo[id(self)] = result
        result.widget = copy.copy(self.widget)
        result.widget.attrs = dict(self.widget.attrs)
        result.validators = self.validators[:]
        result.error_messages = self.error_messages
        return result

    def to_python(self, value):
        return str(value).strip() if value not in self.empty_values else None

    def validate(self, value):
        super().validate(value)
        if value is not None and value not in self.valid:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")


class PartyFilter(django_filters.Filter):
    """Filters on a customer or provider chosen among the partner's own (see PartnerFilterSet)."""

    field_class = PartyField


class DateInput(forms.DateInput):
    """The browser's date picker; it submits ISO dates, which is also what we show back."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class AmountFilter(django_filters.Filter):
    """A typed amount ("1,234.50") compared with a ``*_units`` field; cleaned by AmountField."""

    field_class = AmountField


class ListFilterForm(forms.Form):
    """Checks that ranges are the right way round: ``x_from`` <= ``x_to`` and ``x_min`` <= ``x_max``."""

    RANGE_SUFFIXES = (
        ("_from", "_to", "The end date is before the start date."),
        ("_min", "_max", "The upper amount is below the lower one."),
    )

    def clean(self):
        cleaned = super().clean()
        for low_suffix, high_suffix, message in self.RANGE_SUFFIXES:
            for name in list(self.fields):
                if not name.endswith(low_suffix):
                    continue
                high_name = name.removesuffix(low_suffix) + high_suffix
                low, high = cleaned.get(name), cleaned.get(high_name)
                if low is not None and high is not None and low > high:
                    self.add_error(high_name, message)
        return cleaned


def _date_filter(field_name: str, lookup: str, label: str) -> django_filters.DateFilter:
    return django_filters.DateFilter(field_name=field_name, lookup_expr=lookup, label=label, widget=DateInput)


def _amount_filter(field_name: str, lookup: str, label: str) -> AmountFilter:
    return AmountFilter(field_name=field_name, lookup_expr=lookup, label=label)


def _search_filter(label: str, placeholder: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(
        method="filter_search",
        label=label,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": placeholder, "type": "search"}),
    )


def _code_filter() -> django_filters.CharFilter:
    return django_filters.CharFilter(
        method="filter_expense_code",
        label="Expense code",
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "e.g. ABC123"}),
    )


FULL_NUMBER = re.compile(r"^[^\s-]+-\d{4}-\d{5,}$")  # PREFIX-YYYY-NNNNN (invoicing.numbering)


def _digits(text: str) -> int | None:
    """'1234', '#1234', 'R-1234', 'S-1234' -> 1234, for finding a row by its id."""
    stripped = text.strip().lstrip("#")
    for prefix in ("R-", "S-", "r-", "s-"):
        stripped = stripped.removeprefix(prefix)
    return int(stripped) if stripped.isdecimal() and len(stripped) < 18 else None


class PartnerFilterSet(django_filters.FilterSet):
    """Base for the office lists: scoped choices, the partner's currency, small widgets."""

    CUSTOMER_FILTERS: tuple[str, ...] = ()
    PROVIDER_FILTERS: tuple[str, ...] = ()
    code_owner = "invoice"  # the AppliedExpenseCode field that points at this list's rows

    def __init__(self, data=None, queryset=None, *, partner, request=None, prefix=None):
        super().__init__(data=data, queryset=queryset, request=request, prefix=prefix)
        self.partner = partner
        # The partner's own customers and providers: one query each, for both the choices shown and the
        # check of the value chosen (another partner's id is "not one of the available choices").
        if self.CUSTOMER_FILTERS:
            customers = list(Customer.objects.filter(partner=partner).order_by("name").values_list("pk", "name"))
            for name in self.CUSTOMER_FILTERS:
                self.filters[name].extra["options"] = customers
        if self.PROVIDER_FILTERS:
            providers = list(Provider.objects.filter(partner=partner).order_by("name").values_list("pk", "name"))
            for name in self.PROVIDER_FILTERS:
                self.filters[name].extra["options"] = providers
        for f in self.filters.values():
            if isinstance(f, AmountFilter):
                f.extra["currency"] = partner.currency

    @property
    def form(self):
        """The filter form with Bootstrap classes on its widgets, and invalid fields marked for the page.

        The filter bar renders these widgets with its own Bootstrap markup (templates/includes/_filter_form.html)
        rather than through crispy-forms: the same look, in 2 ms instead of 5 ms for the ten fields, on a page
        whose whole budget is 50 ms."""
        if not hasattr(self, "_form"):
            form = super().form
            invalid = form.errors if form.is_bound else {}
            for name, field in form.fields.items():
                widget = field.widget
                base = (
                    "form-select form-select-sm" if isinstance(widget, forms.Select) else "form-control form-control-sm"
                )
                widget.attrs["class"] = f"{base} is-invalid" if name in invalid else base
                if name in invalid:
                    widget.attrs["aria-invalid"] = "true"
                    widget.attrs["aria-describedby"] = f"{form[name].auto_id}_error"
        return self._form

    @property
    def is_filtered(self) -> bool:
        """Whether any filter has a value (so the page can offer "Clear")."""
        return any(self.data.get(name) for name in self.filters)

    def filter_expense_code(self, queryset, name, value):
        codes = AppliedExpenseCode.objects.filter(**{self.code_owner: OuterRef("pk")}, value__icontains=value.strip())
        return queryset.filter(Exists(codes))


def _party_filter(label: str) -> PartyFilter:
    # The options (the partner's own customers or providers) are set in PartnerFilterSet.__init__.
    return PartyFilter(label=label)


# --- invoices ----------------------------------------------------------------------------------------------

OPEN = "open"
PAST_DUE = "past_due"
INVOICE_STATUS_CHOICES = [
    (OPEN, "Open (not settled)"),
    (PAST_DUE, "Past due"),
    *Invoice.Status.choices,
]


class InvoiceFilterSet(PartnerFilterSet):
    """AR or AP invoices. The party filter is ``customer`` on AR and ``provider`` on AP (see ``for_kind``)."""

    q = _search_filter("Search", "Number, name or contact")
    status = django_filters.ChoiceFilter(
        choices=INVOICE_STATUS_CHOICES, method="filter_status", label="Status", empty_label="Any", widget=CompactSelect
    )
    issued_from = _date_filter("issue_date", "gte", "Issued from")
    issued_to = _date_filter("issue_date", "lte", "Issued to")
    due_from = _date_filter("due_date", "gte", "Due from")
    due_to = _date_filter("due_date", "lte", "Due to")
    code = _code_filter()
    total_min = _amount_filter("total_units", "gte", "Total from")
    total_max = _amount_filter("total_units", "lte", "Total to")

    class Meta:
        model = Invoice
        fields = []
        form = ListFilterForm

    @staticmethod
    def for_kind(kind: str) -> type[InvoiceFilterSet]:
        return ARInvoiceFilterSet if kind == Invoice.Kind.AR else APInvoiceFilterSet

    def filter_status(self, queryset, name, value):
        if value == OPEN:
            return queryset.filter(status__in=Invoice.OPEN_STATUSES)
        if value == PAST_DUE:
            return queryset.filter(status__in=Invoice.OPEN_STATUSES, due_date__lt=timezone.localdate())
        return queryset.filter(status=value)

    def filter_search(self, queryset, name, value):
        """A full number ("INV-2026-00142", any case), its counter ("00142", "142"), a draft's id ("#77"),
        part of a number with a dash ("2026-001"), or part of the name of the customer (or provider), or
        of one of the customer's billing contacts.

        Written so PostgreSQL answers from indexes at 100k invoices: a number and a counter are equality
        lookups, and names are matched in the (small) customer and contact tables first, one query, then
        looked up by id. Only a partial number with a dash reads through all the numbers.
        """
        text = value.strip()
        match = Q(number=text) | Q(number=text.upper())
        if text.isdecimal() and len(text) < 10:
            match |= Q(sequence=int(text))
        pk = _digits(text)
        if pk is not None:
            match |= Q(pk=pk)
        if "-" in text and not FULL_NUMBER.match(text):
            match |= Q(number__icontains=text)
        if "customer" in self.filters:
            contacts = BillingContact.objects.filter(customer=OuterRef("pk")).filter(
                Q(name__icontains=text) | Q(email__icontains=text)
            )
            parties = Customer.objects.filter(partner=self.partner).filter(Q(name__icontains=text) | Exists(contacts))
            match |= Q(customer_id__in=list(parties.values_list("pk", flat=True)))
        else:
            parties = Provider.objects.filter(partner=self.partner).filter(
                Q(name__icontains=text) | Q(email__icontains=text)
            )
            match |= Q(provider_id__in=list(parties.values_list("pk", flat=True)))
        return queryset.filter(match)


class ARInvoiceFilterSet(InvoiceFilterSet):
    customer = _party_filter("Customer")
    CUSTOMER_FILTERS = ("customer",)

    class Meta(InvoiceFilterSet.Meta):
        fields = []


class APInvoiceFilterSet(InvoiceFilterSet):
    provider = _party_filter("Provider")
    PROVIDER_FILTERS = ("provider",)

    class Meta(InvoiceFilterSet.Meta):
        fields = []


# --- proformas ---------------------------------------------------------------------------------------------

INVOICED_CHOICES = [("yes", "On an AR invoice"), ("no", "Not invoiced yet")]


class ProformaFilterSet(PartnerFilterSet):
    q = _search_filter("Search", "Number, customer or provider")
    status = django_filters.ChoiceFilter(
        choices=Proforma.Status.choices, label="Status", empty_label="Any", widget=CompactSelect
    )
    customer = _party_filter("Customer")
    provider = _party_filter("Provider")
    invoiced = django_filters.ChoiceFilter(
        choices=INVOICED_CHOICES, method="filter_invoiced", label="AR invoice", empty_label="Any", widget=CompactSelect
    )
    date_from = _date_filter("service_date", "gte", "Service from")
    date_to = _date_filter("service_date", "lte", "Service to")
    code = _code_filter()
    total_min = _amount_filter("bill_total_units", "gte", "Billed from")
    total_max = _amount_filter("bill_total_units", "lte", "Billed to")

    CUSTOMER_FILTERS = ("customer",)
    PROVIDER_FILTERS = ("provider",)
    code_owner = "proforma"

    class Meta:
        model = Proforma
        fields = []
        form = ListFilterForm

    def filter_invoiced(self, queryset, name, value):
        live = InvoiceProforma.objects.filter(proforma=OuterRef("pk"), kind=Invoice.Kind.AR, is_active=True)
        return queryset.filter(Exists(live)) if value == "yes" else queryset.exclude(Exists(live))

    def filter_search(self, queryset, name, value):
        text = value.strip()
        match = Q(number__icontains=text) | Q(customer__name__icontains=text) | Q(provider__name__icontains=text)
        pk = _digits(text)
        if pk is not None:
            match |= Q(pk=pk)
        return queryset.filter(match)


# --- requests and services ---------------------------------------------------------------------------------


class RequestFilterSet(PartnerFilterSet):
    q = _search_filter("Search", "R-123, title or customer")
    status = django_filters.ChoiceFilter(
        choices=ServiceRequest.Status.choices, label="Status", empty_label="Any", widget=CompactSelect
    )
    customer = _party_filter("Customer")
    source = django_filters.ChoiceFilter(
        choices=ServiceRequest.Source.choices, label="Source", empty_label="Any", widget=CompactSelect
    )
    date_from = _date_filter("created_at__date", "gte", "Created from")
    date_to = _date_filter("created_at__date", "lte", "Created to")
    code = _code_filter()

    CUSTOMER_FILTERS = ("customer",)
    code_owner = "request"

    class Meta:
        model = ServiceRequest
        fields = []
        form = ListFilterForm

    def filter_expense_code(self, queryset, name, value):
        """The request's codes, or those of one of its services (seed 000: each service may carry its own)."""
        text = value.strip()
        own = AppliedExpenseCode.objects.filter(request=OuterRef("pk"), value__icontains=text)
        on_service = AppliedExpenseCode.objects.filter(service__request=OuterRef("pk"), value__icontains=text)
        return queryset.filter(Exists(own) | Exists(on_service))

    def filter_search(self, queryset, name, value):
        text = value.strip()
        match = Q(title__icontains=text) | Q(customer__name__icontains=text) | Q(description__icontains=text)
        pk = _digits(text)
        if pk is not None:
            match |= Q(pk=pk)
        return queryset.filter(match)


class ServiceFilterSet(PartnerFilterSet):
    q = _search_filter("Search", "S-123, request, address")
    status = django_filters.ChoiceFilter(
        choices=Service.Status.choices, label="Status", empty_label="Any", widget=CompactSelect
    )
    customer = _party_filter("Customer")
    provider = _party_filter("Provider")
    date_from = _date_filter("starts_at__date", "gte", "Service from")
    date_to = _date_filter("starts_at__date", "lte", "Service to")
    code = _code_filter()

    CUSTOMER_FILTERS = ("customer",)
    PROVIDER_FILTERS = ("provider",)

    class Meta:
        model = Service
        fields = []
        form = ListFilterForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["customer"].field_name = "request__customer"

    def filter_expense_code(self, queryset, name, value):
        """A service's own codes, or its request's (which a service carries unless it has its own)."""
        text = value.strip()
        own = AppliedExpenseCode.objects.filter(service=OuterRef("pk"), value__icontains=text)
        on_request = AppliedExpenseCode.objects.filter(request=OuterRef("request_id"), value__icontains=text)
        return queryset.filter(Exists(own) | Exists(on_request))

    def filter_search(self, queryset, name, value):
        text = value.strip()
        match = (
            Q(request__title__icontains=text)
            | Q(address__icontains=text)
            | Q(request__customer__name__icontains=text)
            | Q(provider__name__icontains=text)
        )
        pk = _digits(text)
        if pk is not None:
            match |= Q(pk=pk) | Q(request_id=pk)
        return queryset.filter(match)


# --- customers and providers -------------------------------------------------------------------------------

ACTIVE_CHOICES = [("yes", "Active"), ("no", "Inactive")]


class CustomerFilterSet(PartnerFilterSet):
    q = _search_filter("Search", "Name, e-mail or contact")
    active = django_filters.ChoiceFilter(
        choices=ACTIVE_CHOICES, method="filter_active", label="Active", empty_label="Any", widget=CompactSelect
    )
    schedule = django_filters.ChoiceFilter(
        field_name="invoicing_schedule",
        choices=Customer.Schedule.choices,
        label="Schedule",
        empty_label="Any",
        widget=CompactSelect,
    )
    payment_method = django_filters.ChoiceFilter(
        choices=Customer.PaymentMethod.choices, label="Pays by", empty_label="Any", widget=CompactSelect
    )
    payment_terms = django_filters.ChoiceFilter(
        choices=Customer.PaymentTerms.choices, label="Terms", empty_label="Any", widget=CompactSelect
    )

    class Meta:
        model = Customer
        fields = []
        form = ListFilterForm

    def filter_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "yes")

    def filter_search(self, queryset, name, value):
        text = value.strip()
        contacts = BillingContact.objects.filter(customer=OuterRef("pk")).filter(
            Q(name__icontains=text) | Q(email__icontains=text)
        )
        return queryset.filter(
            Q(name__icontains=text) | Q(email__icontains=text) | Q(phone__icontains=text) | Exists(contacts)
        )


class ProviderFilterSet(PartnerFilterSet):
    q = _search_filter("Search", "Name, e-mail or phone")
    active = django_filters.ChoiceFilter(
        choices=ACTIVE_CHOICES, method="filter_active", label="Active", empty_label="Any", widget=CompactSelect
    )

    class Meta:
        model = Provider
        fields = []
        form = ListFilterForm

    def filter_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "yes")

    def filter_search(self, queryset, name, value):
        text = value.strip()
        return queryset.filter(Q(name__icontains=text) | Q(email__icontains=text) | Q(phone__icontains=text))


# --- payments ----------------------------------------------------------------------------------------------


class PaymentFilterSet(PartnerFilterSet):
    q = _search_filter("Search", "Invoice number, reference, name")
    kind = django_filters.ChoiceFilter(
        field_name="invoice__kind",
        choices=[(Invoice.Kind.AR, "Received (AR)"), (Invoice.Kind.AP, "Paid out (AP)")],
        label="Direction",
        empty_label="Any",
        widget=CompactSelect,
    )
    method = django_filters.ChoiceFilter(
        choices=Payment.Method.choices, label="Method", empty_label="Any", widget=CompactSelect
    )
    customer = _party_filter("Customer")
    provider = _party_filter("Provider")
    received_from = _date_filter("received_on", "gte", "Received from")
    received_to = _date_filter("received_on", "lte", "Received to")
    amount_min = _amount_filter("amount_units", "gte", "Amount from")
    amount_max = _amount_filter("amount_units", "lte", "Amount to")

    CUSTOMER_FILTERS = ("customer",)
    PROVIDER_FILTERS = ("provider",)

    class Meta:
        model = Payment
        fields = []
        form = ListFilterForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["customer"].field_name = "invoice__customer"
        self.filters["provider"].field_name = "invoice__provider"

    def filter_search(self, queryset, name, value):
        text = value.strip()
        return queryset.filter(
            Q(reference__icontains=text)
            | Q(invoice__number__icontains=text)
            | Q(invoice__customer__name__icontains=text)
            | Q(invoice__provider__name__icontains=text)
        )
