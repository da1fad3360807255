"""AR and AP invoices from confirmed proformas: grouped per customer (by expense codes, per period or per
proforma) or per provider, for one party or a batch of parties in one transaction.

Idempotent and race-safe: a proforma is on at most one live AR and one live AP invoice (partial unique
index), a generated invoice carries a ``generation_key`` unique among live invoices, and the parties are
locked (``select_for_update``, optionally ``skip_locked``) so two workers never invoice the same one. Queries
are per batch of parties, never per proforma. Runs over every party are ``invoicing.invoice_runs``.

The occurrences of a recurring booking (seed 002, ``invoicing.recurring``) follow the booking's own invoicing,
whatever the customer's schedule: "each occurrence" makes one invoice per proforma as soon as it exists (as the
after-each-service schedule does); "one invoice per month" puts the booking's occurrences of a calendar month on one
invoice once that month has ended. The option is read on the join the AR query already makes.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_record
from customers.models import BillingContact, Customer, Provider
from expense_codes.models import AppliedExpenseCode
from octoo_billing.bulk import rows_insert

from .bulk_issue import invoices_issue_bulk
from .fast_writes import AUDIT_FIELDS, rows_write
from .locking import invoices_lock, proformas_lock
from .models import Invoice, InvoiceProforma, Proforma, Quote, ServiceRequest
from .pricing import invoice_totals_refresh
from .recurring import recurring_cutoffs
from .schedules import month_period

RecurringInvoicing = ServiceRequest.RecurringInvoicing


def _key_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]  # noqa: S324 (a grouping key, not security)


def uninvoiced(kind: str) -> Exists:
    """A proforma filter: not on a live invoice of this kind (AR or AP)."""
    return ~Exists(InvoiceProforma.objects.filter(proforma_id=OuterRef("pk"), kind=kind, is_active=True))


@dataclass
class _Job:
    """The invoices to make for one party: its groups of proformas and the fields every invoice gets."""

    party: Customer | Provider
    groups: dict[
        str, tuple[str, list[PendingProforma]]
    ]  # group id (part of the generation key) -> (code key, proformas)
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
    rows_insert(Invoice, new_invoices)  # COPY on PostgreSQL; links, codes and audit rows as plain rows below
    code_rows = defaultdict(list)
    first_ids = [inv._proformas[0].pk for inv in new_invoices if inv.expense_code_key]
    if first_ids:
        for proforma_id, label_id, label_name, value in AppliedExpenseCode.objects.filter(
            proforma_id__in=first_ids
        ).values_list("proforma_id", "label_id", "label_name", "value"):
            code_rows[proforma_id].append((label_id, label_name, value))
    links, codes, events = [], [], []
    for invoice in new_invoices + extended:
        base = invoice.proforma_links.count() if invoice in extended else 0  # extended drafts are few
        for position, proforma in enumerate(invoice._proformas, start=base + 1):
            links.append((invoice.pk, proforma.pk, kind, position))
    target_type = ContentType.objects.get_for_model(Invoice).pk
    actor_id, actor_name = (actor.pk, actor.get_username()) if actor is not None else (None, "")
    for invoice in new_invoices:
        for label_id, label_name, value in code_rows.get(invoice._proformas[0].pk, []):
            codes.append((label_id, label_name, value, invoice.pk))
        events.append(
            (
                invoice.partner_id,
                target_type,
                invoice.pk,
                "generate",
                Invoice.Status.DRAFT,
                {"proformas": len(invoice._proformas)},
                actor_id,
                actor_name,
            )
        )
    rows_write(InvoiceProforma, ("invoice_id", "proforma_id", "kind", "position"), links)
    rows_write(AppliedExpenseCode, ("label_id", "label_name", "value", "invoice_id"), codes)
    rows_write(AuditEvent, (*AUDIT_FIELDS, "actor_id", "actor_name"), events)
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
        to_issue = [inv.pk for inv in invoices if inv._issue]  # in one bulk issue: as one by one, in this order
        fresh = {i.pk: i for i in invoices_issue_bulk(invoice_ids=to_issue, user=user, strict=True).issued}
        invoices = [fresh.get(inv.pk, inv) for inv in invoices]
    return invoices


def _totals_from_proformas(invoice: Invoice, proformas: list[PendingProforma]) -> None:
    if invoice.kind == Invoice.Kind.AR:
        invoice.subtotal_units = sum(p.bill_subtotal_units for p in proformas)
        invoice.discount_total_units = sum(p.bill_discount_units for p in proformas)
        invoice.tax_units = sum(p.bill_tax_units for p in proformas)
        invoice.total_units = sum(p.bill_total_units for p in proformas)
    else:
        invoice.subtotal_units = invoice.total_units = sum(p.pay_total_units for p in proformas)


class PendingProforma(NamedTuple):
    """What a run reads of each proforma: a plain row (a run of 100,000 proformas builds no model instance)."""

    pk: int
    partner_id: int
    customer_id: int
    provider_id: int | None
    service_date: datetime.date
    expense_code_key: str
    bill_subtotal_units: int
    bill_discount_units: int
    bill_tax_units: int
    bill_total_units: int
    pay_total_units: int
    recurring_invoicing: str | None = None  # AR: how its recurring booking is invoiced ("" for any other)
    booking_id: int | None = None  # AR: its booking (service request)


# What a run reads of each proforma, in PendingProforma's order.
PROFORMA_RUN_FIELDS = PendingProforma._fields[:11]


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


def _pending_proformas(
    kind: str, party_field: str, parties, periods: dict, catch_up: bool, cutoffs: dict | None = None
) -> dict[int, list]:
    """Confirmed, not yet invoiced proformas of each party within its period (earlier ones too on catch-up).

    AR: each proforma carries its recurring booking's ``recurring_invoicing`` ("" for any other) and ``booking_id``;
    an occurrence is taken up to its party's ``RecurringCutoffs`` (``cutoffs``) instead of the period's end."""
    latest_end = max(end for _, end in periods.values())
    q = Q(**{f"{party_field}_id__in": [p.pk for p in parties]}, status=Proforma.Status.CONFIRMED)
    recurring_end = max((c.each for c in (cutoffs or {}).values()), default=latest_end)
    if recurring_end > latest_end:  # a scheduled run: recurring occurrences up to its date, the others as before
        recurring = Q(service__request__recurring_invoicing__in=RecurringInvoicing.values)
        q &= Q(service_date__lte=recurring_end) & (Q(service_date__lte=latest_end) | recurring)
    else:
        q &= Q(service_date__lte=latest_end)
    starts = [start for start, _ in periods.values()]
    if not catch_up and all(starts):
        q &= Q(service_date__gte=min(starts))
    qs = Proforma.objects.filter(q).filter(uninvoiced(kind))
    if kind == Invoice.Kind.AR:
        # a booking whose quote became an invoice was billed by that invoice (seed 002): AP only
        qs = qs.exclude(service__request__quote__status=Quote.Status.CONVERTED)
        # how its recurring booking is invoiced, on the same join (no extra query, no extra join)
        qs = qs.annotate(
            recurring_invoicing=F("service__request__recurring_invoicing"), booking_id=F("service__request_id")
        )
    # Lock them (after the drafts, in id order: invoicing.locking) so an adjustment cannot change a proforma
    # between the totals read here and its link to the invoice.
    proformas_lock(qs.values_list("pk", flat=True))
    by_party: dict[int, list] = defaultdict(list)
    fields = PROFORMA_RUN_FIELDS + (("recurring_invoicing", "booking_id") if kind == Invoice.Kind.AR else ())
    rows = qs.order_by(f"{party_field}_id", "service_date", "pk").values_list(*fields)
    for row in rows:
        proforma = PendingProforma(*row)
        party_id = getattr(proforma, f"{party_field}_id")
        start, end = periods[party_id]
        mode = proforma.recurring_invoicing
        if mode and cutoffs is not None:
            end = cutoffs[party_id].for_mode(mode) or end
        if proforma.service_date > end or (start and not catch_up and proforma.service_date < start):
            continue
        by_party[party_id].append(proforma)
    return by_party


def ar_invoices_generate_many(
    *, customer_ids, period_for, user=None, issue=None, skip_locked=False, catch_up=False, on_date=None
) -> list[Invoice]:
    """AR invoices for a batch of customers in one transaction, each for the ``(start, end)`` period that
    ``period_for(customer)`` gives (see ``ar_invoices_generate``). With ``skip_locked``, customers another worker
    is invoicing right now are left out.

    Recurring bookings' occurrences (``invoicing.recurring.recurring_cutoffs``): "each occurrence" up to the
    period's end, or up to ``on_date`` on a scheduled run; "one invoice per month" for the months ended by
    ``on_date`` (by default today, in the partner's time zone) within that same end."""
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
        cutoffs = {
            c.pk: recurring_cutoffs(
                period_end=periods[c.pk][1],
                on_date=on_date,
                today=on_date or timezone.localdate(timezone=c.partner.tzinfo),
            )
            for c in customers
        }
        by_customer = _pending_proformas(Invoice.Kind.AR, "customer", customers, periods, catch_up, cutoffs)
        jobs = []
        for customer in customers:
            proformas = by_customer.get(customer.pk)
            if not proformas:
                continue
            issue_now = customer.partner.issue_generated_invoices if issue is None else issue
            jobs += _customer_jobs(customer, proformas, periods[customer.pk], issue_now)
        return _invoices_create(kind=Invoice.Kind.AR, jobs=jobs, user=user)


def _code_groups(customer: Customer, proformas: list[PendingProforma]) -> dict[str, tuple[str, list[PendingProforma]]]:
    """The customer's proformas of one period, grouped as its expense-code mode says."""
    groups: dict[str, tuple[str, list[PendingProforma]]] = {}
    for proforma in proformas:
        if customer.expense_code_mode == Customer.ExpenseCodeMode.PER_PROFORMA:
            group_id, code_key = "all", ""  # each line shows its own proforma's codes
        else:
            group_id = code_key = proforma.expense_code_key
        groups.setdefault(group_id, (code_key, []))[1].append(proforma)
    return groups


def _customer_jobs(customer: Customer, proformas: list[PendingProforma], period, issue_now: bool) -> list[_Job]:
    """The invoices to make for a customer: its period's (by its schedule), one per proforma for those invoiced
    after each service or by a recurring booking's "each occurrence", one per booking and month for a recurring
    booking's "one invoice per month"."""
    start, end = period
    fields = {
        "billing_contact_id": customer.contact_id,
        "contact_name": customer.contact_name or "",
        "contact_email": customer.contact_email or "",
        "bill_to_name": customer.name,
        "payment_terms_days": customer.payment_terms_days,
        "no_payment": customer.payment_terms == Customer.PaymentTerms.NO_PAYMENT,
        "expense_code_mode": customer.expense_code_mode,
    }
    after_service = customer.invoicing_schedule == Customer.Schedule.AFTER_SERVICE
    one_by_one, in_period, by_month = [], [], defaultdict(list)
    for proforma in proformas:
        mode = proforma.recurring_invoicing
        if mode == RecurringInvoicing.EACH or (after_service and not mode):
            one_by_one.append(proforma)
        elif mode == RecurringInvoicing.MONTHLY:
            day = proforma.service_date
            by_month[(proforma.booking_id, month_period(day.year, day.month))].append(proforma)
        else:
            in_period.append(proforma)

    def job(groups, period_start, key_prefix, period_end=end) -> _Job:
        return _Job(
            party=customer,
            groups=groups,
            period_start=period_start,
            period_end=period_end,
            key_prefix=key_prefix,
            fields=fields,
            issue=issue_now,
        )

    jobs = []
    if one_by_one:  # whatever the run date: one invoice per proforma
        groups = {f"pf{p.pk}": (p.expense_code_key, [p]) for p in one_by_one}
        jobs.append(job(groups, None, f"ar:c{customer.pk}:each"))
    if in_period:
        jobs.append(job(_code_groups(customer, in_period), start, f"ar:c{customer.pk}:{end}"))
    for (booking_id, (month_start, month_end)), group in by_month.items():
        jobs.append(
            job(_code_groups(customer, group), month_start, f"ar:c{customer.pk}:r{booking_id}:{month_end}", month_end)
        )
    return jobs


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
    return ar_invoices_generate_many(
        customer_ids=[customer.pk],
        period_for=lambda c: (period_start, period_end),
        user=user,
        issue=issue,
        skip_locked=skip_locked,
        catch_up=catch_up,
    )


def ap_invoices_generate_many(
    *, provider_ids, period, user=None, issue=None, skip_locked=False, catch_up=False
) -> list[Invoice]:
    """AP invoices for a batch of providers in one transaction, all for the same ``(start, end)`` period (see
    ``ap_invoices_generate``). ``skip_locked``: as in ``ar_invoices_generate_many``."""
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
    return ap_invoices_generate_many(
        provider_ids=[provider.pk],
        period=(period_start, period_end),
        user=user,
        issue=issue,
        skip_locked=skip_locked,
        catch_up=catch_up,
    )
