"""Billing runs with progress: a partner-wide AR or AP run, or a bulk action on a selection of invoices.

``run_start`` records the run (refused while one of the same kind is queued or running for the partner: a partial
unique index makes that hold under concurrent starts too) and, after the commit, asks django-q2 to run
``run_execute`` (by the task's dotted name, as the outbox does: nothing here imports the worker's tasks).
``run_execute`` takes the run (compare-and-set queued -> running, so a task delivered twice runs once), does the
work in chunks and records the progress after each chunk in its own short transaction, so the run's page shows
it as it goes, then marks the run done, or failed with the error. A run whose worker died (no progress for
``RUN_STALE``) is marked failed when the next run of that partner starts.

The worker's scheduled AR and AP runs go through the same functions, one recorded run per partner with the
schedule's name instead of a user (``runs_scheduled``); a scheduled run that found nothing to do is not kept.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from customers.models import Partner
from octoo_billing import locale as formats

from .bulk import BULK_MAX, INLINE_MAX, bulk_items_execute, invoice_label
from .errors import BillingRuleError, RunAlreadyOpen
from .invoice_runs import RunProgress, ap_run, ar_run
from .models import BillingRun, BillingRunItem, Invoice
from .outbox import worker_queue

logger = logging.getLogger(__name__)

Kind, Status = BillingRun.Kind, BillingRun.Status
RUN_TASK = "invoicing.tasks.billing_run_task"
RUN_TASK_TIMEOUT = 3600  # seconds a run may take in the worker (the cluster's default is 5 minutes)
RUN_STALE = datetime.timedelta(minutes=15)  # a queued or running run silent this long is dead
MAX_ERRORS = 500  # party errors kept on one run (the count goes on)


# --------------------------------------------------------------------------------------------------
# Starting


def _user_name(user) -> str:
    if user is None or not user.is_authenticated:
        return ""
    return (user.get_full_name() or user.get_username())[:150]


def _stale_runs_fail(partner) -> None:
    """Mark failed the partner's runs whose worker stopped (no progress for ``RUN_STALE``)."""
    now = timezone.now()
    BillingRun.objects.filter(
        partner=partner, status__in=BillingRun.OPEN_STATUSES, updated_at__lt=now - RUN_STALE
    ).update(
        status=Status.FAILED,
        finished_at=now,
        updated_at=now,
        message="Stopped: no progress for a while (the worker stopped or lost the task). Start it again.",
    )


def _already_open(partner, kind: str) -> RunAlreadyOpen | None:
    run = BillingRun.objects.filter(partner=partner, kind=kind, status__in=BillingRun.OPEN_STATUSES).first()
    if run is None:
        return None
    who = f" by {run.started_by_label}" if run.started_by_label != "—" else ""
    since = f"{formats.format_day_month(run.created_at)}, {formats.format_time(run.created_at, zone=False)}"
    return RunAlreadyOpen(
        f"An {run.get_kind_display()} is already {run.get_status_display().lower()} (started{who} at {since}); "
        "nothing new was started. Its progress is below.",
        run=run,
    )


def _run_open(*, partner, kind: str, user=None, schedule_name: str = "", drafts_only: bool = False, period=None):
    """Record a new queued generation run, or refuse with ``RunAlreadyOpen`` when one is queued or running."""
    with transaction.atomic():
        _stale_runs_fail(partner)
        refusal = _already_open(partner, kind)
        if refusal is not None:
            raise refusal
        try:
            with transaction.atomic():
                run = BillingRun.objects.create(
                    partner=partner,
                    kind=kind,
                    invoice_kind=kind,  # an AR run makes AR invoices, an AP run AP invoices
                    started_by=user if user is not None and user.is_authenticated else None,
                    started_by_name=_user_name(user),
                    schedule_name=schedule_name,
                    drafts_only=drafts_only,
                    period_start=period[0] if period else None,
                    period_end=period[1] if period else None,
                )
        except IntegrityError:  # another start won the race (the partial unique index)
            refusal = _already_open(partner, kind)
            if refusal is None:
                raise
            raise refusal from None
    return run


def run_start(
    *,
    partner,
    kind: str,
    user=None,
    period: tuple[datetime.date | None, datetime.date] | None = None,
    drafts_only: bool = False,
) -> BillingRun:
    """Start a partner-wide AR or AP run; the worker does it after the commit. ``period`` None: each party's
    latest closed period, with anything earlier still uninvoiced (as the schedule does). ``drafts_only``: the
    invoices stay drafts (a billing clerk's run), else the partner's "issue generated invoices" setting decides.
    Refuses (``RunAlreadyOpen``, a ``BillingRuleError``) while a run of that kind is queued or running."""
    if kind not in BillingRun.GENERATION_KINDS:
        raise BillingRuleError("Choose an AR or an AP run.", field="kind")
    run = _run_open(partner=partner, kind=kind, user=user, drafts_only=drafts_only, period=period)
    _queue_on_commit(run.pk)
    return run


def bulk_start(*, partner, kind: str, invoice_kind: str, invoice_ids, user=None) -> BillingRun:
    """A bulk action on the partner's invoices of ``invoice_kind`` among ``invoice_ids`` (others are ignored:
    another partner's ids never reach a row). Up to ``INLINE_MAX`` rows are worked before returning; a larger
    selection is queued for the worker. Refuses an empty or too large selection and resending AP invoices."""
    if kind not in BillingRun.BULK_KINDS:
        raise BillingRuleError("Choose what to do with the selected invoices.", field="action")
    if kind == Kind.RESEND and invoice_kind != Invoice.Kind.AR:
        raise BillingRuleError("Only AR invoices are e-mailed; AP invoices come from providers.", field="action")
    invoices = list(
        Invoice.objects.filter(partner=partner, kind=invoice_kind, pk__in=list(invoice_ids))
        .only("id", "number")
        .order_by("pk")
    )
    if not invoices:
        raise BillingRuleError("Select at least one invoice.", field="ids")
    if len(invoices) > BULK_MAX:
        raise BillingRuleError(
            f"{len(invoices):,} invoices are selected; one action takes at most {BULK_MAX:,}. Narrow the filters.",
            field="ids",
        )
    with transaction.atomic():
        _stale_runs_fail(partner)
        run = BillingRun.objects.create(
            partner=partner,
            kind=kind,
            invoice_kind=invoice_kind,
            started_by=user if user is not None and user.is_authenticated else None,
            started_by_name=_user_name(user),
            parties_total=len(invoices),
        )
        BillingRunItem.objects.bulk_create(
            [BillingRunItem(run=run, invoice=invoice, label=invoice_label(invoice)) for invoice in invoices],
            batch_size=1000,
        )
        if len(invoices) > INLINE_MAX:
            _queue_on_commit(run.pk)
    if len(invoices) <= INLINE_MAX:
        run_execute(run.pk)
        run.refresh_from_db()
    return run


def _queue_on_commit(run_id: int) -> None:
    """After the commit, ask the worker to execute the run (``BILLING_RUNS_QUEUE`` off: the caller does)."""
    if getattr(settings, "BILLING_RUNS_QUEUE", True):
        transaction.on_commit(partial(run_queue, run_id))


def run_queue(run_id: int) -> None:
    """Queue the run's task. Never raises: a run that cannot be queued is marked failed, so it blocks nothing."""
    try:
        worker_queue(
            RUN_TASK, run_id, task_name=f"billing-run-{run_id}", group="billing-runs", timeout=RUN_TASK_TIMEOUT
        )
    except Exception as exc:  # noqa: BLE001 - recorded on the run
        logger.exception("could not queue billing run %s", run_id)
        _run_finish(run_id, Status.FAILED, f"Could not be queued for the worker: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------------
# Executing


def _run_finish(run_id: int, status: str, message: str = "") -> bool:
    now = timezone.now()
    return bool(
        BillingRun.objects.filter(pk=run_id, status__in=BillingRun.OPEN_STATUSES).update(
            status=status, finished_at=now, updated_at=now, message=message[:5000]
        )
    )


class _ProgressRecorder:
    """Records a generation run's progress after each chunk, in its own short transaction."""

    def __init__(self, run: BillingRun):
        self.run = run

    def __call__(self, progress: RunProgress) -> None:
        run = self.run
        run.parties_total = progress.total
        run.parties_done = progress.done
        run.invoices_made += len(progress.invoices)
        for party, message in progress.failed:
            if len(run.errors) < MAX_ERRORS:
                run.errors.append({"party_id": party.pk, "party_name": str(party), "message": message[:1000]})
        run.updated_at = timezone.now()
        BillingRun.objects.filter(pk=run.pk).update(  # autocommit: the page sees it at once
            parties_total=run.parties_total,
            parties_done=run.parties_done,
            invoices_made=run.invoices_made,
            errors=run.errors,
            updated_at=run.updated_at,
        )


def _generation_execute(run: BillingRun, on_date: datetime.date | None) -> None:
    generate = ar_run if run.kind == Kind.AR else ap_run
    generate(
        on_date=on_date,
        partner=run.partner,
        period=(run.period_start, run.period_end) if run.period_end else None,
        user=run.started_by,
        issue=False if run.drafts_only else None,
        progress=_ProgressRecorder(run),
    )


def run_execute(run_id: int, *, on_date: datetime.date | None = None) -> BillingRun | None:
    """The worker's task: do a queued run, recording its progress; done, or failed with the error. A run that
    is not queued (taken by another worker, finished, or marked dead) is left alone (None)."""
    now = timezone.now()
    taken = BillingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, updated_at=now
    )
    if not taken:
        logger.info("billing run %s is not queued; nothing to do", run_id)
        return None
    run = BillingRun.objects.select_related("partner", "started_by").get(pk=run_id)
    try:
        if run.is_generation:
            _generation_execute(run, on_date)
        else:
            bulk_items_execute(run)
    except Exception as exc:  # noqa: BLE001 - the run shows it failed and why; the worker logs the trace
        logger.exception("billing run %s failed", run_id)
        _run_finish(run_id, Status.FAILED, f"{type(exc).__name__}: {exc}")
    else:
        _run_finish(run_id, Status.DONE)
    return BillingRun.objects.get(pk=run_id)


def runs_scheduled(*, kind: str, schedule_name: str, on_date: datetime.date | None = None) -> list[BillingRun]:
    """The worker's scheduled AR or AP run: one recorded run per partner, done at once. A partner whose run of
    that kind is already going (started from the office) is skipped; a run that found nothing to do is dropped
    so the runs page lists the runs that did something (or failed)."""
    runs = []
    for partner in Partner.objects.order_by("pk"):
        try:
            run = _run_open(partner=partner, kind=kind, schedule_name=schedule_name)
        except RunAlreadyOpen as refusal:
            logger.info("%s skipped for %s: %s", schedule_name, partner, refusal.message)
            continue
        run = run_execute(run.pk, on_date=on_date)
        if run is None:
            continue
        if run.status == Status.DONE and run.parties_total == 0 and not run.errors:
            run.delete()
            continue
        runs.append(run)
    return runs


# --------------------------------------------------------------------------------------------------
# Reads


@dataclass(frozen=True)
class RunCounts:
    """A bulk run's rows by outcome."""

    done: int = 0
    refused: int = 0
    failed: int = 0
    pending: int = 0


def run_list_queryset(*, partner):
    """The partner's runs, newest first, with their bulk rows counted by outcome (one query a page)."""
    outcome = BillingRunItem.Outcome
    return (
        BillingRun.objects.filter(partner=partner)
        .annotate(
            refused_count=Count("items", filter=Q(items__outcome=outcome.REFUSED)),
            failed_count=Count("items", filter=Q(items__outcome=outcome.FAILED)),
        )
        .order_by("-created_at", "-id")
    )


def run_counts(run: BillingRun) -> RunCounts:
    if run.is_generation:
        return RunCounts()
    rows = dict(run.items.values_list("outcome").annotate(n=Count("id")).values_list("outcome", "n"))
    return RunCounts(**{outcome: rows.get(outcome, 0) for outcome in BillingRunItem.Outcome.values})


def run_problem_items(run: BillingRun, *, limit: int):
    """A bulk run's refused and failed rows (the ones to look at), with the invoice's party for links."""
    return list(
        run.items.filter(outcome__in=[BillingRunItem.Outcome.REFUSED, BillingRunItem.Outcome.FAILED])
        .select_related("invoice__customer", "invoice__provider")
        .order_by("pk")[:limit]
    )
