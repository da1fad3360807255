"""Office routes: the partner's rate cards (billing admins) and "price this service"."""

from django.urls import path

from office.views import price_preview, ratecard_offers, ratecards

BASE = "settings/rate-cards/"

urlpatterns = [
    path(BASE, ratecards.rate_list, name="ratecard_rates"),
    path(f"{BASE}rates/new/", ratecards.rate_create, name="ratecard_rate_create"),
    path(f"{BASE}rates/<int:pk>/", ratecards.rate_edit, name="ratecard_rate_edit"),
    path(f"{BASE}rates/<int:pk>/delete/", ratecards.rate_delete, name="ratecard_rate_delete"),
    path(f"{BASE}zones/", ratecards.zone_list, name="ratecard_zones"),
    path(f"{BASE}zones/new/", ratecards.zone_create, name="ratecard_zone_create"),
    path(f"{BASE}zones/<int:pk>/", ratecards.zone_edit, name="ratecard_zone"),
    path(f"{BASE}zones/<int:pk>/delete/", ratecards.zone_delete, name="ratecard_zone_delete"),
    path(f"{BASE}zones/<int:pk>/areas/new/", ratecards.zone_area_create, name="ratecard_area_create"),
    path(f"{BASE}areas/<int:pk>/", ratecards.zone_area_edit, name="ratecard_area_edit"),
    path(f"{BASE}areas/<int:pk>/delete/", ratecards.zone_area_delete, name="ratecard_area_delete"),
    path(f"{BASE}policies/", ratecards.policy_list, name="ratecard_policies"),
    path(f"{BASE}policies/new/", ratecards.policy_create, name="ratecard_policy_create"),
    path(f"{BASE}policies/<int:pk>/", ratecards.policy_edit, name="ratecard_policy_edit"),
    path(f"{BASE}policies/<int:pk>/delete/", ratecards.policy_delete, name="ratecard_policy_delete"),
    path(f"{BASE}holidays/", ratecard_offers.holiday_list, name="ratecard_holidays"),
    path(f"{BASE}holidays/new/", ratecard_offers.holiday_create, name="ratecard_holiday_create"),
    path(f"{BASE}holidays/settings/", ratecard_offers.holiday_settings, name="ratecard_holiday_settings"),
    path(f"{BASE}holidays/<int:pk>/", ratecard_offers.holiday_edit, name="ratecard_holiday_edit"),
    path(f"{BASE}holidays/<int:pk>/delete/", ratecard_offers.holiday_delete, name="ratecard_holiday_delete"),
    path(f"{BASE}extras/", ratecard_offers.extra_list, name="ratecard_extras"),
    path(f"{BASE}extras/new/", ratecard_offers.extra_create, name="ratecard_extra_create"),
    path(f"{BASE}extras/<int:pk>/", ratecard_offers.extra_edit, name="ratecard_extra_edit"),
    path(f"{BASE}extras/<int:pk>/remove/", ratecard_offers.extra_remove, name="ratecard_extra_remove"),
    path(f"{BASE}coupons/", ratecard_offers.coupon_list, name="ratecard_coupons"),
    path(f"{BASE}coupons/new/", ratecard_offers.coupon_create, name="ratecard_coupon_create"),
    path(f"{BASE}coupons/<int:pk>/", ratecard_offers.coupon_edit, name="ratecard_coupon_edit"),
    path(f"{BASE}coupons/<int:pk>/delete/", ratecard_offers.coupon_delete, name="ratecard_coupon_delete"),
    path(f"{BASE}price-preview/", price_preview.price_preview, name="price_preview"),
]
