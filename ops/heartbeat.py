"""The worker heartbeat: written by a django-q2 schedule every minute, read by /readyz."""

from __future__ import annotations

import datetime
import socket

from django.db.models import Max
from django.utils import timezone

from .models import WorkerHeartbeat


def worker_name() -> str:
    """This machine's name: one heartbeat row per worker machine, however often its processes restart."""
    return socket.gethostname()[:100] or "worker"


def heartbeat_record(*, name: str, now: datetime.datetime | None = None) -> WorkerHeartbeat:
    """Record that the worker ``name`` ran just now (one small upsert)."""
    heartbeat, _created = WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": now or timezone.now()}
    )
    return heartbeat


def heartbeat_latest() -> datetime.datetime | None:
    """When any worker was last seen, or None when none ever was."""
    return WorkerHeartbeat.objects.aggregate(latest=Max("seen_at"))["latest"]
