"""Readiness checks for /readyz: database, migrations, broker, worker heartbeat.

Each check returns a ``CheckResult`` and never raises: whatever goes wrong is a failed check with a short reason
(the exception's class name, never its message, which may name hosts or users). /readyz answers 200 only when
every check passed.
"""

from __future__ import annotations

import datetime
import functools
import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_q.brokers import Broker, get_broker

from .heartbeat import heartbeat_latest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Readiness:
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict:
        return {"status": "ok" if self.ok else "fail", "checks": [asdict(check) for check in self.checks]}


def _failure(name: str, exc: Exception) -> CheckResult:
    logger.warning("readiness check %s failed: %r", name, exc)
    return CheckResult(name, False, f"error: {type(exc).__name__}")


def check_database() -> CheckResult:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
        return _failure("database", exc)
    return CheckResult("database", True)


# Once every migration is applied, it stays so for this process (a new deploy starts new processes): loading
# the migration graph on every probe would cost more than the rest of /readyz together.
_migrations_applied = False


def migrations_pending() -> int:
    """How many migrations are not yet applied to the database."""
    executor = MigrationExecutor(connections["default"])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def check_migrations() -> CheckResult:
    global _migrations_applied
    if _migrations_applied:
        return CheckResult("migrations", True)
    try:
        pending = migrations_pending()
    except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
        return _failure("migrations", exc)
    if pending:
        return CheckResult("migrations", False, f"{pending} migration(s) not applied")
    _migrations_applied = True
    return CheckResult("migrations", True)


@functools.cache
def broker() -> Broker:
    """This process's django-q2 broker (ORM or Redis, as Q_CLUSTER says), made once: a Redis broker keeps its
    connection pool between probes."""
    return get_broker()


def check_broker() -> CheckResult:
    try:
        reachable = broker().ping()
    except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
        return _failure("broker", exc)
    if not reachable:
        return CheckResult("broker", False, "no answer to ping")
    return CheckResult("broker", True)


def heartbeat_limit() -> datetime.timedelta | None:
    """How old the newest worker heartbeat may be; None when READYZ_HEARTBEAT_MINUTES is 0 (check off)."""
    minutes = getattr(settings, "READYZ_HEARTBEAT_MINUTES", 5)
    return datetime.timedelta(minutes=minutes) if minutes > 0 else None


def check_heartbeat(now: datetime.datetime | None = None) -> CheckResult:
    limit = heartbeat_limit()
    if limit is None:
        return CheckResult("worker_heartbeat", True, "check off (READYZ_HEARTBEAT_MINUTES=0)")
    try:
        latest = heartbeat_latest()
    except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
        return _failure("worker_heartbeat", exc)
    if latest is None:
        return CheckResult("worker_heartbeat", False, "no worker heartbeat yet")
    age = (now or timezone.now()) - latest
    if age > limit:
        return CheckResult("worker_heartbeat", False, f"last seen {int(age.total_seconds() // 60)} min ago")
    return CheckResult("worker_heartbeat", True)


def readiness() -> Readiness:
    """Every check; those that need the database are not tried when it is unreachable."""
    database = check_database()
    if database.ok:
        migrations, heartbeat = check_migrations(), check_heartbeat()
    else:
        migrations = CheckResult("migrations", False, "database unreachable")
        heartbeat = CheckResult("worker_heartbeat", False, "database unreachable")
    return Readiness([database, migrations, check_broker(), heartbeat])
