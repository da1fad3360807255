"""FilterSets of the office's credit note list and refund list (office.views.lists.credits)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from ..models import CreditNote, Payment, Refund
from .base import (
    CompactSelect,
    ListFilterForm,
    PartnerFilterSet,
    amount_filter,
    date_filter,
    party_filter,
    search_filter,
)

YES_NO = [("yes", "Yes"), ("no", "No")]


class CreditNoteFilterSet(PartnerFilterSet):
    q = search_filter("Search", "Credit note or invoice number, customer, reason")
    customer = party_filter("Customer")
    issued_from = date_filter("issue_date", "gte", "Issued from")
    issued_to = date_filter("issue_date", "lte", "Issued to")
    credit_left = django_filters.ChoiceFilter(
        choices=YES_NO, method="filter_credit_left", label="Credit left", empty_label="Any", widget=CompactSelect
    )
    total_min = amount_filter("total_units", "gte", "Total from")
    total_max = amount_filter("total_units", "lte", "Total to")

    CUSTOMER_FILTERS = ("customer",)

    class Meta:
        model = CreditNote
        fields = []
        form = ListFilterForm

    def filter_credit_left(self, queryset, name, value):
        """``left_units`` is annotated by the list's queryset (invoicing.credit_selectors)."""
        return queryset.filter(left_units__gt=0) if value == "yes" else queryset.filter(left_units__lte=0)

    def filter_search(self, queryset, name, value):
        text = value.strip()
        return queryset.filter(
            Q(number__icontains=text)
            | Q(invoice__number__icontains=text)
            | Q(customer__name__icontains=text)
            | Q(reason__icontains=text)
        )


class RefundFilterSet(PartnerFilterSet):
    q = search_filter("Search", "Invoice or credit note number, reference, customer")
    customer = party_filter("Customer")
    status = django_filters.ChoiceFilter(
        choices=Refund.Status.choices, label="Status", empty_label="Any", widget=CompactSelect
    )
    method = django_filters.ChoiceFilter(
        choices=Payment.Method.choices, label="Method", empty_label="Any", widget=CompactSelect
    )
    refunded_from = date_filter("refunded_on", "gte", "Refunded from")
    refunded_to = date_filter("refunded_on", "lte", "Refunded to")
    amount_min = amount_filter("amount_units", "gte", "Amount from")
    amount_max = amount_filter("amount_units", "lte", "Amount to")

    CUSTOMER_FILTERS = ("customer",)

    class Meta:
        model = Refund
        fields = []
        form = ListFilterForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["customer"].field_name = "invoice__customer"

    def filter_search(self, queryset, name, value):
        text = value.strip()
        return queryset.filter(
            Q(reference__icontains=text)
            | Q(invoice__number__icontains=text)
            | Q(credit_note__number__icontains=text)
            | Q(invoice__customer__name__icontains=text)
        )
