"""Office routes: the partner's settings (billing admins)."""

from django.urls import path

from office.views import settings

urlpatterns = [
    path("settings/company/", settings.company_settings, name="company_settings"),
]
