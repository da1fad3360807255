"""Two django-q2 clusters sharing a Redis broker (Q_BROKER=redis://...) against one PostgreSQL: every issued
invoice's after-commit work is done exactly once (one stored PDF, one e-mail, one charge), and a due schedule
runs once although both clusters' schedulers reach it at the same moment.

Needs PostgreSQL and a Redis server at 127.0.0.1:6379 (`.ci/run` starts Debian's redis-server); skipped, visibly,
without either. REDIS_TEST_URL picks another Redis database (default: database 1)."""

import datetime
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.db import connection, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule, Task

from audit.models import AuditEvent
from invoicing.models import Invoice, OutboxJob, Payment
from tests.factories import CustomerFactory, issued_invoice
from tests.invoicing.test_outbox import card_customer

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/1")
INVOICE_MAIL = re.compile(rb"^Message-ID: <email\.invoice\.(\d+)\.", re.MULTILINE | re.IGNORECASE)
DEADLINE_SECONDS = 120  # a bound on waiting for the clusters, never reached when they work

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def redis_db():
    """The Redis database the test uses, with no keys of this run's cluster name before or after."""
    client = redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs a Redis server at {REDIS_URL} ({exc})")
    name = f"octoo-test-{uuid.uuid4().hex[:10]}"  # a name per run: keys left by another run never interfere

    def forget():
        keys = list(client.scan_iter(match=f"django_q:{name}:*"))
        if keys:
            client.delete(*keys)

    forget()
    yield name
    forget()
    client.close()


@pytest.fixture
def redis_enqueue(monkeypatch, settings, redis_db):
    """This process queues its tasks the way a web node with Q_BROKER=redis://... does: to the clusters' Redis
    list, signed with their name and key (django-q2 reads its Conf once at import, so it is patched here)."""
    settings.OUTBOX_NUDGE = True
    for name, value in {
        "ORM": None,
        "REDIS": REDIS_URL,
        "PREFIX": redis_db,
        "CLUSTER_NAME": redis_db,
        "SYNC": False,
        "SECRET_KEY": settings.SECRET_KEY,
    }.items():
        monkeypatch.setattr(Conf, name, value)


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_cluster(env: dict, log: Path) -> subprocess.Popen:
    """`manage.py qcluster` in its own process group, so its worker, monitor and pusher processes end with it."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_clusters(clusters: list[subprocess.Popen]) -> None:
    for process in clusters:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for process in clusters:
        process.wait(timeout=30)


def wait_for(what: str, done, clusters, logs) -> None:
    """Poll ``done()`` until it holds; fail with the clusters' logs if one of them died or the deadline passed."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not done():
        for process, log in zip(clusters, logs, strict=True):
            assert process.poll() is None, f"a cluster exited while waiting for {what}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{logs[0].read_text()[-3000:]}"
        time.sleep(0.1)


def schedulers_waiting() -> int:
    """Sessions waiting for a lock on a schedule row: the clusters' schedulers (a fresh snapshot on every call;
    the first waits on this test's lock, the second on the first)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query LIKE %s",
            ['%FROM "django_q_schedule"%FOR UPDATE%'],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_clusters_on_redis_do_each_job_and_each_due_schedule_exactly_once(
    redis_db, redis_enqueue, settings, tmp_path, partner
):
    media, mail = tmp_path / "media", tmp_path / "mail"
    media.mkdir()
    mail.mkdir()
    schedule = Schedule.objects.create(
        name=f"Mark overdue invoices ({redis_db})",
        func="invoicing.tasks.mark_overdue_task",
        schedule_type=Schedule.HOURLY,
        repeats=-1,
        next_run=timezone.now() - datetime.timedelta(minutes=1),
    )
    # Issued through the real path before any worker runs: each commit queues its outbox drain on Redis.
    invoices = [issued_invoice(CustomerFactory(partner=partner, auto_send=True)) for _ in range(4)]
    invoices += [issued_invoice(card_customer(partner)) for _ in range(2)]
    assert OutboxJob.objects.filter(status="pending").count() == 4 * 2 + 2 * 3
    assert redis.from_url(REDIS_URL).llen(f"django_q:{redis_db}:q") == len(invoices)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "octoo_billing.settings",
        "DEBUG": "1",
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": database_url(),
        "Q_BROKER": REDIS_URL,
        "Q_NAME": redis_db,
        "Q_WORKERS": "2",
        "Q_SYNC": "0",
        "OUTBOX_NUDGE": "1",
        "MEDIA_ROOT": str(media),
        "EMAIL_URL": f"filemail:///{mail}",  # django-environ drops the first slash of the path
        "PAYMENT_GATEWAY": "simulated",
    }
    logs = [tmp_path / "cluster-a.log", tmp_path / "cluster-b.log"]
    clusters = []
    try:
        # The schedule's row stays locked until both clusters' schedulers wait on it, then both go at once.
        with transaction.atomic():
            Schedule.objects.select_for_update().get(pk=schedule.pk)
            clusters = [start_cluster(env, log) for log in logs]
            wait_for("both schedulers to reach the due schedule", lambda: schedulers_waiting() >= 2, clusters, logs)
        wait_for(
            "the outbox and the schedule",
            lambda: (
                not OutboxJob.objects.exclude(status="done").exists()
                and Task.objects.filter(group=schedule.name).exists()
            ),
            clusters,
            logs,
        )
        wait_for("both schedulers to finish", lambda: schedulers_waiting() == 0, clusters, logs)
    finally:
        stop_clusters(clusters)

    # Each job was claimed once and done once.
    jobs = list(OutboxJob.objects.values_list("key", "status", "attempts"))
    assert len(jobs) >= 4 * 2 + 2 * 3 + 2  # and a receipt for each charge
    assert all(status == "done" and attempts == 1 for _, status, attempts in jobs), jobs
    # Each invoice: one stored PDF, one e-mail, one charge for the card customers.
    stored = Counter(AuditEvent.objects.filter(action="pdf_stored").values_list("target_id", flat=True))
    mails = Counter(int(found) for path in mail.iterdir() for found in INVOICE_MAIL.findall(path.read_bytes()))
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.pdf and (media / invoice.pdf.name).is_file()
        assert stored[invoice.pk] == 1
        assert mails[invoice.pk] == 1
        assert Payment.objects.filter(invoice=invoice).count() == (1 if invoice.customer.charges_automatically else 0)
    assert len(list(media.rglob("*.pdf"))) == len(invoices)
    assert Invoice.objects.filter(sent_at__isnull=False).count() == len(invoices)
    # The due schedule: one task across the two clusters, run to success, and its next run an hour on.
    runs = list(Task.objects.filter(group=schedule.name))
    assert len(runs) == 1 and runs[0].success, [(run.id, run.result) for run in runs]
    schedule.refresh_from_db()
    assert schedule.task == runs[0].id and schedule.next_run > timezone.now()
