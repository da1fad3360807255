"""Requests and services in the office: a new request (customer first, then its services, codes and documents), a
request's title, description and codes, a service added or changed with its extras and codes, cancelling either.
Reservation shifts are ``office.views.shifts``.

Every object comes through the partner's scope (another partner's is a 404; a customer id of another partner typed
into a form is refused on the form). Requests come in through ``invoicing.booking.request_submit`` and change
through ``invoicing.intake``; their refusals go next to the fields they name (a 400 that saved nothing) or, for
what can no longer change, into a message, and the pages show those reasons read-only. Clerks and billing admins
may do all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from customers.access import staff_required
from customers.models import Customer
from invoicing import intake
from invoicing.booking import (
    request_submit,
    service_input_errors,
)
from invoicing.editable import request_editable, service_editable
from invoicing.errors import BillingError
from invoicing.forms import CustomerPickForm
from invoicing.models import ExtraOffer, Service, ServiceRequest
from invoicing.recurring_forms import RecurrenceForm
from invoicing.views import codes_edit_page
from octoo_billing.forms import apply_errors
from office.forms.codes import StaffCodesForm
from office.forms.intake import (
    CancelForm,
    ExtraForm,
    RequestEditForm,
    RequestForm,
    ServiceForm,
    extra_formset,
    service_formset,
)
from office.scoping import partner_object

from .documents import maybe_reverse

SERVICES_PREFIX = "services"
EXTRAS_PREFIX = "extras"
CODES_PREFIX = "codes"


def _customer(request, value) -> Customer | None:
    """The partner's active customer with this id, or None (another partner's id is simply not found)."""
    text = str(value or "")
    if not text.isdecimal() or len(text) > 18:
        return None
    return Customer.objects.filter(partner=request.partner, is_active=True, pk=int(text)).select_related("zone").first()


def _offers(partner) -> list[ExtraOffer]:
    return list(ExtraOffer.objects.filter(partner=partner, is_active=True).order_by("name"))


def _request(request, pk) -> ServiceRequest:
    return partner_object(request, ServiceRequest.objects.select_related("customer__zone"), pk=pk)


def _service(request, pk) -> Service:
    queryset = Service.objects.select_related("request__customer__zone", "service_type", "provider", "zone", "shift")
    return partner_object(request, queryset, pk=pk)


def _request_url(service_request, anchor: str = "") -> str:
    return reverse("office:request_detail", args=[service_request.pk]) + anchor


def _service_url(service) -> str:
    return reverse("office:service_detail", args=[service.pk])


# --- a new request ----------------------------------------------------------------------------------------------


def _services_checked(customer, formset) -> bool:
    """Each service row checked as ``request_submit`` will check it, its messages on the row's fields."""
    ok = True
    for form in formset.kept_forms():
        errors = service_input_errors(customer, form.service_input())
        for field, message in errors.items():
            form.add_error(field if field in form.fields else None, message)
        ok = ok and not errors
    return ok


def _request_form_page(request, *, form, formset, customer, recurrence=None, status=200):
    picker = CustomerPickForm(
        partner=request.partner, initial={"customer": customer.pk if customer else None}, auto_id="pick_%s"
    )
    if recurrence is not None:
        recurrence.mark_invalid()
    context = {
        "form": form,
        "formset": formset,
        "recurrence_form": recurrence,  # None unless the customer allows recurring bookings
        "error_forms": [form, formset, *([recurrence] if recurrence is not None else [])],
        "picker": picker,
        "customer": customer,
        "files_dropped": status != 200 and bool(request.FILES),
        "list_url": maybe_reverse("office:request_list"),
    }
    form.mark_invalid()
    return render(request, "office/requests/form.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def request_create(request):
    """A request entered by staff (seed 000: codes and documents with it), through ``request_submit`` like the
    portal's: not priced into a quote (its services' proformas follow when they are done)."""
    partner = request.partner
    offers = _offers(partner)
    ServiceFormSet = service_formset()
    if request.method != "POST":
        customer = _customer(request, request.GET.get("customer"))
        form = RequestForm(partner=partner, customer=customer)
        formset = ServiceFormSet(
            prefix=SERVICES_PREFIX, form_kwargs={"partner": partner, "customer": customer, "offers": offers}
        )
        recurrence = RecurrenceForm.for_customer(customer)
        return _request_form_page(request, form=form, formset=formset, customer=customer, recurrence=recurrence)
    customer = _customer(request, request.POST.get("customer"))
    form = RequestForm(request.POST, request.FILES, partner=partner, customer=customer)
    formset = ServiceFormSet(
        request.POST, prefix=SERVICES_PREFIX, form_kwargs={"partner": partner, "customer": customer, "offers": offers}
    )
    recurrence = RecurrenceForm.for_customer(customer, request.POST)  # seed 002: when the customer allows it
    recurrence_read = recurrence is None or recurrence.is_valid()
    if form.is_valid() and formset.is_valid() and recurrence_read and _services_checked(customer, formset):
        try:
            service_request = request_submit(
                customer=form.cleaned_data["customer"],
                user=request.user,
                source=ServiceRequest.Source.OFFICE,
                services=[row.service_input() for row in formset.kept_forms()],
                book=False,
                **form.submission(),
                **(recurrence.recurrence() if recurrence is not None else {}),
            )
        except ValidationError as error:
            apply_errors(form, error, *([recurrence] if recurrence is not None else []))
        else:
            count = service_request.services.count()
            messages.success(
                request, f"Request {service_request} saved with {count} service{'s' if count != 1 else ''}."
            )
            return redirect("office:request_detail", pk=service_request.pk)
    return _request_form_page(request, form=form, formset=formset, customer=customer, recurrence=recurrence, status=400)


# --- a request's title, description and codes; cancelling it -----------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def request_edit(request, pk):
    service_request = _request(request, pk)
    frozen = request_editable(service_request).frozen
    form, status = None, 200
    if request.method == "POST":
        if frozen:
            messages.error(request, f"This request can no longer change. {frozen}")
            return redirect("office:request_detail", pk=service_request.pk)
        form = RequestEditForm(request.POST)
        if form.is_valid():
            try:
                intake.request_update(service_request=service_request, user=request.user, **form.cleaned_data)
            except ValidationError as error:
                apply_errors(form, error)
            except BillingError as error:  # frozen meanwhile
                messages.error(request, error.message)
                return redirect("office:request_detail", pk=service_request.pk)
            else:
                messages.success(request, "The request was saved.")
                return redirect("office:request_detail", pk=service_request.pk)
        status = 400
        form.mark_invalid()
    elif not frozen:
        form = RequestEditForm(initial={"title": service_request.title, "description": service_request.description})
    context = {"service_request": service_request, "form": form, "form_list": [form], "frozen_reason": frozen}
    return render(request, "office/requests/edit.html", context, status=status)


def _codes_page(request, service_request: ServiceRequest, service: Service | None = None):
    """Show (GET) or save (POST) the codes of the request, or of one of its services."""
    back = _request_url(service_request) if service is None else _service_url(service)
    return codes_edit_page(
        request,
        service_request=service_request,
        service=service,
        form_class=StaffCodesForm,
        template="office/requests/codes.html",
        back=back,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def request_codes(request, pk):
    return _codes_page(request, _request(request, pk))


@staff_required
@require_POST
def request_cancel(request, pk):
    service_request = _request(request, pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("reason", ["The request was not cancelled."])))
        return redirect("office:request_detail", pk=service_request.pk)
    try:
        intake.request_cancel(service_request=service_request, user=request.user, reason=form.cleaned_data["reason"])
    except BillingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{service_request} is cancelled, with its services.")
    return redirect("office:request_detail", pk=service_request.pk)


# --- a service: add, change, codes, cancel ------------------------------------------------------------------------


@dataclass
class ServicePage:
    """The forms of the service page: the service, its extras (rows) and, when it is added, its codes."""

    form: ServiceForm
    extras: object  # the extras formset, or None when they can no longer change
    codes: StaffCodesForm | None = None

    @property
    def forms(self) -> list:
        return [f for f in (self.form, self.codes) if f is not None]


def _service_page(
    request, page: ServicePage, *, service_request, service=None, reason="", priced="", provider="", status=200
):
    for form in page.forms:
        form.mark_invalid()
    context = {
        "service_request": service_request,
        "service": service,
        "page": page,
        "form": page.form,
        "extras": page.extras,
        "codes_form": page.codes,
        "frozen_reason": reason,
        "priced_reason": priced,
        "provider_reason": provider,
        "currency": request.partner.currency,
    }
    return render(request, "office/services/form.html", context, status=status)


def _extras_valid(page: ServicePage) -> bool:
    return page.extras is None or page.extras.is_valid()


@staff_required
@require_http_methods(["GET", "POST"])
def service_create(request, pk):
    """Add a service to a request (with its extras and its own codes), through ``intake.service_add``."""
    service_request = _request(request, pk)
    partner, customer = request.partner, service_request.customer
    reason = request_editable(service_request).add
    kwargs = {"partner": partner, "customer": customer, "offers": _offers(partner)}
    ExtraFormSet = extra_formset()
    data = request.POST if request.method == "POST" else None
    page = ServicePage(
        form=ServiceForm(data, **kwargs),
        extras=ExtraFormSet(data, prefix=EXTRAS_PREFIX, form_kwargs={"partner": partner}),
        codes=StaffCodesForm(data, customer=customer, codes=[], prefix=CODES_PREFIX),
    )
    if request.method != "POST" or reason:
        if reason and request.method == "POST":
            messages.error(request, f"No service can be added to this request. {reason}")
            return redirect("office:request_detail", pk=service_request.pk)
        return _service_page(request, page, service_request=service_request, reason=reason)
    if page.form.is_valid() and page.codes.is_valid() and _extras_valid(page):
        given = page.form.service_input(extras=page.extras.extras(), codes=page.codes.codes())
        try:
            service = intake.service_add(service_request=service_request, user=request.user, given=given)
        except ValidationError as error:
            apply_errors(page.form, error, page.codes)
        except BillingError as error:
            messages.error(request, error.message)
            return redirect("office:request_detail", pk=service_request.pk)
        else:
            messages.success(request, f"Service S-{service.pk} added.")
            return redirect(_request_url(service_request, "#services"))
    return _service_page(request, page, service_request=service_request, status=400)


def _existing_extras(service: Service) -> list[dict]:
    return [ExtraForm.initial_of(extra) for extra in service.extras.order_by("pk")]


@staff_required
@require_http_methods(["GET", "POST"])
def service_edit(request, pk):
    """Change a service through ``intake.service_update``; what its price was made from is shown, not editable,
    once it has a proforma or a quote, and nothing once it is on an issued invoice."""
    service = _service(request, pk)
    service_request = service.request
    partner = request.partner
    editable = service_editable(service)
    offers = [] if editable.priced else _offers(partner)
    initial_extras = _existing_extras(service)
    data = request.POST if request.method == "POST" else None
    form = ServiceForm(
        data,
        initial=ServiceForm.initial_of(service),
        partner=partner,
        customer=service_request.customer,
        offers=offers,
        service=service,
    )
    if editable.priced:
        for name in ("service_type", "starts_at", "ends_at", "zone", "country", "region", "postal_code"):
            form.fields[name].disabled = True  # the zone is priced, and found from these
    if editable.provider:
        form.fields["provider"].disabled = True
    extras = None
    if not editable.priced:
        extras = extra_formset(extra=1)(
            data, prefix=EXTRAS_PREFIX, initial=initial_extras, form_kwargs={"partner": partner}
        )
    page = ServicePage(form=form, extras=extras)
    page_kwargs = {
        "service_request": service_request,
        "service": service,
        "priced": editable.priced,
        "provider": editable.provider,
    }
    if editable.frozen:
        if request.method == "POST":
            messages.error(request, f"This service can no longer change. {editable.frozen}")
            return redirect("office:service_detail", pk=service.pk)
        return _service_page(request, page, reason=editable.frozen, **page_kwargs)
    if request.method != "POST":
        return _service_page(request, page, **page_kwargs)
    if form.is_valid() and _extras_valid(page):
        kept = extras.extras() if extras is not None else intake.extras_as_given(service)
        try:
            intake.service_update(service=service, user=request.user, given=form.service_input(extras=kept))
        except ValidationError as error:
            apply_errors(form, error)
        except BillingError as error:
            if error.field in form.fields:
                form.add_error(error.field, error.message)
            else:
                messages.error(request, error.message)
                return redirect("office:service_detail", pk=service.pk)
        else:
            messages.success(request, f"Service S-{service.pk} saved.")
            return redirect("office:service_detail", pk=service.pk)
    return _service_page(request, page, status=400, **page_kwargs)


@staff_required
@require_http_methods(["GET", "POST"])
def service_codes(request, pk):
    service = _service(request, pk)
    return _codes_page(request, service.request, service)


@staff_required
@require_POST
def service_cancel(request, pk):
    service = _service(request, pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("reason", ["The service was not cancelled."])))
        return redirect("office:service_detail", pk=service.pk)
    try:
        intake.service_cancel(service=service, user=request.user, reason=form.cleaned_data["reason"])
    except BillingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Service S-{service.pk} is cancelled.")
    return redirect("office:service_detail", pk=service.pk)
