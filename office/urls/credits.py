"""Office routes: credit notes, customer credit and refunds (the invoice page's actions, all POST; a credit note's
page and its actions; the credit note and refund lists, each with its CSV export)."""

from django.urls import path

from office.views import credits
from office.views.lists.credits import CREDIT_NOTES, REFUNDS

from .lists import list_routes

urlpatterns = [
    path("invoices/<int:pk>/credit/", credits.invoice_credit, name="invoice_credit"),
    path("invoices/<int:pk>/refund/", credits.invoice_refund, name="invoice_refund"),
    path("invoices/<int:pk>/apply-credit/", credits.invoice_apply_credit, name="invoice_apply_credit"),
    path("credit-notes/<int:pk>/", credits.credit_note_detail, name="credit_note_detail"),
    path("credit-notes/<int:pk>/apply/", credits.credit_note_apply, name="credit_note_apply"),
    path("credit-notes/<int:pk>/refund/", credits.credit_note_refund, name="credit_note_refund"),
    *list_routes("credit-notes/", CREDIT_NOTES),
    *list_routes("refunds/", REFUNDS),
]
