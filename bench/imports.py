"""Benchmark of the services import (issue 11): a 10,000-row CSV against a plain bulk insert of the same services.

``bench_imports(lines)`` is called by ``bench/run.py`` after Django is set up on the bench database; it appends a
markdown section to ``lines``. It builds its own partner (200 customers, some with a required label and some with
an auto-applied code, 50 providers, 2 service types, 3 zones), writes a CSV of ``BENCH_IMPORT_ROWS`` rows (10,000
by default: every row a service with a provider, an address, a zone on one row in four, and its request's purchase
order, one per customer and month), in two shapes (``BENCH_IMPORT_GROUPS``): a request per row (no
``request_ref``: the most work per row, as a request and its codes are inserted for every service), and rows
sharing a ``request_ref`` five by five. For each shape, ``RUNS`` times each, in rolled-back transactions so every
run starts from the same tables:

- **plain bulk_create**: ``Service.objects.bulk_create`` of the same 10,000 services (the objects built in the timed
  block, onto requests inserted beforehand and not timed), the floor any import has to stand on;
- **import commit**: ``invoicing.imports.commit.services_import_commit`` of the file: reading and checking every row
  again, then inserting its requests, services, expense codes (entered and auto-applied; each table with one
  COPY, ``octoo_billing.bulk.rows_insert``) and audit row;
- **preview**: ``services_import_check`` alone (what the preview page costs before rendering).

The goal: the commit within 2x the plain bulk_create (medians). Run it alone with
``BENCH_DATABASE_URL=postgres://.../octoo_import_bench .venv/bin/python bench/imports.py``.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))
GROUPS = tuple(int(g) for g in os.environ.get("BENCH_IMPORT_GROUPS", "1,5").split(","))
RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "3"))
CUSTOMERS = 200
PROVIDERS = 50
GOAL_RATIO = 2.0
BATCH = 2000  # rows per INSERT of the plain bulk_create


class _Rollback(Exception):
    pass


class _QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _world():
    from customers.models import Customer, Partner, Provider
    from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
    from invoicing.models import ServiceType, Zone

    partner = Partner.objects.create(name="Import Bench Scheduling", slug="import-bench")
    zones = [
        Zone.objects.create(partner=partner, name=name, tax_rate=rate)
        for name, rate in (("Metro", "8.25"), ("Valley", "6"), ("Remote", "0"))
    ]
    types = [
        ServiceType.objects.create(partner=partner, code="medical", name="Medical interpreting"),
        ServiceType.objects.create(partner=partner, code="legal", name="Legal interpreting"),
    ]
    providers = Provider.objects.bulk_create(
        [Provider(partner=partner, name=f"Interpreter {i:03d}") for i in range(PROVIDERS)]
    )
    customers = Customer.objects.bulk_create(
        [Customer(partner=partner, name=f"Clinic {i:04d}", zone=zones[i % 2]) for i in range(CUSTOMERS)]
    )
    labels = ExpenseCodeLabel.objects.bulk_create(
        [ExpenseCodeLabel(customer=c, name="Purchase order", is_required=i % 3 == 0) for i, c in enumerate(customers)]
        + [ExpenseCodeLabel(customer=c, name="Cost center") for c in customers[::2]]
    )
    cost_centers = {label.customer_id: label for label in labels if label.name == "Cost center"}
    AppliedExpenseCode.objects.bulk_create(
        [
            AppliedExpenseCode(default_for_id=customer_id, label=label, label_name=label.name, value="CC-100")
            for customer_id, label in cost_centers.items()
        ]
    )
    return partner, customers, providers, types, zones


def _row_shape(i: int, group_size: int) -> tuple[int, int, datetime.datetime]:
    """Row ``i``'s request (group) number, customer index and local start time."""
    group = i // group_size
    start = datetime.datetime(2027, 1, 4, 8, 0) + datetime.timedelta(
        days=(group * group_size) % 90 + i % group_size, hours=i % 9
    )
    return group, group % CUSTOMERS, start


def _csv(customers, providers, types, zones, group_size: int) -> bytes:
    lines = [
        "external_ref,customer,provider,service_type,starts_at,ends_at,address,zone,title,request_ref,notes,"
        "code:Purchase order"
    ]
    for i in range(ROWS):
        group, index, start = _row_shape(i, group_size)
        end = start + datetime.timedelta(minutes=90)
        zone = zones[2].name if i % 4 == 0 else ""
        ref = f"REQ-{group}" if group_size > 1 else ""
        lines.append(
            f"SCH-{i:06d},{customers[index].name},{providers[i % len(providers)].name},{types[i % 2].code},"
            f'{start:%Y-%m-%d %H:%M},{end:%Y-%m-%d %H:%M},"{100 + i} Main Street, Oakland, CA",{zone},,{ref},,'
            f"PO-{index:04d}-{(group * group_size) % 90 // 30 + 1}"
        )
    return ("\n".join(lines) + "\n").encode()


def _plain_bulk_create(partner, request_ids, customers, providers, types, zones, group_size: int) -> float:
    """Seconds to build and bulk insert the file's services as plain ``Service`` rows (their requests exist)."""
    from django.utils import timezone

    from invoicing.models import Service

    zone_info = timezone.get_current_timezone()
    start_time = time.perf_counter()
    services = []
    for i in range(ROWS):
        group, index, start = _row_shape(i, group_size)
        start = start.replace(tzinfo=zone_info)
        services.append(
            Service(
                partner_id=partner.pk,
                request_id=request_ids[group],
                service_type_id=types[i % 2].pk,
                provider_id=providers[i % len(providers)].pk,
                starts_at=start,
                ends_at=start + datetime.timedelta(minutes=90),
                address=f"{100 + i} Main Street, Oakland, CA",
                zone_id=zones[2].pk if i % 4 == 0 else customers[index].zone_id,
                notes="",
                external_ref=f"SCH-{i:06d}",
            )
        )
    Service.objects.bulk_create(services, batch_size=BATCH)
    return time.perf_counter() - start_time


def _timed_rolled_back(fn):
    from django.db import connection, transaction

    counter = _QueryCounter()
    outcome = {}
    try:
        with transaction.atomic(), connection.execute_wrapper(counter):
            start = time.perf_counter()
            outcome["result"] = fn()
            outcome["seconds"] = time.perf_counter() - start
            raise _Rollback
    except _Rollback:
        pass
    return outcome["result"], outcome["seconds"], counter.count


def _bench_shape(world, group_size: int) -> dict:
    from invoicing.imports.checking import services_import_check
    from invoicing.imports.commit import services_import_commit
    from invoicing.models import Service, ServiceRequest

    partner, customers, providers, types, zones = world
    data = _csv(customers, providers, types, zones, group_size)
    requests = (ROWS + group_size - 1) // group_size

    def plain_run():
        made = ServiceRequest.objects.bulk_create(
            [
                ServiceRequest(partner=partner, customer=customers[g % CUSTOMERS], title="Bench")
                for g in range(requests)
            ],
            batch_size=2000,
        )
        return _plain_bulk_create(partner, [r.pk for r in made], customers, providers, types, zones, group_size)

    plain, commits, previews = [], [], []
    for _ in range(RUNS):
        seconds, _, _ = _timed_rolled_back(plain_run)
        plain.append(seconds)
        result, seconds, commit_queries = _timed_rolled_back(
            lambda: services_import_commit(partner=partner, name="bench.csv", data=data)
        )
        commits.append(seconds)
        check, seconds, preview_queries = _timed_rolled_back(
            lambda: services_import_check(partner=partner, name="bench.csv", data=data)
        )
        previews.append(seconds)
        assert result.services == ROWS and result.requests == requests, result
        assert check.ok_count == ROWS and not check.error_count
    assert not Service.objects.filter(partner=partner).exists()  # every run rolled back
    return {
        "group_size": group_size,
        "requests": requests,
        "bytes": len(data),
        "plain": plain,
        "commits": commits,
        "previews": previews,
        "commit_queries": commit_queries,
        "preview_queries": preview_queries,
    }


def bench_imports(lines: list[str]) -> None:
    world = _world()
    shapes = [_bench_shape(world, group_size) for group_size in GROUPS]
    lines += [
        f"### Services import ({ROWS:,}-row CSV, PostgreSQL)",
        "",
        f"{CUSTOMERS} customers (a required purchase-order label on a third of them, an auto-applied cost center on "
        "half), each request with its purchase order. Medians of "
        f"{RUNS} runs, each in a rolled-back transaction. *Plain*: `Service.objects.bulk_create` of the same "
        f"{ROWS:,} services, objects built in the timed block, onto requests inserted beforehand (not timed). "
        "*Commit*: `services_import_commit` of the file: read and check every row again, insert the requests, "
        "services, expense codes (entered and auto-applied) and the audit row. *Preview*: the check alone. "
        "*Commit queries* are those `connection.execute_wrapper` sees: not the COPY of each table "
        "(`octoo_billing.bulk.rows_insert`).",
        "",
        "| file | plain bulk_create | import commit | commit / plain | commit queries | preview (check only) |",
        "|---|---|---|---|---|---|",
    ]
    for shape in shapes:
        plain_s, commit_s, preview_s = (statistics.median(shape[key]) for key in ("plain", "commits", "previews"))
        size = shape["group_size"]
        what = "a request per row" if size == 1 else f"{size} rows per request (request_ref)"
        lines.append(
            f"| {what}: {shape['requests']:,} requests, {shape['bytes'] / 2**20:.1f} MiB | {plain_s:.2f} s "
            f"({ROWS / plain_s:,.0f}/s) | {commit_s:.2f} s ({ROWS / commit_s:,.0f}/s) | **{commit_s / plain_s:.2f}x** "
            f"| {shape['commit_queries']:,} | {preview_s:.2f} s ({shape['preview_queries']} queries) |"
        )
    lines += [
        "",
        f"Goal: the commit within {GOAL_RATIO:.0f}x the plain bulk_create. Runs (s): "
        + "; ".join(
            f"{s['group_size']} per request: plain {', '.join(f'{v:.2f}' for v in s['plain'])}, "
            f"commit {', '.join(f'{v:.2f}' for v in s['commits'])}"
            for s in shapes
        )
        + ".",
        "",
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench import run  # sets the bench environment (BENCH_DATABASE_URL, DEBUG=0, settings)

    run.recreate_database()
    run.setup_django()
    out: list[str] = []
    bench_imports(out)
    print("\n".join(out))
