"""Office routes: requests and services entered and changed by staff (office.views.intake), and reservation shifts
(office.views.shifts)."""

from django.urls import path

from office.views import intake, shifts

urlpatterns = [
    path("requests/new/", intake.request_create, name="request_create"),
    path("requests/<int:pk>/edit/", intake.request_edit, name="request_edit"),
    path("requests/<int:pk>/codes/", intake.request_codes, name="request_codes"),
    path("requests/<int:pk>/cancel/", intake.request_cancel, name="request_cancel"),
    path("requests/<int:pk>/services/new/", intake.service_create, name="service_create"),
    path("services/<int:pk>/edit/", intake.service_edit, name="service_edit"),
    path("services/<int:pk>/codes/", intake.service_codes, name="service_codes"),
    path("services/<int:pk>/cancel/", intake.service_cancel, name="service_cancel"),
    path("services/<int:pk>/shift/", shifts.service_shift, name="service_shift"),
    path("shifts/", shifts.shift_list, name="shift_list"),
    path("shifts/new/", shifts.shift_create, name="shift_create"),
    path("shifts/<int:pk>/edit/", shifts.shift_edit, name="shift_edit"),
    path("shifts/<int:pk>/finish/", shifts.shift_finish, name="shift_finish"),
]
