from django.contrib import admin
from django.urls import include, path

from customers import views as customer_views

urlpatterns = [
    path("", customer_views.home, name="home"),
    path("accounts/", include("customers.urls")),
    path("office/", include("office.urls")),
    path("portal/", include("portal.urls")),
    path("admin/", admin.site.urls),
]
