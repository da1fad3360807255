"""Office routes: customers (detail, edit, billing settings, contacts, expense codes, run AR) and providers."""

from django.urls import path

from office.views import customers, providers, statements

urlpatterns = [
    path("customers/new/", customers.customer_create, name="customer_create"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", customers.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/billing/", customers.customer_billing_settings, name="customer_billing_settings"),
    path("customers/<int:pk>/card/", customers.customer_card, name="customer_card"),
    path("customers/<int:pk>/card/remove/", customers.customer_card_remove, name="customer_card_remove"),
    path("customers/<int:pk>/contacts/new/", customers.customer_contact_create, name="customer_contact_create"),
    path(
        "customers/<int:pk>/contacts/<int:contact_pk>/edit/",
        customers.customer_contact_edit,
        name="customer_contact_edit",
    ),
    path(
        "customers/<int:pk>/contacts/<int:contact_pk>/default/",
        customers.customer_contact_set_default,
        name="customer_contact_set_default",
    ),
    path(
        "customers/<int:pk>/contacts/<int:contact_pk>/delete/",
        customers.customer_contact_delete,
        name="customer_contact_delete",
    ),
    path("customers/<int:pk>/expense-codes/", customers.customer_expense_codes, name="customer_expense_codes"),
    path("customers/<int:pk>/run-ar/", customers.customer_run_ar, name="customer_run_ar"),
    path("customers/<int:pk>/statement/", statements.customer_statement_page, name="customer_statement"),
    path("customers/<int:pk>/statement/pdf/", statements.customer_statement_pdf, name="customer_statement_pdf"),
    path("customers/<int:pk>/statement/email/", statements.customer_statement_email, name="customer_statement_email"),
    path("providers/new/", providers.provider_create, name="provider_create"),
    path("providers/<int:pk>/", providers.provider_detail, name="provider_detail"),
    path("providers/<int:pk>/edit/", providers.provider_edit, name="provider_edit"),
    path("providers/<int:pk>/run-ap/", providers.provider_run_ap, name="provider_run_ap"),
]
