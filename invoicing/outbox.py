"""The transactional outbox: after-commit work written as rows in the same transaction as the change.

Issuing an invoice adds its delivery work (render and store the PDF; e-mail it when the customer has
auto-send on; charge the card on file when the customer pays by card with auto-charge on; declared as the issue
action's effects in ``invoicing.workflow``) as ``OutboxJob`` rows inside the issue's transaction: the work exists
exactly when the issue does. A crash after the commit loses nothing, since the rows are already there; a
rolled-back issue leaves none.

The worker (``invoicing.outbox_work``) claims due rows with ``FOR UPDATE SKIP LOCKED``, so several workers
never take the same job, and records the attempt (``attempts``, a lease) in its own short transaction *before*
the side effect. A worker killed mid-job leaves the job "running" with a lease that runs out; the next claim takes
it again. Handlers are idempotent and keyed: the PDF is stored once, the e-mail carries a Message-ID made from
the job's key and is skipped once ``sent_at`` is recorded, and the charge uses the gateway's idempotency key.

Nothing here imports the worker's tasks: after the commit, ``outbox_nudge`` asks django-q2 (by the task's
dotted name) to drain the outbox now, unless a drain already waits in the ORM broker's queue (``drain_waiting``:
it will claim after this commit); if that is lost, the every-minute schedule drains it anyway.
"""

from __future__ import annotations

import datetime
import logging
import uuid

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.utils import timezone

from audit.recording import audit_record

from .models import CreditNote, Invoice, InvoiceReminder, OutboxJob, Payment, Refund

logger = logging.getLogger(__name__)

Kind, JobStatus = OutboxJob.Kind, OutboxJob.Status
DRAIN_TASK = "invoicing.tasks.outbox_task"


class JobRetry(Exception):
    """A job failed in a way a later attempt can fix (mail server down, a processing error)."""


class JobGiveUp(Exception):
    """A job cannot succeed by trying again (no recipient address); staff must act."""


def message_id(job: OutboxJob) -> str:
    """The same Message-ID on every attempt of one e-mail job: a resend after a crash is the same message."""
    return f"<{job.key.replace(':', '.')}.{job.partner_id}@octoo-billing.invalid>"


def lease_length() -> datetime.timedelta:
    """How long a claimed job may run before another worker takes it again (longer than any PDF render)."""
    return datetime.timedelta(seconds=getattr(settings, "OUTBOX_LEASE_SECONDS", 300))


def backoff(attempts: int) -> datetime.timedelta:
    """30 s, 1 min, 2 min, ... up to an hour between attempts."""
    return datetime.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


SUBJECT_FIELDS = {Payment: "payment", Refund: "refund", CreditNote: "credit_note", InvoiceReminder: "reminder"}


def job_key(kind: str, invoice_id: int, subject=None) -> str:
    """One job of a kind per invoice (or per document of it: a payment's receipt, a credit note, a reminder); a
    resend is its own job each time it is asked for."""
    key = f"{kind}:invoice:{invoice_id}"
    if subject is not None:
        key = f"{key}:{SUBJECT_FIELDS[type(subject)]}:{subject.pk}"
    return f"{key}:{uuid.uuid4().hex[:12]}" if kind == Kind.RESEND else key


def outbox_add(*, invoice: Invoice, kinds: list[str], subject=None) -> list[OutboxJob]:
    """Add jobs for an invoice (one per kind, in this order), in the caller's transaction: the after-commit work
    of a workflow action (``invoicing.workflow.action_done``). ``subject``: the payment, refund, credit note or
    reminder the work is about. A job that already exists is left as it is."""
    now = timezone.now()
    about = {SUBJECT_FIELDS[type(subject)]: subject} if subject is not None else {}
    jobs = [
        OutboxJob(
            partner_id=invoice.partner_id,
            invoice=invoice,
            kind=kind,
            key=job_key(kind, invoice.pk, subject),
            run_after=now,
            **about,
        )
        for kind in kinds
    ]
    OutboxJob.objects.bulk_create(jobs, ignore_conflicts=True)
    outbox_nudge_on_commit()
    return jobs


def customer_job_add(*, customer, kind: str, key: str) -> OutboxJob:
    """A job about a customer rather than one invoice (the monthly statement), once per ``key``."""
    job, _created = OutboxJob.objects.get_or_create(
        key=key,
        defaults={"partner_id": customer.partner_id, "customer": customer, "kind": kind, "run_after": timezone.now()},
    )
    outbox_nudge_on_commit()
    return job


def outbox_nudge_on_commit() -> None:
    """Once per transaction, however many invoices it issues: drain the outbox right after the commit."""
    if not getattr(settings, "OUTBOX_NUDGE", True):
        return
    if connection.in_atomic_block and any(entry[1] is outbox_nudge for entry in connection.run_on_commit):
        return
    transaction.on_commit(outbox_nudge)


def worker_queue(task: str, *args, **options) -> None:
    """Hand a task to the django-q2 worker: the one place the domain queues worker work. Call it after the commit
    that recorded the work (an outbox row, a billing run), so the row is there when the task runs and a lost
    queue leaves the row to be found again. Raises what the broker raises."""
    from django_q.tasks import async_task  # cycle: django_q's models import the project's settings at load

    async_task(task, *args, **options)


def outbox_nudge() -> None:
    """Ask the worker to drain the outbox now, unless a drain already waits in the queue (``drain_waiting``). Never
    raises: the schedule drains it within a minute anyway. ``save=False``: django-q2 keeps no result row for a drain
    that succeeded (a nudge per commit would make as many; the jobs' own rows are the record), only for one that
    failed."""
    try:
        if drain_waiting():
            return
        worker_queue(DRAIN_TASK, task_name="outbox", group="outbox", save=False)
    except Exception:  # noqa: BLE001 - logged; the rows are safe and the schedule picks them up
        logger.exception("could not queue the outbox drain; the schedule will run it")


DRAIN_LOOKBACK = 5  # the newest waiting tasks looked at for a drain
_drain_rows: dict[int, bool] = {}  # queue row id -> whether it is a drain (its payload decoded once per process)


def drain_waiting() -> bool:
    """Whether a drain task waits in django-q2's ORM broker, not yet taken by a worker. Asked after the commit that
    added the work: a waiting drain is taken (``lock`` moved into the future) only after this moment, so it claims
    its jobs after this commit and finds them; a second drain queued now would only find the outbox empty. Spares
    each issue a queue row and the transaction that writes it. With Redis (a push per nudge, no transaction) or
    in sync mode: never (every nudge is queued, as before)."""
    cluster = settings.Q_CLUSTER
    if not cluster.get("orm") or cluster.get("sync"):
        return False
    from django_q.conf import Conf  # cycle: django_q's modules import the project's settings at load
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    with connections[Conf.ORM].cursor() as cursor:  # plain SQL: asked after every commit that adds work
        cursor.execute(
            f"SELECT id, payload FROM {OrmQ._meta.db_table} WHERE key = %s AND lock <= %s "  # noqa: S608 (name only)
            "ORDER BY id DESC LIMIT %s",  # a taken task's lock is its retry time, ahead of now
            [Conf.CLUSTER_NAME, timezone.now(), DRAIN_LOOKBACK],
        )
        waiting = cursor.fetchall()
    for pk, payload in waiting:
        if pk not in _drain_rows:
            if len(_drain_rows) > 1000:
                _drain_rows.clear()
            try:
                _drain_rows[pk] = SignedPackage.loads(payload).get("func") == DRAIN_TASK
            except Exception:  # noqa: BLE001 - a row signed with another key is no drain of ours
                _drain_rows[pk] = False
        if _drain_rows[pk]:
            return True
    return False


def _due(now: datetime.datetime) -> Q:
    return Q(status=JobStatus.PENDING, run_after__lte=now) | Q(status=JobStatus.RUNNING, lease_until__lt=now)


def outbox_claim(*, worker: str, limit: int = 20, now: datetime.datetime | None = None) -> list[OutboxJob]:
    """Claim up to ``limit`` due jobs for ``worker`` (rows another worker holds are skipped), recording the
    attempt before any side effect. A job whose lease ran out (its worker died) is due again.

    The other due jobs of the claimed jobs' invoices come along (so a few more than ``limit``): an invoice's e-mail
    and charge run after its PDF in the same worker, instead of rendering it a second time in another worker
    while the first is still at it (the stored PDF would be the same one; the render would be wasted)."""
    now = now or timezone.now()
    claimable = (
        OutboxJob.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(_due(now))
        .select_related("invoice", "partner")
    )
    with transaction.atomic():
        jobs = list(claimable.order_by("run_after", "id")[:limit])
        invoice_ids = {job.invoice_id for job in jobs if job.invoice_id is not None}
        if invoice_ids:
            jobs += claimable.filter(invoice_id__in=invoice_ids).exclude(pk__in=[job.pk for job in jobs])
            jobs.sort(key=lambda job: (job.run_after, job.pk))
        claimed = {"status": JobStatus.RUNNING, "lease_until": now + lease_length(), "claimed_by": worker[:100]}
        for job in jobs:
            job.attempts += 1
            for name, value in {**claimed, "updated_at": now}.items():
                setattr(job, name, value)
        if jobs:  # one UPDATE of the rows just locked: every one +1 attempt, the same lease and worker
            OutboxJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
                attempts=F("attempts") + 1, updated_at=now, **claimed
            )
    return jobs


def _finish(job: OutboxJob, **fields) -> bool:
    """Compare-and-set: only the worker that still holds this attempt may record its outcome."""
    fields["updated_at"] = timezone.now()
    updated = OutboxJob.objects.filter(
        pk=job.pk, status=JobStatus.RUNNING, claimed_by=job.claimed_by, attempts=job.attempts
    ).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)
    return bool(updated)


def outbox_job_done(job: OutboxJob, *, result: str = "") -> bool:
    now = timezone.now()
    return _finish(job, status=JobStatus.DONE, done_at=now, lease_until=None, result=result[:200], last_error="")


def outbox_jobs_done(done: list[tuple[OutboxJob, str]]) -> int:
    """``outbox_job_done`` of several jobs (each with its result) in one statement: the same compare-and-set per
    row (only the worker that still holds that attempt records it). Returns how many were recorded."""
    if len(done) <= 1:
        return sum(outbox_job_done(job, result=result) for job, result in done)
    now = timezone.now()
    held = Q()
    by_result: dict[str, list[int]] = {}
    for job, result in done:
        held |= Q(pk=job.pk, claimed_by=job.claimed_by, attempts=job.attempts)
        by_result.setdefault(result[:200], []).append(job.pk)
    if len(by_result) == 1:
        result_value = Value(next(iter(by_result)))
    else:
        whens = [When(pk__in=pks, then=Value(result)) for result, pks in by_result.items()]
        result_value = Case(*whens, output_field=CharField())
    fields = {"status": JobStatus.DONE, "done_at": now, "lease_until": None, "last_error": "", "updated_at": now}
    updated = OutboxJob.objects.filter(held, status=JobStatus.RUNNING).update(result=result_value, **fields)
    for job, result in done:
        for name, value in fields.items():
            setattr(job, name, value)
        job.result = result[:200]
    return updated


def outbox_job_failed(job: OutboxJob, *, error: str, retryable: bool = True) -> bool:
    """Record a failed attempt: due again after a backoff, or failed for good when it cannot help or the
    attempts are used up (shown on the invoice, with a Retry button)."""
    if retryable and job.attempts < job.max_attempts:
        claimed_at = job.lease_until - lease_length() if job.lease_until else timezone.now()
        run_after = max(timezone.now(), claimed_at) + backoff(job.attempts)
        return _finish(job, status=JobStatus.PENDING, run_after=run_after, lease_until=None, last_error=error[:2000])
    return _finish(job, status=JobStatus.FAILED, lease_until=None, last_error=error[:2000])


@transaction.atomic
def outbox_jobs_retry(*, invoice: Invoice, user=None) -> int:
    """Staff's Retry: an invoice's failed jobs are due again now, with a fresh set of attempts."""
    jobs = list(OutboxJob.objects.select_for_update().filter(invoice=invoice, status=JobStatus.FAILED))
    for job in jobs:
        job.status, job.attempts, job.run_after = JobStatus.PENDING, 0, timezone.now()
        job.updated_at = job.run_after
    OutboxJob.objects.bulk_update(jobs, ["status", "attempts", "run_after", "updated_at"])
    if jobs:
        audit_record(target=invoice, action="delivery_retry", actor=user, data={"jobs": [j.kind for j in jobs]})
        outbox_nudge_on_commit()
    return len(jobs)


def invoice_outbox_jobs(invoice: Invoice) -> list[OutboxJob]:
    return list(OutboxJob.objects.filter(invoice=invoice).order_by("id"))
