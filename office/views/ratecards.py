"""Office rate card pages (billing admins): rates, tax zones with their areas, time policies. Holidays, extras and
coupons are ``office.views.ratecard_offers``; "price this service" is ``office.views.price_preview``.

Thin: load the row within the partner (another partner's is a 404), bind the form, call the
``invoicing.ratecards`` function, put its ``ValidationError`` or ``BillingRuleError`` back on the form (nothing is
saved then), add a message, redirect. Deleting is a POST.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from customers.access import staff_required
from invoicing import ratecards, zones
from invoicing.errors import BillingRuleError
from invoicing.models import Rate, TimePolicy, Zone, ZoneArea
from invoicing.ratecard_selectors import policy_rows, precedence_sentences, rate_groups, rate_level, zone_rows
from invoicing.ratecards import zone_in_use_words, zone_usage
from octoo_billing.forms import apply_errors
from office.forms.ratecards import PolicyForm, RateForm, ZoneAreaForm, ZoneForm
from office.scoping import partner_object

FORM_TEMPLATE = "office/ratecards/form.html"

# How a service's zone is found (invoicing.zones), in the words of its module: shown on the zones page.
ZONE_RULES = " ".join(zones.__doc__.split("\n\n", 1)[1].replace("``", "").split())


def form_submit(request, form, save: Callable[[dict], Model], success: Callable[[Model], str]) -> Model | None:
    """On a valid POST, ``save(form.cleaned_data)`` and add ``success(saved)`` as a message; the domain's refusal
    goes back on the form (nothing was saved). The saved row, or None when the page is to be shown again."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        saved = save(form.cleaned_data)
    except ValidationError as error:
        apply_errors(form, error)
    except BillingRuleError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
    else:
        messages.success(request, success(saved))
        return saved
    return None


def delete_submit(request, delete: Callable[[], object], success: str, back: str):
    """Run ``delete``; a refusal (the row is in use) is said as a message. Back to ``back`` either way."""
    try:
        delete()
    except BillingRuleError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect(back)


def form_page(request, form, *, tab: str, title: str, submit: str, cancel_url: str, **context):
    return render(
        request,
        FORM_TEMPLATE,
        {"form": form, "tab": tab, "title": title, "submit": submit, "cancel_url": cancel_url, **context},
    )


# --- rates ----------------------------------------------------------------------------------------------------------


@staff_required(admin_only=True)
def rate_list(request):
    return render(
        request,
        "office/ratecards/rates.html",
        {
            "tab": "rates",
            "groups": rate_groups(partner=request.partner),
            "precedence": precedence_sentences(),
            "currency": request.partner.currency,
        },
    )


def _rate_form_page(request, form, rate: Rate | None):
    back = reverse("office:ratecard_rates")
    if form_submit(request, form, lambda values: _rate_save(request, rate, values), _rate_saved):
        return redirect(back)
    context = {"delete_url": reverse("office:ratecard_rate_delete", args=[rate.pk])} if rate else {}
    if rate is not None:
        context["level"] = rate_level(rate)
    return form_page(
        request,
        form,
        tab="rates",
        title="Edit rate" if rate else "New rate",
        submit="Save rate" if rate else "Add rate",
        cancel_url=back,
        intro=" ".join(precedence_sentences()),
        **context,
    )


def _rate_save(request, rate, values):
    return ratecards.rate_save(partner=request.partner, user=request.user, rate=rate, **values)


def _rate_saved(rate) -> str:
    return f"The rate was saved: {ratecards.rate_scope_words(rate)}, level “{rate_level(rate).label}”."


@staff_required(admin_only=True)
def rate_create(request):
    return _rate_form_page(request, RateForm(request.POST or None, partner=request.partner), None)


@staff_required(admin_only=True)
def rate_edit(request, pk):
    rate = partner_object(request, Rate.objects.select_related("service_type", "customer", "provider"), pk=pk)
    form = RateForm(request.POST or None, partner=request.partner, initial=RateForm.initial_of(rate))
    return _rate_form_page(request, form, rate)


@require_POST
@staff_required(admin_only=True)
def rate_delete(request, pk):
    rate = partner_object(request, Rate, pk=pk)
    return delete_submit(
        request,
        lambda: ratecards.rate_delete(rate=rate, user=request.user),
        f"The rate was deleted: {ratecards.rate_scope_words(rate)}.",
        reverse("office:ratecard_rates"),
    )


# --- zones and their areas ------------------------------------------------------------------------------------------


@staff_required(admin_only=True)
def zone_list(request):
    return render(
        request,
        "office/ratecards/zones.html",
        {
            "tab": "zones",
            "rows": zone_rows(partner=request.partner),
            "zone_rules": ZONE_RULES,
            "currency": request.partner.currency,
        },
    )


def _zone_saved(zone) -> str:
    return f"Zone {zone.name} was saved."


@staff_required(admin_only=True)
def zone_create(request):
    form = ZoneForm(request.POST or None, partner=request.partner, initial={"price_multiplier": 1, "tax_rate": 0})
    zone = form_submit(
        request,
        form,
        lambda values: ratecards.zone_save(partner=request.partner, user=request.user, **values),
        _zone_saved,
    )
    if zone is not None:
        return redirect("office:ratecard_zone", zone.pk)  # on to its areas
    back = reverse("office:ratecard_zones")
    intro = "Add the zone, then the areas it covers."
    return form_page(request, form, tab="zones", title="New zone", submit="Add zone", cancel_url=back, intro=intro)


def _zone_page(request, zone: Zone, *, form=None, area_form=None):
    services, customers = zone_usage(zone)
    return render(
        request,
        "office/ratecards/zone.html",
        {
            "tab": "zones",
            "zone": zone,
            "form": form or ZoneForm(partner=request.partner, initial=ZoneForm.initial_of(zone)),
            "area_form": area_form or ZoneAreaForm(initial={"country": request.partner.country}),
            "areas": list(zone.areas.all()),
            "in_use": zone_in_use_words(zone.name, services, customers) if services or customers else "",
            "zone_rules": ZONE_RULES,
        },
    )


@staff_required(admin_only=True)
def zone_edit(request, pk):
    zone = partner_object(request, Zone, pk=pk)
    form = ZoneForm(request.POST or None, partner=request.partner, initial=ZoneForm.initial_of(zone))
    saved = form_submit(
        request,
        form,
        lambda values: ratecards.zone_save(partner=request.partner, user=request.user, zone=zone, **values),
        _zone_saved,
    )
    if saved is not None:
        return redirect("office:ratecard_zones")
    return _zone_page(request, zone, form=form)


@require_POST
@staff_required(admin_only=True)
def zone_delete(request, pk):
    zone = partner_object(request, Zone, pk=pk)
    return delete_submit(
        request,
        lambda: ratecards.zone_delete(zone=zone, user=request.user),
        f"Zone {zone.name} was deleted with its areas.",
        reverse("office:ratecard_zones"),
    )


@require_POST
@staff_required(admin_only=True)
def zone_area_create(request, pk):
    zone = partner_object(request, Zone, pk=pk)
    form = ZoneAreaForm(request.POST)
    saved = form_submit(
        request,
        form,
        lambda values: ratecards.zone_area_save(zone=zone, user=request.user, **values),
        lambda area: f"Zone {zone.name} now covers {area}.",
    )
    if saved is not None:
        return redirect("office:ratecard_zone", zone.pk)
    return _zone_page(request, zone, area_form=form)


def _area(request, pk) -> ZoneArea:
    return partner_object(request, ZoneArea.objects.filter(zone__partner=request.partner).select_related("zone"), pk=pk)


@staff_required(admin_only=True)
def zone_area_edit(request, pk):
    area = _area(request, pk)
    zone = area.zone
    form = ZoneAreaForm(request.POST or None, initial=ZoneAreaForm.initial_of(area))
    back = reverse("office:ratecard_zone", args=[zone.pk])
    saved = form_submit(
        request,
        form,
        lambda values: ratecards.zone_area_save(zone=zone, user=request.user, area=area, **values),
        lambda saved: f"The area of zone {zone.name} was saved: {saved}.",
    )
    if saved is not None:
        return redirect(back)
    return form_page(
        request,
        form,
        tab="zones",
        title=f"Edit an area of {zone.name}",
        submit="Save area",
        cancel_url=back,
        delete_url=reverse("office:ratecard_area_delete", args=[area.pk]),
        intro=ZONE_RULES,
    )


@require_POST
@staff_required(admin_only=True)
def zone_area_delete(request, pk):
    area = _area(request, pk)
    return delete_submit(
        request,
        lambda: ratecards.zone_area_delete(area=area, user=request.user),
        f"Zone {area.zone.name} no longer covers {area}.",
        reverse("office:ratecard_zone", args=[area.zone_id]),
    )


# --- time policies --------------------------------------------------------------------------------------------------

POLICY_INTRO = (
    "A customer's policy prices the bill side of its services, a provider's policy the pay side of theirs; the "
    "default policy (no customer, no provider) prices either side that has none of its own. A side with no policy "
    "at all counts the hours worked as they are."
)


@staff_required(admin_only=True)
def policy_list(request):
    return render(
        request,
        "office/ratecards/policies.html",
        {"tab": "policies", "rows": policy_rows(partner=request.partner), "intro": POLICY_INTRO},
    )


def _policy_form_page(request, form, policy: TimePolicy | None):
    back = reverse("office:ratecard_policies")
    saved = form_submit(
        request,
        form,
        lambda values: ratecards.policy_save(partner=request.partner, user=request.user, policy=policy, **values),
        lambda saved: f"The time policy was saved: {ratecards.policy_scope_words(saved)}.",
    )
    if saved is not None:
        return redirect(back)
    context = {"delete_url": reverse("office:ratecard_policy_delete", args=[policy.pk])} if policy else {}
    return form_page(
        request,
        form,
        tab="policies",
        title="Edit time policy" if policy else "New time policy",
        submit="Save policy" if policy else "Add policy",
        cancel_url=back,
        intro=POLICY_INTRO,
        **context,
    )


@staff_required(admin_only=True)
def policy_create(request):
    return _policy_form_page(request, PolicyForm(request.POST or None, partner=request.partner), None)


@staff_required(admin_only=True)
def policy_edit(request, pk):
    policy = partner_object(request, TimePolicy.objects.select_related("customer", "provider"), pk=pk)
    form = PolicyForm(request.POST or None, partner=request.partner, initial=PolicyForm.initial_of(policy))
    return _policy_form_page(request, form, policy)


@require_POST
@staff_required(admin_only=True)
def policy_delete(request, pk):
    policy = partner_object(request, TimePolicy.objects.select_related("customer", "provider"), pk=pk)
    return delete_submit(
        request,
        lambda: ratecards.policy_delete(policy=policy, user=request.user),
        f"The time policy was deleted: {ratecards.policy_scope_words(policy)}.",
        reverse("office:ratecard_policies"),
    )
