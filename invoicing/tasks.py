"""django-q2 tasks: thin wrappers that call the domain functions and return a short report.

The schedules that run them are created by ``manage.py setup_schedules``.

Several worker machines (``Q_BROKER=redis://...``, or the ORM broker on one PostgreSQL):

- A due schedule is queued once. django-q2's scheduler, in every cluster, selects the due schedules ``FOR UPDATE``
  and moves ``next_run`` on in the same transaction; a second cluster's scheduler waits on those rows and, once the
  first commits, PostgreSQL re-checks ``next_run < now`` on the new row versions and skips them
  (tests/test_redis_broker.py releases two schedulers onto one due schedule at once). Redis hands each queued task
  to one worker (``BLPOP``). Should a task still run twice (the ORM broker re-delivers a task unacknowledged after
  ``retry``) or be lost (a worker killed mid-task), every task here is idempotent and the next run catches up:
  runs invoice closed periods and keep one run per partner at a time, reminders are queued once per step,
  statements once per customer and month, overdue marking is a state check.
- After-commit work never relies on the broker: it is an outbox row claimed ``FOR UPDATE SKIP LOCKED`` with a lease
  (invoicing.outbox); a lost drain task is made good by the next nudge or the every-minute schedule.
"""

from __future__ import annotations

import logging

from django.conf import settings

from .lifecycle import invoices_mark_overdue
from .models import BillingRun
from .outbox_work import outbox_share
from .proformas import proformas_sweep
from .reminders import reminders_queue
from .reports.keeping import report_figures_upkeep
from .runs import run_execute, runs_scheduled
from .statement_delivery import statements_monthly_queue

logger = logging.getLogger(__name__)

# Jobs one outbox task claims at a time (a 1-page invoice's PDF and e-mail take ~0.1 s of CPU): small enough to
# spread a backlog over the worker processes, large enough that a claim's own cost stays a few percent.
OUTBOX_TASK_JOBS = 10
# How long one outbox task goes on claiming the next share itself while the shares come full (then it ends, and the
# drain it queued meanwhile goes on): its worker process never waits for the broker to hand it the next task, and a
# task stays far from django-q2's timeout (300 s).
OUTBOX_TASK_SECONDS = 20

# The names of the schedules (manage.py setup_schedules), recorded on the runs they start.
AR_RUN_SCHEDULE = "AR invoice run"
AP_RUN_SCHEDULE = "AP invoice run"


def outbox_task() -> dict:
    """Drain the outbox (invoicing.outbox): every issued invoice's PDF, e-mail and charge, retried with backoff.
    Queued right after a commit that added work, and scheduled every minute so nothing waits on that. Each task
    takes a bounded share (``OUTBOX_TASK_JOBS`` jobs) and queues the next when there is more, so a backlog is
    spread over all the worker processes, then goes on with the next share itself for up to ``OUTBOX_TASK_SECONDS``
    (invoicing.outbox_work.outbox_share)."""
    report = outbox_share(
        batch=getattr(settings, "OUTBOX_TASK_JOBS", OUTBOX_TASK_JOBS),
        seconds=getattr(settings, "OUTBOX_TASK_SECONDS", OUTBOX_TASK_SECONDS),
    )
    return {"done": report.done, "retried": report.retried, "failed": report.failed}


def proformas_sweep_task() -> dict:
    report = proformas_sweep()
    return {"created": report["created"], "errors": len(report["errors"]), "skipped": report["skipped"]}


def _runs_report(runs, parties: str) -> dict:
    return {
        "runs": [run.pk for run in runs],
        parties: sum(run.parties_total for run in runs),
        "invoices": sum(run.invoices_made for run in runs),
        "errors": {f"{e['party_name']} (#{e['party_id']})": e["message"] for run in runs for e in run.errors},
        "failed": [run.pk for run in runs if run.status == BillingRun.Status.FAILED],
    }


def ar_run_task() -> dict:
    """The scheduled AR run: one recorded run per partner (invoicing.runs), listed on the office's runs page."""
    runs = runs_scheduled(kind=BillingRun.Kind.AR, schedule_name=AR_RUN_SCHEDULE)
    return _runs_report(runs, "customers")


def ap_run_task() -> dict:
    runs = runs_scheduled(kind=BillingRun.Kind.AP, schedule_name=AP_RUN_SCHEDULE)
    return _runs_report(runs, "providers")


def billing_run_task(run_id: int) -> str:
    """A run started from the office (invoicing.runs.run_start, bulk_start): executed with its progress."""
    run = run_execute(run_id)
    return "not queued" if run is None else run.status


def mark_overdue_task() -> int:
    return invoices_mark_overdue()


def reminders_task() -> int:
    """Queue the payment reminders due in each partner's today (invoicing.reminders); the outbox sends them.
    Idempotent: a second run the same day queues none."""
    return reminders_queue()


def statements_task() -> dict:
    """Daily: from the 1st of each month (the partner's today), last month's statement of account for each
    customer with monthly statements on, queued once per customer and month (invoicing.statement_delivery)."""
    report = statements_monthly_queue()
    return {"queued": report.queued, "already": report.already}


def report_figures_task() -> int:
    """Hourly: every partner's open balances folded and the closed months the dashboard and the reports read kept
    (invoicing.reports.keeping), so no request computes them."""
    return report_figures_upkeep()
