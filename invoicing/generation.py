"""Turning rendered work into documents: proformas from services, AR and AP invoices from proformas.

Everything here is idempotent and race-safe: a service has at most one proforma (OneToOne), a proforma
is on at most one live AR and one live AP invoice (partial unique index), a generated invoice carries a
``generation_key`` unique among live invoices, and runs lock the rows they work on
(``select_for_update(skip_locked=True)`` per customer or provider) so two workers never do the same work.
Queries are per customer (or per chunk of services), never per slip.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from customers.models import BillingContact, Customer, Provider
from expense_codes.models import AppliedExpenseCode, codes_key

from .audit import audit_fields, audit_record
from .errors import PricingError
from .locking import invoices_lock, proformas_lock
from .models import (
    AuditEvent,
    Holiday,
    Invoice,
    InvoiceProforma,
    Proforma,
    Quote,
    Rate,
    Service,
    Slip,
    TimePolicy,
)
from .numbering import Series, number_take
from .pricing import slip_price
from .schedules import apply_time_policy, closed_period, hours, split_by_pay_schedule

logger = logging.getLogger(__name__)

SERVICE_CHUNK = 200


# --------------------------------------------------------------------------------------------------
# Rates


class RateBook:
    """A partner's rates, time policies and holidays, loaded once and looked up in memory.

    Bill side precedence: customer + service type, customer, service type, default.
    Pay side precedence: provider + service type, provider, service type, default.
    """

    def __init__(self, partner):
        self.partner = partner
        self.rates: dict[tuple, Rate] = {}
        for rate in Rate.objects.filter(partner=partner):
            key = (rate.slip_type, rate.pay_schedule, rate.service_type_id, rate.customer_id, rate.provider_id)
            self.rates[key] = rate
        self.policies = {(p.customer_id, p.provider_id): p for p in TimePolicy.objects.filter(partner=partner)}
        self.holidays = set(Holiday.objects.filter(partner=partner).values_list("date", flat=True))

    def _find(self, side: str, slip_type: str, schedule: str, service_type_id, party_id):
        attr = "bill_rate_units" if side == "bill" else "pay_rate_units"
        for st in (service_type_id, None):
            for party in (party_id, None) if party_id else (None,):
                key = (slip_type, schedule, st, party if side == "bill" else None, party if side == "pay" else None)
                rate = self.rates.get(key)
                if rate is not None and getattr(rate, attr) is not None:
                    return getattr(rate, attr)
        return None

    def rate(self, slip_type: str, schedule: str, *, service_type_id, customer_id, provider_id) -> tuple:
        bill = self._find("bill", slip_type, schedule, service_type_id, customer_id)
        pay = self._find("pay", slip_type, schedule, service_type_id, provider_id)
        return bill, pay

    def policy(self, customer_id, provider_id):
        return (
            self.policies.get((customer_id, None))
            or self.policies.get((None, provider_id))
            or self.policies.get((None, None))
        )


# --------------------------------------------------------------------------------------------------
# Proformas


@dataclass
class ProformaRun:
    created: list[Proforma] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # service id -> message
    skipped: int = 0


def service_slips(service: Service, book: RateBook) -> list[Slip]:
    """Price a service into slips (not saved). Raises PricingError when a needed rate is missing."""
    customer = service.request.customer
    zone = service.zone or customer.zone
    tax_rate = zone.tax_rate if zone else Decimal(0)
    multiplier = zone.price_multiplier if zone else Decimal(1)
    ids = {"service_type_id": service.service_type_id, "customer_id": customer.pk, "provider_id": service.provider_id}
    discount_percent = customer.discount_percent or Decimal(0)
    slips: list[Slip] = []

    def add(slip_type, description, quantity, bill, pay, schedule="", taxed=True, discounted=True):
        slip = Slip(
            partner_id=service.partner_id,
            slip_type=slip_type,
            pay_schedule=schedule,
            description=description,
            quantity=quantity,
            bill_rate_units=bill,
            pay_rate_units=pay,
            tax_rate=tax_rate if taxed else 0,
            position=len(slips) + 1,
        )
        slip_price(slip)
        if discounted and discount_percent:
            from octoo_billing.money import percent_of

            slip.line_discount_units = percent_of(slip.bill_amount_units, discount_percent)
            slip_price(slip)
        slips.append(slip)

    def priced(slip_type, schedule, what):
        bill, pay = book.rate(slip_type, schedule, **ids)
        if bill is None:
            raise PricingError(
                f"No {schedule + ' ' if schedule else ''}{what} bill rate for {customer} ({service.service_type})."
            )
        if pay is None:
            pay = Decimal(0) if service.provider_id is None else None
        if pay is None:
            raise PricingError(f"No {schedule + ' ' if schedule else ''}{what} pay rate for {service.provider}.")
        return bill, pay

    minutes = split_by_pay_schedule(service.starts_at, service.ends_at, partner=book.partner, holidays=book.holidays)
    minutes = apply_time_policy(minutes, book.policy(customer.pk, service.provider_id))
    for schedule, mins in minutes.items():
        if mins <= 0:
            continue
        bill, pay = priced("service", schedule, "service")
        label = f"{service.service_type} – {schedule} ({hours(mins).normalize():f} h)"
        add(Slip.Type.SERVICE, label, hours(mins), bill * multiplier, pay, schedule=schedule)
    if service.prep_minutes:
        schedule = next(iter(minutes), "weekday")
        bill, pay = priced("prep_time", schedule, "prep time")
        add(
            Slip.Type.PREP_TIME,
            f"Prep time ({service.prep_minutes} min)",
            hours(service.prep_minutes),
            bill,
            pay,
            schedule=schedule,
        )
    if service.mileage:
        bill, pay = priced("mileage", "", "mileage")
        add(
            Slip.Type.MILEAGE,
            f"Mileage ({service.mileage.normalize():f} mi)",
            service.mileage,
            bill,
            pay,
            discounted=False,
        )
    if service.tolls_units:
        add(
            Slip.Type.TOLLS,
            "Tolls",
            Decimal(1),
            Decimal(service.tolls_units),
            Decimal(service.tolls_units),
            taxed=False,
            discounted=False,
        )
    fee_bill, fee_pay = book.rate("booking_fee", "", **ids)
    if fee_bill is not None:
        add(Slip.Type.BOOKING_FEE, "Booking fee", Decimal(1), fee_bill, fee_pay or Decimal(0), discounted=False)
    if zone is not None and zone.surcharge_units:
        add(Slip.Type.GENERAL, f"Zone surcharge ({zone.name})", Decimal(1), Decimal(zone.surcharge_units), Decimal(0))
    for extra in service.extras.all():
        slip_type = Slip.Type.REIMBURSEMENT if extra.kind == "reimbursement" else Slip.Type.GENERAL
        add(
            slip_type,
            extra.description,
            extra.quantity,
            extra.bill_rate_units,
            extra.pay_rate_units,
            taxed=slip_type != Slip.Type.REIMBURSEMENT,
            discounted=False,
        )
    return slips


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


def _proformas_create_chunk(chunk, partner, book: RateBook, run: ProformaRun) -> None:
    services = list(
        _billable_services(Service.objects.filter(pk__in=chunk, partner=partner))
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("request__customer__zone", "zone", "service_type", "provider")
        .prefetch_related("extras")
        .order_by("pk")
    )
    run.skipped += len(chunk) - len(services)
    if not services:
        return
    codes_by_request: dict[int, list] = defaultdict(list)
    codes_by_service: dict[int, list] = defaultdict(list)
    for code in AppliedExpenseCode.objects.filter(
        Q(request_id__in={s.request_id for s in services}) | Q(service_id__in=[s.pk for s in services])
    ):
        (codes_by_service[code.service_id] if code.service_id else codes_by_request[code.request_id]).append(code)
    priced = []
    errors_cleared = []
    for service in services:
        try:
            slips = service_slips(service, book)
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
    proformas = []
    for (service, slips), (_, number) in zip(priced, numbers, strict=True):
        codes = codes_by_request[service.request_id] + codes_by_service[service.pk]
        proforma = Proforma(
            partner_id=partner.pk,
            customer_id=service.request.customer_id,
            provider_id=service.provider_id,
            service=service,
            number=number,
            status=Proforma.Status.CONFIRMED,
            service_date=timezone.localtime(service.starts_at, partner.tzinfo).date(),
            expense_code_key=codes_key((c.label_name, c.value) for c in codes),
            bill_subtotal_units=sum(s.bill_amount_units for s in slips),
            bill_discount_units=sum(s.line_discount_units + s.invoice_discount_units for s in slips),
            bill_tax_units=sum(s.bill_tax_units for s in slips),
            bill_total_units=sum(s.bill_total_units for s in slips),
            pay_total_units=sum(s.pay_total_units for s in slips),
        )
        proforma._slips, proforma._codes = slips, codes
        proformas.append(proforma)
    Proforma.objects.bulk_create(proformas)
    all_slips, all_codes, events = [], [], []
    for proforma in proformas:
        for slip in proforma._slips:
            slip.proforma_id = proforma.pk
            all_slips.append(slip)
        seen = set()
        for code in proforma._codes:
            if (code.label_name, code.value) in seen:
                continue
            seen.add((code.label_name, code.value))
            all_codes.append(
                AppliedExpenseCode(
                    label_id=code.label_id, label_name=code.label_name, value=code.value, proforma_id=proforma.pk
                )
            )
        events.append(
            AuditEvent(
                **audit_fields(
                    target=proforma,
                    action="generate",
                    to_status=proforma.status,
                    data={"service_id": proforma.service_id},
                )
            )
        )
    Slip.objects.bulk_create(all_slips, batch_size=1000)
    AppliedExpenseCode.objects.bulk_create(all_codes, batch_size=1000)
    AuditEvent.objects.bulk_create(events, batch_size=1000)
    run.created.extend(proformas)


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
            from .errors import InvalidTransition

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
    from customers.models import Partner

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


# --------------------------------------------------------------------------------------------------
# AR and AP invoices


def _key_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]  # noqa: S324 (a grouping key, not security)


def _uninvoiced(kind: str):
    return ~Exists(InvoiceProforma.objects.filter(proforma_id=OuterRef("pk"), kind=kind, is_active=True))


def _period_filter(period_start, period_end, catch_up=False) -> Q:
    """Proformas of the period; with ``catch_up`` also earlier ones still uninvoiced (e.g. after a void)."""
    q = Q(service_date__lte=period_end)
    if period_start is not None and not catch_up:
        q &= Q(service_date__gte=period_start)
    return q


@dataclass
class _Job:
    """The invoices to make for one party: its groups of proformas and the fields every invoice gets."""

    party: Customer | Provider
    groups: dict[str, tuple[str, list[Proforma]]]  # group id (part of the generation key) -> (code key, proformas)
    period_start: datetime.date | None
    period_end: datetime.date
    key_prefix: str
    fields: dict
    issue: bool


def _invoices_create(*, kind: str, jobs: list[_Job], user=None) -> list[Invoice]:
    """Create (or extend) one draft per group of proformas, for many parties at once, with a fixed number of
    queries: links, expense codes, totals and audit rows in bulk."""
    party_field = "customer" if kind == Invoice.Kind.AR else "provider"
    keyed = [(job, group_id, f"{job.key_prefix}:{_key_hash(group_id)}") for job in jobs for group_id in job.groups]
    live = {
        inv.generation_key: inv
        for inv in Invoice.objects.filter(generation_key__in=[key for _, _, key in keyed]).exclude(
            status=Invoice.Status.VOID
        )
    }
    actor = user if user is not None and user.is_authenticated else None
    new_invoices, extended = [], []
    for job, group_id, key in keyed:
        code_key, proformas = job.groups[group_id]
        existing = live.get(key)
        if existing is not None and existing.status == Invoice.Status.DRAFT:
            existing._proformas, existing._issue = proformas, job.issue
            extended.append(existing)
            continue
        if existing is not None:  # already issued: late proformas make a follow-up invoice
            taken = set(
                Invoice.objects.filter(generation_key__startswith=f"{key}:")
                .exclude(status=Invoice.Status.VOID)
                .values_list("generation_key", flat=True)
            )
            n = 2
            while f"{key}:{n}" in taken:
                n += 1
            key = f"{key}:{n}"
        dates = [p.service_date for p in proformas]
        invoice = Invoice(
            partner_id=job.party.partner_id,
            kind=kind,
            source=Invoice.Source.GENERATED,
            currency=job.party.partner.currency,
            period_start=min([job.period_start, *dates]) if job.period_start else min(dates),
            period_end=job.period_end if job.period_start else max(dates),
            generation_key=key,
            expense_code_key=code_key,
            created_by=actor,
            **{party_field: job.party},
            **job.fields,
        )
        _totals_from_proformas(invoice, proformas)
        invoice._proformas, invoice._issue = proformas, job.issue
        new_invoices.append(invoice)
    Invoice.objects.bulk_create(new_invoices, batch_size=500)
    code_rows = defaultdict(list)
    first_ids = [inv._proformas[0].pk for inv in new_invoices if inv.expense_code_key]
    if first_ids:
        for code in AppliedExpenseCode.objects.filter(proforma_id__in=first_ids):
            code_rows[code.proforma_id].append(code)
    links, codes, events = [], [], []
    for invoice in new_invoices + extended:
        base = invoice.proforma_links.count() if invoice in extended else 0  # extended drafts are few
        for position, proforma in enumerate(invoice._proformas, start=base + 1):
            links.append(InvoiceProforma(invoice=invoice, proforma=proforma, kind=kind, position=position))
    for invoice in new_invoices:
        for code in code_rows.get(invoice._proformas[0].pk, []):
            codes.append(
                AppliedExpenseCode(
                    label_id=code.label_id, label_name=code.label_name, value=code.value, invoice=invoice
                )
            )
        events.append(
            AuditEvent(
                **audit_fields(
                    target=invoice,
                    action="generate",
                    actor=user,
                    to_status=Invoice.Status.DRAFT,
                    data={"proformas": len(invoice._proformas)},
                )
            )
        )
    InvoiceProforma.objects.bulk_create(links, batch_size=2000)
    AppliedExpenseCode.objects.bulk_create(codes, batch_size=2000)
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    from .pricing import invoice_totals_refresh

    for invoice in extended:
        invoice_totals_refresh(invoice)
        audit_record(
            target=invoice,
            action="generate_add",
            actor=user,
            from_status="draft",
            to_status="draft",
            data={"proformas": len(invoice._proformas)},
        )
    invoices = new_invoices + extended
    if any(invoice._issue for invoice in invoices):
        from .lifecycle import invoice_issue

        invoices = [invoice_issue(invoice=inv, user=user) if inv._issue else inv for inv in invoices]
    return invoices


def _totals_from_proformas(invoice: Invoice, proformas: list[Proforma]) -> None:
    if invoice.kind == Invoice.Kind.AR:
        invoice.subtotal_units = sum(p.bill_subtotal_units for p in proformas)
        invoice.discount_total_units = sum(p.bill_discount_units for p in proformas)
        invoice.tax_units = sum(p.bill_tax_units for p in proformas)
        invoice.total_units = sum(p.bill_total_units for p in proformas)
    else:
        invoice.subtotal_units = invoice.total_units = sum(p.pay_total_units for p in proformas)


# What a run reads of each proforma (fewer fields, cheaper rows).
PROFORMA_RUN_FIELDS = (
    "id",
    "partner_id",
    "customer_id",
    "provider_id",
    "service_date",
    "expense_code_key",
    "bill_subtotal_units",
    "bill_discount_units",
    "bill_tax_units",
    "bill_total_units",
    "pay_total_units",
)


def _drafts_lock(kind: str, party_field: str, parties) -> None:
    """Lock the parties' generated drafts (in id order, before any proforma: invoicing.locking). A draft that is
    being issued right now is waited for; once issued it no longer matches, and the run starts a new draft
    instead of adding to an issued invoice."""
    invoices_lock(
        Invoice.objects.filter(
            **{f"{party_field}_id__in": [p.pk for p in parties]},
            kind=kind,
            status=Invoice.Status.DRAFT,
            generation_key__isnull=False,
        ).values_list("pk", flat=True)
    )


def _pending_proformas(kind: str, party_field: str, parties, periods: dict, catch_up: bool) -> dict[int, list]:
    """Confirmed, not yet invoiced proformas of each party within its period (earlier ones too on catch-up)."""
    latest_end = max(end for _, end in periods.values())
    q = Q(**{f"{party_field}_id__in": [p.pk for p in parties]}, status=Proforma.Status.CONFIRMED)
    q &= Q(service_date__lte=latest_end)
    starts = [start for start, _ in periods.values()]
    if not catch_up and all(starts):
        q &= Q(service_date__gte=min(starts))
    qs = Proforma.objects.filter(q).filter(_uninvoiced(kind))
    if kind == Invoice.Kind.AR:
        # a booking whose quote became an invoice was billed by that invoice (seed 002): AP only
        qs = qs.exclude(service__request__quote__status=Quote.Status.CONVERTED)
    # Lock them (after the drafts, in id order: invoicing.locking) so an adjustment cannot change a proforma
    # between the totals read here and its link to the invoice.
    proformas_lock(qs.values_list("pk", flat=True))
    by_party: dict[int, list] = defaultdict(list)
    for proforma in qs.only(*PROFORMA_RUN_FIELDS).order_by(f"{party_field}_id", "service_date", "pk"):
        party_id = getattr(proforma, f"{party_field}_id")
        start, end = periods[party_id]
        if proforma.service_date > end or (start and not catch_up and proforma.service_date < start):
            continue
        by_party[party_id].append(proforma)
    return by_party


def _ar_generate(*, customer_ids, period_for, user=None, issue=None, skip_locked=False, catch_up=False):
    """AR invoices for a batch of customers in one transaction (see ar_invoices_generate)."""
    with transaction.atomic():
        default_contact = BillingContact.objects.filter(customer=OuterRef("pk"), is_default=True)
        customers = list(
            Customer.objects.select_for_update(skip_locked=skip_locked, of=("self",))
            .filter(pk__in=customer_ids)
            .select_related("partner")
            .annotate(  # the default contact in the same query
                contact_id=Subquery(default_contact.values("pk")[:1]),
                contact_name=Subquery(default_contact.values("name")[:1]),
                contact_email=Subquery(default_contact.values("email")[:1]),
            )
            .order_by("pk")
        )
        if not customers:
            return []  # another worker is invoicing them right now
        _drafts_lock(Invoice.Kind.AR, "customer", customers)
        periods = {c.pk: period_for(c) for c in customers}
        by_customer = _pending_proformas(Invoice.Kind.AR, "customer", customers, periods, catch_up)
        jobs = []
        for customer in customers:
            proformas = by_customer.get(customer.pk)
            if not proformas:
                continue
            each = customer.invoicing_schedule == Customer.Schedule.AFTER_SERVICE
            groups: dict[str, tuple[str, list[Proforma]]] = {}
            for proforma in proformas:
                if each:
                    group_id, code_key = f"pf{proforma.pk}", proforma.expense_code_key
                elif customer.expense_code_mode == Customer.ExpenseCodeMode.PER_PROFORMA:
                    group_id, code_key = "all", ""  # each line shows its own proforma's codes
                else:
                    group_id = code_key = proforma.expense_code_key
                groups.setdefault(group_id, (code_key, []))[1].append(proforma)
            start, end = periods[customer.pk]
            jobs.append(
                _Job(
                    party=customer,
                    groups=groups,
                    period_start=None if each else start,
                    period_end=end,
                    # after each service: one invoice per proforma, whatever the run date
                    key_prefix=f"ar:c{customer.pk}:each" if each else f"ar:c{customer.pk}:{end}",
                    fields={
                        "billing_contact_id": customer.contact_id,
                        "contact_name": customer.contact_name or "",
                        "contact_email": customer.contact_email or "",
                        "bill_to_name": customer.name,
                        "payment_terms_days": customer.payment_terms_days,
                        "no_payment": customer.payment_terms == Customer.PaymentTerms.NO_PAYMENT,
                        "expense_code_mode": customer.expense_code_mode,
                    },
                    issue=customer.partner.issue_generated_invoices if issue is None else issue,
                )
            )
        return _invoices_create(kind=Invoice.Kind.AR, jobs=jobs, user=user)


def ar_invoices_generate(
    *,
    customer: Customer,
    period_start: datetime.date | None,
    period_end: datetime.date,
    user=None,
    issue: bool | None = None,
    skip_locked: bool = False,
    catch_up: bool = False,
) -> list[Invoice]:
    """AR invoices for a customer's confirmed, not yet invoiced proformas of a period, in one transaction.

    Grouped mode: one invoice per distinct set of expense codes (seed 000's "ABC123" example).
    Per-proforma mode: one invoice for the period; each line shows its proforma's codes.
    After-each-service customers: one invoice per proforma.
    """
    return _ar_generate(
        customer_ids=[customer.pk],
        period_for=lambda c: (period_start, period_end),
        user=user,
        issue=issue,
        skip_locked=skip_locked,
        catch_up=catch_up,
    )


def _ap_generate(*, provider_ids, period, user=None, issue=None, skip_locked=False, catch_up=False):
    """AP invoices for a batch of providers in one transaction (see ap_invoices_generate)."""
    with transaction.atomic():
        providers = list(
            Provider.objects.select_for_update(skip_locked=skip_locked, of=("self",))
            .filter(pk__in=provider_ids)
            .select_related("partner")
            .order_by("pk")
        )
        if not providers:
            return []
        _drafts_lock(Invoice.Kind.AP, "provider", providers)
        periods = {p.pk: period for p in providers}
        by_provider = _pending_proformas(Invoice.Kind.AP, "provider", providers, periods, catch_up)
        jobs = [
            _Job(
                party=provider,
                groups={"all": ("", by_provider[provider.pk])},
                period_start=period[0],
                period_end=period[1],
                key_prefix=f"ap:p{provider.pk}:{period[1]}",
                fields={
                    "contact_name": provider.name,
                    "contact_email": provider.email,
                    "contact_address": provider.address,
                    "bill_to_name": provider.name,
                    "payment_terms_days": provider.payment_terms_days,
                },
                issue=provider.partner.issue_generated_invoices if issue is None else issue,
            )
            for provider in providers
            if by_provider.get(provider.pk)
        ]
        return _invoices_create(kind=Invoice.Kind.AP, jobs=jobs, user=user)


def ap_invoices_generate(
    *,
    provider: Provider,
    period_start: datetime.date | None,
    period_end: datetime.date,
    user=None,
    issue: bool | None = None,
    skip_locked: bool = False,
    catch_up: bool = False,
) -> list[Invoice]:
    """The AP invoice of a provider for a period: the pay side of its confirmed, not yet billed proformas."""
    return _ap_generate(
        provider_ids=[provider.pk],
        period=(period_start, period_end),
        user=user,
        issue=issue,
        skip_locked=skip_locked,
        catch_up=catch_up,
    )


@dataclass
class InvoiceRun:
    invoices: list[Invoice] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # party -> message
    parties: int = 0


@dataclass
class RunProgress:
    """What a run reports after each chunk (and once before the first, with ``done`` 0): the parties it works
    on, how many are done, and what the last chunk made and which of its parties failed."""

    total: int
    done: int
    invoices: list[Invoice] = field(default_factory=list)
    failed: list[tuple[Customer | Provider, str]] = field(default_factory=list)


RUN_CHUNK = 100


def _run_in_chunks(parties, generate_many, run: InvoiceRun, what: str, progress=None) -> InvoiceRun:
    """Generate for parties in chunks: one transaction and a fixed number of queries per chunk. If a chunk
    fails, it is rolled back whole and redone one party per transaction, so a failing party leaves nothing
    half-made and the others still complete. ``progress(RunProgress)`` is called after each chunk's commit."""
    if progress is not None:
        progress(RunProgress(total=len(parties), done=0))
    for start in range(0, len(parties), RUN_CHUNK):
        chunk = parties[start : start + RUN_CHUNK]
        made, failed = [], []
        try:
            made = generate_many(chunk)
        except Exception:
            logger.warning("%s run: a chunk failed, redoing it one party at a time", what, exc_info=True)
            for party in chunk:
                try:
                    made += generate_many([party])
                except Exception as error:  # one party's failure must not stop the others
                    logger.exception("%s run failed for %s", what, party.pk)
                    run.errors[str(party)] = str(error)
                    failed.append((party, str(error)))
        run.invoices += made
        if progress is not None:
            progress(RunProgress(total=len(parties), done=start + len(chunk), invoices=made, failed=failed))
    return run


def _with_work(kind: str, party_field: str, qs, period_end):
    """Only the parties that have confirmed, not yet invoiced proformas up to the period's end."""
    pending = Proforma.objects.filter(
        **{party_field: OuterRef("pk")}, status=Proforma.Status.CONFIRMED, service_date__lte=period_end
    ).filter(_uninvoiced(kind))
    return qs.filter(Exists(pending))


def ar_run(
    *,
    on_date: datetime.date | None = None,
    partner=None,
    customers=None,
    period=None,
    user=None,
    issue: bool | None = None,
    progress=None,
) -> InvoiceRun:
    """Invoice every active customer for its latest closed period (or the given ``period``). A scheduled run
    also catches up anything earlier still uninvoiced (e.g. after a void) and skips customers another worker
    is invoicing right now. ``issue``: as in ``ar_invoices_generate`` (False: drafts only); ``progress``: see
    ``_run_in_chunks``."""
    on_date = on_date or timezone.localdate(timezone=partner.tzinfo if partner is not None else None)
    qs = Customer.objects.filter(is_active=True)
    if partner is not None:
        qs = qs.filter(partner=partner)
    if customers is not None:
        qs = qs.filter(pk__in=[c.pk for c in customers])
    run = InvoiceRun(parties=qs.count())
    parties = list(_with_work(Invoice.Kind.AR, "customer", qs, period[1] if period else on_date).order_by("pk"))

    def period_for(customer):
        return period if period is not None else closed_period(customer.invoicing_schedule, on_date)

    def generate_many(chunk):
        return _ar_generate(
            customer_ids=[c.pk for c in chunk],
            period_for=period_for,
            user=user,
            issue=issue,
            skip_locked=period is None,
            catch_up=period is None,
        )

    return _run_in_chunks(parties, generate_many, run, "AR", progress)


def ap_run(
    *,
    on_date: datetime.date | None = None,
    partner=None,
    providers=None,
    period=None,
    user=None,
    issue: bool | None = None,
    progress=None,
) -> InvoiceRun:
    """Bill every active provider for last month (or the given ``period``). ``issue`` and ``progress``: as in
    ``ar_run``."""
    on_date = on_date or timezone.localdate(timezone=partner.tzinfo if partner is not None else None)
    qs = Provider.objects.filter(is_active=True)
    if partner is not None:
        qs = qs.filter(partner=partner)
    if providers is not None:
        qs = qs.filter(pk__in=[p.pk for p in providers])
    start, end = period if period is not None else closed_period("monthly", on_date)
    run = InvoiceRun(parties=qs.count())
    parties = list(_with_work(Invoice.Kind.AP, "provider", qs, end).order_by("pk"))

    def generate_many(chunk):
        return _ap_generate(
            provider_ids=[p.pk for p in chunk],
            period=(start, end),
            user=user,
            issue=issue,
            skip_locked=period is None,
            catch_up=period is None,
        )

    return _run_in_chunks(parties, generate_many, run, "AP", progress)
