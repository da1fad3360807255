"""The quote of a booking: priced from the partner's rates when the booking is made, its totals, and the
customer's answer.

With the customer's "generate invoices automatically when the booking is created" flag on (and recurring
bookings off) the quote becomes an invoice that is issued straight away: numbered, e-mailed and charged like any
other (seed 002). Otherwise the customer sees the quote on the booking and accepts or declines it; staff generate
the invoice from it (``manual.quote_convert``).

A recurring booking's quote prices every occurrence (each dated, at the rates of its own day: a monthly
occurrence may fall on a weekend or a holiday), so its total is the whole series. It is never invoiced at once,
nor turned into an invoice by staff: the occurrences are invoiced as the booking's own option says (each
occurrence, or one invoice per month; ``invoicing.invoices_from_proformas``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from audit.recording import audit_record
from customers.access import customer_membership, staff_membership

from .errors import InvalidTransition, PricingError
from .manual import quote_convert
from .models import Invoice, Quote, QuoteLine, Service, ServiceRequest, Slip
from .pricing import line_amounts
from .rates import RateBook, service_slips


def may_act_for(user, customer) -> bool:
    """May ``user`` act for ``customer`` on its requests (answer a quote, change codes)? The system (no user), the
    partner's staff and the customer's own portal users may."""
    if user is None:
        return True
    staff = staff_membership(user)
    if staff is not None:
        return staff.partner_id == customer.partner_id
    member = customer_membership(user)
    return member is not None and member.customer_id == customer.pk


def quote_create(*, service_request: ServiceRequest, user=None) -> Quote:
    """Price a booking into its quote; invoice and issue it at once when the customer's flag says so. Raises
    ``ValidationError`` (on ``service_type``) when a service cannot be priced. Runs inside ``request_submit``'s
    transaction."""
    customer = service_request.customer
    quote = Quote.objects.create(request=service_request)
    book = RateBook(customer.partner)
    tz = customer.partner.tzinfo  # service dates as the partner reads them, whoever books
    lines = []
    services = Service.objects.filter(request=service_request).select_related("request__customer", "zone")
    for service in services.prefetch_related("extras").order_by("starts_at", "pk"):
        try:
            slips = service_slips(service, book)
        except PricingError as error:
            raise ValidationError(
                {"service_type": f"This service cannot be booked online yet ({error.message}). Please contact us."}
            ) from None
        lines.extend(
            QuoteLine(
                quote=quote,
                description=f"{timezone.localtime(service.starts_at, tz):%b %d} {slip.description}"[:200],
                quantity=slip.quantity,
                unit_price_units=slip.bill_rate_units,
                tax_rate=slip.tax_rate,
                discount_units=slip.line_discount_units,
                slip_type=Slip.Type.COUPON if slip.slip_type == Slip.Type.COUPON else Slip.Type.GENERAL,
            )
            for slip in slips
        )
    QuoteLine.objects.bulk_create(lines)
    if customer.auto_invoice_on_booking and not customer.allow_recurring_bookings and not service_request.repeat:
        invoice = quote_convert(quote=quote, user=user, source=Invoice.Source.BOOKING, issue=True)
        ServiceRequest.objects.filter(pk=service_request.pk).update(status=ServiceRequest.Status.CONFIRMED)
        audit_record(
            target=service_request,
            action="invoiced_on_booking",
            actor=user,
            from_status=service_request.status,
            to_status=ServiceRequest.Status.CONFIRMED,
            data={"invoice_id": invoice.pk, "number": invoice.number},
        )
    return quote


@dataclass(frozen=True)
class QuoteTotals:
    subtotal_units: int
    discount_units: int
    tax_units: int
    total_units: int


def quote_totals(quote: Quote, lines=None) -> QuoteTotals:
    """The quote's totals, line by line as an invoice of the same lines would add them up. Each of ``lines`` (the
    quote's, by default) gets its ``amounts`` (``pricing.LineAmounts``) for display."""
    lines = list(quote.lines.order_by("id") if lines is None else lines)
    for line in lines:
        line.amounts = line_amounts(
            quantity=line.quantity,
            unit_price_units=line.unit_price_units,
            tax_rate=line.tax_rate,
            discount_units=line.discount_units,
        )
    amounts = [line.amounts for line in lines]
    return QuoteTotals(
        subtotal_units=sum(a.amount_units for a in amounts),
        discount_units=sum(a.discount_units for a in amounts),
        tax_units=sum(a.tax_units for a in amounts),
        total_units=sum(a.total_units for a in amounts),
    )


def _quote_for_answer(quote: Quote, user) -> Quote:
    quote = Quote.objects.select_for_update(of=("self",)).select_related("request__customer").get(pk=quote.pk)
    if not may_act_for(user, quote.request.customer):
        raise PermissionDenied("This quote is not yours to answer.")
    if quote.status != Quote.Status.OPEN:
        raise InvalidTransition(f"This quote was already {quote.get_status_display().lower()}.")
    return quote


@transaction.atomic
def quote_accept(*, quote: Quote, user=None) -> Quote:
    """The customer accepts the quote: the booking is confirmed and staff generate its invoice."""
    quote = _quote_for_answer(quote, user)
    quote.status = Quote.Status.ACCEPTED
    quote.save(update_fields=["status"])
    request = quote.request
    ServiceRequest.objects.filter(pk=request.pk).update(status=ServiceRequest.Status.CONFIRMED)
    audit_record(
        target=request,
        action="quote_accept",
        actor=user,
        from_status=request.status,
        to_status=ServiceRequest.Status.CONFIRMED,
        data={"quote_id": quote.pk},
    )
    return quote


@transaction.atomic
def quote_decline(*, quote: Quote, user=None, reason: str = "") -> Quote:
    """The customer declines the quote: the booking and its services not yet rendered are cancelled."""
    quote = _quote_for_answer(quote, user)
    quote.status = Quote.Status.DECLINED
    quote.save(update_fields=["status"])
    request = quote.request
    ServiceRequest.objects.filter(pk=request.pk).update(status=ServiceRequest.Status.CANCELLED)
    cancelled = (
        Service.objects.filter(request=request, proforma__isnull=True)
        .exclude(status__in=[Service.Status.COMPLETED, Service.Status.CANCELLED])
        .update(status=Service.Status.CANCELLED)
    )
    audit_record(
        target=request,
        action="quote_decline",
        actor=user,
        from_status=request.status,
        to_status=ServiceRequest.Status.CANCELLED,
        reason=(reason or "").strip()[:500],
        data={"quote_id": quote.pk, "services_cancelled": cancelled},
    )
    return quote
