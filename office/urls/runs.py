"""Office routes: billing runs (start, progress page and its JSON, the list, downloads) and bulk invoice actions."""

from django.urls import path

from office.views import bulk, runs

urlpatterns = [
    path("runs/", runs.run_list, name="run_list"),
    path("runs/start/", runs.run_start, name="run_start"),
    path("runs/<int:pk>/", runs.run_detail, name="run_detail"),
    path("runs/<int:pk>/status.json", runs.run_status, name="run_status"),
    path("runs/<int:pk>/download/", runs.run_download, name="run_download"),
    path("invoices/ar/bulk/", bulk.invoice_bulk, {"kind": "ar"}, name="ar_invoice_bulk"),
    path("invoices/ap/bulk/", bulk.invoice_bulk, {"kind": "ap"}, name="ap_invoice_bulk"),
]
