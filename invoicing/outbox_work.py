"""The worker's side of the outbox: claim due jobs and run their idempotent handlers.

Every handler may run more than once for the same job (a retry, or a worker killed after the side effect and
before recording it) and does its work at most once:

- PDF: ``invoice_pdf_store`` keeps a stored PDF (under the invoice's row lock), so a second run stores nothing.
- E-mail: skipped once the invoice records ``sent_at``; the message's Message-ID is made from the job's key, so
  a resend after a crash between the mail server's acceptance and our record is the same message to the
  recipient's mail system, which shows it once.
- Charge: the automatic charge's idempotency key is fixed per invoice; the gateway returns the same charge for
  it, and our payment with that key is found before anything is charged again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings

from customers.formats import partner_formats

from .charging import invoice_auto_charge
from .credit_note_delivery import credit_note_deliver
from .credits import refund_through_gateway
from .delivery import DeliveryError, invoice_send, invoice_send_read
from .errors import BillingError
from .models import Invoice, OutboxJob
from .outbox import (
    JobGiveUp,
    JobRetry,
    message_id,
    outbox_claim,
    outbox_job_done,
    outbox_job_failed,
    outbox_jobs_done,
    outbox_nudge,
)
from .pdf.documents import PdfRenderError, invoice_pdf_store
from .receipts import receipt_job_run
from .reminders import reminder_job_run
from .statement_delivery import statement_job_send

logger = logging.getLogger(__name__)
Kind = OutboxJob.Kind


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


# The PDFs this batch's PDF jobs rendered and stored, by invoice id: (stored file name, bytes), kept only for an
# invoice whose e-mail is in the same batch (``_jobs_run``), which attaches those bytes instead of reading the
# file back from the storage. Set per batch; None outside one.
_batch_pdfs: ContextVar[dict | None] = ContextVar("outbox_batch_pdfs", default=None)
_batch_mailed: ContextVar[frozenset] = ContextVar("outbox_batch_mailed", default=frozenset())


def _pdf(job: OutboxJob) -> str:
    try:
        stored = invoice_pdf_store(invoice=job.invoice)
    except PdfRenderError as exc:
        raise JobRetry(str(exc)) from exc
    kept = _batch_pdfs.get()
    if kept is not None and stored.rendered_pdf is not None and job.invoice_id in _batch_mailed.get():
        kept[job.invoice_id] = (stored.pdf.name, stored.rendered_pdf)
    return "stored"


def _rendered_pdf(invoice_id: int) -> tuple | None:
    kept = _batch_pdfs.get()
    return kept.pop(invoice_id, None) if kept is not None else None


def _email(job: OutboxJob) -> str:
    invoice = invoice_send_read(job.invoice_id)  # one read for the checks and the e-mail
    if invoice.status == Invoice.Status.VOID:
        return "not sent: the invoice was voided"
    if invoice.sent_at is not None:
        return "already sent"
    try:
        invoice_send(invoice=invoice, message_id=message_id(job), read=False, pdf=_rendered_pdf(job.invoice_id))
    except DeliveryError as exc:
        raise (JobRetry if exc.retryable else JobGiveUp)(exc.message) from exc
    return "sent"


def _resend(job: OutboxJob) -> str:
    """Staff's Resend (invoicing.delivery.invoice_resend_queue): sent unless a send was recorded since it was asked."""
    invoice = invoice_send_read(job.invoice_id)
    if invoice.status == Invoice.Status.VOID:
        return "not sent: the invoice was voided"
    if invoice.sent_at is not None and invoice.sent_at >= job.created_at:
        return "already sent"
    try:
        invoice_send(invoice=invoice, message_id=message_id(job), read=False, pdf=_rendered_pdf(job.invoice_id))
    except DeliveryError as exc:
        raise (JobRetry if exc.retryable else JobGiveUp)(exc.message) from exc
    return "sent"


def _charge(job: OutboxJob) -> str:
    invoice = Invoice.objects.select_related("customer").get(pk=job.invoice_id)
    try:
        invoice_pdf_store(invoice=invoice)  # the stored document says "will be charged", never a raced payment
    except PdfRenderError:
        pass  # its own job retries the PDF; a rendering failure does not hold the charge
    outcome = invoice_auto_charge(invoice=invoice)
    if outcome.status == "error":
        raise JobRetry(outcome.message)
    return outcome.status  # succeeded, declined (final: staff charge by hand), not_charged, nothing_due


def _refund(job: OutboxJob) -> str:
    """A card refund: the gateway is asked once per key; a refusal is retried (invoicing.credits)."""
    refund = refund_through_gateway(job.refund)
    return f"refunded {refund.reference}"


HANDLERS = {
    Kind.PDF: _pdf,
    Kind.EMAIL: _email,
    Kind.CHARGE: _charge,
    Kind.RESEND: _resend,
    Kind.REFUND: _refund,
    Kind.CREDIT_NOTE: credit_note_deliver,
    Kind.STATEMENT: statement_job_send,
    Kind.RECEIPT: receipt_job_run,
    Kind.REMINDER: reminder_job_run,
}


@dataclass
class OutboxReport:
    done: int = 0
    retried: int = 0
    failed: int = 0
    results: list[str] = field(default_factory=list)


def _attempt(job: OutboxJob) -> str | None:
    """Run one claimed job, in its partner's time zone and locale (what it writes, e-mails and PDFs, speaks for
    that partner): its result when it succeeded (not recorded yet), else None (the failure is recorded)."""
    try:
        with partner_formats(job.partner):
            result = HANDLERS[job.kind](job)
        return "" if result is None else result  # succeeded, whatever it says
    except JobGiveUp as exc:
        outbox_job_failed(job, error=str(exc), retryable=False)
    except (JobRetry, BillingError) as exc:
        outbox_job_failed(job, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - an unexpected failure is retried with backoff, and logged
        logger.exception("outbox job %s failed", job.key)
        outbox_job_failed(job, error=f"{type(exc).__name__}: {exc}")
    return None


def outbox_job_run(job: OutboxJob) -> None:
    """Run one claimed job and record its outcome."""
    result = _attempt(job)
    if result is not None:
        outbox_job_done(job, result=result)


def _jobs_run(jobs: list[OutboxJob], report: OutboxReport) -> None:
    """Run a claimed batch. A failure is recorded at once; the jobs that succeeded are recorded together after the
    batch (``outbox_jobs_done``: one statement, each row's compare-and-set as before). Until then they stay
    "running" under this worker's lease: a worker killed meanwhile leaves them to be run again once the lease runs
    out, and every handler does its work once however often it runs (the module's docstring). An invoice's e-mail
    in the batch attaches the PDF bytes its PDF job just stored (``_batch_pdfs``)."""
    mailed = frozenset(job.invoice_id for job in jobs if job.kind in (Kind.EMAIL, Kind.RESEND))
    pdfs_token, mailed_token = _batch_pdfs.set({}), _batch_mailed.set(mailed)
    succeeded: list[tuple[OutboxJob, str]] = []
    try:
        for job in jobs:
            result = _attempt(job)
            if result is not None:
                succeeded.append((job, result))
    finally:
        _batch_pdfs.reset(pdfs_token)
        _batch_mailed.reset(mailed_token)
        outbox_jobs_done(succeeded)
    for job in jobs:
        if job.status == OutboxJob.Status.DONE:
            report.done += 1
        elif job.status == OutboxJob.Status.PENDING:
            report.retried += 1
        else:
            report.failed += 1
        report.results.append(f"{job.key}: {job.status}")


def outbox_run(*, batch: int = 20, max_jobs: int | None = None, worker: str | None = None, now=None) -> OutboxReport:
    """Drain the outbox: claim due jobs a batch at a time and run them, until none is due (or ``max_jobs``)."""
    worker = worker or worker_name()
    report = OutboxReport()
    while max_jobs is None or len(report.results) < max_jobs:
        size = batch if max_jobs is None else min(batch, max_jobs - len(report.results))
        jobs = outbox_claim(worker=worker, limit=size, now=now)
        if not jobs:
            break
        _jobs_run(jobs, report)
    return report


def outbox_share(*, batch: int, worker: str | None = None, seconds: float = 0) -> OutboxReport:
    """One worker task's share of the outbox (``invoicing.tasks.outbox_task``): claim up to ``batch`` due jobs (and
    their invoices' other due jobs) and run them. A full batch means more is probably due, so the next drain is
    queued before this one runs its jobs: another worker process takes the next share while this one renders, a
    backlog is spread over every worker process. Then, while the shares come full and ``seconds`` have not passed
    since the task began, this task claims the next share itself (queueing no other drain: the one it queued is
    taken by the next free worker process) rather than leaving its worker process to wait for the broker to hand it
    the next task (the ORM broker's poll, every task's own queue and acknowledgement rows). So no task runs much
    longer than ``seconds`` plus a share, far from django-q2's timeout (which would kill it and leave its claimed
    jobs waiting out their lease). With django-q2 in sync mode (tests, Q_SYNC) a queued drain would run
    inline, one inside the other: the whole outbox is drained here instead."""
    if settings.Q_CLUSTER.get("sync"):
        return outbox_run(batch=batch, worker=worker)
    report = OutboxReport()
    worker = worker or worker_name()
    started, first = time.monotonic(), True
    while True:
        jobs = outbox_claim(worker=worker, limit=batch)
        full = len(jobs) >= batch
        if full and first:
            outbox_nudge()
        _jobs_run(jobs, report)
        if not full or time.monotonic() - started >= seconds:
            return report
        first = False
