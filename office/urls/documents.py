"""Office routes: documents (detail pages, the manual invoice form, and the actions, all POST)."""

from django.urls import path

from office.views import actions, documents, invoices

urlpatterns = [
    # invoices
    path("invoices/new/", invoices.invoice_create, name="invoice_create"),
    path("invoices/<int:pk>/", documents.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/edit/", invoices.invoice_edit, name="invoice_edit"),
    path("invoices/<int:pk>/issue/", actions.invoice_issue, name="invoice_issue"),
    path("invoices/<int:pk>/void/", actions.invoice_void, name="invoice_void"),
    path("invoices/<int:pk>/delete/", actions.invoice_delete, name="invoice_delete"),
    path("invoices/<int:pk>/payments/", actions.invoice_payment, name="invoice_payment"),
    path("invoices/<int:pk>/adjustments/", actions.invoice_adjust, name="invoice_adjust"),
    path("invoices/<int:pk>/children/", actions.invoice_attach_child, name="invoice_attach_child"),
    path("invoices/<int:pk>/detach/", actions.invoice_detach_child, name="invoice_detach_child"),
    # proformas, requests, services
    path("proformas/<int:pk>/", documents.proforma_detail, name="proforma_detail"),
    path("proformas/<int:pk>/adjustments/", actions.proforma_adjust, name="proforma_adjust"),
    path("requests/<int:pk>/", documents.request_detail, name="request_detail"),
    path("requests/<int:pk>/quote/invoice/", actions.request_quote_convert, name="request_quote_convert"),
    path("services/<int:pk>/", documents.service_detail, name="service_detail"),
    path("services/<int:pk>/publish/", actions.service_publish, name="service_publish"),
]
