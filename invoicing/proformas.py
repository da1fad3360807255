"""Proformas from rendered services: the worker's sweep, a published outcome, one service on demand.

Idempotent and race-safe: a service has at most one proforma (OneToOne), and a chunk of services is locked
(``select_for_update(skip_locked=True)``) so two workers never price the same service; queries are per chunk
of services, never per slip. Pricing itself is ``invoicing.rates``; grouping proformas into invoices is
``invoicing.invoices_from_proformas``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_record
from customers.models import Customer, Partner, Provider
from expense_codes.models import AppliedExpenseCode, codes_key

from .errors import InvalidTransition, PricingError
from .fast_writes import AUDIT_FIELDS, rows_write
from .models import Proforma, Service, ServiceExtra, ServiceType, Slip, Zone
from .numbering import Series, number_take
from .pricing import PRICED_SLIP_FIELDS, PricedSlip
from .rates import RateBook, service_slips

SERVICE_CHUNK = 500  # services per transaction: fewer round trips and COMMITs (issue 15), a lock held ~0.5 s


class ProformaMade(NamedTuple):
    """A proforma a run created (its id, service and number: a run of 100,000 services keeps no model instances)."""

    pk: int
    service_id: int
    number: str


@dataclass
class ProformaRun:
    created: list[ProformaMade] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # service id -> message
    skipped: int = 0


def _billable_services(qs):
    return qs.exclude(status=Service.Status.CANCELLED).filter(
        ~Exists(Proforma.objects.filter(service_id=OuterRef("pk")))
    )


def proformas_create(*, service_ids: list[int], partner) -> ProformaRun:
    """Create the proformas of the given services (those that have none yet), in one transaction per chunk.

    A service that cannot be priced gets its ``pricing_error`` recorded and is skipped; the others go on.
    """
    run = ProformaRun()
    book = RateBook(partner)
    for start in range(0, len(service_ids), SERVICE_CHUNK):
        chunk = service_ids[start : start + SERVICE_CHUNK]
        try:
            with transaction.atomic():
                _proformas_create_chunk(chunk, partner, book, run)
        except IntegrityError:
            # Another worker got some of them first: fall back to one service at a time.
            for service_id in chunk:
                try:
                    with transaction.atomic():
                        _proformas_create_chunk([service_id], partner, book, run)
                except IntegrityError:
                    run.skipped += 1
    return run


# The columns a proforma's slips are written with (``fast_writes.rows_write``), read off the priced slips.
SLIP_FIELDS = PRICED_SLIP_FIELDS
PROFORMA_FIELDS = (
    "partner_id",
    "customer_id",
    "provider_id",
    "service_id",
    "number",
    "status",
    "service_date",
    "expense_code_key",
    "bill_subtotal_units",
    "bill_discount_units",
    "bill_tax_units",
    "bill_total_units",
    "pay_total_units",
)
CODE_FIELDS = ("label_id", "label_name", "value", "proforma_id")


class SweptService(NamedTuple):
    """What pricing reads of a service (``rates.service_slips``), read as a plain row with its customer, zone,
    service type and provider shared across the chunk: a chunk builds no Service or ServiceRequest instance."""

    pk: int
    partner_id: int
    request_id: int
    provider_id: int | None
    service_type_id: int
    zone_id: int | None
    coupon_id: int | None
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    prep_minutes: int
    mileage: Decimal
    tolls_units: int
    pricing_error: str
    customer: Customer
    zone: Zone | None
    service_type: ServiceType
    provider: Provider | None


# The columns of a service read for pricing, in SweptService's order (then its customer's id).
SWEPT_FIELDS = SweptService._fields[:13]


def _services_lock(chunk, partner) -> list[SweptService]:
    """Lock the chunk's services that still need a proforma (skipping those another worker holds) and read what
    pricing needs of them, their customers (with their zones), zones, service types and providers each read once
    and shared: a chunk has a few of each (joining them per service built ~7 model instances a service)."""
    rows = list(
        _billable_services(Service.objects.filter(pk__in=chunk, partner=partner))
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
        .values_list(*SWEPT_FIELDS, "request__customer_id")
    )
    if not rows:
        return []
    customers = Customer.objects.in_bulk({row[-1] for row in rows})
    zones = Zone.objects.in_bulk(
        {row[5] for row in rows} | {customer.zone_id for customer in customers.values()} - {None}
    )
    types = ServiceType.objects.in_bulk({row[4] for row in rows})
    providers = Provider.objects.in_bulk({row[3] for row in rows} - {None})
    for customer in customers.values():
        customer.zone = zones.get(customer.zone_id)
    return [
        SweptService(
            *row[:-1],
            customer=customers[row[-1]],
            zone=zones.get(row[5]),
            service_type=types[row[4]],
            provider=providers.get(row[3]),
        )
        for row in rows
    ]


def _proformas_create_chunk(chunk, partner, book: RateBook, run: ProformaRun) -> None:
    """One chunk in one transaction: lock and read the services, price them, then write the proformas, slips,
    codes and audit rows as plain rows (``fast_writes``: COPY on PostgreSQL), a fixed number of queries."""
    services = _services_lock(chunk, partner)
    run.skipped += len(chunk) - len(services)
    if not services:
        return
    extras = defaultdict(list)  # one query, no related manager per service (a prefetch built one each)
    for extra in ServiceExtra.objects.filter(service_id__in=[service.pk for service in services]).order_by("pk"):
        extras[extra.service_id].append(extra)
    codes_by_request: dict[int, list] = defaultdict(list)
    codes_by_service: dict[int, list] = defaultdict(list)
    for request_id, service_id, label_id, label_name, value in AppliedExpenseCode.objects.filter(
        Q(request_id__in={s.request_id for s in services}) | Q(service_id__in=[s.pk for s in services])
    ).values_list("request_id", "service_id", "label_id", "label_name", "value"):
        code = (label_id, label_name, value)
        (codes_by_service[service_id] if service_id else codes_by_request[request_id]).append(code)
    priced = []
    errors_cleared = []
    for service in services:
        try:
            slips = service_slips(service, book, extras=extras[service.pk], customer=service.customer, line=PricedSlip)
        except PricingError as error:
            run.errors[service.pk] = error.message
            if service.pricing_error != error.message:
                Service.objects.filter(pk=service.pk).update(pricing_error=error.message)
            continue
        if service.pricing_error:
            errors_cleared.append(service.pk)
        priced.append((service, slips))
    if errors_cleared:
        Service.objects.filter(pk__in=errors_cleared).update(pricing_error="")
    if not priced:
        return
    today = timezone.localdate(timezone=partner.tzinfo)
    numbers = number_take(partner=partner, series=Series.PROFORMA, on_date=today, count=len(priced))
    status = Proforma.Status.CONFIRMED
    proforma_rows, codes_of = [], []
    for (service, slips), (_, number) in zip(priced, numbers, strict=True):
        codes = codes_by_request[service.request_id] + codes_by_service[service.pk]
        codes_of.append(codes)
        subtotal = discount = tax = total = pay = 0
        for slip in slips:
            subtotal += slip.bill_amount_units
            discount += slip.line_discount_units + slip.invoice_discount_units
            tax += slip.bill_tax_units
            total += slip.bill_total_units
            pay += slip.pay_total_units
        proforma_rows.append(
            (
                partner.pk,
                service.customer.pk,
                service.provider_id,
                service.pk,
                number,
                status,
                timezone.localtime(service.starts_at, partner.tzinfo).date(),
                codes_key((label_name, value) for _, label_name, value in codes),
                subtotal,
                discount,
                tax,
                total,
                pay,
            )
        )
    ids = rows_write(Proforma, PROFORMA_FIELDS, proforma_rows, returning=True)
    slip_rows, code_rows, event_rows = [], [], []
    target_type = ContentType.objects.get_for_model(Proforma).pk
    for proforma_id, (service, slips), codes in zip(ids, priced, codes_of, strict=True):
        for slip in slips:
            slip_rows.append((proforma_id, *(getattr(slip, name) for name in SLIP_FIELDS)))
        seen = set()
        for label_id, label_name, value in codes:
            if (label_name, value) in seen:
                continue
            seen.add((label_name, value))
            code_rows.append((label_id, label_name, value, proforma_id))
        event_rows.append((partner.pk, target_type, proforma_id, "generate", status, {"service_id": service.pk}))
    rows_write(Slip, ("proforma_id", *SLIP_FIELDS), slip_rows)
    rows_write(AppliedExpenseCode, CODE_FIELDS, code_rows)
    rows_write(AuditEvent, AUDIT_FIELDS, event_rows)
    run.created.extend(
        ProformaMade(pk=proforma_id, service_id=service.pk, number=row[4])
        for proforma_id, (service, _), row in zip(ids, priced, proforma_rows, strict=True)
    )


def proforma_generate(*, service: Service) -> Proforma:
    """The proforma of one service, created if it has none (idempotent). Raises PricingError if unpriceable."""
    existing = Proforma.objects.filter(service=service).first()
    if existing:
        return existing
    run = proformas_create(service_ids=[service.pk], partner=service.partner)
    if service.pk in run.errors:
        raise PricingError(run.errors[service.pk])
    return Proforma.objects.get(service=service)


def service_publish_outcome(
    *, service: Service, user=None, checked_out_at: datetime.datetime | None = None
) -> Proforma:
    """The crew checked out and the outcome is published: the service is completed and its proforma made.

    Raises PricingError (after recording it on the service) when it cannot be priced; the service stays
    completed so the sweep retries once the rate exists. (The proforma is made after the status change has
    committed: inside one transaction the error would roll back the status and the recorded error too.)
    """
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if service.status == Service.Status.CANCELLED:
            raise InvalidTransition("A cancelled service has no outcome to publish.")
        if service.outcome_published_at is None:
            from_status = service.status
            now = timezone.now()
            service.status = Service.Status.COMPLETED
            service.checked_out_at = service.checked_out_at or checked_out_at or now
            service.outcome_published_at = now
            service.save(update_fields=["status", "checked_out_at", "outcome_published_at"])
            audit_record(
                target=service, action="publish_outcome", actor=user, from_status=from_status, to_status=service.status
            )
    return proforma_generate(service=service)


def sweep_candidates(*, partner, now: datetime.datetime | None = None, shift=None) -> list[int]:
    """Services that need a proforma now (seed 003's triggers), of one ``shift`` only when given:
    1. the outcome was published;  2. the shift is finished and its sibling proformas are submitted
    (no draft sibling left);  3. the scheduled end is in the past."""
    now = now or timezone.now()
    billable = _billable_services(Service.objects.filter(partner=partner))
    if shift is not None:
        billable = billable.filter(shift=shift)
    draft_sibling = Proforma.objects.filter(service__shift_id=OuterRef("shift_id"), status=Proforma.Status.DRAFT)
    return list(
        billable.filter(
            Q(outcome_published_at__isnull=False)
            | (Q(shift__finished_at__isnull=False) & ~Exists(draft_sibling))
            | Q(ends_at__lt=now)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def proformas_sweep(*, partner=None, now=None) -> dict:
    """The worker's sweep: create every proforma that is due, partner by partner. Returns a report."""
    report = {"created": 0, "errors": {}, "skipped": 0}
    partners = [partner] if partner is not None else list(Partner.objects.all())
    for p in partners:
        ids = sweep_candidates(partner=p, now=now)
        if not ids:
            continue
        run = proformas_create(service_ids=ids, partner=p)
        report["created"] += len(run.created)
        report["errors"].update(run.errors)
        report["skipped"] += run.skipped
    return report
