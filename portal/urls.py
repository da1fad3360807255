"""/portal/ URLs: a customer user's invoices, requests and bookings, and settings."""

from django.urls import path

from .views import credit_note_pdf, dashboard, invoices, requests, settings, statements

app_name = "portal"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    # invoices
    path("invoices/", invoices.invoice_list, name="invoice_list"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/pay/", invoices.invoice_pay, name="invoice_pay"),
    path("invoices/<int:pk>/pdf/", invoices.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:pk>/documents/<int:document_pk>/", invoices.invoice_document, name="invoice_document"),
    path("credit-notes/<int:pk>/pdf/", credit_note_pdf.credit_note_pdf, name="credit_note_pdf"),
    # statement of account
    path("statement/", statements.statement, name="statement"),
    path("statement/pdf/", statements.statement_pdf, name="statement_pdf"),
    # requests and bookings
    path("requests/", requests.request_list, name="request_list"),
    path("requests/new/", requests.request_create, name="request_create"),
    path("requests/<int:pk>/", requests.request_detail, name="request_detail"),
    path("requests/<int:pk>/codes/", requests.request_codes, name="request_codes"),
    path("requests/<int:pk>/services/<int:service_pk>/codes/", requests.service_codes, name="service_codes"),
    path("requests/<int:pk>/quote/accept/", requests.quote_accept, name="quote_accept"),
    path("requests/<int:pk>/quote/decline/", requests.quote_decline, name="quote_decline"),
    path("requests/<int:pk>/documents/<int:document_pk>/", requests.request_document, name="request_document"),
    # settings
    path("settings/", settings.settings_index, name="settings"),
    path("settings/expense-codes/", settings.expense_codes, name="settings_expense_codes"),
    path("settings/contacts/", settings.contact_list, name="contact_list"),
    path("settings/contacts/new/", settings.contact_create, name="contact_create"),
    path("settings/contacts/<int:contact_pk>/edit/", settings.contact_edit, name="contact_edit"),
    path("settings/contacts/<int:contact_pk>/default/", settings.contact_set_default, name="contact_set_default"),
    path("settings/contacts/<int:contact_pk>/delete/", settings.contact_delete, name="contact_delete"),
]
