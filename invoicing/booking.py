"""Bookings: a request with its services, priced into a quote, invoiced at once when the customer's
portal flag says so (seed 002), and checked against the customer's expense-code policy (seed 000)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from expense_codes.applying import codes_apply, request_codes_with_defaults
from expense_codes.models import ExpenseCodeLabel

from .audit import audit_record
from .errors import PricingError
from .generation import RateBook, service_slips
from .manual import quote_convert
from .models import Invoice, Quote, QuoteLine, Service, ServiceRequest


@dataclass
class ServiceInput:
    service_type: object
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    address: str = ""
    zone: object = None


def request_book(
    *,
    customer,
    title: str,
    services: list[ServiceInput],
    codes: list[tuple[str, str]] = (),
    description: str = "",
    user=None,
    source: str = ServiceRequest.Source.PORTAL,
) -> ServiceRequest:
    """Book a request. Its services are priced into a quote; with the customer's "generate invoices
    automatically when the booking is created" flag on (and recurring bookings off), the quote becomes a draft
    invoice at once, otherwise it waits for staff to convert it.

    Raises ValidationError (by field) when the booking breaks a rule the customer can fix.
    """
    errors = {}
    if not (title or "").strip():
        errors["title"] = "Say what the request is for."
    if not services:
        errors["services"] = "Add at least one service."
    for number, service in enumerate(services, start=1):
        if service.ends_at <= service.starts_at:
            errors["services"] = f"Service {number} must end after it starts."
        if service.service_type.partner_id != customer.partner_id:
            errors["services"] = f"Service {number}: unknown service type."
    codes = [(label.strip(), value.strip()) for label, value in codes if label.strip() and value.strip()]
    all_codes = request_codes_with_defaults(customer=customer, pairs=codes)
    if customer.require_expense_code and not all_codes:
        errors["codes"] = "An expense code is required to submit a request."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        request = ServiceRequest.objects.create(
            partner_id=customer.partner_id,
            customer=customer,
            title=title.strip(),
            description=description,
            status=ServiceRequest.Status.SUBMITTED,
            source=source,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        labels = dict(ExpenseCodeLabel.objects.filter(customer=customer).values_list("name", "pk"))
        codes_apply(pairs=all_codes, label_ids=labels, request=request)
        rows = [
            Service.objects.create(
                partner_id=customer.partner_id,
                request=request,
                service_type=s.service_type,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                address=s.address,
                zone=s.zone or customer.zone,
            )
            for s in services
        ]
        quote = Quote.objects.create(request=request)
        book = RateBook(customer.partner)
        lines = []
        for service in rows:
            try:
                slips = service_slips(service, book)
            except PricingError as error:
                raise ValidationError({"services": f"This service cannot be priced yet: {error.message}"}) from None
            for slip in slips:
                lines.append(
                    QuoteLine(
                        quote=quote,
                        description=f"{service.starts_at:%b %d} {slip.description}",
                        quantity=slip.quantity,
                        unit_price_units=slip.bill_rate_units,
                        tax_rate=slip.tax_rate,
                        discount_units=slip.line_discount_units,
                    )
                )
        QuoteLine.objects.bulk_create(lines)
        audit_record(
            target=request,
            action="book",
            actor=user,
            to_status=request.status,
            data={"services": len(rows), "source": source},
        )
        if customer.auto_invoice_on_booking and not customer.allow_recurring_bookings:
            quote_convert(quote=quote, user=user, source=Invoice.Source.BOOKING)
    return ServiceRequest.objects.select_related("quote__invoice").get(pk=request.pk)
