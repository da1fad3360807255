"""FilterSets of the office's customer and provider lists (office.views.lists.parties)."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q

from customers.models import BillingContact, Customer, Provider

from .base import CompactSelect, ListFilterForm, PartnerFilterSet, search_filter

ACTIVE_CHOICES = [("yes", "Active"), ("no", "Inactive")]


class CustomerFilterSet(PartnerFilterSet):
    q = search_filter("Search", "Name, e-mail or contact")
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
    q = search_filter("Search", "Name, e-mail or phone")
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
