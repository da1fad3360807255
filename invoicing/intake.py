"""Requests and services after they came in: staff edit them, add services, cancel, and finish shifts.

A request comes in through ``booking.request_submit``; here it changes afterwards, checked as it was then
(``booking.service_input_errors``), each change made under a lock and written to the audit trail. The lock order,
parent before child: a quote before its request (as ``booking.quote_accept``/``quote_decline`` and
``manual.quote_convert`` take them); a shift before the requests and services on it (as ``shift_finish`` takes
them), several shifts by id; the request row, then its services. The rules:

- Nothing of a service changes once it is on an issued invoice (``booking.service_codes_frozen`` says which), nor
  once it is cancelled; likewise a request's title and description (``booking.request_codes_frozen``).
- What a price was made from stays as it was: the times, type, zone and extras of a service that has a proforma,
  or whose request has a quote that was not declined; and the provider of a service that has a proforma (its pay
  side and its AP invoice were made for that provider). A price is corrected with an adjustment on the proforma.
- Only a request or a service with no proforma yet is cancelled. Cancelling a request cancels its services and
  declines its open or accepted quote; a request invoiced from its quote is not cancelled (its invoice is voided or
  credited instead).
- Finishing a reservation shift makes the proformas of its services (seed 003's second trigger), as the worker's
  sweep would (``generation.sweep_candidates``, ``generation.proformas_create``). A shift's name and window change
  until it is finished, and its window always holds the services on it. A service goes on a shift of its partner
  (or comes off it) while neither it has a proforma nor its shift is finished, and only on a shift whose window
  holds its times.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import dateformat, timezone

from .audit import audit_fields, audit_record
from .booking import (
    NOTES_MAX,
    TITLE_MAX,
    ExtraInput,
    ServiceInput,
    extra_row,
    request_codes_frozen,
    service_codes_frozen,
    service_codes_set,
    service_input_errors,
    service_row,
)
from .errors import BillingRuleError, InvalidTransition
from .generation import ProformaRun, proformas_create, sweep_candidates
from .models import AuditEvent, Invoice, Proforma, Quote, Service, ServiceExtra, ServiceRequest, Shift

REASON_MAX = 500
PRICED_FIELDS = ("service_type", "starts_at", "ends_at", "zone", "extras")  # what a service's price is made from
LIVE_QUOTE = (Quote.Status.OPEN, Quote.Status.ACCEPTED, Quote.Status.CONVERTED)
SHIFT_NAME_MAX = Shift._meta.get_field("name").max_length
SHIFT_LONGEST = datetime.timedelta(days=7)


# --------------------------------------------------------------------------------------------------
# What may change now


@dataclass(frozen=True)
class ServiceEditable:
    """Why a service, or a part of it, can no longer change ("" for each that still can). Pages show the reasons
    read-only; the domain functions below refuse with them."""

    frozen: str  # nothing changes: it is on an issued invoice, or cancelled
    priced: str  # its times, type, zone and extras stay: a proforma or a quote was priced from them
    provider: str  # its provider stays: its proforma was made for that provider
    cancel: str  # it cannot be cancelled
    shift: str  # it can neither be put on a shift nor taken off its own
    shifts: tuple[Shift, ...]  # the unfinished shifts of its partner whose window holds it (besides its own)

    @property
    def can_edit(self) -> bool:
        return not self.frozen


@dataclass(frozen=True)
class RequestEditable:
    """Why a request's title, description and codes can no longer change, why no service can be added to it and
    why it cannot be cancelled ("" for each that still can)."""

    frozen: str
    add: str
    cancel: str

    @property
    def can_edit(self) -> bool:
        return not self.frozen


def _live_quote(request_id: int) -> Quote | None:
    return Quote.objects.filter(request_id=request_id, status__in=LIVE_QUOTE).select_related("invoice").first()


def _quote_invoice_live(quote: Quote | None) -> Invoice | None:
    """The invoice made from ``quote``, unless it was voided."""
    if quote is None or quote.status != Quote.Status.CONVERTED or quote.invoice is None:
        return None
    return None if quote.invoice.status == Invoice.Status.VOID else quote.invoice


def _invoice_name(invoice: Invoice) -> str:
    return invoice.number or "a draft invoice"


def _shift_refusal(service: Service, proforma: Proforma | None) -> str:
    """Why ``service`` can neither go on a shift nor come off its own ("" if it can)."""
    if service.status == Service.Status.CANCELLED:
        return "It is cancelled."
    if proforma is not None:
        return f"It already has proforma {proforma}, which a shift no longer changes."
    if service.shift_id is not None and service.shift.finished_at is not None:
        return f"Its shift {service.shift} is finished."
    return ""


def _holds(shift: Shift, service: Service) -> bool:
    return shift.starts_at <= service.starts_at and service.ends_at <= shift.ends_at


def _span(starts_at: datetime.datetime, ends_at: datetime.datetime) -> str:
    """A window as the pages show it, in local time: Mar 3, 2026 09:00–17:00 (both dates when it ends on another
    day)."""
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    end_format = "H:i" if start.date() == end.date() else "M j, Y H:i"
    return f"{dateformat.format(start, 'M j, Y H:i')}–{dateformat.format(end, end_format)}"


def service_shift_choices(service: Service) -> list[Shift]:
    """The unfinished shifts of the service's partner whose window holds its times, besides the one it is on."""
    shifts = Shift.objects.filter(
        partner_id=service.partner_id,
        finished_at__isnull=True,
        starts_at__lte=service.starts_at,
        ends_at__gte=service.ends_at,
    )
    if service.shift_id is not None:
        shifts = shifts.exclude(pk=service.shift_id)
    return list(shifts.order_by("starts_at", "pk"))


def service_editable(service: Service) -> ServiceEditable:
    """What of ``service`` may change now, and why not, with the shifts it may go on (at most six queries)."""
    proforma = Proforma.objects.filter(service_id=service.pk).only("pk", "number").first()
    quote = _live_quote(service.request_id)
    invoiced = _quote_invoice_live(quote)
    if service.status == Service.Status.CANCELLED:
        frozen = "It is cancelled."
    else:
        frozen = service_codes_frozen(service)
    if proforma is not None:
        priced = (
            f"Its proforma {proforma} was priced from its times, type, zone and extras, which stay as they are: "
            "correct the price with an adjustment on the proforma."
        )
        provider = f"Its proforma {proforma} was made for this provider (what they earn, their AP invoice)."
    elif quote is not None:
        priced = "Its request's quote was priced from its times, type, zone and extras, which stay as they are."
        provider = ""
    else:
        priced = provider = ""
    if service.status == Service.Status.CANCELLED:
        cancel = "It is already cancelled."
    elif proforma is not None:
        cancel = f"It already has proforma {proforma}: correct or credit what it billed instead."
    elif invoiced is not None:
        cancel = f"Its request was invoiced from its quote on {_invoice_name(invoiced)}."
    else:
        cancel = ""
    shift = _shift_refusal(service, proforma)
    shifts = () if shift else tuple(service_shift_choices(service))
    return ServiceEditable(frozen=frozen, priced=priced, provider=provider, cancel=cancel, shift=shift, shifts=shifts)


def request_editable(service_request: ServiceRequest) -> RequestEditable:
    """What of ``service_request`` may change now, and why not (at most four queries)."""
    cancelled = service_request.status == ServiceRequest.Status.CANCELLED
    quote = _live_quote(service_request.pk)
    invoiced = _quote_invoice_live(quote)
    proforma = (
        Proforma.objects.filter(service__request_id=service_request.pk).only("pk", "number", "service_id").first()
    )
    frozen = "It is cancelled." if cancelled else request_codes_frozen(service_request)
    if cancelled:
        add = "It is cancelled."
    elif quote is not None:
        add = "Its services were priced into its quote: book further work as a new request."
    else:
        add = ""
    if cancelled:
        cancel = "It is already cancelled."
    elif proforma is not None:
        cancel = (
            f"Its service S-{proforma.service_id} already has proforma {proforma}: cancel the services that have "
            "none one by one, and correct or credit what was billed."
        )
    elif invoiced is not None:
        cancel = f"It was invoiced from its quote on {_invoice_name(invoiced)}: void or credit that invoice instead."
    else:
        cancel = ""
    return RequestEditable(frozen=frozen, add=add, cancel=cancel)


# --------------------------------------------------------------------------------------------------
# Locks


def _request_lock(service_request: ServiceRequest) -> ServiceRequest:
    return (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("customer__zone")
        .get(pk=service_request.pk)
    )


def _service_lock(service: Service) -> tuple[ServiceRequest, Service]:
    """The service's request, then the service (parent before child), both fresh."""
    service_request = _request_lock(ServiceRequest(pk=service.request_id))
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
    """Change the request's title and description (its codes: ``booking.request_codes_set``). Raises
    ``ValidationError`` keyed ``title``/``description``, or ``BillingRuleError`` once it can no longer change."""
    service_request = _request_lock(service_request)
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
    service_request = _request_lock(service_request)
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


def _changes(service: Service, given: ServiceInput, zone) -> dict[str, tuple]:
    """The fields ``given`` changes: name -> (before, after), as text for the audit trail."""
    pairs = {
        "service_type": (service.service_type_id, getattr(given.service_type, "pk", None)),
        "provider": (service.provider_id, getattr(given.provider, "pk", None)),
        "starts_at": (service.starts_at, given.starts_at),
        "ends_at": (service.ends_at, given.ends_at),
        "zone": (service.zone_id, getattr(zone, "pk", None)),
        "address": (service.address, (given.address or "").strip()),
        "notes": (service.notes, (given.notes or "").strip()),
    }
    return {name: (str(b), str(a)) for name, (b, a) in pairs.items() if b != a}


@transaction.atomic
def service_update(*, service: Service, user=None, given: ServiceInput) -> Service:
    """Change a service: type, provider, times, address, zone (none given: the customer's), notes and extras
    (``given.extras`` is the whole list: those given as they are stay untouched, those left out are removed). Its
    codes change with ``booking.service_codes_set``. Raises ``ValidationError`` keyed by field for bad input, and
    ``BillingRuleError`` (with the field) for a change that is no longer allowed."""
    service_request, service = _service_lock(service)
    editable = service_editable(service)
    if editable.frozen:
        raise BillingRuleError(f"This service can no longer change. {editable.frozen}")
    rows = list(service.extras.order_by("pk"))
    removed, added = _extras_diff(rows, list(given.extras))
    errors = service_input_errors(service_request.customer, dataclasses.replace(given, extras=added))
    if errors:
        raise ValidationError(errors)
    # No zone given: the customer's, as when it was added (one that had none keeps none).
    zone = given.zone or (service_request.customer.zone if service.zone_id else None)
    changes = _changes(service, given, zone)
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
    values = service_row(service_request, dataclasses.replace(given, zone=zone))
    if service.shift_id and ("starts_at" in changes or "ends_at" in changes) and not _holds(service.shift, values):
        shift = service.shift
        raise ValidationError(
            {
                "ends_at": f"S-{service.pk} is on the shift {shift} ({_span(shift.starts_at, shift.ends_at)}): keep "
                "it within the shift's times, or take it off the shift first."
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
    service_request, service = _service_lock(service)
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
    service_request = _request_lock(service_request)
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


# --------------------------------------------------------------------------------------------------
# Shifts


def _shift_input(name: str, starts_at, ends_at) -> str:
    """The name as it is saved; raises ``ValidationError`` keyed ``name``/``starts_at``/``ends_at``."""
    name = " ".join((name or "").split())
    errors = {}
    if not name:
        errors["name"] = "Name the shift, e.g. “Night shift, Courtroom 4”."
    elif len(name) > SHIFT_NAME_MAX:
        errors["name"] = f"Keep the name to {SHIFT_NAME_MAX} characters or fewer."
    if starts_at is None:
        errors["starts_at"] = "Enter when the shift starts."
    if ends_at is None:
        errors["ends_at"] = "Enter when the shift ends."
    elif starts_at is not None and ends_at <= starts_at:
        errors["ends_at"] = "The shift must end after it starts."
    elif starts_at is not None and ends_at - starts_at > SHIFT_LONGEST:
        errors["ends_at"] = f"A shift lasts at most {SHIFT_LONGEST.days} days: split longer work into several."
    if errors:
        raise ValidationError(errors)
    return name


def _shifts_lock(shift_ids) -> dict[int, Shift]:
    """Lock shifts by id, in ascending order (the lock order); returns them fresh, by id."""
    ids = sorted(set(shift_ids) - {None})
    if not ids:
        return {}
    return {
        shift.pk: shift for shift in Shift.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    }


@transaction.atomic
def shift_create(*, partner, user=None, name: str, starts_at: datetime.datetime, ends_at: datetime.datetime) -> Shift:
    """A new reservation shift of ``partner``: named, ending after it starts and lasting at most ``SHIFT_LONGEST``.
    Raises ``ValidationError`` keyed ``name``/``starts_at``/``ends_at``."""
    name = _shift_input(name, starts_at, ends_at)
    shift = Shift.objects.create(partner=partner, name=name, starts_at=starts_at, ends_at=ends_at)
    audit_record(
        target=shift,
        action="create",
        actor=user,
        data={"name": name, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
    )
    return shift


@transaction.atomic
def shift_update(
    *, shift: Shift, user=None, name: str, starts_at: datetime.datetime, ends_at: datetime.datetime
) -> Shift:
    """Rename a shift or change its window, until it is finished (``BillingRuleError`` then). Raises
    ``ValidationError`` keyed ``name``/``starts_at``/``ends_at`` for bad input, or for a window that no longer
    holds a service on the shift."""
    shift = Shift.objects.select_for_update(of=("self",)).get(pk=shift.pk)
    if shift.finished_at is not None:
        raise BillingRuleError("This shift is finished: its name and times stay as they are.")
    name = _shift_input(name, starts_at, ends_at)
    # The services on it cannot join or leave meanwhile (that takes this shift's lock).
    outside = (
        Service.objects.filter(shift=shift)
        .exclude(status=Service.Status.CANCELLED)
        .exclude(starts_at__gte=starts_at, ends_at__lte=ends_at)
        .order_by("starts_at", "pk")
        .first()
    )
    if outside is not None:
        field = "starts_at" if outside.starts_at < starts_at else "ends_at"
        raise ValidationError(
            {
                field: f"S-{outside.pk} on this shift runs {_span(outside.starts_at, outside.ends_at)}: keep the "
                "shift's times around it, or take it off the shift first."
            }
        )
    before = {"name": shift.name, "starts_at": shift.starts_at, "ends_at": shift.ends_at}
    after = {"name": name, "starts_at": starts_at, "ends_at": ends_at}
    changed = [field for field in before if before[field] != after[field]]
    if not changed:
        return shift
    for field in changed:
        setattr(shift, field, after[field])
    shift.save(update_fields=changed)
    audit_record(
        target=shift,
        action="update",
        actor=user,
        data={"changed": changed, "before": {field: str(before[field]) for field in changed}},
    )
    return shift


@transaction.atomic
def service_shift_set(*, service: Service, user=None, shift: Shift | None) -> Service:
    """Put ``service`` on ``shift``, one of its partner's that is not finished and whose window holds the service's
    times (finishing the shift then makes its proforma, seed 003), or take it off its shift (``shift=None``).

    Raises ``ValidationError`` keyed ``shift`` for a shift that is not the partner's or does not hold the service,
    and ``BillingRuleError`` (``field="shift"``) when the shift is finished, or the service is cancelled, has a
    proforma or is on a finished shift. Locks the shifts (the one it is on and the new one, by id), then the
    service's request and the service."""
    current_id = Service.objects.filter(pk=service.pk).values_list("shift_id", flat=True).get()
    shifts = _shifts_lock([current_id, shift.pk if shift is not None else None])
    _, service = _service_lock(service)
    if service.shift_id != current_id:
        raise BillingRuleError(
            f"S-{service.pk} was just moved to another shift. Reload the page and try again.", field="shift"
        )
    target = shifts.get(shift.pk) if shift is not None else None
    if shift is not None and (target is None or target.partner_id != service.partner_id):
        raise ValidationError({"shift": "Choose one of your shifts."})
    if (target.pk if target is not None else None) == service.shift_id:
        return service
    service.shift = shifts.get(current_id)
    proforma = Proforma.objects.filter(service_id=service.pk).only("pk", "number").first()
    refusal = _shift_refusal(service, proforma)
    if refusal:
        raise BillingRuleError(f"The shift of S-{service.pk} can no longer change. {refusal}", field="shift")
    if target is not None:
        if target.finished_at is not None:
            raise BillingRuleError(
                f"The shift {target} is finished: put S-{service.pk} on one that is not.", field="shift"
            )
        if not _holds(target, service):
            raise ValidationError(
                {
                    "shift": f"S-{service.pk} runs {_span(service.starts_at, service.ends_at)}, outside the shift "
                    f"{target} ({_span(target.starts_at, target.ends_at)}): choose a shift whose times hold it, or "
                    "change the shift's times first."
                }
            )
    from_id = service.shift_id
    service.shift = target
    service.save(update_fields=["shift"])
    audit_record(
        target=service,
        action="put_on_shift" if target is not None else "take_off_shift",
        actor=user,
        data={"from_shift": from_id, "to_shift": target.pk if target is not None else None},
    )
    return service


@dataclass(frozen=True)
class ShiftFinished:
    """``shift_finish``'s answer: the shift, and the proformas made for its services (with the pricing errors of
    those that could not be priced, recorded on them for the sweep to retry)."""

    shift: Shift
    run: ProformaRun
    completed: int  # services marked completed by finishing it


def shift_finish(*, shift: Shift, user=None) -> ShiftFinished:
    """Finish a reservation shift (once it has started): its scheduled services are completed, and the proformas of
    its services follow (seed 003), as the worker's sweep makes them. Finishing it again makes those still missing
    (after a pricing error was fixed) and changes nothing else.

    The proformas are made after the finish has committed, as ``generation.service_publish_outcome`` does: a
    service that cannot be priced keeps its error and the shift stays finished."""
    completed = 0
    with transaction.atomic():
        shift = Shift.objects.select_for_update(of=("self",)).select_related("partner").get(pk=shift.pk)
        if shift.finished_at is None:
            now = timezone.now()
            if shift.starts_at > now:
                raise InvalidTransition("This shift has not started yet: finish it once its work is done.")
            shift.finished_at = now
            shift.save(update_fields=["finished_at"])
            open_services = list(
                Service.objects.select_for_update(of=("self",))
                .filter(shift=shift, status__in=[Service.Status.SCHEDULED, Service.Status.IN_PROGRESS])
                .order_by("pk")
            )
            Service.objects.filter(pk__in=[s.pk for s in open_services]).update(status=Service.Status.COMPLETED)
            AuditEvent.objects.bulk_create(
                [
                    AuditEvent(
                        **audit_fields(
                            target=service,
                            action="shift_finish",
                            actor=user,
                            from_status=service.status,
                            to_status=Service.Status.COMPLETED,
                            data={"shift_id": shift.pk},
                        )
                    )
                    for service in open_services
                ]
            )
            completed = len(open_services)
            audit_record(target=shift, action="finish", actor=user, data={"services_completed": completed})
    ids = sweep_candidates(partner=shift.partner, shift=shift)
    run = proformas_create(service_ids=ids, partner=shift.partner) if ids else ProformaRun()
    return ShiftFinished(shift=shift, run=run, completed=completed)


__all__ = [
    "RequestEditable",
    "ServiceEditable",
    "ShiftFinished",
    "extras_as_given",
    "request_cancel",
    "request_editable",
    "request_update",
    "service_add",
    "service_cancel",
    "service_editable",
    "service_shift_choices",
    "service_shift_set",
    "service_update",
    "shift_create",
    "shift_finish",
    "shift_update",
]
