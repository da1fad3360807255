"""Reservation shifts in the office: added, renamed or moved until finished, services put on them or taken off
(from the service's page), and finished (which makes their proformas, seed 003), through ``invoicing.shifts``.

Every object comes through the partner's scope (another partner's is a 404). Refusals go next to the fields they
name (a 400 that saved nothing) or into a message. Clerks and billing admins may do all of it.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.access import staff_required
from invoicing import shifts
from invoicing.errors import BillingError
from invoicing.models import Service, Shift
from octoo_billing.forms import apply_errors
from office.forms.shifts import ServiceShiftForm, ShiftForm
from office.scoping import partner_object

SHIFTS_PER_PAGE = 50


def _shift_page(request, *, form, shift=None, frozen="", status=200):
    if form is not None and form.is_bound:
        form.mark_invalid()
    services = []
    if shift is not None:
        services = list(
            Service.objects.filter(shift=shift)
            .select_related("service_type", "request__customer")
            .order_by("starts_at", "pk")
        )
    context = {
        "form": form,
        "form_list": [form],
        "shift": shift,
        "services": services,
        "frozen_reason": frozen,
        "longest_days": shifts.SHIFT_LONGEST.days,
    }
    return render(request, "office/services/shift_form.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def shift_create(request):
    """A new reservation shift, through ``shifts.shift_create``; services are put on it from their pages."""
    if request.method != "POST":
        return _shift_page(request, form=ShiftForm())
    form = ShiftForm(request.POST)
    if form.is_valid():
        try:
            shift = shifts.shift_create(partner=request.partner, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Shift {shift} added: put services on it from their pages.")
            return redirect("office:shift_list")
    return _shift_page(request, form=form, status=400)


@staff_required
@require_http_methods(["GET", "POST"])
def shift_edit(request, pk):
    """A shift's name and times, through ``shifts.shift_update``, until it is finished (then shown read-only)."""
    shift = partner_object(request, Shift, pk=pk)
    frozen = "It is finished." if shift.finished_at is not None else ""
    if frozen:
        if request.method == "POST":
            messages.error(request, f"This shift can no longer change. {frozen}")
            return redirect("office:shift_list")
        return _shift_page(request, form=None, shift=shift, frozen=frozen)
    if request.method != "POST":
        return _shift_page(request, form=ShiftForm(initial=ShiftForm.initial_of(shift)), shift=shift)
    form = ShiftForm(request.POST)
    if form.is_valid():
        try:
            shift = shifts.shift_update(shift=shift, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        except BillingError as error:  # finished meanwhile
            messages.error(request, error.message)
            return redirect("office:shift_list")
        else:
            messages.success(request, f"Shift {shift} saved.")
            return redirect("office:shift_list")
    return _shift_page(request, form=form, shift=shift, status=400)


@staff_required
@require_POST
def service_shift(request, pk):
    """Put a service on one of the partner's shifts, or take it off its shift (``shifts.service_shift_set``); the
    form is on the service's page, so what is refused comes back there as a message."""
    service = partner_object(request, Service.objects.select_related("shift"), pk=pk)
    form = ServiceShiftForm(request.POST, partner=request.partner)
    back = redirect("office:service_detail", pk=service.pk)
    if not form.is_valid():
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
        return back
    before = service.shift
    try:
        service = shifts.service_shift_set(service=service, user=request.user, shift=form.chosen())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except BillingError as error:
        messages.error(request, error.message)
    else:
        if service.shift is not None:
            messages.success(request, f"S-{service.pk} is on the shift {service.shift}.")
        elif before is not None:
            messages.success(request, f"S-{service.pk} was taken off the shift {before}.")
        else:
            messages.info(request, f"S-{service.pk} is on no shift.")
    return back


@staff_required
@require_GET
def shift_list(request):
    """The partner's reservation shifts, newest first, each with its services and how many have a proforma."""
    partner_shifts = (
        Shift.objects.filter(partner=request.partner)
        .annotate(
            services_count=Count("services", filter=~Q(services__status=Service.Status.CANCELLED)),
            proformas_count=Count("services__proforma"),
        )
        .order_by("-starts_at", "-pk")
    )
    page = Paginator(partner_shifts, SHIFTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "office/services/shifts.html", {"page": page, "shifts": page.object_list})


@staff_required
@require_POST
def shift_finish(request, pk):
    """Finish a reservation shift: its services are completed and their proformas made (seed 003)."""
    shift = partner_object(request, Shift, pk=pk)
    service_id = request.POST.get("service")
    back = redirect("office:shift_list")
    if service_id and service_id.isdecimal() and Service.objects.filter(shift=shift, pk=int(service_id)).exists():
        back = redirect("office:service_detail", pk=int(service_id))
    try:
        finished = shifts.shift_finish(shift=shift, user=request.user)
    except BillingError as error:
        messages.error(request, error.message)
        return back
    made = len(finished.run.created)
    messages.success(request, f"{shift} is finished: {made} proforma{'s' if made != 1 else ''} made for its services.")
    for service_pk, message in sorted(finished.run.errors.items()):
        messages.error(request, f"S-{service_pk} could not be priced: {message} Add the rate, then finish it again.")
    return back
