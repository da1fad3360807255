"""Invoice runs: every active customer (AR) or provider (AP) with something to invoice, in chunks of parties,
reporting progress after each chunk (``RunProgress``). A failing party is retried alone and recorded; the
others go on.

The invoices themselves are made by ``invoicing.invoices_from_proformas``; a run started from the office or
the schedule is recorded as a ``BillingRun`` by ``invoicing.runs``.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef
from django.utils import timezone

from customers.models import Customer, Provider
from expense_codes.models import AppliedExpenseCode

from .fast_writes import tables_analyze_stale
from .invoices_from_proformas import ap_invoices_generate_many, ar_invoices_generate_many, uninvoiced
from .models import Invoice, InvoiceProforma, Proforma
from .schedules import closed_period

logger = logging.getLogger(__name__)


@dataclass
class InvoiceRun:
    """What a run made: the ids of its invoices (a run of 10,000 customers keeps no model instances: its memory stays
    flat however many it makes), the parties that failed and how many parties it looked at."""

    invoice_ids: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # party -> message
    parties: int = 0

    def invoices(self):
        """The invoices the run made, read from the database in the order they were made."""
        return Invoice.objects.filter(pk__in=self.invoice_ids).order_by("pk")


@dataclass
class RunProgress:
    """What a run reports after each chunk (and once before the first, with ``done`` 0): the parties it works
    on, how many are done, and what the last chunk made and which of its parties failed."""

    total: int
    done: int
    invoices: list[Invoice] = field(default_factory=list)
    failed: list[tuple[Customer | Provider, str]] = field(default_factory=list)


RUN_CHUNK = 100


def _run_in_chunks(model, party_ids, generate_many, run: InvoiceRun, what: str, progress=None) -> InvoiceRun:
    """Generate for parties (ids of ``model``) in chunks: one transaction and a fixed number of queries per chunk.
    If a chunk fails, it is rolled back whole and redone one party per transaction, so a failing party leaves
    nothing half-made and the others still complete. ``progress(RunProgress)`` is called after each chunk's
    commit. Only ids are kept across chunks (parties are read as instances only to name one that failed)."""
    if progress is not None:
        progress(RunProgress(total=len(party_ids), done=0))
    for start in range(0, len(party_ids), RUN_CHUNK):
        chunk = party_ids[start : start + RUN_CHUNK]
        # the tables a chunk reads and the run fills, with statistics once the run has grown them (fast_writes)
        tables_analyze_stale(Proforma, Invoice, InvoiceProforma, AppliedExpenseCode)
        made, failed = [], []
        try:
            made = generate_many(chunk)
        except Exception:
            logger.warning("%s run: a chunk failed, redoing it one party at a time", what, exc_info=True)
            parties = model.objects.in_bulk(chunk)
            for party_id in chunk:
                try:
                    made += generate_many([party_id])
                except Exception as error:  # one party's failure must not stop the others
                    logger.exception("%s run failed for %s", what, party_id)
                    party = parties.get(party_id) or model(pk=party_id, name=f"#{party_id}")  # deleted since
                    run.errors[str(party)] = str(error)
                    failed.append((party, str(error)))
        run.invoice_ids += [invoice.pk for invoice in made]
        if progress is not None:
            progress(RunProgress(total=len(party_ids), done=start + len(chunk), invoices=made, failed=failed))
    return run


def _with_work(kind: str, party_field: str, qs, period_end):
    """Only the parties that have confirmed, not yet invoiced proformas up to the period's end."""
    pending = Proforma.objects.filter(
        **{party_field: OuterRef("pk")}, status=Proforma.Status.CONFIRMED, service_date__lte=period_end
    ).filter(uninvoiced(kind))
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
    party_ids = list(
        _with_work(Invoice.Kind.AR, "customer", qs, period[1] if period else on_date)
        .order_by("pk")
        .values_list("pk", flat=True)
    )

    def period_for(customer):
        return period if period is not None else closed_period(customer.invoicing_schedule, on_date)

    def generate_many(chunk):
        return ar_invoices_generate_many(
            customer_ids=chunk,
            period_for=period_for,
            user=user,
            issue=issue,
            skip_locked=period is None,
            catch_up=period is None,
            on_date=on_date if period is None else None,  # recurring occurrences up to the run's date
        )

    return _run_in_chunks(Customer, party_ids, generate_many, run, "AR", progress)


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
    party_ids = list(_with_work(Invoice.Kind.AP, "provider", qs, end).order_by("pk").values_list("pk", flat=True))

    def generate_many(chunk):
        return ap_invoices_generate_many(
            provider_ids=chunk,
            period=(start, end),
            user=user,
            issue=issue,
            skip_locked=period is None,
            catch_up=period is None,
        )

    return _run_in_chunks(Provider, party_ids, generate_many, run, "AP", progress)
