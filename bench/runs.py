"""Benchmark of a partner-wide AR run started from the office (issue 11): 1,000 customers, from the click on
"Run AR now for all customers" until the run's page says done.

``bench_runs(lines)`` is called by ``bench/run.py`` after Django is set up on the bench database; it appends a
markdown section to ``lines``. It builds its own partner with ``bench.run.build_world`` (1,000 customers x 10
completed services) and makes their proformas (setup, not measured), then, through ``django.test.Client`` as a
signed-in billing admin (the whole request: middleware, session, view, templates; no network):

1. POSTs the start (office:run_start) and follows the redirect to the run's page;
2. runs the worker's task (``invoicing.tasks.billing_run_task``) in a thread with its own database connection,
   as a django-q2 worker would once the task is taken from the queue;
3. polls the page's ``status.json`` every ``POLL_SECONDS`` as static/js/progress.js does, until it says done.

The time reported is from the POST to the first poll that says done; the progress the polls saw is listed, so
one can check the page moves along as the run goes. Run it alone with
``BENCH_DATABASE_URL=postgres://.../octoo_runs_bench .venv/bin/python bench/runs.py``.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.25  # the page polls every 1.5 s; more often here so the time to "done" is measured closely
TIMEOUT = 600


def _worker(run_id: int, outcome: dict) -> None:
    """The worker's side: the task a django-q2 worker runs for this run, on its own connection."""
    from django.db import connections

    from invoicing.tasks import billing_run_task

    started = time.perf_counter()
    try:
        outcome["status"] = billing_run_task(run_id)
    except Exception as exc:  # noqa: BLE001 - reported in the results
        outcome["status"] = f"crashed: {type(exc).__name__}: {exc}"
    finally:
        outcome["seconds"] = time.perf_counter() - started
        connections.close_all()


def bench_runs(lines: list[str]) -> None:
    from django.conf import settings
    from django.test.utils import override_settings

    # No collectstatic in a bench run: serve static URLs unhashed (the run's page links its script).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # The bench plays the worker itself: nothing is queued in the ORM broker for a cluster that is not running.
    with override_settings(STORAGES=storages, BILLING_RUNS_QUEUE=False):
        _bench_runs(lines)


def _bench_runs(lines: list[str]) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from bench.run import CUSTOMERS, SERVICES_PER_CUSTOMER, build_world
    from customers.models import StaffMembership
    from invoicing.models import BillingRun, Invoice
    from invoicing.proformas import proformas_sweep

    t0 = time.perf_counter()
    partner = build_world(name="Bench Runs Partner", slug="bench-runs")
    proformas = proformas_sweep(partner=partner)["created"]
    user = get_user_model().objects.create_user("bench.runs", password=None)
    StaffMembership.objects.create(user=user, partner=partner, role=StaffMembership.Role.BILLING_ADMIN)
    setup_s = time.perf_counter() - t0

    client = Client()
    client.force_login(user)
    client.get(reverse("office:run_list"))  # the page with the button (warms the session and templates)

    started = time.perf_counter()
    response = client.post(reverse("office:run_start"), {"kind": "ar"})
    post_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 302, response.status_code
    run = BillingRun.objects.filter(partner=partner).latest("pk")
    assert response["Location"] == reverse("office:run_detail", args=[run.pk]), response["Location"]
    page = client.get(response["Location"])
    assert page.status_code == 200, page.status_code
    status_url = reverse("office:run_status", args=[run.pk])

    outcome: dict = {}
    worker = threading.Thread(target=_worker, args=(run.pk, outcome))
    worker.start()
    seen, polls, poll_ms = [], 0, []
    data = {}
    while time.perf_counter() - started < TIMEOUT:
        poll_started = time.perf_counter()
        data = client.get(status_url).json()
        poll_ms.append((time.perf_counter() - poll_started) * 1000)
        polls += 1
        if not seen or seen[-1] != (data["status"], data["done"]):
            seen.append((data["status"], data["done"]))
        if data["finished"]:
            break
        time.sleep(POLL_SECONDS)
    total_s = time.perf_counter() - started
    worker.join(timeout=TIMEOUT)

    run.refresh_from_db()
    invoices = Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR).count()
    run_s = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else 0.0
    progress = ", ".join(f"{done:,}" for status, done in seen if status == "running") or "—"
    poll_ms.sort()
    lines += [
        f"### Partner-wide AR run from the office ({CUSTOMERS:,} customers, "
        f"{CUSTOMERS * SERVICES_PER_CUSTOMER:,} proformas, PostgreSQL)",
        "",
        f"Setup (not measured): the world and its {proformas:,} proformas, {setup_s:.1f} s. Through "
        "django.test.Client as a billing admin; the worker's task runs in a thread with its own connection; "
        f"the status JSON is polled every {POLL_SECONDS} s.",
        "",
        "| step | result | time |",
        "|---|---|---|",
        f'| POST "Run AR now for all customers" (records the run, redirects to its page) | run #{run.pk} '
        f"| {post_ms:.0f} ms |",
        f"| the run in the worker (started -> finished) | {run.invoices_made:,} invoices made, "
        f"{run.parties_done:,} of {run.parties_total:,} customers, {len(run.errors)} errors, "
        f"status {outcome.get('status', '?')} | {run_s:.2f} s |",
        f"| status JSON, {polls} polls | progress seen: {progress} | p50 {poll_ms[len(poll_ms) // 2]:.1f} ms, "
        f"max {poll_ms[-1]:.1f} ms |",
        f"| **from the click until the page says done** | {data.get('status_label', '?')}, {invoices:,} AR invoices "
        f"| **{total_s:.2f} s** |",
        "",
        "Goal: the page shows progress while it runs (several distinct counts above) and says done within the AR "
        "run's own goal (<= 10 s for 1,000 customers) plus a poll.",
        "",
    ]
    if data.get("status") != "done" or run.parties_done != run.parties_total:
        lines.append(f"WARNING: the run did not finish as expected: {data}")
        lines.append("")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench import run  # sets the bench environment (BENCH_DATABASE_URL, DEBUG=0, settings)

    run.recreate_database()
    run.setup_django()
    out: list[str] = []
    bench_runs(out)
    print("\n".join(out))
