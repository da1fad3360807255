"""FilterSets of the office's work lists: proformas, requests and services (office.views.lists.work)."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q

from expense_codes.models import AppliedExpenseCode

from ..models import Invoice, InvoiceProforma, Proforma, Service, ServiceRequest
from .base import (
    CompactSelect,
    ListFilterForm,
    PartnerFilterSet,
    amount_filter,
    code_filter,
    date_filter,
    id_digits,
    party_filter,
    search_filter,
)

INVOICED_CHOICES = [("yes", "On an AR invoice"), ("no", "Not invoiced yet")]
# A service whose proforma could not be priced (no rate, no zone, ...), not cancelled: it waits for a price.
UNPRICED = ~Q(pricing_error="") & ~Q(status=Service.Status.CANCELLED)


class ProformaFilterSet(PartnerFilterSet):
    q = search_filter("Search", "Number, customer or provider")
    status = django_filters.ChoiceFilter(
        choices=Proforma.Status.choices, label="Status", empty_label="Any", widget=CompactSelect
    )
    customer = party_filter("Customer")
    provider = party_filter("Provider")
    invoiced = django_filters.ChoiceFilter(
        choices=INVOICED_CHOICES, method="filter_invoiced", label="AR invoice", empty_label="Any", widget=CompactSelect
    )
    date_from = date_filter("service_date", "gte", "Service from")
    date_to = date_filter("service_date", "lte", "Service to")
    code = code_filter()
    total_min = amount_filter("bill_total_units", "gte", "Billed from")
    total_max = amount_filter("bill_total_units", "lte", "Billed to")

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
        pk = id_digits(text)
        if pk is not None:
            match |= Q(pk=pk)
        return queryset.filter(match)


class RequestFilterSet(PartnerFilterSet):
    q = search_filter("Search", "R-123, title or customer")
    status = django_filters.ChoiceFilter(
        choices=ServiceRequest.Status.choices, label="Status", empty_label="Any", widget=CompactSelect
    )
    customer = party_filter("Customer")
    source = django_filters.ChoiceFilter(
        choices=ServiceRequest.Source.choices, label="Source", empty_label="Any", widget=CompactSelect
    )
    date_from = date_filter("created_at__date", "gte", "Created from")
    date_to = date_filter("created_at__date", "lte", "Created to")
    code = code_filter()

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
        pk = id_digits(text)
        if pk is not None:
            match |= Q(pk=pk)
        return queryset.filter(match)


class ServiceFilterSet(PartnerFilterSet):
    q = search_filter("Search", "S-123, request, address")
    status = django_filters.ChoiceFilter(
        choices=Service.Status.choices, label="Status", empty_label="Any", widget=CompactSelect
    )
    customer = party_filter("Customer")
    provider = party_filter("Provider")
    date_from = date_filter("starts_at__date", "gte", "Service from")
    date_to = date_filter("starts_at__date", "lte", "Service to")
    code = code_filter()
    pricing = django_filters.ChoiceFilter(
        choices=[("failed", "Could not be priced")],
        method="filter_pricing",
        label="Price",
        empty_label="Any",
        widget=CompactSelect,
    )

    CUSTOMER_FILTERS = ("customer",)
    PROVIDER_FILTERS = ("provider",)

    class Meta:
        model = Service
        fields = []
        form = ListFilterForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["customer"].field_name = "request__customer"

    def filter_pricing(self, queryset, name, value):
        return queryset.filter(UNPRICED)

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
        pk = id_digits(text)
        if pk is not None:
            match |= Q(pk=pk) | Q(request_id=pk)
        return queryset.filter(match)
