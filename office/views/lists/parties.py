"""The lists of whom a partner bills and pays: customers and providers."""

from __future__ import annotations

from invoicing import selectors
from invoicing.filters import parties as filters
from office import exports
from office.pagination import SortKey

from .base import DetailLinks, Header, ListSpec


def _decorate_customer(customer, links: DetailLinks) -> None:
    customer.url = links("customer", customer.pk)


def _decorate_provider(provider, links: DetailLinks) -> None:
    provider.url = links("provider", provider.pk)


CUSTOMERS = ListSpec(
    name="customer",
    title="Customers",
    noun="customer",
    template="office/lists/customers.html",
    rows=selectors.customer_list_queryset,
    filterset=filters.CustomerFilterSet,
    sort_keys=(
        SortKey("name", "name"),
        SortKey("schedule", "invoicing_schedule"),
        SortKey("balance", "open_balance_units", kind="int", first_desc=True),
    ),
    default_sort="name",
    headers=(
        Header("Name", "name"),
        Header("Default contact"),
        Header("Schedule", "schedule"),
        Header("Terms"),
        Header("Pays by"),
        Header("Open balance", "balance", "num"),
    ),
    totals=selectors.count_totals,
    csv_columns=exports.CUSTOMER_COLUMNS,
    decorate=_decorate_customer,
    extra={"subtitle": "Who the partner bills"},
)

PROVIDERS = ListSpec(
    name="provider",
    title="Providers",
    noun="provider",
    template="office/lists/providers.html",
    rows=selectors.provider_list_queryset,
    filterset=filters.ProviderFilterSet,
    sort_keys=(
        SortKey("name", "name"),
        SortKey("balance", "open_balance_units", kind="int", first_desc=True),
    ),
    default_sort="name",
    headers=(
        Header("Name", "name"),
        Header("E-mail"),
        Header("Phone"),
        Header("Terms"),
        Header("Owed on open AP", "balance", "num"),
    ),
    totals=selectors.count_totals,
    csv_columns=exports.PROVIDER_COLUMNS,
    decorate=_decorate_provider,
    extra={"subtitle": "Who renders the services, paid through AP invoices"},
)
