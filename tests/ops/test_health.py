"""/healthz and /readyz: liveness without the database; readiness with each dependency down."""

import datetime
import json
import socket
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.conf import Conf
from django_q.models import Schedule

from ops import checks
from ops.heartbeat import heartbeat_record, worker_name
from ops.models import WorkerHeartbeat
from ops.tasks import HEARTBEAT_SCHEDULE, HEARTBEAT_TASK, worker_heartbeat_task


@pytest.fixture(autouse=True)
def _migrations_not_yet_seen(monkeypatch):
    """Each test starts as a fresh process would: the "all migrations applied" result not yet cached."""
    monkeypatch.setattr(checks, "_migrations_applied", False)


@pytest.fixture
def worker_alive(db):
    return heartbeat_record(name="worker-1")


def checks_of(response) -> dict:
    return {check["name"]: check for check in json.loads(response.content)["checks"]}


def test_healthz_answers_ok_without_touching_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_with_database_access_blocked(client):
    """No ``db`` fixture: pytest-django refuses any query, so a 200 proves none was made."""
    assert client.get("/healthz").status_code == 200


def test_probes_answer_plain_http_at_a_node_address_not_in_allowed_hosts(client, settings, worker_alive):
    """Load balancers probe each node over HTTP at its own address: no HTTPS redirect, no 400 for the host."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["billing.example.com"]
    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    # Every other page still gets both rules.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    assert client.get("/accounts/login/", HTTP_HOST="billing.example.com").status_code == 301


def test_readyz_is_200_when_every_dependency_is_fine(client, worker_alive):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert [(c["name"], c["ok"]) for c in body["checks"]] == [
        ("database", True),
        ("migrations", True),
        ("broker", True),
        ("worker_heartbeat", True),
    ]


def test_readyz_is_503_when_the_database_is_unreachable(client, worker_alive):
    with mock.patch.object(connections["default"], "cursor", side_effect=OperationalError("connection refused")):
        response = client.get("/readyz")
    assert response.status_code == 503
    found = checks_of(response)
    assert found["database"] == {"name": "database", "ok": False, "reason": "error: OperationalError"}
    assert found["migrations"]["reason"] == "database unreachable"
    assert found["worker_heartbeat"]["reason"] == "database unreachable"
    assert b"connection refused" not in response.content  # the class of the error, never its message


def test_readyz_is_503_while_migrations_are_pending(client, worker_alive):
    with mock.patch.object(MigrationExecutor, "migration_plan", return_value=[(mock.Mock(), False)]):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert checks_of(response)["migrations"] == {
        "name": "migrations",
        "ok": False,
        "reason": "1 migration(s) not applied",
    }


def test_the_migrations_check_remembers_once_everything_is_applied(db):
    assert checks.check_migrations().ok
    with mock.patch.object(MigrationExecutor, "__init__", side_effect=AssertionError("the graph was loaded again")):
        assert checks.check_migrations().ok


@pytest.mark.parametrize(
    "ping",
    [mock.Mock(side_effect=ConnectionError("redis down")), mock.Mock(return_value=False)],
    ids=["ping-raises", "ping-false"],
)
def test_readyz_is_503_when_the_broker_is_unreachable(client, worker_alive, monkeypatch, ping):
    monkeypatch.setattr(checks, "broker", lambda: mock.Mock(ping=ping))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks_of(response)["broker"]["ok"] is False
    assert checks_of(response)["database"]["ok"] is True


def test_readyz_is_503_when_the_worker_heartbeat_is_stale(client, db, settings):
    settings.READYZ_HEARTBEAT_MINUTES = 5
    heartbeat_record(name="worker-1", now=timezone.now() - datetime.timedelta(minutes=6))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks_of(response)["worker_heartbeat"] == {
        "name": "worker_heartbeat",
        "ok": False,
        "reason": "last seen 6 min ago",
    }


def test_readyz_is_503_when_no_worker_was_ever_seen(client, db):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks_of(response)["worker_heartbeat"]["reason"] == "no worker heartbeat yet"


def test_the_newest_heartbeat_of_any_worker_machine_counts(client, db):
    heartbeat_record(name="worker-1", now=timezone.now() - datetime.timedelta(hours=2))
    heartbeat_record(name="worker-2")
    assert client.get("/readyz").status_code == 200


def test_the_heartbeat_check_can_be_turned_off(client, db, settings):
    settings.READYZ_HEARTBEAT_MINUTES = 0
    assert client.get("/readyz").status_code == 200


def test_the_heartbeat_task_updates_this_machines_row(db):
    old = timezone.now() - datetime.timedelta(hours=1)
    WorkerHeartbeat.objects.create(name=worker_name(), seen_at=old)
    worker_heartbeat_task()
    worker_heartbeat_task()
    heartbeat = WorkerHeartbeat.objects.get()
    assert heartbeat.name == worker_name()
    assert heartbeat.seen_at > old
    assert checks.check_heartbeat().ok


def test_setup_schedules_runs_the_heartbeat_every_minute(db):
    call_command("setup_schedules", stdout=StringIO())
    schedule = Schedule.objects.get(name=HEARTBEAT_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (HEARTBEAT_TASK, Schedule.MINUTES, 1)
    assert import_string(schedule.func) is worker_heartbeat_task


def redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


def test_readyz_is_503_when_a_redis_broker_refuses_connections(client, worker_alive, monkeypatch):
    """django-q2's own Redis broker (Q_BROKER=redis://...), at an address where nothing listens."""
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0?socket_connect_timeout=2&socket_timeout=2")
    monkeypatch.setattr(checks, "broker", RedisBroker)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks_of(response)["broker"] == {"name": "broker", "ok": False, "reason": "error: ConnectionError"}


@pytest.mark.skipif(not redis_reachable(), reason="no Redis server at 127.0.0.1:6379")
def test_readyz_pings_a_running_redis_broker(client, worker_alive, monkeypatch):
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:6379/0?socket_connect_timeout=2&socket_timeout=2")
    monkeypatch.setattr(checks, "broker", RedisBroker)
    assert client.get("/readyz").status_code == 200
