"""Office routes: lists (each with a streamed CSV export of the filtered rows)."""

from django.urls import path

from office.views import lists

urlpatterns = [
    path("invoices/ar/", lists.ar_invoice_list, name="ar_invoice_list"),
    path("invoices/ar/export.csv", lists.ar_invoice_export, name="ar_invoice_export"),
    path("invoices/ap/", lists.ap_invoice_list, name="ap_invoice_list"),
    path("invoices/ap/export.csv", lists.ap_invoice_export, name="ap_invoice_export"),
    path("proformas/", lists.proforma_list, name="proforma_list"),
    path("proformas/export.csv", lists.proforma_export, name="proforma_export"),
    path("requests/", lists.request_list, name="request_list"),
    path("requests/export.csv", lists.request_export, name="request_export"),
    path("services/", lists.service_list, name="service_list"),
    path("services/export.csv", lists.service_export, name="service_export"),
    path("customers/", lists.customer_list, name="customer_list"),
    path("customers/export.csv", lists.customer_export, name="customer_export"),
    path("providers/", lists.provider_list, name="provider_list"),
    path("providers/export.csv", lists.provider_export, name="provider_export"),
    path("payments/", lists.payment_list, name="payment_list"),
    path("payments/export.csv", lists.payment_export, name="payment_export"),
]
