"""Customer portal: the customer's requests and bookings (seeds 000 and 002).

Every object is looked up through ``request.customer``: another customer's request, service, quote or document
is a 404. The rules are ``invoicing.booking``'s: these views bind a form, call it, put its messages on the form's
fields (a 400 that saved nothing) or add a message and redirect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Prefetch, Q, prefetch_related_objects
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.access import customer_user_required
from expense_codes.models import AppliedExpenseCode
from invoicing import booking, quotes, selectors
from invoicing.errors import BillingError
from invoicing.models import (
    Invoice,
    InvoiceProforma,
    Quote,
    Service,
    ServiceExtra,
    ServiceRequest,
)
from invoicing.recurring import recurrence_words
from invoicing.recurring_forms import RecurrenceForm
from invoicing.request_codes import codes_can_edit, request_codes_frozen, service_codes_frozen
from invoicing.views import codes_edit_page
from invoicing.zones import services_zone_explain
from octoo_billing.forms import apply_errors
from portal.forms.requests import BookingForm, CodesForm, QuoteDeclineForm, RequestFilterForm

PAGE_SIZE = 25
NOT_ISSUED = (Invoice.Status.DRAFT, Invoice.Status.VOID)
REQUEST_NUMBER = re.compile(r"^R-?(\d{1,12})$", re.IGNORECASE)


def _issued(invoice: Invoice | None) -> bool:
    """An invoice the customer can open: issued and not void (drafts are never shown in the portal)."""
    return invoice is not None and invoice.status not in NOT_ISSUED


def _customer_request(request, pk) -> ServiceRequest:
    """One of the signed-in customer's requests; anyone else's is a 404."""
    queryset = selectors.customer_requests(customer=request.customer).prefetch_related(None)
    return get_object_or_404(queryset, pk=pk)


# --- the list ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    """A line of the request list: the request, its codes, the total to show and the invoice to link to."""

    service_request: ServiceRequest
    codes: str
    total_units: int | None
    invoice: Invoice | None  # set when issued: the row links to it
    quote: Quote | None


def _request_row(service_request: ServiceRequest) -> RequestRow:
    quote = getattr(service_request, "quote", None)
    invoice = quote.invoice if quote is not None else None
    if _issued(invoice):
        total = invoice.total_units
    elif quote is not None:
        total = quotes.quote_totals(quote, lines=quote.lines.all()).total_units  # prefetched
    else:
        total = None
    codes = ", ".join(f"{code.label_name}: {code.value}" for code in service_request.expense_codes.all())
    return RequestRow(
        service_request=service_request,
        codes=codes,
        total_units=total,
        invoice=invoice if _issued(invoice) else None,
        quote=quote,
    )


def _filtered(queryset, values: dict):
    if values.get("status"):
        queryset = queryset.filter(status=values["status"])
    if values.get("created_from"):
        queryset = queryset.filter(created_at__date__gte=values["created_from"])
    if values.get("created_to"):
        queryset = queryset.filter(created_at__date__lte=values["created_to"])
    text = " ".join((values.get("q") or "").split())
    if text:
        codes = AppliedExpenseCode.objects.filter(value__icontains=text)
        match = (
            Q(title__icontains=text)
            | Exists(codes.filter(request=OuterRef("pk")))
            | Exists(codes.filter(service__request=OuterRef("pk")))
        )
        number = REQUEST_NUMBER.match(text)
        if number:
            match |= Q(pk=int(number.group(1)))
        queryset = queryset.filter(match)
    return queryset


@customer_user_required
@require_GET
def request_list(request):
    filtering = any(name in request.GET for name in RequestFilterForm.base_fields)
    filters = RequestFilterForm(request.GET if filtering else None)
    values = filters.values()
    requests = _filtered(selectors.customer_requests(customer=request.customer), values)
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    filters.mark_invalid()
    context = {
        "page": page,
        "rows": [_request_row(service_request) for service_request in page.object_list],
        "filters": filters,
        "is_filtered": bool(values),
        "currency": request.customer.partner.currency,
    }
    return render(request, "portal/request_list.html", context)


# --- booking a service --------------------------------------------------------------------------------------


def _booking_page(request, form: BookingForm, recurrence: RecurrenceForm | None = None, *, status: int = 200):
    form.mark_invalid()
    if recurrence is not None:
        recurrence.mark_invalid()
    context = {
        "form": form,
        "recurrence_form": recurrence,  # None unless the customer may book recurring services
        "currency": request.customer.partner.currency,
        "files_dropped": status != 200 and bool(request.FILES),
    }
    return render(request, "portal/request_form.html", context, status=status)


@customer_user_required
@require_http_methods(["GET", "POST"])
def request_create(request):
    """Book a service, once or repeating (seed 002, when the customer allows it): an invoice issued at once, or a
    quote to answer (the customer's flag decides; a recurring booking always gets a quote)."""
    customer = request.customer
    if request.method != "POST":
        return _booking_page(request, BookingForm(customer=customer), RecurrenceForm.for_customer(customer))
    form = BookingForm(request.POST, request.FILES, customer=customer)
    recurrence = RecurrenceForm.for_customer(customer, request.POST)
    if not all([form.is_valid(), recurrence is None or recurrence.is_valid()]):
        return _booking_page(request, form, recurrence, status=400)
    try:
        service_request = booking.request_submit(
            customer=customer,  # the signed-in customer's, whatever the POST says
            user=request.user,
            source=ServiceRequest.Source.PORTAL,
            **form.submission(),
            **(recurrence.recurrence() if recurrence is not None else {}),
        )
    except ValidationError as error:
        apply_errors(form, error, *([recurrence] if recurrence is not None else []))
        return _booking_page(request, form, recurrence, status=400)
    except BillingError as error:  # invoicing it at once was refused (e.g. no billing contact); nothing was saved
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _booking_page(request, form, recurrence, status=400)
    quote = getattr(service_request, "quote", None)
    invoice = quote.invoice if quote is not None else None
    if _issued(invoice):
        messages.success(request, f"Booked. Invoice {invoice.number} was issued: you will find it under Invoices.")
    elif service_request.repeat:
        count = service_request.services.count()
        messages.success(request, f"Booked {count} occurrence{pluralize(count)}. Your quote is ready below.")
    else:
        messages.success(request, "Booked. Your quote is ready below.")
    return redirect("portal:request_detail", pk=service_request.pk)


# --- one request ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRow:
    """A service line: its extras and codes, and why its codes can no longer change ("" while they can)."""

    service: Service
    extras: list[ServiceExtra]
    codes: list[AppliedExpenseCode]
    frozen_reason: str
    zone_explanation: str = ""  # which tax zone and why, in words (invoicing.zones)


def _request_invoices(service_request: ServiceRequest, quote: Quote | None) -> list[Invoice]:
    """The issued invoices that bill this request: the one made from its quote, and those its services are on."""
    invoices = {}
    if quote is not None and quote.invoice is not None and quote.invoice.status != Invoice.Status.DRAFT:
        invoices[quote.invoice.pk] = quote.invoice
    links = (
        InvoiceProforma.objects.filter(proforma__service__request=service_request, kind=Invoice.Kind.AR, is_active=True)
        .exclude(invoice__status=Invoice.Status.DRAFT)
        .select_related("invoice")
        .order_by("invoice_id")
    )
    for link in links:
        invoices.setdefault(link.invoice_id, link.invoice)
    return list(invoices.values())


@customer_user_required
@require_GET
def request_detail(request, pk):
    service_request = _customer_request(request, pk)
    parts = selectors.request_detail_parts(service_request=service_request)
    services = parts.services
    prefetch_related_objects(services, Prefetch("extras", queryset=ServiceExtra.objects.order_by("pk")))
    zones = services_zone_explain(services, partner=request.customer.partner)
    quote = parts.quote
    lines = parts.quote_lines
    context = {
        "service_request": service_request,
        "recurrence": recurrence_words(service_request),  # "" unless it is a recurring booking
        "currency": request.customer.partner.currency,
        "codes": parts.codes,
        "services": [
            ServiceRow(
                service=service,
                extras=list(service.extras.all()),
                codes=list(service.expense_codes.all()),
                frozen_reason=service_codes_frozen(service),
                zone_explanation=zones[service.pk].explanation,
            )
            for service in services
        ],
        "codes_frozen": request_codes_frozen(service_request),
        "can_edit_codes": codes_can_edit(user=request.user, customer=request.customer),
        "quote": quote,
        "quote_totals": quotes.quote_totals(quote, lines=lines) if quote is not None else None,  # sets .amounts
        "quote_lines": lines,
        "invoices": _request_invoices(service_request, quote),
        "documents": list(service_request.documents.order_by("uploaded_at", "pk")),
        "decline_form": QuoteDeclineForm(),
    }
    return render(request, "portal/request_detail.html", context)


@customer_user_required
@require_GET
def request_document(request, pk, document_pk):
    """A supporting document of one of the customer's requests, as a download."""
    service_request = _customer_request(request, pk)
    document = get_object_or_404(service_request.documents.all(), pk=document_pk)
    response = FileResponse(
        document.file.open("rb"), as_attachment=True, filename=document.name, content_type=document.content_type
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- expense codes of a request or of one of its services ----------------------------------------------------


def _codes_page(request, service_request: ServiceRequest, service: Service | None = None):
    """Show (GET) or save (POST) the codes of the request, or of one service when ``service`` is given."""
    anchor = "#codes" if service is None else f"#service-{service.pk}"
    return codes_edit_page(
        request,
        service_request=service_request,
        service=service,
        form_class=CodesForm,
        template="portal/request_codes.html",
        back=reverse("portal:request_detail", args=[service_request.pk]) + anchor,
    )


@customer_user_required
@require_http_methods(["GET", "POST"])
def request_codes(request, pk):
    return _codes_page(request, _customer_request(request, pk))


@customer_user_required
@require_http_methods(["GET", "POST"])
def service_codes(request, pk, service_pk):
    service_request = _customer_request(request, pk)
    service = get_object_or_404(
        Service.objects.filter(request=service_request).select_related("service_type"), pk=service_pk
    )
    return _codes_page(request, service_request, service)


# --- answering the quote -----------------------------------------------------------------------------------------


def _customer_quote(request, pk) -> Quote:
    return get_object_or_404(Quote.objects.select_related("request"), request=_customer_request(request, pk))


@customer_user_required
@require_POST
def quote_accept(request, pk):
    quote = _customer_quote(request, pk)
    try:
        quotes.quote_accept(quote=quote, user=request.user)
    except BillingError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, "Quote accepted: your booking is confirmed. We will send your invoice once it is prepared."
        )
    return redirect(reverse("portal:request_detail", args=[pk]) + "#quote")


@customer_user_required
@require_POST
def quote_decline(request, pk):
    quote = _customer_quote(request, pk)
    form = QuoteDeclineForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("reason", ["The quote could not be declined."])))
        return redirect(reverse("portal:request_detail", args=[pk]) + "#quote")
    try:
        quotes.quote_decline(quote=quote, user=request.user, reason=form.cleaned_data["reason"])
    except BillingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Quote declined: your booking is cancelled.")
    return redirect(reverse("portal:request_detail", args=[pk]) + "#quote")
