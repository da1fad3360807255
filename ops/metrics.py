"""Prometheus metrics, served at /metrics (``ops.views.metrics``).

Two kinds:

- **Per process**, recorded by ``ops.middleware.RequestMetricsMiddleware``: HTTP requests (by method, view and
  status class) and their latency. Gunicorn runs several worker processes, and each keeps its own counts: with
  ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory, emptied at each start of the node, in the environment
  before the app starts) every process writes its counts there and a scrape adds them up (prometheus_client's
  multiprocess mode). Without it, a scrape shows only the process that answered it.
- **Read from the database at scrape time**, so they are the same whichever node is asked and never double
  counted across nodes: the django-q2 queue's depth, outbox jobs by status, django-q2's recorded task failures,
  and the invoices issued. One cheap query each; a read that fails is left out and reported by
  ``octoo_metrics_collector_ok{collector=...} 0``, never by a failed scrape.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable

from django.db.models import Count
from django_q.models import Failure
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from invoicing.models import Invoice, OutboxJob

from .checks import broker

logger = logging.getLogger(__name__)

# The exposition format generate_latest writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Not registered anywhere: each scrape builds its own registry (below), so the database reads run only there.
HTTP_REQUESTS = Counter(
    "octoo_http_requests",
    "HTTP requests answered, by method, view (URL name) and status class.",
    ["method", "view", "status"],
    registry=None,
)
HTTP_LATENCY = Histogram(
    "octoo_http_request_duration_seconds",
    "Time to answer an HTTP request, by view (URL name).",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,
)
# Any other method a client makes up is counted as "other": labels stay few whatever is sent.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_VIEW = "unmatched"  # no URL pattern matched (404s, redirects made before routing)


def request_observe(*, method: str, view: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method if method in METHODS else "other", view, f"{status // 100}xx").inc()
    HTTP_LATENCY.labels(view).observe(seconds)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --- what a scrape reads ---------------------------------------------------------------------------------------


def http_metrics() -> Iterable[Metric]:
    path = multiprocess_dir()
    if path:
        return multiprocess.MultiProcessCollector(None, path=path).collect()
    return [*HTTP_REQUESTS.collect(), *HTTP_LATENCY.collect()]


def task_queue_metrics() -> Iterable[Metric]:
    return [
        GaugeMetricFamily(
            "octoo_task_queue_depth",
            "Tasks waiting in the django-q2 broker's queue (ORM or Redis).",
            value=broker().queue_size(),
        )
    ]


OUTBOX_STATUSES = (OutboxJob.Status.PENDING, OutboxJob.Status.RUNNING, OutboxJob.Status.FAILED)


def _counts_by(queryset, field: str) -> dict:
    """{value of ``field``: rows}, one grouped query."""
    return dict(queryset.order_by().values_list(field).annotate(rows=Count("pk")))


def outbox_metrics() -> Iterable[Metric]:
    counts = _counts_by(OutboxJob.objects.filter(status__in=OUTBOX_STATUSES), "status")
    family = GaugeMetricFamily(
        "octoo_outbox_jobs",
        "After-commit jobs (PDF, e-mail, charge, ...) not done: pending, running, or failed for good.",
        labels=["status"],
    )
    for status in OUTBOX_STATUSES:
        family.add_metric([status.value], counts.get(status, 0))
    return [family]


def task_failure_metrics() -> Iterable[Metric]:
    return [
        GaugeMetricFamily(
            "octoo_task_failures",
            "django-q2 tasks recorded as failed (kept until deleted in the admin).",
            value=Failure.objects.count(),
        )
    ]


def invoice_metrics() -> Iterable[Metric]:
    counts = _counts_by(Invoice.objects.filter(number__isnull=False), "kind")
    family = CounterMetricFamily(
        "octoo_invoices_issued",
        "Invoices issued (numbered, void ones included), by kind: read from the database, the same on every node.",
        labels=["kind"],
    )
    for kind in Invoice.Kind:
        family.add_metric([kind.value], counts.get(kind, 0))
    return [family]


READS: dict[str, Callable[[], Iterable[Metric]]] = {
    "http": http_metrics,
    "task_queue": task_queue_metrics,
    "outbox": outbox_metrics,
    "task_failures": task_failure_metrics,
    "invoices": invoice_metrics,
}


class ScrapeCollector:
    """Runs every read; one that fails is logged and shown as ``octoo_metrics_collector_ok 0``."""

    def __init__(self, reads: dict[str, Callable[[], Iterable[Metric]]]):
        self.reads = reads

    def collect(self) -> Iterable[Metric]:
        ok = GaugeMetricFamily(
            "octoo_metrics_collector_ok", "1 when the collector's read succeeded in this scrape.", labels=["collector"]
        )
        for name, read in self.reads.items():
            try:
                metrics = list(read())
            except Exception:  # noqa: BLE001 - one failed read must not fail the scrape
                logger.warning("metrics collector %s failed", name, exc_info=True)
                ok.add_metric([name], 0)
                continue
            ok.add_metric([name], 1)
            yield from metrics
        yield ok


def scrape() -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry()
    registry.register(ScrapeCollector(READS))
    return generate_latest(registry)
