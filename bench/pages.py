"""Office page benchmark: server time and queries of the AR list at 100k invoices, and of a 500-line invoice.

Called by bench/run.py after the engine bench (PostgreSQL, Django set up, DEBUG off):

    from bench.pages import bench_pages
    bench_pages(lines)

It inserts its own partners (100k and 1M issued AR invoices over 500 customers each, with a payment for what is
paid, written with COPY), then renders pages through django.test.Client as a signed-in billing admin: the whole
request (middleware, session, the view, the templates), but no network. Each page is requested twice to warm up,
then timed 20 times. The AR list pages, the dashboard and the reports (aging, revenue, margin) at both sizes.

Profiling: ``BENCH_PAGE_REUSE=1 python bench/pages.py`` measures the partners an earlier run left in the bench
database instead of building them again (its first run builds them), e.g. after a migration that adds an index.
"""

from __future__ import annotations

import datetime
import os
import random
import statistics
import time

INVOICES = int(os.environ.get("BENCH_PAGE_INVOICES", "100000"))
# The second size the list pages must be flat to (issue 15); 0 measures one size only.
LARGE_INVOICES = int(os.environ.get("BENCH_PAGE_LARGE_INVOICES", "1000000"))
CUSTOMERS = int(os.environ.get("BENCH_PAGE_CUSTOMERS", "500"))
DETAIL_LINES = 500
RUNS = int(os.environ.get("BENCH_PAGE_RUNS", "20"))
WARMUP = 2
BATCH = 5000
# Set to 1 to measure the worlds a previous run of this module left in the bench database instead of building them
# again (``python bench/pages.py`` then keeps the database; setup of the 1M world is minutes). Only for profiling:
# ``make bench`` always starts from an empty database.
REUSE = os.environ.get("BENCH_PAGE_REUSE") == "1"


class _QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _invoice_rows(partner, customers, today, count):
    """``count`` issued AR invoices as dicts of their varying fields, whose totals add up (subtotal - discount +
    tax = total) and whose paid amounts agree with their status, as the model's check constraints require."""
    from invoicing.models import Invoice

    rng = random.Random(20260301)
    statuses = (
        [Invoice.Status.PAID] * 50
        + [Invoice.Status.PENDING] * 25
        + [Invoice.Status.PARTIALLY_PAID] * 10
        + [Invoice.Status.OVERDUE] * 10
        + [Invoice.Status.VOID] * 5
    )
    first_day = today - datetime.timedelta(days=3 * 365)
    for seq in range(1, count + 1):
        # Spread over three years in issue order, so numbers and dates rise together.
        issue_date = first_day + datetime.timedelta(days=(seq * 3 * 365) // count)
        due_date = issue_date + datetime.timedelta(days=30)
        status = rng.choice(statuses)
        if status in (Invoice.Status.PENDING, Invoice.Status.PARTIALLY_PAID) and due_date < today:
            status = Invoice.Status.OVERDUE if rng.random() < 0.3 else Invoice.Status.PAID
        subtotal = rng.randrange(5_000, 500_000)
        discount = rng.choice((0, 0, 0, subtotal // 10))
        tax = (subtotal - discount) * 825 // 10_000
        total = subtotal - discount + tax
        paid = {Invoice.Status.PAID: total, Invoice.Status.PARTIALLY_PAID: total // 2}.get(status, 0)
        if status == Invoice.Status.OVERDUE and rng.random() < 0.3:
            paid = total // 3
        customer = customers[seq % len(customers)]
        # A few invoices whose after-issue work failed (the dashboard's "needs attention" counts).
        failures = {
            "pdf_error": "render failed" if seq % 2_000 == 0 else "",
            "send_error": "mailbox full" if seq % 3_001 == 0 else "",
            "charge_error": "card declined" if seq % 5_003 == 0 and status in Invoice.OPEN_STATUSES else "",
        }
        voided_at = (
            datetime.datetime.combine(issue_date + datetime.timedelta(days=3), datetime.time(12), datetime.UTC)
            if status == Invoice.Status.VOID
            else None
        )
        yield {
            **failures,
            "voided_at": voided_at,
            "status": status,
            "customer_id": customer.pk,
            "number": f"{partner.ar_prefix}-{issue_date.year}-{seq:05d}",
            "sequence": seq,
            "issue_date": issue_date,
            "due_date": due_date,
            "contact_name": f"AP {customer.name}",
            "contact_email": f"ap{customer.pk}@example.com",
            "bill_to_name": customer.name,
            "subtotal_units": subtotal,
            "discount_total_units": discount,
            "discount_units": discount,
            "tax_units": tax,
            "total_units": total,
            "paid_units": paid,
        }


def _insert_invoices(partner, customers, today, count):
    """The invoices of ``_invoice_rows``: with ``COPY`` on PostgreSQL (~10x bulk_create, so a million rows
    take well under a minute), with ``bulk_create`` elsewhere. Every other column takes the model's default,
    computed once from a template instance."""
    from django.db import connection
    from django.utils import timezone

    from invoicing.models import Invoice

    template = Invoice(
        partner=partner,
        kind=Invoice.Kind.AR,
        source=Invoice.Source.GENERATED,
        currency=partner.currency,
        payment_terms_days=30,
    )
    rows = _invoice_rows(partner, customers, today, count)
    if connection.vendor != "postgresql":
        batch = []
        for values in rows:
            batch.append(Invoice(**{**template.__dict__, **values, "_state": template._state.__class__()}))
            if len(batch) == BATCH:
                Invoice.objects.bulk_create(batch)
                batch = []
        Invoice.objects.bulk_create(batch)
        return
    now = timezone.now()
    fields = [f for f in Invoice._meta.concrete_fields if not f.primary_key]
    defaults = {}
    for f in fields:
        value = now if f.name in ("created_at", "updated_at") else getattr(template, f.attname)
        defaults[f.attname] = f.get_db_prep_save(value, connection)
    attnames = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY invoicing_invoice ({columns}) FROM STDIN") as copy:
            for values in rows:
                row = {**defaults, **values}
                copy.write_row([row[name] for name in attnames])


def _insert_payments(partner, today):
    """One payment per invoice with something paid, received between its issue date and today (as ``paid_units``
    says: the aging report as of a past date reads them)."""
    from django.db import connection

    from invoicing.models import Invoice, Payment

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO invoicing_payment (partner_id, invoice_id, amount_units, refunded_units, method, "
                "reference, received_on, created_at) "
                "SELECT partner_id, id, paid_units, 0, 'transfer', '', LEAST(issue_date + (id %% 45)::int, %s), now() "
                "FROM invoicing_invoice WHERE partner_id = %s AND paid_units > 0",
                [today, partner.pk],
            )
        return
    rows = Invoice.objects.filter(partner=partner, paid_units__gt=0).values_list("id", "paid_units", "issue_date")
    Payment.objects.bulk_create(
        [
            Payment(
                partner=partner,
                invoice_id=pk,
                amount_units=paid,
                method=Payment.Method.TRANSFER,
                received_on=min(issued + datetime.timedelta(days=pk % 45), today),
            )
            for pk, paid, issued in rows
        ],
        batch_size=BATCH,
    )


def build_page_world(*, invoices: int = INVOICES, slug: str = "bench-pages", username: str = "bench.pages"):
    """A partner with ``CUSTOMERS`` customers, ``invoices`` AR invoices and a billing admin."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from customers.models import BillingContact, Customer, Partner, StaffMembership
    from invoicing.reports.open_balances import open_balances_compact

    today = datetime.date.today()
    partner = Partner.objects.create(name=f"Bench Pages Partner {slug}", slug=slug, ar_prefix="BP")
    customers = Customer.objects.bulk_create(
        [Customer(partner=partner, name=f"Pages customer {i:04d}") for i in range(CUSTOMERS)]
    )
    BillingContact.objects.bulk_create(
        [
            BillingContact(customer=c, name=f"AP {c.name}", email=f"ap{c.pk}@example.com", is_default=True)
            for c in customers
        ]
    )
    _insert_invoices(partner, customers, today, invoices)
    _insert_payments(partner, today)
    # What the worker's hourly schedule does: the open balances the COPY added, folded per customer and due date.
    open_balances_compact(partner_id=partner.pk)
    user = get_user_model().objects.create_user(username, password=None)
    StaffMembership.objects.create(user=user, partner=partner, role=StaffMembership.Role.BILLING_ADMIN)
    if connection.vendor == "postgresql":
        # What autovacuum would have done by the time anyone looks, over the whole database: the benches before
        # this one bulk-load hundreds of thousands of proformas, slips and invoices of their own, and the dashboard's
        # margin and revenue queries planned on those tables' empty-table statistics took 0.5-1.5 s at 1M instead
        # of tens of milliseconds.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return partner, user, customers


def _detail_invoice(partner, customer):
    """One draft AR invoice with ``DETAIL_LINES`` direct slips, priced by invoicing.pricing.slip_price."""
    from decimal import Decimal

    from invoicing.models import Invoice, Slip
    from invoicing.pricing import invoice_totals_refresh, slip_price

    invoice = Invoice.objects.create(partner=partner, kind=Invoice.Kind.AR, customer=customer)
    slips = [
        slip_price(
            Slip(
                partner=partner,
                invoice=invoice,
                position=i,
                slip_type=Slip.Type.GENERAL,
                description=f"Line {i}: on-site work",
                quantity=Decimal("1.5"),
                bill_rate_units=Decimal(4500 + i),
                pay_rate_units=Decimal(3000),
                tax_rate=Decimal("8.25"),
            )
        )
        for i in range(1, DETAIL_LINES + 1)
    ]
    Slip.objects.bulk_create(slips)
    return invoice_totals_refresh(invoice)


def _time_page(client, url):
    """(p50 ms, p95 ms, queries, status) of ``RUNS`` requests of ``url`` after ``WARMUP`` requests."""
    from django.db import connection

    for _ in range(WARMUP):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times, counts = [], set()
    for _ in range(RUNS):
        counter = _QueryCounter()
        with connection.execute_wrapper(counter):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        counts.add(counter.count)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, "/".join(str(c) for c in sorted(counts))


def _middle_cursor(partner, invoices):
    """The keyset cursor a clerk would hold halfway through the list in its default order."""
    from office.pagination import Cursor, Sort, ordered
    from office.views.lists.invoices import AR_INVOICES

    sort = Sort.from_param(None, AR_INVOICES.keys, AR_INVOICES.default_sort)
    row = ordered(AR_INVOICES.rows(partner=partner), sort).select_related(None).only("id", "issue_date")[invoices // 2]
    return Cursor(sort.param, row._sort_value, row.pk).encode()


def _page_urls(partner, customers, invoices) -> list[tuple[str, str]]:
    """(label, URL) of the pages measured: the AR list's first, middle and last page, filtered, searched and
    sorted variants, the dashboard and the reports. Labels are the same at every size (they pair the sizes)."""
    from django.urls import reverse

    from invoicing.models import Invoice

    ar_list = reverse("office:ar_invoice_list")
    busy = customers[7]
    middle_number = Invoice.objects.filter(partner=partner, sequence=invoices // 2).values_list("number", flat=True)[0]
    return [
        (FIRST_PAGE, ar_list),
        (
            "AR list, middle page (keyset cursor at the middle row)",
            f"{ar_list}?after={_middle_cursor(partner, invoices)}",
        ),
        ("AR list, last page", f"{ar_list}?last=1"),
        ("AR list filtered by customer and status", f"{ar_list}?customer={busy.pk}&status=paid"),
        ("AR list filtered by status (open)", f"{ar_list}?status=open"),
        ("AR list, search by invoice number", f"{ar_list}?q={middle_number}"),
        ("AR list, search by customer name", f"{ar_list}?q={busy.name.split()[-1]}"),
        ("AR list sorted by outstanding", f"{ar_list}?sort=-outstanding"),
        ("AR list sorted by customer name", f"{ar_list}?sort=customer"),
        ("AR list sorted by total, last page", f"{ar_list}?sort=-total&last=1"),
        (DASHBOARD, reverse("office:dashboard")),
        (AGING, reverse("office:report_aging")),
        (REVENUE, reverse("office:report_revenue")),
        (MARGIN, reverse("office:report_revenue") + "?by=provider"),
    ]


FIRST_PAGE = "AR list, first page"
DASHBOARD = "dashboard"
AGING = "AR aging report"
REVENUE = "revenue and margin report (12 months)"
MARGIN = "margin by provider (12 months)"
LIST_GOAL_MS = 30.0
# issue 16: the dashboard's server time at most that of an invoice list page (its first page), in the same run
DASHBOARD_RATIO_GOAL = 1.0
REPORT_GOAL_MS = 100.0
RATIO_GOAL = 1.3


def bench_pages(lines: list[str]) -> None:
    from django.conf import settings
    from django.test.utils import override_settings

    # No collectstatic in a bench run: serve static URLs unhashed (a dict lookup either way).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        _bench_pages(lines)


def _existing_world(slug, username):
    """(partner, user, customers) of a world built earlier with ``slug``, or None."""
    from django.contrib.auth import get_user_model

    from customers.models import Customer, Partner

    partner = Partner.objects.filter(slug=slug).first()
    if partner is None:
        return None
    customers = list(Customer.objects.filter(partner=partner).order_by("pk"))
    return partner, get_user_model().objects.get(username=username), customers


def _measure(size, slug, username):
    from django.test import Client

    t0 = time.perf_counter()
    world = _existing_world(slug, username) if REUSE else None
    partner, user, customers = world or build_page_world(invoices=size, slug=slug, username=username)
    setup_s = time.perf_counter() - t0
    client = Client()
    client.force_login(user)
    results = {label: _time_page(client, url) for label, url in _page_urls(partner, customers, size)}
    return partner, customers, client, results, setup_s


def _bench_pages(lines):
    from django.urls import NoReverseMatch, reverse

    from bench.table import record

    small_results, small_setup = {}, 0.0
    if LARGE_INVOICES:
        _, _, _, small_results, small_setup = _measure(INVOICES, "bench-pages", "bench.pages")
    partner, customers, client, results, setup_s = _measure(
        LARGE_INVOICES or INVOICES, "bench-pages-large", "bench.pages.large"
    )
    large = LARGE_INVOICES or INVOICES

    detail_note = ""
    detail = None
    try:
        reverse("office:invoice_detail", args=[1])
    except NoReverseMatch:
        detail_note = "Invoice detail page: not measured (office:invoice_detail does not exist yet)."
    else:
        invoice = _detail_invoice(partner, customers[0])
        url = reverse("office:invoice_detail", args=[invoice.pk])
        try:
            detail = _time_page(client, url)
        except Exception as exc:  # a page still being built must not sink the rest of the bench
            detail_note = f"Invoice detail page: not measured ({type(exc).__name__}: {exc})."

    worst_list, worst_ratio = 0.0, 0.0
    table = []
    for label, (p50, p95, queries) in results.items():
        small_p50 = small_results.get(label, (None,))[0]
        ratio = p50 / small_p50 if small_p50 else None
        is_list = label.startswith("AR list")
        if is_list:
            worst_list = max(worst_list, p95)
            if ratio is not None:
                worst_ratio = max(worst_ratio, ratio)
        small_cells = (
            f"{small_results[label][0]:.1f} ms | {small_results[label][1]:.1f} ms | {small_results[label][2]} | "
            if label in small_results
            else ""
        )
        table.append(
            f"| {label} | {small_cells}{p50:.1f} ms | {p95:.1f} ms | {queries} | "
            + (f"{ratio:.2f} |" if ratio is not None else "|")
        )
    if detail:
        table.append(
            f"| invoice detail, {DETAIL_LINES} lines | | | | {detail[0]:.1f} ms | {detail[1]:.1f} ms | {detail[2]} | |"
        )

    if small_results:
        head = (
            f"| page | p50 at {INVOICES:,} | p95 at {INVOICES:,} | queries | p50 at {large:,} | p95 at {large:,} "
            f"| queries | ratio p50 {large // 1000:,}k/{INVOICES // 1000:,}k |"
        )
        rule = "|---|---|---|---|---|---|---|---|"
    else:
        head, rule = "| page | p50 | p95 | queries | |", "|---|---|---|---|---|"
    lines += [
        f"### Office pages ({INVOICES:,} and {large:,} AR invoices, {CUSTOMERS} customers each, PostgreSQL)",
        "",
        f"Invoices inserted with COPY (setup, not measured work): {small_setup:.1f} s for {INVOICES:,}, "
        f"{setup_s:.1f} s for {large:,}. Server time through django.test.Client, {RUNS} requests each after "
        f"{WARMUP} warm-up requests.",
        "",
        head,
        rule,
        *table,
        "",
    ]
    if detail_note:
        lines += [detail_note, ""]
    lines += [
        f"Goals (issue 15): every list page <= {LIST_GOAL_MS:.0f} ms p95 at {large:,}, p50 ratio "
        f"{large // 1000:,}k/{INVOICES // 1000:,}k <= {RATIO_GOAL}, the dashboard and reports <= "
        f"{REPORT_GOAL_MS:.0f} ms p95, query counts independent of the number of rows. Issue 16: the dashboard "
        f"at {INVOICES:,} at most the AR list's first page (p50 ratio <= {DASHBOARD_RATIO_GOAL}).",
        "",
    ]
    record(
        f"AR list pages at {large:,} invoices, slowest of {sum(1 for k in results if k.startswith('AR list'))} "
        "(first/middle/last, filtered, searched, sorted)",
        f"{worst_list:.1f} ms p95",
        goal=f"<= {LIST_GOAL_MS:.0f} ms p95",
        met=worst_list <= LIST_GOAL_MS,
    )
    if small_results:
        record(
            f"AR list pages, largest p50 ratio {large // 1000:,}k/{INVOICES // 1000:,}k",
            f"{worst_ratio:.2f}x",
            limit=f"the same page at {INVOICES:,} invoices",
            ratio=f"{worst_ratio:.2f}x",
            goal=f"<= {RATIO_GOAL}x",
            met=worst_ratio <= RATIO_GOAL,
        )
    if small_results:
        dashboard, first_page = small_results[DASHBOARD][0], small_results[FIRST_PAGE][0]
        record(
            f"dashboard at {INVOICES:,} invoices (p50)",
            f"{dashboard:.1f} ms",
            limit=f"AR list first page at {INVOICES:,}: {first_page:.1f} ms",
            ratio=f"{dashboard / first_page:.2f}x",
            goal=f"<= {DASHBOARD_RATIO_GOAL}x",
            met=dashboard / first_page <= DASHBOARD_RATIO_GOAL,
        )
    for label in (DASHBOARD, REVENUE, AGING, MARGIN):
        p95 = results[label][1]
        record(
            f"{label} at {large:,} invoices",
            f"{p95:.1f} ms p95",
            goal=f"<= {REPORT_GOAL_MS:.0f} ms p95",
            met=p95 <= REPORT_GOAL_MS,
        )


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench import run, table

    if not REUSE:
        run.recreate_database()
    run.setup_django()
    out: list[str] = []
    bench_pages(out)
    print("\n".join(out))
    print("\n".join(table.markdown()))
