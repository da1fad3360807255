"""The office's search box: invoices, customers, providers and requests of the signed-in partner."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Q

from customers.models import Customer, Provider
from invoicing.models import Invoice, ServiceRequest

LIMIT = 10
MAX_QUERY = 100
REQUEST_NUMBER = re.compile(r"^(?:R-?)?(\d{1,12})$", re.IGNORECASE)


@dataclass
class SearchResults:
    query: str
    invoices: list[Invoice] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    providers: list[Provider] = field(default_factory=list)
    requests: list[ServiceRequest] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.invoices) + len(self.customers) + len(self.providers) + len(self.requests)

    @property
    def only_match(self):
        """The one thing found, when exactly one was (the page then opens it)."""
        found = [*self.invoices, *self.customers, *self.providers, *self.requests]
        return found[0] if len(found) == 1 else None


def office_search(*, partner, query: str) -> SearchResults:
    """Up to ``LIMIT`` of each kind, best first: an invoice by its number (or its party's name), a customer by
    name or e-mail, a provider by name, a request by its number (R-123), title or an expense code."""
    query = " ".join((query or "").split())[:MAX_QUERY]
    results = SearchResults(query=query)
    if not query:
        return results
    exact = Invoice.objects.filter(partner=partner, number__iexact=query).select_related("customer", "provider")
    results.invoices = list(exact[:1]) or list(
        Invoice.objects.filter(partner=partner)
        .filter(Q(number__icontains=query) | Q(customer__name__icontains=query) | Q(provider__name__icontains=query))
        .select_related("customer", "provider")
        .order_by("-created_at")[:LIMIT]
    )
    if results.invoices and results.invoices[0].number and results.invoices[0].number.lower() == query.lower():
        return results  # an invoice number: nothing else is meant
    results.customers = list(
        Customer.objects.filter(partner=partner).filter(Q(name__icontains=query) | Q(email__icontains=query))[:LIMIT]
    )
    results.providers = list(Provider.objects.filter(partner=partner, name__icontains=query)[:LIMIT])
    match = Q(title__icontains=query) | Q(expense_codes__value__iexact=query)
    number = REQUEST_NUMBER.match(query)
    if number:
        match |= Q(pk=int(number.group(1)))
    results.requests = list(
        ServiceRequest.objects.filter(partner=partner)
        .filter(match)
        .select_related("customer")
        .distinct()
        .order_by("-created_at")[:LIMIT]
    )
    return results
