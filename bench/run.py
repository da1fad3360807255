"""Benchmarks (`make bench`): billing-engine throughput on PostgreSQL. Writes bench/results.md.

Not a test: figures depend on the machine, which the results file records with the date.
Uses the database named by BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/octoo_bench),
dropped and recreated on every run.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import table  # noqa: E402 - the one summary table (bench/table.py), found once ROOT is on the path
from bench.loadtest import section_split  # noqa: E402 - the load test's section of results.md, kept across runs

BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/octoo_bench")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "octoo_billing.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "1000"))
SERVICES_PER_CUSTOMER = int(os.environ.get("BENCH_SERVICES", "10"))
ISSUERS = 4
NUMBERS = int(os.environ.get("BENCH_NUMBERS", "2000"))


def recreate_database():
    import psycopg

    dbname = BENCH_URL.rsplit("/", 1)[1]
    admin = BENCH_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_world(
    *, name: str = "Bench Partner", slug: str = "bench", customers: int | None = None, services: int | None = None
):
    """1,000 customers x 10 completed services (bulk inserted; ``customers`` and ``services`` per customer to size
    it otherwise), with rates, zones, codes and providers; its tables analysed, as after any bulk load."""
    n_customers = CUSTOMERS if customers is None else customers
    per_customer = SERVICES_PER_CUSTOMER if services is None else services
    from decimal import Decimal

    from django.utils import timezone

    from customers.models import BillingContact, Customer, Partner, Provider
    from expense_codes.models import AppliedExpenseCode
    from invoicing.fast_writes import tables_analyze
    from invoicing.models import Rate, Service, ServiceRequest, ServiceType, Zone

    partner = Partner.objects.create(name=name, slug=slug)
    zone = Zone.objects.create(partner=partner, name="Metro", tax_rate=Decimal("8.25"))
    stype = ServiceType.objects.create(partner=partner, code="svc", name="Field service")
    for schedule, bill, pay in [
        ("weekday", 8500, 5500),
        ("weeknight", 9500, 6000),
        ("weekend", 11000, 7000),
        ("holiday", 12000, 8000),
    ]:
        Rate.objects.create(
            partner=partner,
            slip_type="service",
            pay_schedule=schedule,
            bill_rate_units=Decimal(bill),
            pay_rate_units=Decimal(pay),
        )
    Rate.objects.create(
        partner=partner, slip_type="mileage", bill_rate_units=Decimal("67"), pay_rate_units=Decimal("60")
    )
    Rate.objects.create(
        partner=partner, slip_type="booking_fee", bill_rate_units=Decimal("500"), pay_rate_units=Decimal("0")
    )
    providers = Provider.objects.bulk_create([Provider(partner=partner, name=f"Provider {i:03d}") for i in range(50)])
    customers = Customer.objects.bulk_create(
        [Customer(partner=partner, name=f"Customer {i:05d}", zone=zone) for i in range(n_customers)]
    )
    BillingContact.objects.bulk_create(
        [
            BillingContact(customer=c, name=f"AP {c.name}", email=f"ap{c.pk}@example.com", is_default=True)
            for c in customers
        ]
    )
    requests = ServiceRequest.objects.bulk_create(
        [ServiceRequest(partner=partner, customer=c, title=f"Request {c.pk}-{j}") for c in customers for j in range(2)]
    )
    AppliedExpenseCode.objects.bulk_create(
        [AppliedExpenseCode(request=r, label_name="PO", value=f"PO-{r.pk % 2}") for r in requests]
    )
    last_month_end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    services = []
    for idx, request in enumerate(requests):
        for k in range(per_customer // 2):
            day = last_month_end.replace(day=1 + (idx + k) % 28)
            start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(8 + k % 10, 0)))
            services.append(
                Service(
                    partner=partner,
                    request=request,
                    provider=providers[(idx + k) % len(providers)],
                    service_type=stype,
                    zone=zone,
                    starts_at=start,
                    ends_at=start + datetime.timedelta(hours=3),
                    status="completed",
                    outcome_published_at=start + datetime.timedelta(hours=3),
                    mileage=Decimal("12.5"),
                )
            )
    Service.objects.bulk_create(services, batch_size=2000)
    del services
    tables_analyze(Customer, BillingContact, ServiceRequest, AppliedExpenseCode, Service)
    return partner


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measured(fn):
    from django.db import connection

    counter = QueryCounter()
    start = time.perf_counter()
    with connection.execute_wrapper(counter):
        result = fn()
    elapsed = time.perf_counter() - start
    # Peak resident memory so far (tracemalloc would slow the run several times over).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result, elapsed, counter.count, peak


def _issuer(args):
    """One of the concurrent issuers: issue its share of drafts, return the numbers it got."""
    (ids,) = args
    import django

    django.setup()
    from django.db import connections

    from invoicing.lifecycle import invoice_issue
    from invoicing.models import Invoice

    numbers = []
    for invoice in Invoice.objects.filter(pk__in=ids).order_by("pk"):
        numbers.append(invoice_issue(invoice=invoice).sequence)
    connections.close_all()
    return numbers


def _numberer(args):
    """One of the concurrent issuers of bare numbers: a transaction per number, as an issue takes it."""
    (count,) = args
    import django

    django.setup()
    from django.db import connections, transaction

    from customers.models import Partner
    from invoicing.numbering import number_take

    partner = Partner.objects.get(slug="bench")
    today = datetime.date.today()
    taken = []
    for _ in range(count):
        with transaction.atomic():
            taken.append(number_take(partner=partner, series="pf", on_date=today)[0][0])
    connections.close_all()
    return taken


def bench_engine(lines: list[str]):
    from django.db import connection

    from invoicing.invoice_runs import ap_run, ar_run
    from invoicing.models import Invoice, Proforma, Slip
    from invoicing.proformas import proformas_sweep
    from invoicing.schedules import closed_period

    t0 = time.perf_counter()
    partner = build_world()
    setup_time = time.perf_counter() - t0
    report, sweep_s, sweep_q, sweep_mem = measured(lambda: proformas_sweep(partner=partner))
    proformas = report["created"]
    slips = Slip.objects.filter(proforma__isnull=False).count()
    period = closed_period("monthly", datetime.date.today())
    run, ar_s, ar_q, ar_mem = measured(lambda: ar_run(partner=partner, period=period))
    ar_invoices = len(run.invoice_ids)
    ap, ap_s, ap_q, ap_mem = measured(lambda: ap_run(partner=partner, period=period))
    ap_invoices = len(ap.invoice_ids)
    assert not run.errors and not ap.errors, (run.errors, ap.errors)
    assert Proforma.objects.count() == proformas == CUSTOMERS * SERVICES_PER_CUSTOMER

    # Numbering: 4 processes issuing drafts at once.
    drafts = list(Invoice.objects.filter(kind="ar", status="draft").values_list("pk", flat=True))[:NUMBERS]
    chunks = [drafts[i::ISSUERS] for i in range(ISSUERS)]
    connection.close()
    ctx = multiprocessing.get_context("fork")
    start = time.perf_counter()
    with ctx.Pool(ISSUERS) as pool:
        results = pool.map(_issuer, [(c,) for c in chunks])
    issue_s = time.perf_counter() - start
    sequences = sorted(n for r in results for n in r)
    gapless = sequences == list(range(1, len(drafts) + 1))

    # Bare numbering: 4 processes each taking numbers, one transaction per number (the proforma series).
    from invoicing.models import NumberCounter

    before = NumberCounter.objects.get(partner=partner, series="pf").last_value
    connection.close()
    start = time.perf_counter()
    with ctx.Pool(ISSUERS) as pool:
        taken = pool.map(_numberer, [(NUMBERS // ISSUERS,)] * ISSUERS)
    number_s = time.perf_counter() - start
    taken = sorted(n for r in taken for n in r)
    numbers_gapless = taken == list(range(before + 1, before + 1 + len(taken)))
    gapless = gapless and numbers_gapless

    lines += [
        f"### Billing engine ({CUSTOMERS:,} customers x {SERVICES_PER_CUSTOMER} services, PostgreSQL)",
        "",
        "| step | rows | time | rate | queries | peak RSS so far |",
        "|---|---|---|---|---|---|",
        f"| bulk insert of the world (setup, not measured work) | {CUSTOMERS * SERVICES_PER_CUSTOMER:,} services "
        f"| {setup_time:.1f} s | | | |",
        f"| proforma generation (sweep) | {proformas:,} proformas, {slips:,} slips | {sweep_s:.2f} s "
        f"| {proformas / sweep_s:,.0f} proformas/s | {sweep_q:,} | {sweep_mem / 2**20:.0f} MiB |",
        f"| monthly AR run | {ar_invoices:,} invoices from {proformas:,} proformas | {ar_s:.2f} s "
        f"| {ar_invoices / ar_s:,.0f} invoices/s, {proformas / ar_s:,.0f} proformas/s "
        f"| {ar_q:,} ({ar_q / max(ar_invoices, 1):.1f} per invoice) | {ar_mem / 2**20:.0f} MiB |",
        f"| monthly AP run | {ap_invoices:,} invoices | {ap_s:.2f} s | {ap_invoices / ap_s:,.0f} invoices/s "
        f"| {ap_q:,} ({ap_q / max(ap_invoices, 1):.1f} per invoice) | {ap_mem / 2**20:.0f} MiB |",
        f"| numbering: {ISSUERS} concurrent processes, a transaction per number | {len(taken):,} numbers "
        f"| {number_s:.2f} s | {len(taken) / number_s:,.0f} numbers/s | | |",
        f"| full issue (lock, totals, contact snapshot, number, audit) with {ISSUERS} concurrent processes "
        f"| {len(drafts):,} invoices | {issue_s:.2f} s | {len(drafts) / issue_s:,.0f} invoices/s | | |",
        "",
        f"Numbering check: {len(sequences):,} issued invoice numbers and {len(taken):,} bare numbers, "
        f"{'no gap, no duplicate' if gapless else 'GAPS OR DUPLICATES'}.",
        "Goals: AR run <= 10 s; >= 500 numbers/s with 4 issuers; no gap or duplicate. "
        "Peer (silver): 135 s to bill 1,000 customers x 10 lines, 37 s to issue 1,000 invoices.",
        "",
    ]
    if not gapless:
        raise SystemExit("numbering produced gaps or duplicates")
    # Issue 15: billing end to end (sweep + AR run) at 1k and 10k customers against a plain COPY of the same rows.
    from bench.billing import bench_billing

    bench_billing(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} x {cpu}, {mem:.0f} GiB RAM, Python {platform.python_version()}, {pg}, "
        f"{platform.system()} {platform.release()}"
    )


def bench_pages(lines: list[str]):
    from bench.pages import bench_pages as run

    run(lines)


def bench_pdf(lines: list[str]):
    from bench.pdf import bench_pdf as run

    run(lines)


def bench_runs(lines: list[str]):
    from bench.runs import bench_runs as run

    run(lines)


def bench_generation(lines: list[str]):
    from bench.generation import bench_generation as run

    run(lines)


def bench_imports(lines: list[str]):
    from bench.imports import bench_imports as run

    run(lines)


def bench_issuing(lines: list[str]):
    from bench.issuing import bench_issuing as run

    run(lines)


BENCHES = [bench_engine, bench_generation, bench_issuing, bench_pages, bench_pdf, bench_runs, bench_imports]


SUMMARY_TITLE = "Summary of this run"
PREVIOUS_TITLE = "Summary of the previous run"


def previous_summary(text: str) -> tuple[str, list[str]] | None:
    """The previous results file's run line and its summary table (None: it has no summary table)."""
    lines = text.splitlines()
    heading = f"### {SUMMARY_TITLE}"
    if heading not in lines:
        return None
    start = lines.index(heading) + 1
    while start < len(lines) and not lines[start].startswith("|"):
        start += 1
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    run_line = next((line for line in lines if line.startswith("Run ")), "")
    return run_line, lines[start:end]


def previous_section(text: str) -> tuple[list[str], list[str]]:
    """What of the previous results file is kept: (below the new summary, at the end of the file).

    With a summary table: that table, right below the new one, so a regression shows. Without one (the runs
    before the table existed): the previous file's whole text at the end, its headings two levels down."""
    if not text.strip():
        return [], []
    found = previous_summary(text)
    if found is not None:
        run_line, table = found
        when = f" ({run_line.removesuffix('.')})" if run_line else ""
        return [f"### {PREVIOUS_TITLE}{when}", "", *table, ""], []
    kept = [f"##{line}" if line.startswith("#") else line for line in text.rstrip().splitlines()]
    return [], [
        "## The previous run, as it was written (before the summary table existed)",
        "",
        *kept,
        "",
    ]


def results_text(*, header: list[str], details: list[str], previous: str) -> str:
    """The results file: this run's summary table, the previous run's below it, then the detailed sections; the
    last load test's section (`make loadtest`, bench/loadtest.py) is carried over at the end."""
    previous, loadtest = section_split(previous)
    below, at_end = previous_section(previous)
    kept = ["", *loadtest] if loadtest else []
    return "\n".join([*header, *table.markdown(SUMMARY_TITLE), *below, *details, *at_end, *kept]) + "\n"


def main():
    recreate_database()
    setup_django()
    header = [
        "# Benchmark results",
        "",
        f"Run {datetime.datetime.now():%Y-%m-%d %H:%M} on {machine()}.",
        "",
    ]
    details: list[str] = []
    for bench in BENCHES:
        bench(details)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    details.append(f"Peak resident memory of the benchmark process: {rss:.0f} MiB.")
    out = ROOT / "bench" / "results.md"
    previous = out.read_text() if out.exists() else ""
    out.write_text(results_text(header=header, details=details, previous=previous))
    print("\n".join([*header, *table.markdown(SUMMARY_TITLE), *details]))


if __name__ == "__main__":
    main()
