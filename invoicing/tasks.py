"""django-q2 tasks: thin wrappers that call the domain functions and return a short report.

The schedules that run them are created by ``manage.py setup_schedules``.
"""

from __future__ import annotations

import logging

from .outbox_work import outbox_run

logger = logging.getLogger(__name__)


def outbox_task() -> dict:
    """Drain the outbox (invoicing.outbox): every issued invoice's PDF, e-mail and charge, retried with backoff.
    Queued right after a commit that added work, and scheduled every minute so nothing waits on that."""
    report = outbox_run()
    return {"done": report.done, "retried": report.retried, "failed": report.failed}


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
