"""deploy/ (issue 17): the gunicorn config, the nginx site, the systemd units and the env file example hold what an
operator relies on; the load test's invariant checks (bench/loadtest.py) catch a planted duplicate number, a
missing number, a double-billed proforma and a missing PDF, so they can fail; its results.md section survives
`make bench`."""

import importlib.util
import os
import re
import runpy
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection

from bench import loadtest
from invoicing.models import Invoice, InvoiceProforma, NumberCounter
from invoicing.outbox_work import outbox_run
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def gunicorn_config(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_") and k != "WEB_CONCURRENCY"}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def test_the_gunicorn_config_has_sane_production_values():
    config = gunicorn_config()
    assert config["bind"] == ["127.0.0.1:8000"]
    assert config["workers"] == os.cpu_count() * 2 + 1
    assert config["worker_class"] == "sync"
    assert 10 <= config["timeout"] <= 300 and config["graceful_timeout"] <= config["timeout"]
    assert 0 < config["max_requests_jitter"] < config["max_requests"]
    assert config["preload_app"] is True
    assert config["worker_tmp_dir"] == "/dev/shm"
    assert "127.0.0.1" in config["forwarded_allow_ips"]
    assert config["accesslog"] == "-" and "x-request-id" in config["access_log_format"]
    assert config["control_socket_disable"] is True  # two nodes on one machine would share ~/.gunicorn's socket


def test_the_gunicorn_config_reads_its_bind_and_workers_from_the_environment():
    config = gunicorn_config(GUNICORN_BIND="0.0.0.0:8002", WEB_CONCURRENCY="3", GUNICORN_PRELOAD="0")
    assert config["bind"] == ["0.0.0.0:8002"] and config["workers"] == 3 and config["preload_app"] is False


def nginx_checks(conf: str) -> None:
    upstream = re.search(r"upstream octoo_web \{(.*?)\}", conf, re.S).group(1)
    assert len(re.findall(r"^\s*server \S+", upstream, re.M)) == 2
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
    assert re.search(r"proxy_set_header X-Request-ID \$\w+;", conf)
    retry = re.search(r"proxy_next_upstream ([^;]+);", conf).group(1).split()
    assert "error" in retry and "timeout" in retry
    assert "non_idempotent" not in retry  # a POST that reached a node is never sent to another
    assert "http_503" not in retry  # a node answering 503 (not ready) must not take the others out with it
    size = re.search(r"client_max_body_size (\d+)m;", conf).group(1)
    assert int(size) * 1024 * 1024 > settings.SUPPORTING_DOCUMENT_MAX_BYTES


def topology():
    spec = importlib.util.spec_from_file_location("octoo_topology_test", DEPLOY / "topology.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_nginx_site_balances_two_nodes_and_passes_the_client_address():
    conf = (DEPLOY / "nginx" / "octoo.conf").read_text()
    nginx_checks(conf)
    assert "alias /srv/octoo/staticfiles/;" in conf


def test_the_topology_runs_the_same_nginx_directives_on_loopback():
    module = topology()
    conf = module.nginx_conf()
    nginx_checks(conf)
    assert f"alias {settings.STATIC_ROOT}/;" in conf
    assert re.findall(r"listen (\S+);", conf) == ["127.0.0.1:8080"]
    assert re.findall(r"server (127\.0\.0\.1:\d+)", conf) == ["127.0.0.1:8001", "127.0.0.1:8002"]


def test_the_systemd_units_start_gunicorn_per_port_and_the_worker():
    web = (DEPLOY / "systemd" / "octoo-web@.service").read_text()
    worker = (DEPLOY / "systemd" / "octoo-worker.service").read_text()
    assert "gunicorn -c /srv/octoo/deploy/gunicorn.conf.py octoo_billing.wsgi" in web
    assert "Environment=GUNICORN_BIND=0.0.0.0:%i" in web
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/octoo-web-%i" in web and "RuntimeDirectory=octoo-web-%i" in web
    assert "manage.py qcluster" in worker
    for unit in (web, worker):
        assert "EnvironmentFile=/etc/octoo/octoo.env" in unit and "Restart=always" in unit


def test_the_env_example_names_every_production_variable_of_the_settings():
    example = (DEPLOY / "octoo.env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    sources = [ROOT / "octoo_billing" / "settings.py", ROOT / "octoo_billing" / "storage.py"]
    used = {name for path in sources for name in re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', path.read_text())}
    used -= {"TEST_DATABASE_NAME"}  # the test suite's
    assert used and not used - named, f"missing from deploy/octoo.env.example: {sorted(used - named)}"
    for name in ("Q_BROKER", "METRICS_TOKEN", "LOG_FORMAT", "MEDIA_STORAGE", "TRUSTED_PROXY_COUNT"):
        assert name in named


# --- the load test's invariant checks -------------------------------------------------------------------------


def drop_index(name: str) -> None:
    """Inside the test's transaction (rolled back after it): lift a unique index so a bad row can be planted."""
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX "{name}"')


@pytest.fixture
def customer():
    return factories.CustomerFactory(auto_send=True)


@pytest.mark.django_db
def test_the_numbering_check_flags_a_planted_duplicate_number(customer):
    first = factories.issued_invoice(customer, deliver=False)
    factories.issued_invoice(customer, deliver=False)
    assert loadtest.numbering_problems() == ([], {"numbers checked": 2})
    drop_index("invoice_number_unique")
    drop_index("invoice_sequence_unique")
    factories.InvoiceFactory(
        customer=customer,
        status=Invoice.Status.PENDING,
        number=first.number,
        sequence=first.sequence,
        issue_date=first.issue_date,
        due_date=first.due_date,
    )
    problems, _ = loadtest.numbering_problems()
    assert f"duplicate number {first.number} (AR, partner #{customer.partner_id}, 2 invoices)" in problems
    assert any(p.startswith(f"duplicate sequence {first.sequence} ") for p in problems)


@pytest.mark.django_db
def test_the_numbering_check_flags_a_missing_number(customer):
    factories.issued_invoice(customer, deliver=False)
    NumberCounter.objects.filter(partner=customer.partner, series="ar").update(last_value=3)  # 2 and 3 skipped
    problems, _ = loadtest.numbering_problems()
    assert problems == [f"missing AR numbers of partner #{customer.partner_id}: 2, 3"]


@pytest.mark.django_db
def test_the_numbering_check_of_a_run_needs_only_the_numbers_taken_during_it(customer):
    factories.issued_invoice(customer, deliver=False)
    NumberCounter.objects.filter(partner=customer.partner, series="ar").update(last_value=5)  # moved forward
    before = loadtest.number_counters()
    factories.issued_invoice(customer, deliver=False)  # number 6
    assert loadtest.numbering_problems(counters_before=before) == ([], {"numbers checked": 1})
    assert loadtest.numbering_problems()[0]  # the whole series has the gap


@pytest.mark.django_db
def test_the_proforma_check_flags_a_planted_double_billed_proforma(customer):
    proforma = factories.proforma_with_slips(customer=customer)
    factories.draft_with_proformas(proformas=[proforma], customer=customer)
    assert loadtest.proforma_problems()[0] == []
    drop_index("proforma_on_one_live_invoice_per_kind")
    second = factories.InvoiceFactory(customer=customer)
    InvoiceProforma.objects.create(invoice=second, proforma=proforma, kind="ar")
    problems, _ = loadtest.proforma_problems()
    assert problems == [f"proforma #{proforma.pk} on 2 live AR invoices"]


@pytest.mark.django_db
def test_the_delivery_check_flags_an_invoice_without_its_pdf_or_e_mail_until_the_worker_delivers(customer):
    invoice = factories.issued_invoice(customer)
    problems, facts = loadtest.delivery_problems()
    assert f"{invoice.number}: no stored PDF" in problems
    assert any(p.startswith(f"{invoice.number}: e-mail job pending") for p in problems)
    outbox_run()
    assert loadtest.delivery_problems() == ([], {"issued invoices checked": 1, "with an e-mail due": 1, "copies": 0})


@pytest.mark.django_db
def test_the_delivery_check_counts_the_e_mails_the_backend_wrote(customer, tmp_path):
    from invoicing.models import OutboxJob
    from invoicing.outbox import message_id

    invoice = factories.issued_invoice(customer)
    outbox_run()
    problems, _ = loadtest.delivery_problems(mail_dir=tmp_path)
    assert problems == [f"{invoice.number}: no e-mail written"]
    job = OutboxJob.objects.get(invoice=invoice, kind="email")
    (tmp_path / "1.log").write_text(f"Subject: x\nMessage-ID: {message_id(job)}\n\nbody\n")
    assert loadtest.delivery_problems(mail_dir=tmp_path)[0] == []
    (tmp_path / "2.log").write_text(f"Subject: x\nMessage-ID: {message_id(job)}\n\nbody\n")
    assert loadtest.delivery_problems(mail_dir=tmp_path)[0] == [f"{invoice.number}: its e-mail was written 2 times"]


def test_the_nginx_summary_counts_requests_per_node_failovers_and_server_errors(tmp_path):
    log = tmp_path / "access.log"
    old = '127.0.0.1 "GET /old HTTP/1.1" 200 5 0.001 upstream=127.0.0.1:8001 upstream_status=200 rid=a\n'
    log.write_text(
        old
        + '127.0.0.1 "GET /a HTTP/1.1" 200 5 0.010 upstream=127.0.0.1:8001 upstream_status=200 rid=b\n'
        + '127.0.0.1 "GET /b HTTP/1.1" 200 5 0.020 upstream=127.0.0.1:8002, 127.0.0.1:8001 '
        "upstream_status=502, 200 rid=c\n"
        + '127.0.0.1 "POST /c HTTP/1.1" 502 5 0.020 upstream=127.0.0.1:8002 upstream_status=502 rid=d\n'
    )
    summary = loadtest.nginx_summary(log, len(old))
    assert summary == {"per node": {"127.0.0.1:8001": 2, "127.0.0.1:8002": 1}, "failover": 1, "5xx": 1}


# --- results.md ---------------------------------------------------------------------------------------------------


def test_the_load_test_section_replaces_its_previous_one_and_survives_make_bench(tmp_path, monkeypatch):
    with mock.patch.dict(os.environ):  # bench.run points DATABASE_URL at the bench database when imported
        from bench import run, table
    results = tmp_path / "results.md"
    results.write_text("# Benchmark results\n\nRun 1.\n\n### PDFs\n\n| a |\n")
    loadtest.section_write([loadtest.SECTION_TITLE, "", "old figures"], results)
    loadtest.section_write([loadtest.SECTION_TITLE, "", "**12.0 requests/s**"], results)
    text = results.read_text()
    assert text.count(loadtest.SECTION_TITLE) == 1 and "old figures" not in text and "### PDFs" in text
    monkeypatch.setattr(table, "LINES", [])
    header = ["# Benchmark results", "", "Run 2.", ""]
    after = run.results_text(header=header, details=["### Details", ""], previous=text)
    assert after.count(loadtest.SECTION_TITLE) == 1 and "**12.0 requests/s**" in after
    assert after.index("### Details") < after.index(loadtest.SECTION_TITLE)
    again = run.results_text(header=header, details=["### Details", ""], previous=after)
    assert again.count(loadtest.SECTION_TITLE) == 1 and "**12.0 requests/s**" in again
