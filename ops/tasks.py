"""django-q2 tasks of the ops app. The schedule that runs them: ``manage.py setup_schedules``."""

from __future__ import annotations

from .heartbeat import heartbeat_record, worker_name

# The name of the schedule (manage.py setup_schedules) and its task.
HEARTBEAT_SCHEDULE = "Worker heartbeat"
HEARTBEAT_TASK = "ops.tasks.worker_heartbeat_task"


def worker_heartbeat_task() -> str:
    """Every minute: record that a worker on this machine is alive (read by /readyz)."""
    heartbeat = heartbeat_record(name=worker_name())
    return f"{heartbeat.name} seen at {heartbeat.seen_at.isoformat()}"
