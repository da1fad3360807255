"""Benchmark of what a customer receives (issue 5): PDF rendering and issue-and-send through the worker.

``bench_pdf(lines)`` is called by ``bench/run.py`` after Django is set up on the bench database; it appends a
markdown section to ``lines``:

- warm render of a 1-page invoice: p50 and p95 over 20 renders (context queries included, as in the worker),
  interleaved with renders of the same invoice through today's template, stylesheet and engine call (a copy kept
  in ``bench/pdf_today/``): the figure is their ratio in the same run (issue 15: <= 0.8x);
- a 50-page invoice (2,500 lines on 500 proformas): time and peak memory, rendered in a spawned process so its
  peak resident memory (VmHWM: the process's own, see ``_peak_rss_kib``) is what rendering costs a worker;
- issue-and-send of 1,000 invoices through the worker: the drafts are issued (each issue queues its delivery
  task in the ORM broker), then a real ``manage.py qcluster`` with 2 workers drains the queue (PDF
  rendered and stored, e-mail sent to an in-memory backend); invoices/s over the whole run, against the limit
  rendering sets in the same run: workers / CPU time of one render (issue 15: >= 0.9x). Alongside: the CPU the
  cluster's processes and their PostgreSQL backends used per invoice, and how busy the machine's cores were (on a
  shared machine the wall-clock ratio also measures what else runs; the CPU per invoice does not).

Each figure is also a line of the run's summary table (``bench.table.record``).

Run it alone with ``BENCH_DATABASE_URL=postgres://.../octoo_pdf_bench .venv/bin/python bench/pdf.py``
(``BENCH_PDF_RENDERS_ONLY=1``: the render figures only, without the worker).
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
TODAY_TEMPLATES = ROOT / "bench" / "pdf_today"
CLUSTER_WORKERS = 2
WARMUP_INVOICES = 20  # sent before the issue-and-send clock starts: the worker's start-up and first renders
CLUSTER_TIMEOUT = float(os.environ.get("BENCH_PDF_TIMEOUT", "1800"))
# BENCH_PDF_RENDERS_ONLY=1: the 1-page and 50-page figures only, without issue-and-send through the worker.
RENDERS_ONLY = os.environ.get("BENCH_PDF_RENDERS_ONLY", "") not in ("", "0")


def _mib(kib: float) -> float:
    return kib / 1024


def _current_rss_kib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024


def _peak_rss_kib() -> float:
    """This process's peak resident memory since it started (VmHWM). Not ``ru_maxrss``: a spawned child's
    ``ru_maxrss`` starts at its parent's peak (Linux carries the high-water mark of the memory map it replaces at
    exec over to the new program), so it reported the bench process's 340 MiB rather than the render's own."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


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
    peak = _peak_rss_kib()
    queue.put((elapsed, cpu, before, peak, len(data), _page_count(data)))


def _page_count(data: bytes) -> int:
    try:
        import io

        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(data)).pages)
    except ImportError:  # pypdf is a dev dependency
        return 0


_today: dict = {}


def _today_assets():
    """Today's template engine, fonts and print stylesheet (``bench/pdf_today/``), built once like the app's."""
    if not _today:
        from django.conf import settings
        from django.template import Context, Engine
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        from invoicing.pdf import engine

        templates = Engine(dirs=[str(TODAY_TEMPLATES)], libraries={"money": "invoicing.templatetags.money"})
        font_config = FontConfiguration()
        static = engine._url_prefix(settings.STATIC_URL)
        font_urls = {k: f"{engine.APP_ORIGIN}{static}{v}" for k, v in engine.FONT_FILES.items()}
        css_text = templates.get_template("invoicing/pdf/print.css").render(Context({"font_urls": font_urls}))
        css = CSS(string=css_text, base_url=engine.BASE_URL, url_fetcher=engine.url_fetcher(), font_config=font_config)
        _today.update(templates=templates, font_config=font_config, css=css)
    return _today


def today_invoice_pdf_bytes(*, invoice) -> bytes:
    """The invoice rendered as before issue 15: today's template and stylesheet, today's engine call."""
    from django.template import Context
    from django.utils import timezone
    from weasyprint import HTML

    from invoicing.pdf import engine
    from invoicing.pdf.contents import invoice_pdf_context

    assets = _today_assets()
    context = invoice_pdf_context(invoice)
    with timezone.override(context["partner"].tzinfo):
        html_text = assets["templates"].get_template("invoicing/pdf/invoice.html").render(Context(context))
    with engine._lock:
        html = HTML(string=html_text, base_url=engine.BASE_URL, url_fetcher=engine.url_fetcher())
        engine._neutralise_attachments(html)
        document = html.render(font_config=assets["font_config"], stylesheets=[assets["css"]])
        document.metadata.attachments = []
        for page in document.pages:
            page.links = [link for link in page.links if link[0] != "attachment"]
        document.metadata.title = f"{context['title']} {context['number']}"
        document.metadata.authors = [context["partner"].name]
        document.metadata.generator = "Octoo Billing"
        return document.write_pdf()


def _text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def _timed(render) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    render()
    return time.perf_counter() - started, time.process_time() - cpu


def bench_renders(partner, lines: list[str]) -> float:
    """The 1-page and 50-page figures; returns the CPU time of one 1-page render (the worker's limit)."""
    from django.template.loader import render_to_string

    from bench.table import record
    from customers.models import Provider
    from invoicing.lifecycle import invoice_issue
    from invoicing.pdf.contents import invoice_pdf_context
    from invoicing.pdf.documents import invoice_pdf_bytes

    provider = Provider.objects.create(partner=partner, name="Bench Provider")
    customer = _customer(partner, "Mercy General Hospital")

    # A 1-page invoice: 2 proformas of 5 lines, issued (no watermark), rendered warm 20 times, each render
    # followed by one through today's template (their order alternates, so neither always runs second).
    small = invoice_issue(invoice=_draft_with_proformas(partner, customer, provider, 2, 5, start=0))
    first_started = time.perf_counter()
    data = invoice_pdf_bytes(invoice=small)  # the first render loads the fonts (once per process)
    first = time.perf_counter() - first_started
    today_data = today_invoice_pdf_bytes(invoice=small)
    same_text = _text(data) == _text(today_data)
    walls, cpus, today_walls, today_cpus = [], [], [], []
    for i in range(WARM_RENDERS):
        pair = [(walls, cpus, lambda: invoice_pdf_bytes(invoice=small))]
        pair.append((today_walls, today_cpus, lambda: today_invoice_pdf_bytes(invoice=small)))
        for wall_list, cpu_list, render in pair if i % 2 else reversed(pair):
            wall, cpu = _timed(render)
            wall_list.append(wall)
            cpu_list.append(cpu)
    small_pages, today_pages = _page_count(data), _page_count(today_data)
    cpu_p50, today_cpu_p50 = _percentile(cpus, 0.5), _percentile(today_cpus, 0.5)
    wall_p50, today_wall_p50 = _percentile(walls, 0.5), _percentile(today_walls, 0.5)
    ratio = cpu_p50 / today_cpu_p50

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
    big_s, big_mb = prepare + elapsed, peak * 1024 / 1e6

    lines += [
        "### Invoice PDFs (WeasyPrint 70, bundled DejaVu Sans, libharfbuzz-subset)",
        "",
        "| document | renders | wall time | CPU time | memory | size |",
        "|---|---|---|---|---|---|",
        f"| 1-page invoice, 10 lines ({small_pages or '?'} page), warm | {WARM_RENDERS} "
        f"| p50 {wall_p50 * 1000:.0f} ms, p95 {_percentile(walls, 0.95) * 1000:.0f} ms "
        f"(first, fonts loading: {first * 1000:.0f} ms) "
        f"| p50 {cpu_p50 * 1000:.0f} ms | | {len(data) / 1024:.0f} KiB |",
        f"| the same invoice through today's template and engine call (bench/pdf_today), in turn with the above "
        f"({today_pages or '?'} page) | {WARM_RENDERS} "
        f"| p50 {today_wall_p50 * 1000:.0f} ms, p95 {_percentile(today_walls, 0.95) * 1000:.0f} ms "
        f"| p50 {today_cpu_p50 * 1000:.0f} ms | | {len(today_data) / 1024:.0f} KiB |",
        f"| {BIG_PROFORMAS * BIG_SLIPS_EACH:,}-line invoice on {BIG_PROFORMAS} proformas "
        f"({big_pages or '?'} pages) | 1 | {big_s:.1f} s "
        f"(context and template {prepare:.1f} s) | {cpu:.1f} s "
        f"| peak RSS {_mib(peak):.0f} MiB of a fresh worker-like process (+{_mib(peak - before):.0f} MiB over the "
        "warmed-up process) "
        f"| {size / 1024:.0f} KiB |",
        "",
        f"1-page ratio to today's render, same run: CPU p50 {ratio:.2f}x, wall p50 {wall_p50 / today_wall_p50:.2f}x; "
        f"the two PDFs' text is {'the same' if same_text else 'DIFFERENT'}. "
        "Goals (issue 15): 1-page <= 0.8x today's render time; 50-page <= 10 s and <= 250 MB.",
        "",
    ]
    record(
        "PDF, 1-page invoice (CPU p50 per render, context included)",
        f"{cpu_p50 * 1000:.0f} ms",
        limit=f"today's template and engine call: {today_cpu_p50 * 1000:.0f} ms",
        ratio=f"{ratio:.2f}x",
        goal="<= 0.8x",
        met=ratio <= 0.8 and same_text and small_pages == 1,
    )
    # Judged on CPU time, as the 1-page line: on a shared machine the wall time is the render's CPU time stretched
    # by everyone else's load (both are shown).
    big_cpu = prepare + cpu
    record(
        f"PDF, {BIG_PROFORMAS * BIG_SLIPS_EACH:,}-line invoice ({big_pages} pages): CPU time (wall), peak RSS",
        f"{big_cpu:.1f} s CPU ({big_s:.1f} s wall), {big_mb:.0f} MB",
        goal="<= 10 s, <= 250 MB",
        met=big_cpu <= 10 and big_mb <= 250,
    )
    return cpu_p50


def _group_cpu_s(pgid: int) -> float:
    """CPU seconds of the processes in process group ``pgid`` (our qcluster: sentinel, pusher, monitor, workers),
    with their reaped children's (a recycled worker's)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; then utime, stime, cutime, cstime are fields 11-14
            total += sum(int(value) for value in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def _backends_cpu_s() -> float:
    """CPU seconds of the PostgreSQL backends connected to this database but this one (the cluster's: persistent
    connections, CONN_MAX_AGE), read from /proc (the server runs on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                total += sum(int(value) for value in handle.read().rsplit(")", 1)[1].split()[11:13])
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """CPU seconds every core of this machine spent busy since boot (everyone's: PostgreSQL, other processes)."""
    with open("/proc/stat") as handle:
        values = [int(value) for value in handle.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


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


def bench_issue_and_send(partner, lines: list[str], *, render_cpu: float) -> None:
    """Issue and send through the worker; ``render_cpu``: the CPU seconds of one 1-page render in this run."""
    from django_q.models import OrmQ, Task

    from bench.table import record
    from customers.models import BillingContact, Customer
    from invoicing.lifecycle import invoice_issue
    from invoicing.models import Invoice, OutboxJob, Slip
    from invoicing.pricing import invoice_totals_refresh

    customers = Customer.objects.bulk_create(
        [
            Customer(partner=partner, name=f"Send Customer {i:05d}", auto_send=True)
            for i in range(WARMUP_INVOICES + INVOICES)
        ]
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
    warm_ids = [invoice.pk for invoice in invoices[:WARMUP_INVOICES]]
    ids = [invoice.pk for invoice in invoices[WARMUP_INVOICES:]]
    # Only this run's work: earlier benches' issues queued their drain tasks and left their invoices' delivery jobs
    # (tens of thousands of PDFs and e-mails of synthetic invoices) in the outbox, which no worker ran; a worker
    # started now would render those first.
    purged, _ = OrmQ.objects.all().delete()
    Task.objects.all().delete()
    purged_jobs, _ = OutboxJob.objects.exclude(status=OutboxJob.Status.DONE).delete()

    def issue(pks):
        for invoice in Invoice.objects.filter(pk__in=pks).order_by("pk"):
            invoice_issue(invoice=invoice)  # on commit: queue the delivery task (PDF, then e-mail)

    def sent_all(pks, since: float) -> int:
        """Waits (polling every 0.1 s) until every one of ``pks`` is stored and sent and no task is left queued, or
        the timeout; the number done."""
        done = 0
        while time.perf_counter() - since < CLUSTER_TIMEOUT:
            done = Invoice.objects.filter(pk__in=pks, sent_at__isnull=False).exclude(pdf="").count()
            if done == len(pks) and not OrmQ.objects.exists():
                break
            time.sleep(0.1)
        return done

    # The worker runs before the clock starts, as in production, where a qcluster is always up: its start-up and
    # each worker process's first render (imports, fonts) are warmed by a few invoices sent first, and not timed.
    # Then the invoices are issued one by one while the worker sends them, from the first issue to the last e-mail.
    media_root = tempfile.mkdtemp(prefix="octoo-pdf-bench-")
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=_cluster_env(media_root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    done, issued_s, queued = 0, 0.0, 0
    cluster_before, backends_before = _group_cpu_s(cluster.pid), 0.0
    started, busy_started = time.perf_counter(), _machine_busy_s()
    try:
        issue(warm_ids)
        warmed = sent_all(warm_ids, time.perf_counter())
        cluster_before, backends_before = _group_cpu_s(cluster.pid), _backends_cpu_s()
        started, busy_started = time.perf_counter(), _machine_busy_s()
        if warmed == len(warm_ids):
            issue(ids)
            issued_s = time.perf_counter() - started
            queued = OrmQ.objects.count()
            done = sent_all(ids, started)
    finally:
        total_s = time.perf_counter() - started
        busy_s = _machine_busy_s() - busy_started
        cluster_cpu = _group_cpu_s(cluster.pid) - cluster_before
        backends_cpu = _backends_cpu_s() - backends_before
        os.killpg(cluster.pid, signal.SIGTERM)  # our own cluster's process group only
        try:
            cluster.wait(timeout=10)  # a SIGTERMed qcluster can hang in its stop: killed after 10 s
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
        shutil.rmtree(media_root, ignore_errors=True)
    failed = Task.objects.filter(success=False).count()
    sent = Invoice.objects.filter(pk__in=ids, sent_at__isnull=False).count()
    stored = Invoice.objects.filter(pk__in=ids).exclude(pdf="").count()
    lines += [
        f"### Issue and send {INVOICES:,} invoices through the worker (django-q2 ORM broker, "
        f"{CLUSTER_WORKERS} workers, PostgreSQL)",
        "",
        f"The worker is up before the clock starts, as in production (its start-up and first renders warmed by "
        f"{WARMUP_INVOICES} invoices sent first, not timed); the invoices are then issued one by one while it sends "
        "them, timed from the first issue to the last e-mail.",
        "",
        "| step | invoices | time | rate |",
        "|---|---|---|---|",
        f"| issue one by one (each queues its delivery task: {queued:,} tasks), while the worker sends | {INVOICES:,} "
        f"| {issued_s:.1f} s | {INVOICES / max(issued_s, 1e-9):,.0f} invoices/s |",
        f"| issue-and-send, end to end: PDF rendered and stored, e-mailed with the PDF attached | {sent:,} sent, "
        f"{stored:,} PDFs | {total_s:.1f} s | **{sent / total_s:,.1f} invoices/s** |",
        "",
        f"Meanwhile the cluster's processes used {cluster_cpu:.1f} s of CPU, "
        f"{cluster_cpu / max(sent, 1) * 1000:.0f} ms per invoice sent (the limit's 1-page render: "
        f"{render_cpu * 1000:.0f} ms; the invoices sent have 3 lines, it has 10), their PostgreSQL backends "
        f"{backends_cpu:.1f} s, {backends_cpu / max(sent, 1) * 1000:.1f} ms per invoice; the machine's "
        f"{os.cpu_count()} cores were busy {busy_s / total_s:.2f} on average (everyone's: the cluster, the issuing, "
        "PostgreSQL, other processes).",
        "",
        f"Failed tasks: {failed}. Left by earlier benches and purged first: {purged:,} queued tasks, "
        f"{purged_jobs:,} outbox jobs. "
        "The rendering is CPU-bound: throughput grows with the worker count up to the cores.",
        "",
    ]
    limit = CLUSTER_WORKERS / render_cpu  # invoices/s if rendering were all the workers did
    ratio = (sent / total_s) / limit
    lines += [
        f"Limit set by rendering in this run: {CLUSTER_WORKERS} workers / {render_cpu * 1000:.0f} ms CPU per 1-page "
        f"render = {limit:,.1f} invoices/s; issue-and-send reaches {ratio:.2f}x of it (goal >= 0.9x).",
        "",
    ]
    record(
        f"Issue and send {INVOICES:,} invoices through the worker ({CLUSTER_WORKERS} workers)",
        f"{sent / total_s:,.1f} invoices/s",
        limit=f"{CLUSTER_WORKERS} workers / {render_cpu * 1000:.0f} ms per render = {limit:,.1f} invoices/s",
        ratio=f"{ratio:.2f}x",
        goal=">= 0.9x",
        met=ratio >= 0.9 and failed == 0 and sent == INVOICES,
    )
    if sent != INVOICES or done != INVOICES:  # (the warm-up's invoices too, when they were not sent in time)
        lines.append(f"WARNING: only {sent:,} of {INVOICES:,} invoices were sent within {CLUSTER_TIMEOUT:.0f} s.")
        lines.append("")


def bench_pdf(lines: list[str]) -> None:
    partner = _partner()
    render_cpu = bench_renders(partner, lines)
    if RENDERS_ONLY:
        return
    bench_issue_and_send(partner, lines, render_cpu=render_cpu)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench import run  # sets the bench environment (BENCH_DATABASE_URL, DEBUG=0, settings)

    run.recreate_database()
    run.setup_django()
    from bench import table

    out: list[str] = []
    bench_pdf(out)
    print("\n".join([*table.markdown(), *out]))
