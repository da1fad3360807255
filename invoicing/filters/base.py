"""What every office list's FilterSet shares: compact widgets and fields (the partner's customers and providers
as choices, typed amounts, dates), a form that checks ranges, the filter helpers, and ``PartnerFilterSet``.
"""

from __future__ import annotations

import copy
import re
from html import escape

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.forms.utils import flatatt
from django.utils.safestring import mark_safe

from customers.models import Customer, Provider
from expense_codes.models import AppliedExpenseCode
from octoo_billing.forms import AmountField


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


def date_filter(field_name: str, lookup: str, label: str) -> django_filters.DateFilter:
    """A date picked in the browser, compared with ``field_name`` by ``lookup``."""
    return django_filters.DateFilter(field_name=field_name, lookup_expr=lookup, label=label, widget=DateInput)


def amount_filter(field_name: str, lookup: str, label: str) -> AmountFilter:
    """A typed amount compared with a ``*_units`` field by ``lookup``."""
    return AmountFilter(field_name=field_name, lookup_expr=lookup, label=label)


def search_filter(label: str, placeholder: str) -> django_filters.CharFilter:
    """The list's search box: the FilterSet's ``filter_search`` reads it."""
    return django_filters.CharFilter(
        method="filter_search",
        label=label,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": placeholder, "type": "search"}),
    )


def code_filter() -> django_filters.CharFilter:
    """An expense code, matched on the rows' codes (``PartnerFilterSet.filter_expense_code``)."""
    return django_filters.CharFilter(
        method="filter_expense_code",
        label="Expense code",
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "e.g. ABC123"}),
    )


FULL_NUMBER = re.compile(r"^[^\s-]+-\d{4}-\d{5,}$")  # PREFIX-YYYY-NNNNN (invoicing.numbering)


def id_digits(text: str) -> int | None:
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


def party_filter(label: str) -> PartyFilter:
    """A customer or provider among the partner's own."""
    # The options (the partner's own customers or providers) are set in PartnerFilterSet.__init__.
    return PartyFilter(label=label)
