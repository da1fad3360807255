"""django-q2 tasks: thin wrappers that call the domain functions and return a short report.

The schedules that run them are created by ``manage.py setup_schedules``.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def on_invoice_issued(invoice_id: int) -> None:
    """Runs after an issue commits: rendering, sending and auto-charge hang off this hook."""
    logger.info("invoice %s issued", invoice_id)


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
