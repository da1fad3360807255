"""Office rate card pages (billing admins), continued: holidays (the partner's own, the public ones the engine will
use, and whose public holidays count), extras offered on bookings, coupons with their redemptions. Thin, as
``office.views.ratecards``, whose helpers these share."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from customers.access import staff_required
from invoicing import ratecards
from invoicing.errors import BillingRuleError
from invoicing.models import Coupon, ExtraOffer, Holiday
from invoicing.ratecard_selectors import (
    coupon_redemptions,
    coupon_rows,
    extra_rows,
    own_holidays,
    public_holidays_ahead,
)
from invoicing.ratecards import ExtraRemoval
from octoo_billing import locale as formats
from office.forms.ratecard_offers import CouponForm, ExtraForm
from office.forms.ratecards import HolidayForm, HolidaySettingsForm
from office.scoping import partner_object

from .ratecards import delete_submit, form_page, form_submit

# --- holidays -------------------------------------------------------------------------------------------------------


def _holidays_page(request, *, form=None, settings_form=None):
    partner = request.partner
    return render(
        request,
        "office/ratecards/holidays.html",
        {
            "tab": "holidays",
            "form": form or HolidayForm(),
            "settings_form": settings_form or HolidaySettingsForm(initial=HolidaySettingsForm.initial_of(partner)),
            "own": own_holidays(partner=partner),
            "public": public_holidays_ahead(partner=partner, today=timezone.localdate()),
            "partner": partner,
        },
    )


@staff_required(admin_only=True)
def holiday_list(request):
    return _holidays_page(request)


@require_POST
@staff_required(admin_only=True)
def holiday_create(request):
    form = HolidayForm(request.POST)
    saved = form_submit(
        request,
        form,
        lambda values: ratecards.holiday_save(partner=request.partner, user=request.user, **values),
        lambda holiday: f"{holiday.name} on {formats.format_date(holiday.date)} was added.",
    )
    if saved is not None:
        return redirect("office:ratecard_holidays")
    return _holidays_page(request, form=form)


@staff_required(admin_only=True)
def holiday_edit(request, pk):
    holiday = partner_object(request, Holiday, pk=pk)
    form = HolidayForm(request.POST or None, initial=HolidayForm.initial_of(holiday))
    back = reverse("office:ratecard_holidays")
    saved = form_submit(
        request,
        form,
        lambda values: ratecards.holiday_save(partner=request.partner, user=request.user, holiday=holiday, **values),
        lambda saved: f"{saved.name} on {formats.format_date(saved.date)} was saved.",
    )
    if saved is not None:
        return redirect(back)
    return form_page(
        request,
        form,
        tab="holidays",
        title=f"Edit {holiday.name}",
        submit="Save holiday",
        cancel_url=back,
        delete_url=reverse("office:ratecard_holiday_delete", args=[holiday.pk]),
    )


@require_POST
@staff_required(admin_only=True)
def holiday_delete(request, pk):
    holiday = partner_object(request, Holiday, pk=pk)
    return delete_submit(
        request,
        lambda: ratecards.holiday_delete(holiday=holiday, user=request.user),
        f"{holiday.name} on {formats.format_date(holiday.date)} was deleted.",
        reverse("office:ratecard_holidays"),
    )


@require_POST
@staff_required(admin_only=True)
def holiday_settings(request):
    form = HolidaySettingsForm(request.POST)
    saved = form_submit(
        request,
        form,
        lambda values: ratecards.partner_holidays_update(partner=request.partner, user=request.user, **values),
        lambda partner: "Which public holidays count was saved.",
    )
    if saved is not None:
        return redirect("office:ratecard_holidays")
    return _holidays_page(request, settings_form=form)


# --- extras ---------------------------------------------------------------------------------------------------------


@staff_required(admin_only=True)
def extra_list(request):
    return render(
        request,
        "office/ratecards/extras.html",
        {"tab": "extras", "rows": extra_rows(partner=request.partner), "currency": request.partner.currency},
    )


def _extra_form_page(request, form, offer: ExtraOffer | None):
    back = reverse("office:ratecard_extras")
    saved = form_submit(
        request,
        form,
        lambda values: ratecards.extra_save(partner=request.partner, user=request.user, offer=offer, **values),
        lambda saved: f"The extra {saved.name} was saved.",
    )
    if saved is not None:
        return redirect(back)
    return form_page(
        request,
        form,
        tab="extras",
        title=f"Edit {offer.name}" if offer else "New extra",
        submit="Save extra" if offer else "Add extra",
        cancel_url=back,
        intro="Services that booked an extra keep the name and rates they were booked with.",
    )


@staff_required(admin_only=True)
def extra_create(request):
    form = ExtraForm(request.POST or None, partner=request.partner, initial={"is_active": True, "max_quantity": 10})
    return _extra_form_page(request, form, None)


@staff_required(admin_only=True)
def extra_edit(request, pk):
    offer = partner_object(request, ExtraOffer, pk=pk)
    form = ExtraForm(request.POST or None, partner=request.partner, initial=ExtraForm.initial_of(offer))
    return _extra_form_page(request, form, offer)


@require_POST
@staff_required(admin_only=True)
def extra_remove(request, pk):
    offer = partner_object(request, ExtraOffer, pk=pk)
    try:
        outcome = ratecards.extra_remove(offer=offer, user=request.user)
    except BillingRuleError as error:
        messages.error(request, error.message)
    else:
        if outcome is ExtraRemoval.DELETED:
            messages.success(request, f"The extra {offer.name} was deleted.")
        elif outcome is ExtraRemoval.DEACTIVATED:
            messages.success(
                request,
                f"{offer.name} was booked or a coupon names it, so it was deactivated rather than deleted: it is "
                "no longer offered on new bookings.",
            )
        else:
            messages.info(request, f"{offer.name} is in use and already inactive: it stays for its bookings.")
    return redirect("office:ratecard_extras")


# --- coupons --------------------------------------------------------------------------------------------------------


@staff_required(admin_only=True)
def coupon_list(request):
    return render(
        request,
        "office/ratecards/coupons.html",
        {"tab": "coupons", "rows": coupon_rows(partner=request.partner), "currency": request.partner.currency},
    )


def _coupon_save(request, coupon, values):
    return ratecards.coupon_save(partner=request.partner, user=request.user, coupon=coupon, **values)


def _coupon_saved(coupon) -> str:
    return f"Coupon {coupon.code} was saved."


@staff_required(admin_only=True)
def coupon_create(request):
    form = CouponForm(request.POST or None, partner=request.partner, initial={"is_active": True})
    back = reverse("office:ratecard_coupons")
    if form_submit(request, form, lambda values: _coupon_save(request, None, values), _coupon_saved):
        return redirect(back)
    return form_page(request, form, tab="coupons", title="New coupon", submit="Add coupon", cancel_url=back)


@staff_required(admin_only=True)
def coupon_edit(request, pk):
    coupon = partner_object(request, Coupon, pk=pk)
    form = CouponForm(request.POST or None, partner=request.partner, initial=CouponForm.initial_of(coupon))
    back = reverse("office:ratecard_coupons")
    if form_submit(request, form, lambda values: _coupon_save(request, coupon, values), _coupon_saved):
        return redirect(back)
    return render(
        request,
        "office/ratecards/coupon.html",
        {
            "tab": "coupons",
            "coupon": coupon,
            "form": form,
            "redemptions": coupon_redemptions(coupon=coupon),
            "in_use": ratecards.coupon_in_use(coupon),
            "cancel_url": back,
            "currency": request.partner.currency,
        },
    )


@require_POST
@staff_required(admin_only=True)
def coupon_delete(request, pk):
    coupon = partner_object(request, Coupon, pk=pk)
    return delete_submit(
        request,
        lambda: ratecards.coupon_delete(coupon=coupon, user=request.user),
        f"Coupon {coupon.code} was deleted.",
        reverse("office:ratecard_coupons"),
    )
