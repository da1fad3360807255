"""/metrics: protected by its bearer token, in Prometheus' text format, never failing on a failed read."""

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError, connections
from django.urls import reverse
from django_q.models import Task
from prometheus_client.parser import text_string_to_metric_families

from invoicing.models import OutboxJob
from ops import metrics
from tests import factories

TOKEN = "test-metrics-token-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, token=TOKEN):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_is_404_while_no_token_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_metrics_asks_for_a_token_and_refuses_a_wrong_one(client, token):
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {token}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}x").status_code == 403


def test_metrics_with_the_right_token_reads_the_database(client, db, token, customer):
    factories.issued_invoice(customer)
    factories.issued_invoice(customer)
    Task.objects.create(id="t1", name="t1", func="x.y", started="2026-01-01T00:00Z", stopped="2026-01-01T00:00Z")
    Task.objects.filter(id="t1").update(success=False)
    pending = OutboxJob.objects.filter(status=OutboxJob.Status.PENDING).count()
    assert pending  # issuing left its delivery work (PDF, ...) in the outbox

    samples = scrape(client)

    assert sample(samples, "octoo_invoices_issued_total", kind="ar") == 2
    assert sample(samples, "octoo_invoices_issued_total", kind="ap") == 0
    assert sample(samples, "octoo_outbox_jobs", status="pending") == pending
    assert sample(samples, "octoo_outbox_jobs", status="failed") == 0
    assert sample(samples, "octoo_task_failures") == 1
    assert sample(samples, "octoo_task_queue_depth") == 0
    for collector in metrics.READS:
        assert sample(samples, "octoo_metrics_collector_ok", collector=collector) == 1


def test_the_request_count_grows_with_each_request(client, db, token):
    labels = {"method": "GET", "view": "login", "status": "2xx"}
    before = sample(scrape(client), "octoo_http_requests_total", **labels) or 0
    assert client.get(reverse("login")).status_code == 200
    samples = scrape(client)
    assert sample(samples, "octoo_http_requests_total", **labels) == before + 1
    assert sample(samples, "octoo_http_request_duration_seconds_count", view="login") >= 1


def test_an_unknown_method_and_an_unmatched_address_keep_labels_few(client, db, token):
    client.generic("BREW", "/no/such/page/")
    samples = scrape(client)
    assert sample(samples, "octoo_http_requests_total", method="other", view="unmatched", status="4xx") >= 1


def test_a_failing_read_is_reported_not_raised(client, db, token, monkeypatch):
    def broken():
        raise RuntimeError("collector bug")

    monkeypatch.setitem(metrics.READS, "task_failures", broken)
    samples = scrape(client)
    assert sample(samples, "octoo_metrics_collector_ok", collector="task_failures") == 0
    assert sample(samples, "octoo_metrics_collector_ok", collector="invoices") == 1
    assert sample(samples, "octoo_task_failures") is None


def test_metrics_still_answer_with_the_database_down(client, db, token):
    with mock.patch.object(connections["default"], "cursor", side_effect=OperationalError("connection refused")):
        samples = scrape(client)
    for collector in ("outbox", "task_failures", "invoices"):
        assert sample(samples, "octoo_metrics_collector_ok", collector=collector) == 0
    assert sample(samples, "octoo_metrics_collector_ok", collector="http") == 1


RECORD_IN_TWO_PROCESSES = """
import os
import django

django.setup()
from ops.metrics import request_observe

child = os.fork()
request_observe(method="GET", view="office:invoices", status=200, seconds=0.02)
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
"""


def test_multiprocess_mode_adds_up_every_worker_process(tmp_path, monkeypatch):
    """Gunicorn's workers each write their counts to PROMETHEUS_MULTIPROC_DIR; a scrape adds them up."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "octoo_billing.settings_test",
    }
    subprocess.run([sys.executable, "-c", RECORD_IN_TWO_PROCESSES], cwd=ROOT, env=env, check=True, timeout=120)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for family in metrics.http_metrics() for s in family.samples
    }
    labels = (("method", "GET"), ("status", "2xx"), ("view", "office:invoices"))
    assert found[("octoo_http_requests_total", labels)] == 2
    assert found[("octoo_http_request_duration_seconds_count", (("view", "office:invoices"),))] == 2
