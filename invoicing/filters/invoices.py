"""FilterSets of the office's invoice lists (AR and AP) and payment list (office.views.lists.invoices)."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from customers.models import BillingContact, Customer, Provider

from ..models import Invoice, Payment
from .base import (
    FULL_NUMBER,
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

OPEN = "open"
PAST_DUE = "past_due"
INVOICE_STATUS_CHOICES = [
    (OPEN, "Open (not settled)"),
    (PAST_DUE, "Past due"),
    *Invoice.Status.choices,
]

# Invoices whose after-issue work failed and needs someone: the dashboard counts these and links to the list
# filtered by them (``?problem=pdf_failed``). A void invoice needs nothing; a failed charge only while it is owed.
DELIVERY_PROBLEMS = {
    "pdf_failed": ("PDF failed", ~Q(pdf_error="") & ~Q(status=Invoice.Status.VOID)),
    "send_failed": ("E-mail failed", ~Q(send_error="") & ~Q(status=Invoice.Status.VOID)),
    "charge_failed": ("Card charge failed", ~Q(charge_error="") & Q(status__in=Invoice.OPEN_STATUSES)),
}


class InvoiceFilterSet(PartnerFilterSet):
    """AR or AP invoices. The party filter is ``customer`` on AR and ``provider`` on AP (see ``for_kind``)."""

    q = search_filter("Search", "Number, name or contact")
    status = django_filters.ChoiceFilter(
        choices=INVOICE_STATUS_CHOICES, method="filter_status", label="Status", empty_label="Any", widget=CompactSelect
    )
    issued_from = date_filter("issue_date", "gte", "Issued from")
    issued_to = date_filter("issue_date", "lte", "Issued to")
    due_from = date_filter("due_date", "gte", "Due from")
    due_to = date_filter("due_date", "lte", "Due to")
    code = code_filter()
    total_min = amount_filter("total_units", "gte", "Total from")
    total_max = amount_filter("total_units", "lte", "Total to")
    problem = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (label, _) in DELIVERY_PROBLEMS.items()],
        method="filter_problem",
        label="Delivery",
        empty_label="Any",
        widget=CompactSelect,
    )

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

    def filter_problem(self, queryset, name, value):
        return queryset.filter(DELIVERY_PROBLEMS[value][1])

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
        pk = id_digits(text)
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
    customer = party_filter("Customer")
    CUSTOMER_FILTERS = ("customer",)

    class Meta(InvoiceFilterSet.Meta):
        fields = []


class APInvoiceFilterSet(InvoiceFilterSet):
    provider = party_filter("Provider")
    PROVIDER_FILTERS = ("provider",)

    class Meta(InvoiceFilterSet.Meta):
        fields = []


class PaymentFilterSet(PartnerFilterSet):
    q = search_filter("Search", "Invoice number, reference, name")
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
    customer = party_filter("Customer")
    provider = party_filter("Provider")
    received_from = date_filter("received_on", "gte", "Received from")
    received_to = date_filter("received_on", "lte", "Received to")
    amount_min = amount_filter("amount_units", "gte", "Amount from")
    amount_max = amount_filter("amount_units", "lte", "Amount to")

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
