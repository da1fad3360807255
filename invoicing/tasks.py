"""django-q2 tasks: thin wrappers that call the domain functions and return a short report.

The schedules that run them are created by ``manage.py setup_schedules``.
"""

from __future__ import annotations

import datetime
import logging
import threading
from contextlib import contextmanager

logger = logging.getLogger(__name__)
_hooks = threading.local()


@contextmanager
def issue_hooks_paused():
    """Invoices issued within this block queue no delivery when they commit: used by the demo seed, whose
    historical invoices must not be e-mailed, rendered or charged."""
    previous = getattr(_hooks, "paused", False)
    _hooks.paused = True
    try:
        yield
    finally:
        _hooks.paused = previous


def issue_hooks_are_paused() -> bool:
    """True inside ``issue_hooks_paused`` or when settings turn the hooks off (INVOICE_ISSUE_HOOKS, tests)."""
    from django.conf import settings

    return getattr(_hooks, "paused", False) or not getattr(settings, "INVOICE_ISSUE_HOOKS", True)


def _enqueue(func: str, *args, name: str) -> str | None:
    """Queue a task for the worker; never raises (an issue that committed must not look failed).

    django-q2 retries a task that raises: it is not acknowledged, so the broker hands it out again after
    ``Q_CLUSTER["retry"]`` seconds, up to ``max_attempts`` times. With ``sync`` on (tests), it runs here.
    """
    from django_q.tasks import async_task

    try:
        return async_task(func, *args, task_name=name[:100], group=func.rsplit(".", 1)[1])
    except Exception:  # noqa: BLE001 - logged; the invoice shows what is missing and offers a retry
        logger.exception("task %s for %s failed or could not be queued", func, args)
        return None


def on_invoice_issued(invoice_id: int) -> None:
    """Runs after an issue commits (transaction.on_commit, registered unless ``issue_hooks_are_paused``), so
    outside the numbering lock: queues the invoice's delivery (``invoice_issued_task``). Nothing here can undo
    or fail the issue."""
    from .models import Invoice

    number = Invoice.objects.filter(pk=invoice_id).exclude(status=Invoice.Status.DRAFT).values_list("number")
    number = number.first()
    if number is None:
        return
    _enqueue("invoicing.tasks.invoice_issued_task", invoice_id, name=f"deliver {number[0]}")


class DeliveryIncomplete(Exception):
    """Some step of an invoice's delivery failed in a way a retry can fix; django-q2 will retry the task."""


def invoice_issued_task(invoice_id: int) -> dict:
    """An issued invoice's delivery, in order: render and store the PDF; e-mail it when the customer has
    auto-send on; charge the card on file when the customer pays by card with auto-charge on.

    One task per invoice, so two workers never render the same PDF, and the PDF is stored before the charge
    (the document says "will be charged", never a payment that raced it). Each step records its own failure
    on the invoice (``pdf_error``, ``send_error``, ``charge_error``) and the audit trail; a rendering failure
    does not stop the charge. If a step failed in a way a retry can fix, the task raises at the end and
    django-q2 runs it again later: the steps already done are skipped (stored PDF, ``sent_at``, the charge's
    idempotency key or its final decline).
    """
    from .charging import auto_charge_applies, invoice_auto_charge
    from .delivery import DeliveryError, invoice_send
    from .models import Invoice
    from .pdf import PdfRenderError, invoice_pdf_store

    invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
    report, retry = {}, []
    try:
        invoice_pdf_store(invoice=invoice)
        report["pdf"] = "stored"
    except PdfRenderError as exc:
        report["pdf"] = "failed"
        retry.append(str(exc))
    if invoice.kind == Invoice.Kind.AR and invoice.customer.auto_send and invoice.status != Invoice.Status.VOID:
        if invoice.sent_at is not None:
            report["email"] = "already sent"
        elif report["pdf"] == "failed":
            report["email"] = "waiting for the PDF"
            Invoice.objects.filter(pk=invoice.pk).update(send_error="Not sent yet: the PDF could not be rendered.")
        else:
            try:
                invoice_send(invoice=invoice)
                report["email"] = "sent"
            except DeliveryError as exc:
                report["email"] = "failed"
                if exc.retryable:
                    retry.append(exc.message)
    if auto_charge_applies(invoice):
        outcome = invoice_auto_charge(invoice=invoice)
        report["charge"] = outcome.status
        if outcome.status == "error":
            retry.append(outcome.message)
    if retry:
        raise DeliveryIncomplete(f"{invoice.number}: " + " | ".join(retry))
    return report


def invoice_pdf_task(invoice_id: int) -> str:
    """Render and store an issued invoice's PDF (kept if already stored). Raises on failure: retried."""
    from .models import Invoice
    from .pdf import invoice_pdf_store

    invoice = invoice_pdf_store(invoice=Invoice.objects.get(pk=invoice_id))
    return invoice.pdf.name


# Issued invoices whose PDF is still missing after django-q2 gave up on its retries (a long font or disk
# outage, a worker that died) are picked up by a schedule; older ones render on first download.
PDF_SWEEP_GRACE = datetime.timedelta(minutes=15)
PDF_SWEEP_WINDOW = datetime.timedelta(days=7)
PDF_SWEEP_LIMIT = 200


def pdf_sweep_task() -> dict:
    """Queue the rendering of every invoice issued in the last week (more than 15 minutes ago, so its own
    delivery task has had its chance) that is not void and still has no stored PDF; at most 200 a run."""
    from django.utils import timezone

    from .models import Invoice

    now = timezone.now()
    missing = (
        Invoice.objects.filter(pdf="", issued_at__gte=now - PDF_SWEEP_WINDOW, issued_at__lte=now - PDF_SWEEP_GRACE)
        .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID])
        .order_by("issued_at")
        .values_list("pk", "number")[:PDF_SWEEP_LIMIT]
    )
    queued = 0
    for pk, number in missing:
        queued += _enqueue("invoicing.tasks.invoice_pdf_task", pk, name=f"pdf {number}") is not None
    return {"queued": queued}


def proformas_sweep_task() -> dict:
    from .generation import proformas_sweep

    report = proformas_sweep()
    return {"created": report["created"], "errors": len(report["errors"]), "skipped": report["skipped"]}


def ar_run_task() -> dict:
    from .generation import ar_run

    run = ar_run()
    return {"customers": run.parties, "invoices": len(run.invoices), "errors": run.errors}


def ap_run_task() -> dict:
    from .generation import ap_run

    run = ap_run()
    return {"providers": run.parties, "invoices": len(run.invoices), "errors": run.errors}


def mark_overdue_task() -> int:
    from .lifecycle import invoices_mark_overdue

    return invoices_mark_overdue()
