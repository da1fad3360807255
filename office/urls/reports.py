"""Office routes: reports (each also as CSV with ``?format=csv``)."""

from django.urls import path

from office.views import reports

urlpatterns = [
    path("reports/aging/", reports.report_aging, name="report_aging"),
    path("reports/revenue/", reports.report_revenue, name="report_revenue"),
    path("reports/cash/", reports.report_cash, name="report_cash"),
    path("reports/tax/", reports.report_tax, name="report_tax"),
]
