from django.urls import path

from . import views

# At the site's root (octoo_billing.urls), without a namespace: load balancers and Prometheus know these addresses.
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
]
