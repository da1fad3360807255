"""Office routes: delivery (invoice PDFs, e-mail, card charge, supporting documents)."""

from django.urls import path

from office.views import credit_note_pdf, delivery

urlpatterns = [
    path("invoices/<int:pk>/pdf/", delivery.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:pk>/pdf/render/", delivery.invoice_pdf_render, name="invoice_pdf_render"),
    path("invoices/<int:pk>/send/", delivery.invoice_send, name="invoice_send"),
    path("invoices/<int:pk>/charge/", delivery.invoice_charge, name="invoice_charge"),
    path("invoices/<int:pk>/delivery/retry/", delivery.invoice_outbox_retry, name="invoice_outbox_retry"),
    path("proformas/<int:pk>/pdf/", delivery.proforma_pdf, name="proforma_pdf"),
    path("credit-notes/<int:pk>/pdf/", credit_note_pdf.credit_note_pdf, name="credit_note_pdf"),
    path("requests/<int:pk>/documents/", delivery.request_document_upload, name="request_document_upload"),
    path("documents/<int:pk>/", delivery.request_document_download, name="request_document_download"),
]
