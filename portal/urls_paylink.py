"""/pay/ URLs: an invoice opened by its "View and pay" link (invoicing.paylinks), without signing in."""

from django.urls import path

from .views import paylink

app_name = "paylink"

urlpatterns = [
    path("<str:token>/", paylink.invoice_page, name="invoice"),
    path("<str:token>/pdf/", paylink.invoice_pdf, name="pdf"),
]
