from django.contrib import admin
from django.urls import include, path

from customers import views as customer_views
from octoo_billing import admin_files, security

# Django admin (platform admins) under the product's name, not "Django administration".
admin.site.site_header = "Octoo Billing administration"
admin.site.site_title = "Octoo Billing admin"
admin.site.index_title = "Platform administration"

urlpatterns = [
    path("", customer_views.home, name="home"),
    # Ahead of customers.urls, which routes these two addresses to Django's stock views: the reset e-mail is
    # rate-limited and completing a reset lifts the sign-in lockout (octoo_billing.security).
    path("accounts/password/reset/", security.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        security.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/", include("customers.urls")),
    path("office/", include("office.urls")),
    path("portal/", include("portal.urls")),
    path("pay/", include("portal.urls_paylink")),  # "View and pay" links: no sign-in
    # Stored files shown in admin, streamed from the storage (octoo_billing.admin_files), ahead of admin's own URLs.
    path(
        "admin/stored-file/<str:app_label>/<str:model_name>/<int:pk>/",
        admin_files.stored_file,
        name="admin_stored_file",
    ),
    path("admin/", admin.site.urls),
    # /healthz, /readyz, /metrics (ops.middleware.ProbeMiddleware answers them first; these are the fallback).
    path("", include("ops.urls")),
]
