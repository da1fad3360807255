"""The lists of the work billed: proformas, requests and services."""

from __future__ import annotations

from invoicing import selectors
from invoicing.filters import work as filters
from office import exports
from office.pagination import SortKey

from .base import DetailLinks, Header, ListSpec


def _decorate_proforma(proforma, links: DetailLinks) -> None:
    proforma.url = links("proforma", proforma.pk)
    proforma.customer_url = links("customer", proforma.customer_id)
    proforma.provider_url = links("provider", proforma.provider_id)
    proforma.service_url = links("service", proforma.service_id)
    proforma.ar_invoice_url = links("invoice", proforma.ar_invoice_id)


def _decorate_request(service_request, links: DetailLinks) -> None:
    service_request.url = links("request", service_request.pk)
    service_request.customer_url = links("customer", service_request.customer_id)


def _decorate_service(service, links: DetailLinks) -> None:
    service.url = links("service", service.pk)
    service.request_url = links("request", service.request_id)
    service.customer_url = links("customer", service.request.customer_id)
    service.provider_url = links("provider", service.provider_id)
    proforma = getattr(service, "proforma", None)
    service.proforma_url = links("proforma", proforma.pk) if proforma else ""


PROFORMAS = ListSpec(
    name="proforma",
    title="Proformas",
    noun="proforma",
    template="office/lists/proformas.html",
    rows=selectors.proforma_list_queryset,
    filterset=filters.ProformaFilterSet,
    sort_keys=(
        SortKey("number", "number", nullable=True),
        SortKey("date", "service_date", kind="date", first_desc=True),
        SortKey("customer", "customer__name", partner_path="customer__partner"),
        SortKey("provider", "provider__name", nullable=True),
        SortKey("status", "status"),
        SortKey("billed", "bill_total_units", kind="int", first_desc=True),
        SortKey("pay", "pay_total_units", kind="int", first_desc=True),
    ),
    default_sort="-date",
    headers=(
        Header("Number", "number"),
        Header("Service date", "date"),
        Header("Customer", "customer"),
        Header("Provider", "provider"),
        Header("Status", "status"),
        Header("AR invoice"),
        Header("Billed", "billed", "num"),
        Header("Provider pay", "pay", "num"),
    ),
    totals=selectors.proforma_list_totals,
    csv_columns=exports.PROFORMA_COLUMNS,
    decorate=_decorate_proforma,
    extra={"subtitle": "What each service billed and earned"},
)

REQUESTS = ListSpec(
    name="request",
    title="Requests",
    noun="request",
    template="office/lists/requests.html",
    rows=selectors.request_list_queryset,
    filterset=filters.RequestFilterSet,
    sort_keys=(
        SortKey("id", "id", kind="int", first_desc=True),
        SortKey("title", "title"),
        SortKey("customer", "customer__name", partner_path="customer__partner"),
        SortKey("created", "created_at", kind="datetime", first_desc=True),
        SortKey("status", "status"),
        SortKey("services", "services_count", kind="int", first_desc=True),
    ),
    default_sort="-created",
    headers=(
        Header("Request", "id"),
        Header("Title", "title"),
        Header("Customer", "customer"),
        Header("Created", "created"),
        Header("Source"),
        Header("Status", "status"),
        Header("Services", "services", "num"),
    ),
    totals=selectors.count_totals,
    csv_columns=exports.REQUEST_COLUMNS,
    decorate=_decorate_request,
    extra={"subtitle": "Bookings and the services rendered for them"},
)

SERVICES = ListSpec(
    name="service",
    title="Services",
    noun="service",
    template="office/lists/services.html",
    rows=selectors.service_list_queryset,
    filterset=filters.ServiceFilterSet,
    sort_keys=(
        SortKey("id", "id", kind="int", first_desc=True),
        SortKey("starts", "starts_at", kind="datetime", first_desc=True),
        SortKey("customer", "request__customer__name", partner_path="request__customer__partner"),
        SortKey("provider", "provider__name", nullable=True),
        SortKey("type", "service_type__name"),
        SortKey("status", "status"),
    ),
    default_sort="-starts",
    headers=(
        Header("Service", "id"),
        Header("When", "starts"),
        Header("Request"),
        Header("Customer", "customer"),
        Header("Provider", "provider"),
        Header("Type", "type"),
        Header("Status", "status"),
        Header("Proforma"),
        Header("Hours", None, "num"),
    ),
    totals=selectors.count_totals,
    csv_columns=exports.SERVICE_COLUMNS,
    decorate=_decorate_service,
    extra={"subtitle": "Work rendered by providers, with its request"},
)
