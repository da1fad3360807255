"""/office/ URLs. Each area keeps its own route list in a module of this package."""

from django.urls import path

from office.views.dashboard import dashboard

from . import (
    credits,
    customers,
    delivery,
    documents,
    imports,
    intake,
    lists,
    ratecards,
    reports,
    runs,
    search,
    settings,
)

app_name = "office"

urlpatterns = [
    path("", dashboard, name="dashboard"),
    *lists.urlpatterns,
    *documents.urlpatterns,
    *customers.urlpatterns,
    *reports.urlpatterns,
    *delivery.urlpatterns,
    *search.urlpatterns,
    *settings.urlpatterns,
    *ratecards.urlpatterns,
    *runs.urlpatterns,
    *imports.urlpatterns,
    *intake.urlpatterns,
    *credits.urlpatterns,
]
