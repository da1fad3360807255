"""Billing end to end (proforma sweep + AR run) against a plain COPY of the same rows, in the same run (issue 15).

For each size (``BENCH_BILLING_CUSTOMERS``, default "1000,10000" customers x ``BENCH_SERVICES`` services each) a
fresh world is billed: the sweep prices every service into a proforma with its slips, codes and audit row, then
the monthly AR run groups them into draft invoices with their links, codes and audit rows. The limit is a plain
``COPY ... FROM STDIN`` of exactly the rows that billing wrote (read back with ``COPY ... TO STDOUT``, written
again under new ids into the same tables, foreign keys checked, rolled back). Memory: the growth of the peak
resident size during billing (the peak is reset before it), which must stay flat from 1k to 10k customers.

The COPY used to take far longer than billing (42-50 s at 1,000 customers): pgtrigger's ignore check opened a
subtransaction per guarded row, and each one's end walked every deferred foreign-key event of the transaction
(quadratic). ``octoo_billing.triggers.FAST_IGNORE_CHECK`` replaced it (bench/NOTES.md).

``bench_billing(lines)`` is called by ``bench/run.py``'s ``bench_engine``; run it alone with
``BENCH_DATABASE_URL=postgres://.../octoo_b_gen .venv/bin/python bench/billing.py``.
"""

from __future__ import annotations

import datetime
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = [int(n) for n in os.environ.get("BENCH_BILLING_CUSTOMERS", "1000,10000").split(",") if n]
GOALS = {1000: 2.0, 10000: 20.0}  # seconds end to end (issue 15)
COPY_GOAL = 3.0  # billing / plain COPY of the same rows
# "Memory flat": the largest size's peak growth at most the smallest's plus this (10x the rows, the same memory;
# the slack covers allocator noise, the list of service ids a sweep holds and the database driver's buffers).
FLAT_SLACK_MIB = 16


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _peak_reset() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux)
    except OSError:
        pass


def _tables(partner_id: int):
    """(model, WHERE clause, {column: expression}) for every row billing wrote: new ids, unique columns blanked."""
    from audit.models import AuditEvent
    from expense_codes.models import AppliedExpenseCode
    from invoicing.models import Invoice, InvoiceProforma, Proforma, Slip

    proformas = f"SELECT id FROM invoicing_proforma WHERE partner_id = {partner_id}"
    invoices = f"SELECT id FROM invoicing_invoice WHERE partner_id = {partner_id} AND kind = 'ar'"
    return [
        (Proforma, f"partner_id = {partner_id}", {"id": "id + {Proforma}", "service_id": "NULL", "number": "NULL"}),
        (Slip, f"proforma_id IN ({proformas})", {"id": "id + {Slip}", "proforma_id": "proforma_id + {Proforma}"}),
        (
            AppliedExpenseCode,
            f"proforma_id IN ({proformas})",
            {"id": "id + {AppliedExpenseCode}", "proforma_id": "proforma_id + {Proforma}"},
        ),
        (Invoice, f"id IN ({invoices})", {"id": "id + {Invoice}", "generation_key": "NULL", "number": "NULL"}),
        (
            InvoiceProforma,
            f"invoice_id IN ({invoices})",
            {
                "id": "id + {InvoiceProforma}",
                "invoice_id": "invoice_id + {Invoice}",
                "proforma_id": "proforma_id + {Proforma}",
            },
        ),
        (
            AppliedExpenseCode,
            f"invoice_id IN ({invoices})",
            {"id": "id + {AppliedExpenseCode}", "invoice_id": "invoice_id + {Invoice}"},
        ),
        (AuditEvent, f"partner_id = {partner_id} AND action = 'generate'", {"id": "id + {AuditEvent}"}),
    ]


def _plain_copy(partner_id: int) -> tuple[float, int]:
    """Seconds to COPY the rows billing wrote for the partner back into the same tables (rolled back), and how
    many rows that is."""
    import psycopg
    from django.db import connection

    tables = _tables(partner_id)
    offsets = {}
    with connection.cursor() as cursor:
        for model, _, _ in tables:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")
            offsets[model.__name__] = cursor.fetchone()[0]
    dumps, rows = [], 0
    with connection.cursor() as cursor:
        for model, where, subs in tables:
            columns = [f.column for f in model._meta.concrete_fields]
            select = ", ".join(subs.get(c, f'"{c}"').format(**offsets) for c in columns)
            buffer = io.BytesIO()
            with cursor.copy(f"COPY (SELECT {select} FROM {model._meta.db_table} WHERE {where}) TO STDOUT") as copy:
                for data in copy:
                    buffer.write(data)
            rows += buffer.getvalue().count(b"\n")
            dumps.append((model._meta.db_table, ", ".join(f'"{c}"' for c in columns), buffer.getvalue()))
    # A fresh plain psycopg connection, as any COPY client would use (no Django in the way), rolled back.
    from bench.run import BENCH_URL

    with psycopg.connect(BENCH_URL.replace("postgres://", "postgresql://")) as plain:
        started = time.perf_counter()
        with plain.cursor() as cursor:
            for table, names, data in dumps:
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    copy.write(data)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign-key checks a COMMIT runs
        elapsed = time.perf_counter() - started
        plain.rollback()
    return elapsed, rows


def bill_once(customers: int, services: int, n: int = 0) -> dict:
    """Build a world, bill it end to end (sweep + AR run) and measure it against the plain COPY limit."""
    from bench.run import build_world
    from invoicing.invoice_runs import ar_run
    from invoicing.proformas import proformas_sweep
    from invoicing.schedules import closed_period

    partner = build_world(
        name=f"Bench Billing {customers} {n}",
        slug=f"bench-bill-{customers}-{n}",
        customers=customers,
        services=services,
    )
    period = closed_period("monthly", datetime.date.today())
    _peak_reset()
    rss_before = _status_kib("VmRSS")
    started = time.perf_counter()
    report = proformas_sweep(partner=partner)
    sweep_s = time.perf_counter() - started
    run = ar_run(partner=partner, period=period)
    total_s = time.perf_counter() - started
    growth_mib = max(0.0, (_status_kib("VmHWM") - rss_before) / 1024)  # RSS can shrink below where it started
    assert not report["errors"] and not run.errors, (report["errors"], run.errors)
    assert report["created"] == customers * services, report
    copy_s, rows = _plain_copy(partner.pk)
    return {
        "customers": customers,
        "proformas": report["created"],
        "invoices": len(run.invoice_ids),
        "sweep_s": sweep_s,
        "ar_s": total_s - sweep_s,
        "total_s": total_s,
        "copy_s": copy_s,
        "rows": rows,
        "growth_mib": growth_mib,
    }


def bench_billing(lines: list[str]) -> None:
    from bench.run import SERVICES_PER_CUSTOMER
    from bench.table import record

    results = [bill_once(customers, SERVICES_PER_CUSTOMER) for customers in SIZES]
    lines += [
        f"### Billing end to end (proforma sweep + AR run) against a plain COPY of the same rows "
        f"(x {SERVICES_PER_CUSTOMER} services, PostgreSQL)",
        "",
        "| customers | proformas | invoices | rows written | sweep | AR run | end to end | rows/s | plain COPY "
        "| ratio | peak memory growth |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r["total_s"] / r["copy_s"]
        lines.append(
            f"| {r['customers']:,} | {r['proformas']:,} | {r['invoices']:,} | {r['rows']:,} | {r['sweep_s']:.2f} s "
            f"| {r['ar_s']:.2f} s | {r['total_s']:.2f} s | {r['rows'] / r['total_s']:,.0f} | {r['copy_s']:.2f} s "
            f"| {ratio:.1f}x | {r['growth_mib']:.0f} MiB |"
        )
        goal_s = GOALS.get(r["customers"])
        record(
            f"billing end to end (sweep + AR run), {r['customers']:,} customers x {SERVICES_PER_CUSTOMER} services",
            f"{r['total_s']:.2f} s ({r['rows'] / r['total_s']:,.0f} rows/s, +{r['growth_mib']:.0f} MiB peak)",
            limit=f"plain COPY of the same {r['rows']:,} rows {r['copy_s']:.2f} s",
            ratio=f"{ratio:.1f}x",
            goal=f"<= {COPY_GOAL:.0f}x COPY" + (f"; <= {goal_s:.0f} s" if goal_s else ""),
            met=ratio <= COPY_GOAL,
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        record(
            f"peak memory growth billing {large['customers']:,} customers (memory flat)",
            f"+{large['growth_mib']:.0f} MiB",
            limit=f"{small['customers']:,} customers: +{small['growth_mib']:.0f} MiB",
            goal=f"<= the smaller size's + {FLAT_SLACK_MIB} MiB",
            met=large["growth_mib"] <= small["growth_mib"] + FLAT_SLACK_MIB,
        )
    lines += [
        "",
        "Goals (issue 15): 1,000 customers in <= 2 s, 10,000 in <= 20 s with memory flat; <= 3x a plain COPY of "
        "the same rows measured in the same run (the seconds vary several-fold on a shared machine, the ratio "
        "does not). The COPY limit writes the rows under new ids with their foreign keys checked, and rolls back.",
        "",
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench import run
    from bench.table import markdown

    run.recreate_database()
    run.setup_django()
    out: list[str] = []
    bench_billing(out)
    print("\n".join(markdown() + out))
