"""Office page benchmark: server time and queries of the AR list at 100k invoices, and of a 500-line invoice.

Called by bench/run.py after the engine bench (PostgreSQL, Django set up, DEBUG off):

    from bench.pages import bench_pages
    bench_pages(lines)

It inserts its own partner (100k issued AR invoices over 500 customers, bulk inserted), then renders pages
through django.test.Client as a signed-in billing admin: the whole request (middleware, session, the view,
the templates), but no network. Each page is requested twice to warm up, then timed 20 times.
"""

from __future__ import annotations

import datetime
import os
import random
import statistics
import time

INVOICES = int(os.environ.get("BENCH_PAGE_INVOICES", "100000"))
CUSTOMERS = int(os.environ.get("BENCH_PAGE_CUSTOMERS", "500"))
DETAIL_LINES = 500
RUNS = 20
WARMUP = 2
BATCH = 5000


class _QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _build_invoices(partner, customers, today):
    """``INVOICES`` issued AR invoices whose totals add up (subtotal - discount + tax = total) and whose
    paid amounts agree with their status, as the model's check constraints require."""
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
    batch = []
    for seq in range(1, INVOICES + 1):
        # Spread over three years in issue order, so numbers and dates rise together.
        issue_date = first_day + datetime.timedelta(days=(seq * 3 * 365) // INVOICES)
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
        batch.append(
            Invoice(
                partner=partner,
                kind=Invoice.Kind.AR,
                status=status,
                source=Invoice.Source.GENERATED,
                customer=customer,
                number=f"{partner.ar_prefix}-{issue_date.year}-{seq:05d}",
                sequence=seq,
                currency=partner.currency,
                issue_date=issue_date,
                due_date=due_date,
                payment_terms_days=30,
                contact_name=f"AP {customer.name}",
                contact_email=f"ap{customer.pk}@example.com",
                bill_to_name=customer.name,
                subtotal_units=subtotal,
                discount_total_units=discount,
                discount_units=discount,
                tax_units=tax,
                total_units=total,
                paid_units=paid,
            )
        )
        if len(batch) == BATCH:
            Invoice.objects.bulk_create(batch)
            batch = []
    if batch:
        Invoice.objects.bulk_create(batch)


def build_page_world():
    """A partner with ``CUSTOMERS`` customers, ``INVOICES`` AR invoices and a billing admin."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from customers.models import BillingContact, Customer, Partner, StaffMembership

    today = datetime.date.today()
    partner = Partner.objects.create(name="Bench Pages Partner", slug="bench-pages", ar_prefix="BP")
    customers = Customer.objects.bulk_create(
        [Customer(partner=partner, name=f"Pages customer {i:04d}") for i in range(CUSTOMERS)]
    )
    BillingContact.objects.bulk_create(
        [
            BillingContact(customer=c, name=f"AP {c.name}", email=f"ap{c.pk}@example.com", is_default=True)
            for c in customers
        ]
    )
    _build_invoices(partner, customers, today)
    user = get_user_model().objects.create_user("bench.pages", password=None)
    StaffMembership.objects.create(user=user, partner=partner, role=StaffMembership.Role.BILLING_ADMIN)
    with connection.cursor() as cursor:  # what autovacuum would have done by the time anyone looks
        cursor.execute("VACUUM ANALYZE invoicing_invoice")
        cursor.execute("VACUUM ANALYZE customers_customer")
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


def _middle_cursor(partner):
    """The keyset cursor a clerk would hold halfway through the list in its default order."""
    from office.pagination import Cursor, Sort, ordered
    from office.views.lists.invoices import AR_INVOICES

    sort = Sort.from_param(None, AR_INVOICES.keys, AR_INVOICES.default_sort)
    row = ordered(AR_INVOICES.rows(partner=partner), sort).select_related(None).only("id", "issue_date")[INVOICES // 2]
    return Cursor(sort.param, row._sort_value, row.pk).encode()


def bench_pages(lines: list[str]) -> None:
    from django.conf import settings
    from django.test.utils import override_settings

    t0 = time.perf_counter()
    partner, user, customers = build_page_world()
    setup_s = time.perf_counter() - t0

    # No collectstatic in a bench run: serve static URLs unhashed (a dict lookup either way).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        _bench_pages(lines, partner, user, customers, setup_s)


def _bench_pages(lines, partner, user, customers, setup_s):
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from invoicing.models import Invoice

    client = Client()
    client.force_login(user)
    ar_list = reverse("office:ar_invoice_list")
    busy = customers[7]
    middle_number = Invoice.objects.filter(partner=partner, sequence=INVOICES // 2).values_list("number", flat=True)[0]
    busy_count = Invoice.objects.filter(partner=partner, customer=busy, status=Invoice.Status.PAID).count()
    pages = [
        ("AR list, first page", ar_list),
        ("AR list, middle page (keyset cursor at row 50,000)", f"{ar_list}?after={_middle_cursor(partner)}"),
        ("AR list, last page", f"{ar_list}?last=1"),
        (f"AR list filtered by customer and status ({busy_count} rows)", f"{ar_list}?customer={busy.pk}&status=paid"),
        ("AR list, search by invoice number", f"{ar_list}?q={middle_number}"),
        ("AR list, search by customer name", f"{ar_list}?q={busy.name.split()[-1]}"),
        ("AR list sorted by outstanding", f"{ar_list}?sort=-outstanding"),
        ("AR list sorted by customer name", f"{ar_list}?sort=customer"),
        ("AR list sorted by total, last page", f"{ar_list}?sort=-total&last=1"),
    ]
    results = [(label, *_time_page(client, url)) for label, url in pages]

    detail_note = ""
    try:
        reverse("office:invoice_detail", args=[1])
    except NoReverseMatch:
        detail_note = "Invoice detail page: not measured (office:invoice_detail does not exist yet)."
    else:
        invoice = _detail_invoice(partner, customers[0])
        url = reverse("office:invoice_detail", args=[invoice.pk])
        try:
            results.append((f"invoice detail, {DETAIL_LINES} lines", *_time_page(client, url)))
        except Exception as exc:  # a page still being built must not sink the rest of the bench
            detail_note = f"Invoice detail page: not measured ({type(exc).__name__}: {exc})."

    lines += [
        f"### Office pages ({INVOICES:,} AR invoices, {CUSTOMERS} customers, PostgreSQL)",
        "",
        f"Bulk insert of the invoices (setup, not measured work): {setup_s:.1f} s. "
        f"Server time through django.test.Client, {RUNS} requests each after {WARMUP} warm-up requests.",
        "",
        "| page | p50 | p95 | queries per request |",
        "|---|---|---|---|",
        *[f"| {label} | {p50:.1f} ms | {p95:.1f} ms | {queries} |" for label, p50, p95, queries in results],
        "",
    ]
    if detail_note:
        lines += [detail_note, ""]
    lines += [
        "Goals: any list page <= 50 ms p95, invoice detail <= 150 ms p95, query counts independent of the "
        "number of rows (the list pages use keyset pagination: the middle and last pages cost what the first does).",
        "",
    ]
