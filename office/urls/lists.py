"""Office routes: lists (each with a streamed CSV export of the filtered rows)."""

from django.urls import path

from office.views.lists.base import ListSpec, export_list, render_list, spec_view
from office.views.lists.invoices import AP_INVOICES, AR_INVOICES, PAYMENTS
from office.views.lists.parties import CUSTOMERS, PROVIDERS
from office.views.lists.work import PROFORMAS, REQUESTS, SERVICES


def list_routes(prefix: str, spec: ListSpec) -> list:
    """A list's page at ``prefix`` and its CSV export beside it (URL names office:<name>_list/_export)."""
    return [
        path(prefix, spec_view(render_list, spec, "list"), name=f"{spec.name}_list"),
        path(f"{prefix}export.csv", spec_view(export_list, spec, "export"), name=f"{spec.name}_export"),
    ]


urlpatterns = [
    *list_routes("invoices/ar/", AR_INVOICES),
    *list_routes("invoices/ap/", AP_INVOICES),
    *list_routes("proformas/", PROFORMAS),
    *list_routes("requests/", REQUESTS),
    *list_routes("services/", SERVICES),
    *list_routes("customers/", CUSTOMERS),
    *list_routes("providers/", PROVIDERS),
    *list_routes("payments/", PAYMENTS),
]
