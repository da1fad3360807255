"""Requests and services after they came in: staff change a request's title and description, add, change and
cancel services, and cancel requests.

A request comes in through ``booking.request_submit``; here it changes afterwards, checked as it was then
(``booking.service_input_errors``) and against what may change now (``invoicing.editable``), each change made
under a lock and written to the audit trail. The lock order, parent before child: a quote before its request (as
``quotes.quote_accept``/``quote_decline`` and ``manual.quote_convert`` take them); a shift before the requests
and services on it (``invoicing.shifts``), several shifts by id; the request row, then its services.
Cancelling a request cancels its services and declines its open or accepted quote.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.models import AuditEvent
from audit.recording import audit_fields, audit_record

from .booking import (
    NOTES_MAX,
    TITLE_MAX,
    ExtraInput,
    ServiceInput,
    extra_row,
    service_input_errors,
    service_row,
)
from .editable import request_editable, service_editable, shift_holds, window_text
from .errors import BillingRuleError, InvalidTransition
from .models import Quote, Service, ServiceExtra, ServiceRequest
from .request_codes import service_codes_set

REASON_MAX = 500
PRICED_FIELDS = ("service_type", "starts_at", "ends_at", "zone", "extras")  # what a service's price is made from


# --------------------------------------------------------------------------------------------------
# Locks


def request_lock(service_request: ServiceRequest) -> ServiceRequest:
    """The request, locked and fresh (with its customer's zone)."""
    return (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("customer__zone")
        .get(pk=service_request.pk)
    )


def service_lock(service: Service) -> tuple[ServiceRequest, Service]:
    """The service's request, then the service (parent before child), both fresh."""
    service_request = request_lock(ServiceRequest(pk=service.request_id))
    service = (
        Service.objects.select_for_update(of=("self",))
        .select_related("service_type", "provider", "zone")
        .get(pk=service.pk)
    )
    service.request = service_request
    return service_request, service


# --------------------------------------------------------------------------------------------------
# A request's title and description


@transaction.atomic
def request_update(*, service_request: ServiceRequest, user=None, title: str, description: str = "") -> ServiceRequest:
    """Change the request's title and description (its codes: ``request_codes.request_codes_set``). Raises
    ``ValidationError`` keyed ``title``/``description``, or ``BillingRuleError`` once it can no longer change."""
    service_request = request_lock(service_request)
    reason = request_editable(service_request).frozen
    if reason:
        raise BillingRuleError(f"This request can no longer change. {reason}")
    title = " ".join((title or "").split())
    description = (description or "").strip()
    errors = {}
    if not title:
        errors["title"] = "Say what the request is for."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Keep the title to {TITLE_MAX} characters or fewer."
    if len(description) > NOTES_MAX:
        errors["description"] = f"Keep the description to {NOTES_MAX} characters or fewer."
    if errors:
        raise ValidationError(errors)
    before = {"title": service_request.title, "description": service_request.description}
    after = {"title": title, "description": description}
    changed = [name for name in before if before[name] != after[name]]
    if not changed:
        return service_request
    for name in changed:
        setattr(service_request, name, after[name])
    service_request.save(update_fields=changed)
    audit_record(
        target=service_request,
        action="update",
        actor=user,
        data={"changed": changed, "before": {n: before[n] for n in changed}},
    )
    return service_request


# --------------------------------------------------------------------------------------------------
# Services: add, change, cancel


@transaction.atomic
def service_add(*, service_request: ServiceRequest, user=None, given: ServiceInput) -> Service:
    """Add a service (with its extras and its own codes) to a request, checked as ``request_submit`` checks each
    of its services; the customer's required labels must still hold with it. Raises ``ValidationError`` keyed by
    field, or ``BillingRuleError`` when the request takes no more services (cancelled, or priced into a quote)."""
    service_request = request_lock(service_request)
    reason = request_editable(service_request).add
    if reason:
        raise BillingRuleError(f"No service can be added to this request. {reason}")
    errors = service_input_errors(service_request.customer, given)
    if errors:
        raise ValidationError(errors)
    service = service_row(service_request, given)
    service.save()
    ServiceExtra.objects.bulk_create([extra_row(service, extra) for extra in given.extras])
    audit_record(
        target=service,
        action="add",
        actor=user,
        to_status=service.status,
        data={"request_id": service_request.pk, "extras": len(given.extras)},
    )
    # Its own codes, checked with the customer's labels (and the required ones, with this service among the others).
    service_codes_set(service=service, user=user, codes=given.codes)
    return service


def _quantity(value) -> Decimal | None:
    try:
        quantity = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return quantity if quantity.is_finite() else None


def _extra_key(extra: ServiceExtra | ExtraInput) -> tuple:
    """What makes an extra the same one: its offer and quantity (the rates copied from the offer when it was added
    stay), or, typed by staff, everything about it."""
    if isinstance(extra, ServiceExtra):
        offer_id, description = extra.offer_id, extra.description
        bill, pay = extra.bill_rate_units, extra.pay_rate_units
    else:
        offer_id, description = (extra.offer.pk if extra.offer is not None else None), extra.description.strip()[:200]
        bill, pay = extra.bill_rate_units, extra.pay_rate_units or Decimal(0)
    quantity = _quantity(extra.quantity)
    if offer_id is not None:
        return ("offer", offer_id, quantity)
    return ("typed", extra.kind, description, quantity, bill, pay)


def _extras_diff(rows: list[ServiceExtra], given: list[ExtraInput]) -> tuple[list[ServiceExtra], list[ExtraInput]]:
    """(the rows no longer given, the extras given that are new): an extra given as it is stays untouched."""
    remaining = Counter(_extra_key(row) for row in rows)
    added = []
    for extra in given:
        key = _extra_key(extra)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            added.append(extra)
    removed = []
    for row in rows:
        key = _extra_key(row)
        if remaining[key] > 0:
            remaining[key] -= 1
            removed.append(row)
    return removed, added


def extras_as_given(service: Service) -> list[ExtraInput]:
    """The service's extras as ``service_update`` takes them back unchanged (a page that does not offer to change
    them passes these)."""
    return [
        ExtraInput(offer=row.offer, quantity=row.quantity)
        if row.offer_id
        else ExtraInput(
            kind=row.kind,
            description=row.description,
            quantity=row.quantity,
            bill_rate_units=row.bill_rate_units,
            pay_rate_units=row.pay_rate_units,
        )
        for row in service.extras.select_related("offer").order_by("pk")
    ]


def _changes(service: Service, values: Service) -> dict[str, tuple]:
    """The fields ``values`` (the service as given) changes: name -> (before, after), as text for the audit
    trail."""
    pairs = {
        "service_type": (service.service_type_id, values.service_type_id),
        "provider": (service.provider_id, values.provider_id),
        "starts_at": (service.starts_at, values.starts_at),
        "ends_at": (service.ends_at, values.ends_at),
        "zone": (service.zone_id, values.zone_id),
        "address": (service.address, values.address),
        "country": (service.country, values.country),
        "region": (service.region, values.region),
        "postal_code": (service.postal_code, values.postal_code),
        "notes": (service.notes, values.notes),
    }
    return {name: (str(b), str(a)) for name, (b, a) in pairs.items() if b != a}


@transaction.atomic
def service_update(*, service: Service, user=None, given: ServiceInput) -> Service:
    """Change a service: type, provider, times, address, zone (none given: the customer's), notes and extras
    (``given.extras`` is the whole list: those given as they are stay untouched, those left out are removed). Its
    codes change with ``request_codes.service_codes_set``. Raises ``ValidationError`` keyed by field for bad input, and
    ``BillingRuleError`` (with the field) for a change that is no longer allowed."""
    service_request, service = service_lock(service)
    editable = service_editable(service)
    if editable.frozen:
        raise BillingRuleError(f"This service can no longer change. {editable.frozen}")
    rows = list(service.extras.order_by("pk"))
    removed, added = _extras_diff(rows, list(given.extras))
    errors = service_input_errors(service_request.customer, dataclasses.replace(given, extras=added))
    if errors:
        raise ValidationError(errors)
    # No zone given: the one of its address (else the customer's default), as when it was added. An address left as
    # it was keeps its zone, even if the partner's zone areas changed since: a note's edit never re-prices.
    values = service_row(service_request, given)
    same_address = all(getattr(values, f) == getattr(service, f) for f in ("country", "region", "postal_code"))
    if given.zone is None and same_address and service.zone_source != Service.ZoneSource.CHOSEN:
        values.zone, values.zone_source = service.zone, service.zone_source
    changes = _changes(service, values)
    if removed or added:
        changes["extras"] = (str(len(rows)), str(len(rows) - len(removed) + len(added)))
    priced = [name for name in PRICED_FIELDS if name in changes]
    if priced and editable.priced:
        raise BillingRuleError(editable.priced, field=priced[0])
    if "provider" in changes and editable.provider:
        raise BillingRuleError(editable.provider, field="provider")
    if not changes:
        return service
    fields = [name for name in changes if name != "extras"]
    if "zone" in changes or service.zone_source != values.zone_source:
        fields.append("zone_source")
    if service.shift_id and ("starts_at" in changes or "ends_at" in changes) and not shift_holds(service.shift, values):
        shift = service.shift
        raise ValidationError(
            {
                "ends_at": f"S-{service.pk} is on the shift {shift} "
                f"({window_text(shift.starts_at, shift.ends_at)}): keep it within the shift's times, or take it off "
                "the shift first."
            }
        )
    for name in fields:
        setattr(service, name, getattr(values, name))
    if fields:
        service.save(update_fields=fields)
    if removed:
        ServiceExtra.objects.filter(pk__in=[row.pk for row in removed]).delete()
    if added:
        ServiceExtra.objects.bulk_create([extra_row(service, extra) for extra in added])
    audit_record(
        target=service,
        action="update",
        actor=user,
        data={"changed": sorted(changes), "before": {name: before for name, (before, _) in changes.items()}},
    )
    return service


@transaction.atomic
def service_cancel(*, service: Service, user=None, reason: str = "") -> Service:
    """Cancel a service that has no proforma yet (and was not invoiced from its request's quote)."""
    service_request, service = service_lock(service)
    refusal = service_editable(service).cancel
    if refusal:
        raise InvalidTransition(f"This service cannot be cancelled. {refusal}")
    from_status = service.status
    service.status = Service.Status.CANCELLED
    service.save(update_fields=["status"])
    audit_record(
        target=service,
        action="cancel",
        actor=user,
        from_status=from_status,
        to_status=service.status,
        reason=(reason or "").strip()[:REASON_MAX],
    )
    return service


@transaction.atomic
def request_cancel(*, service_request: ServiceRequest, user=None, reason: str = "") -> ServiceRequest:
    """Cancel a request none of whose services has a proforma: its services are cancelled and its open or accepted
    quote declined."""
    # The quote before its request, as quote_accept, quote_decline and quote_convert lock them.
    quote = Quote.objects.select_for_update(of=("self",)).filter(request_id=service_request.pk).first()
    service_request = request_lock(service_request)
    services = list(
        Service.objects.select_for_update(of=("self",))
        .filter(request=service_request)
        .exclude(status=Service.Status.CANCELLED)
        .order_by("pk")
    )
    refusal = request_editable(service_request).cancel  # read under the locks: no proforma came meanwhile
    if refusal:
        raise InvalidTransition(f"This request cannot be cancelled. {refusal}")
    reason = (reason or "").strip()[:REASON_MAX]
    if services:
        Service.objects.filter(pk__in=[s.pk for s in services]).update(status=Service.Status.CANCELLED)
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    **audit_fields(
                        target=service,
                        action="cancel",
                        actor=user,
                        from_status=service.status,
                        to_status=Service.Status.CANCELLED,
                        reason=reason,
                        data={"with_request": service_request.pk},
                    )
                )
                for service in services
            ]
        )
    declined = None
    if quote is not None and quote.status in (Quote.Status.OPEN, Quote.Status.ACCEPTED):
        quote.status = Quote.Status.DECLINED
        quote.save(update_fields=["status"])
        declined = quote.pk
    from_status = service_request.status
    service_request.status = ServiceRequest.Status.CANCELLED
    service_request.save(update_fields=["status"])
    audit_record(
        target=service_request,
        action="cancel",
        actor=user,
        from_status=from_status,
        to_status=service_request.status,
        reason=reason,
        data={"services_cancelled": len(services), "quote_declined": declined},
    )
    return service_request
