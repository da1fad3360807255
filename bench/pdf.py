"""Benchmark of what a customer receives (issue 5): PDF rendering and issue-and-send through the worker.

``bench_pdf(lines)`` is called by ``bench/run.py`` after Django is set up on the bench database; it appends a
markdown section to ``lines``:

- warm render of a 1-page invoice: p50 and p95 over 20 renders (context queries included, as in the worker);
- a 50-page invoice (2,500 lines on 500 proformas): time and peak memory, rendered in a forked process so its
  peak resident memory is its own;
- issue-and-send of 1,000 invoices through the worker: the drafts are issued (each issue queues its delivery
  task in the ORM broker), then a real ``manage.py qcluster`` with 2 workers drains the queue (PDF
  rendered and stored, e-mail sent to an in-memory backend); invoices/s over the whole run.

Run it alone with ``BENCH_DATABASE_URL=postgres://.../octoo_pdf_bench .venv/bin/python bench/pdf.py``.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INVOICES = int(os.environ.get("BENCH_PDF_INVOICES", "1000"))
BIG_PROFORMAS, BIG_SLIPS_EACH = 500, 5
WARM_RENDERS = 20
CLUSTER_WORKERS = 2
CLUSTER_TIMEOUT = float(os.environ.get("BENCH_PDF_TIMEOUT", "1800"))


def _mib(kib: float) -> float:
    return kib / 1024


def _current_rss_kib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _partner():
    from customers.models import Partner

    return Partner.objects.create(
        name="PDF Bench Interpreting",
        slug="pdf-bench",
        legal_name="PDF Bench Interpreting Services LLC",
        address="12 Wharf Street\nPortland, ME 04101",
        tax_id="12-3456789",
        email="billing@pdf-bench.example",
    )


def _customer(partner, name: str, **kwargs):
    from customers.models import BillingContact, Customer

    customer = Customer.objects.create(partner=partner, name=name, **kwargs)
    BillingContact.objects.create(
        customer=customer,
        name=f"AP {name}",
        email=f"ap-{customer.pk}@pdf-bench.example",
        address="400 Main St\nPortland, ME 04102",
        is_default=True,
    )
    return customer


SLIP_SHAPES = [  # (type, schedule, description, quantity, bill rate, pay rate, taxed)
    ("service", "weekday", "Interpreting – weekday (2.5 h)", "2.5", 8500, 5500, True),
    ("prep_time", "weekday", "Prep time (30 min)", "0.5", 4000, 3000, True),
    ("mileage", "", "Mileage (12.5 mi)", "12.5", 67, 60, False),
    ("tolls", "", "Tolls", "1", 650, 650, False),
    ("booking_fee", "", "Booking fee", "1", 500, 0, True),
]


def _slip(partner, position: int, shape: tuple, **owner):
    """A priced slip of one of ``SLIP_SHAPES`` on a proforma or an invoice (``owner``), not yet saved."""
    from invoicing.models import Slip
    from invoicing.pricing import slip_price

    kind, schedule, description, quantity, bill, pay, taxed = shape
    return slip_price(
        Slip(
            partner=partner,
            position=position,
            slip_type=kind,
            pay_schedule=schedule,
            description=description,
            quantity=Decimal(quantity),
            bill_rate_units=Decimal(bill),
            pay_rate_units=Decimal(pay),
            tax_rate=Decimal("8.25") if taxed else Decimal(0),
            **owner,
        )
    )


def _draft_with_proformas(partner, customer, provider, proformas: int, slips_each: int, start: int):
    """A draft AR invoice of ``proformas`` proformas of ``slips_each`` priced slips each (bulk inserted)."""
    from invoicing.models import Invoice, InvoiceProforma, Proforma, Slip
    from invoicing.pricing import invoice_totals_refresh, proforma_totals_refresh

    day = datetime.date.today().replace(day=1) - datetime.timedelta(days=1)
    rows = Proforma.objects.bulk_create(
        [
            Proforma(
                partner=partner,
                customer=customer,
                provider=provider,
                number=f"PF-BENCH-{start + i:06d}",
                service_date=day - datetime.timedelta(days=i % 28),
                expense_code_key="PO: 4471",
            )
            for i in range(proformas)
        ]
    )
    slips = [
        _slip(partner, position, SLIP_SHAPES[position % len(SLIP_SHAPES)], proforma=proforma)
        for proforma in rows
        for position in range(slips_each)
    ]
    Slip.objects.bulk_create(slips, batch_size=2000)
    for proforma in rows:
        proforma_totals_refresh(proforma)
    invoice = Invoice.objects.create(
        partner=partner,
        kind=Invoice.Kind.AR,
        customer=customer,
        currency=partner.currency,
        expense_code_key="PO: 4471",
        payment_terms_days=30,
    )
    InvoiceProforma.objects.bulk_create(
        [InvoiceProforma(invoice=invoice, proforma=p, kind="ar", position=i) for i, p in enumerate(rows)]
    )
    return invoice_totals_refresh(invoice)


def _render_in_child(html: str, queue) -> None:
    """In a fresh interpreter (spawned, not forked from this bench process and its data): like a worker
    process, Django set up and nothing else, so its peak RSS is what rendering costs a worker."""
    import django

    django.setup()
    from invoicing.pdf.engine import html_to_pdf

    html_to_pdf("<p>warm-up</p>")  # fonts and stylesheet loaded once per process, as in a worker
    before = _current_rss_kib()
    started, cpu = time.perf_counter(), time.process_time()
    data = html_to_pdf(html)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((elapsed, cpu, before, peak, len(data), _page_count(data)))


def _page_count(data: bytes) -> int:
    try:
        import io

        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(data)).pages)
    except ImportError:  # pypdf is a dev dependency
        return 0


def bench_renders(partner, lines: list[str]) -> None:
    from django.template.loader import render_to_string

    from customers.models import Provider
    from invoicing.lifecycle import invoice_issue
    from invoicing.pdf.contents import invoice_pdf_context
    from invoicing.pdf.documents import invoice_pdf_bytes

    provider = Provider.objects.create(partner=partner, name="Bench Provider")
    customer = _customer(partner, "Mercy General Hospital")

    # A 1-page invoice: 2 proformas of 5 lines, issued (no watermark), rendered warm 20 times.
    small = invoice_issue(invoice=_draft_with_proformas(partner, customer, provider, 2, 5, start=0))
    first_started = time.perf_counter()
    data = invoice_pdf_bytes(invoice=small)  # the first render loads the fonts (once per process)
    first = time.perf_counter() - first_started
    walls, cpus = [], []
    for _ in range(WARM_RENDERS):
        started, cpu = time.perf_counter(), time.process_time()
        invoice_pdf_bytes(invoice=small)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    small_pages = _page_count(data)

    # A 50-page invoice: 2,500 lines on 500 proformas.
    big = invoice_issue(
        invoice=_draft_with_proformas(partner, customer, provider, BIG_PROFORMAS, BIG_SLIPS_EACH, start=100)
    )
    started = time.perf_counter()
    html = render_to_string("invoicing/pdf/invoice.html", invoice_pdf_context(big))
    prepare = time.perf_counter() - started
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_render_in_child, args=(html, queue))
    child.start()
    elapsed, cpu, before, peak, size, big_pages = queue.get()
    child.join()

    lines += [
        "### Invoice PDFs (WeasyPrint 70, bundled DejaVu Sans, libharfbuzz-subset)",
        "",
        "| document | renders | wall time | CPU time | memory | size |",
        "|---|---|---|---|---|---|",
        f"| 1-page invoice, 10 lines ({small_pages or '?'} page), warm | {WARM_RENDERS} "
        f"| p50 {_percentile(walls, 0.5) * 1000:.0f} ms, p95 {_percentile(walls, 0.95) * 1000:.0f} ms "
        f"(first, fonts loading: {first * 1000:.0f} ms) "
        f"| p50 {_percentile(cpus, 0.5) * 1000:.0f} ms | | {len(data) / 1024:.0f} KiB |",
        f"| {BIG_PROFORMAS * BIG_SLIPS_EACH:,}-line invoice on {BIG_PROFORMAS} proformas "
        f"({big_pages or '?'} pages) | 1 | {prepare + elapsed:.1f} s "
        f"(context and template {prepare:.1f} s) | {cpu:.1f} s "
        f"| peak RSS {_mib(peak):.0f} MiB of a fresh worker-like process (+{_mib(peak - before):.0f} MiB over the "
        "warmed-up process) "
        f"| {size / 1024:.0f} KiB |",
        "",
        "Goals: 1-page p50 <= 200 ms; 50-page <= 20 s and <= 300 MB.",
        "",
    ]


def _cluster_env(media_root: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "MEDIA_ROOT": media_root,  # the stored PDFs go to a scratch folder, removed afterwards
            "Q_WORKERS": str(CLUSTER_WORKERS),
            "Q_SYNC": "0",
            "EMAIL_URL": "memorymail://",  # Django's locmem backend inside the workers: nothing leaves
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "octoo_billing.settings",
        }
    )
    return env


def bench_issue_and_send(partner, lines: list[str]) -> None:
    from django.db import connection
    from django_q.models import OrmQ, Task

    from customers.models import BillingContact, Customer
    from invoicing.lifecycle import invoice_issue
    from invoicing.models import Invoice, Slip
    from invoicing.pricing import invoice_totals_refresh

    customers = Customer.objects.bulk_create(
        [Customer(partner=partner, name=f"Send Customer {i:05d}", auto_send=True) for i in range(INVOICES)]
    )
    BillingContact.objects.bulk_create(
        [
            BillingContact(customer=c, name=f"AP {c.name}", email=f"ap{c.pk}@pdf-bench.example", is_default=True)
            for c in customers
        ]
    )
    invoices = Invoice.objects.bulk_create(
        [Invoice(partner=partner, kind="ar", customer=c, currency=partner.currency) for c in customers]
    )
    slips = [
        _slip(partner, position, shape, invoice=invoice)
        for invoice in invoices
        for position, shape in enumerate(SLIP_SHAPES[:3])
    ]
    Slip.objects.bulk_create(slips, batch_size=2000)
    for invoice in invoices:
        invoice_totals_refresh(invoice)
    ids = [invoice.pk for invoice in invoices]
    # Only this run's tasks: earlier benches' issues queued theirs and no worker ran them.
    purged, _ = OrmQ.objects.all().delete()
    Task.objects.all().delete()

    started = time.perf_counter()
    for invoice in Invoice.objects.filter(pk__in=ids).order_by("pk"):
        invoice_issue(invoice=invoice)  # on commit: queue the delivery task (PDF, then e-mail)
    issued_s = time.perf_counter() - started
    queued = OrmQ.objects.count()
    connection.close()

    media_root = tempfile.mkdtemp(prefix="octoo-pdf-bench-")
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=_cluster_env(media_root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    drain_started = time.perf_counter()
    done = 0
    try:
        while time.perf_counter() - drain_started < CLUSTER_TIMEOUT:
            time.sleep(1)
            done = Invoice.objects.filter(pk__in=ids, sent_at__isnull=False).exclude(pdf="").count()
            if done == len(ids) and not OrmQ.objects.exists():
                break
    finally:
        drained_s = time.perf_counter() - drain_started
        os.killpg(cluster.pid, signal.SIGTERM)  # our own cluster's process group only
        try:
            cluster.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
        shutil.rmtree(media_root, ignore_errors=True)
    failed = Task.objects.filter(success=False).count()
    sent = Invoice.objects.filter(pk__in=ids, sent_at__isnull=False).count()
    stored = Invoice.objects.filter(pk__in=ids).exclude(pdf="").count()
    total_s = issued_s + drained_s
    lines += [
        f"### Issue and send {INVOICES:,} invoices through the worker (django-q2 ORM broker, "
        f"{CLUSTER_WORKERS} workers, PostgreSQL)",
        "",
        "| step | invoices | time | rate |",
        "|---|---|---|---|",
        f"| issue (each queues its delivery task: {queued:,} tasks) | {INVOICES:,} | {issued_s:.1f} s "
        f"| {INVOICES / issued_s:,.0f} invoices/s |",
        f"| worker: render and store the PDF, e-mail it with the PDF attached | {sent:,} sent, {stored:,} PDFs "
        f"| {drained_s:.1f} s | {sent / drained_s:,.1f} invoices/s |",
        f"| issue-and-send, end to end | {sent:,} | {total_s:.1f} s | **{sent / total_s:,.1f} invoices/s** |",
        "",
        f"Failed tasks: {failed}. Tasks left queued by earlier benches and purged first: {purged:,}. "
        "The rendering is CPU-bound: throughput grows with the worker count up to the cores.",
        "",
    ]
    if sent != INVOICES or done != INVOICES:
        lines.append(f"WARNING: only {sent:,} of {INVOICES:,} invoices were sent within {CLUSTER_TIMEOUT:.0f} s.")
        lines.append("")


def bench_pdf(lines: list[str]) -> None:
    partner = _partner()
    bench_renders(partner, lines)
    bench_issue_and_send(partner, lines)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench import run  # sets the bench environment (BENCH_DATABASE_URL, DEBUG=0, settings)

    run.recreate_database()
    run.setup_django()
    out: list[str] = []
    bench_pdf(out)
    print("\n".join(out))
