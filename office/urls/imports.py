"""Office routes: importing services from a scheduling system's export (upload, preview, import)."""

from django.urls import path

from office.views import imports

urlpatterns = [
    path("services/import/", imports.services_import, name="services_import"),
    path("services/import/preview/", imports.services_import_preview, name="services_import_preview"),
    path("services/import/commit/", imports.services_import_commit_view, name="services_import_commit"),
]
