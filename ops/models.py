"""Operations data: the worker's heartbeat, which /readyz reads."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a django-q2 worker on a machine ran the heartbeat schedule (``ops.tasks``).

    One row per worker machine (its host name); /readyz takes the newest. A fresh row shows that the scheduler
    and at least one worker process are running, not only that the worker's service is up."""

    name = models.CharField(max_length=100, unique=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
