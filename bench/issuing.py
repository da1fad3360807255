"""Issuing against the machine's own limit, in the same run (issue 15, item 2).

Four figures, each a median of ``ROUNDS`` rounds on fresh drafts (AR drafts of three typed lines each, spread over
1,000 customers with a default billing contact, bulk inserted and analysed; setup, not measured):

- the limit: the number counter alone, ``ISSUERS`` processes each taking bare numbers, a transaction per number;
- ``invoice_issue`` one by one (a transaction per invoice) from ``ISSUERS`` processes at once;
- the bulk issue (``invoicing.bulk_issue``) from ``ISSUERS`` processes at once, ``TX_SIZE`` drafts per
  transaction;
- one bulk issue of a whole run (``RUN_SIZE`` drafts, one call, one transaction).

Each issuer times its statements (``connection.execute_wrapper``) and its COMMITs: the time per invoice is split
into lock waits (the statements that take a row lock, the counter UPDATE and the SELECT ... FOR UPDATE, less their
fastest run in that process: what they spent waiting), SQL (every statement and COMMIT, waits excluded) and Python
(the rest of the wall time). Every round checks the numbers: gapless and unique, no failure.

Run alone with ``BENCH_DATABASE_URL=postgres://.../octoo_b_iss .venv/bin/python bench/issuing.py``;
``bench/run.py`` calls ``bench_issuing(lines)``.
"""

from __future__ import annotations

import datetime
import multiprocessing
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3
ISSUERS = 4
CUSTOMERS = 1000
SINGLE_DRAFTS = 1000  # issued one by one, ISSUERS processes
BULK_DRAFTS = 4000  # issued in bulk, ISSUERS processes
TX_SIZE = 200  # drafts per transaction in the concurrent bulk issue
RUN_SIZE = 10_000  # one bulk issue of a whole run
NUMBERS = 2000  # bare numbers, ISSUERS processes
LINES_PER_DRAFT = 3
# The goals as ratios to the counter: issue 15 set 800 and 5,000 invoices/s when the counter alone gave 2,143
# numbers/s on this machine; on a busier run the same ratio is the goal (absolute rates vary several-fold).
COUNTER_WHEN_SET = 2143
GOAL_CONCURRENT, GOAL_RUN = 800 / COUNTER_WHEN_SET, 5000 / COUNTER_WHEN_SET


@dataclass
class Timing:
    """One issuer's time: wall, in lock-taking statements (and the part of it that was waiting), other SQL."""

    count: int = 0
    wall: float = 0.0
    lock: float = 0.0
    lock_wait: float = 0.0
    sql: float = 0.0
    statements: int = 0

    def add(self, other: Timing) -> None:
        for name in ("count", "wall", "lock", "lock_wait", "sql", "statements"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class _Timer:
    """Times every statement and COMMIT of the connection; row-locking statements apart."""

    def __init__(self):
        self.lock_times: list[float] = []
        self.sql = 0.0
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            self.statements += 1
            head = sql.lstrip()[:40].upper()
            if "FOR UPDATE" in sql or (head.startswith("UPDATE") and "NUMBERCOUNTER" in sql.upper()):
                self.lock_times.append(spent)
            else:
                self.sql += spent

    def commit_timed(self, connection):
        commit = connection.commit

        def timed():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                self.sql += time.perf_counter() - started

        connection.commit = timed

    def timing(self, count: int, wall: float) -> Timing:
        floor = min(self.lock_times, default=0.0)
        lock = sum(self.lock_times)
        wait = sum(t - floor for t in self.lock_times)
        return Timing(count, wall, lock, wait, self.sql + (lock - wait), self.statements)


def _timed(work) -> Timing:
    from django.db import connection, connections

    timer = _Timer()
    connection.ensure_connection()
    timer.commit_timed(connection)
    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        count = work()
    wall = time.perf_counter() - started
    del connection.commit
    connections.close_all()
    return timer.timing(count, wall)


def _single_issuer(args) -> Timing:
    (ids,) = args
    from invoicing.lifecycle import invoice_issue
    from invoicing.models import Invoice

    def work():
        for pk in ids:
            invoice_issue(invoice=Invoice(pk=pk))  # action_begin re-reads it under the lock
        return len(ids)

    return _timed(work)


def _bulk_issuer(args) -> Timing:
    ids, tx_size = args
    from invoicing.bulk_issue import invoices_issue_bulk

    def work():
        issued = 0
        for start in range(0, len(ids), tx_size):
            result = invoices_issue_bulk(invoice_ids=ids[start : start + tx_size])
            assert not result.refused, result.refused
            issued += len(result.issued)
        return issued

    return _timed(work)


def _numberer(args) -> Timing:
    partner_id, count = args
    from django.db import transaction

    from customers.models import Partner
    from invoicing.numbering import number_take

    partner = Partner.objects.get(pk=partner_id)
    today = datetime.date.today()

    def work():
        for _ in range(count):
            with transaction.atomic():
                number_take(partner=partner, series="pf", on_date=today)
        return count

    return _timed(work)


def _in_processes(worker, shares) -> tuple[float, Timing]:
    from django.db import connection

    connection.close()
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with ctx.Pool(len(shares)) as pool:
        timings = pool.map(worker, shares)
    elapsed = time.perf_counter() - started
    total = Timing()
    for timing in timings:
        total.add(timing)
    return elapsed, total


def world_make(slug: str):
    """A partner with ``CUSTOMERS`` customers, each with a default billing contact (bulk inserted)."""
    from customers.models import BillingContact, Customer, Partner

    partner = Partner.objects.create(name=f"Bench Issuing {slug}", slug=f"bench-issue-{slug}")
    customers = Customer.objects.bulk_create(
        [Customer(partner=partner, name=f"Customer {i:05d}", address=f"{i} Main St") for i in range(CUSTOMERS)]
    )
    BillingContact.objects.bulk_create(
        [
            BillingContact(customer=c, name=f"AP {c.name}", email=f"ap{c.pk}@example.com", is_default=True)
            for c in customers
        ]
    )
    return partner, customers


def drafts_make(partner, customers, count: int) -> list[int]:
    """``count`` AR drafts of ``LINES_PER_DRAFT`` priced lines each, over the customers (bulk inserted)."""
    from decimal import Decimal

    from django.db import connection

    from invoicing.models import Invoice, Slip
    from invoicing.pricing import slip_price

    drafts = Invoice.objects.bulk_create(
        [
            Invoice(partner=partner, kind="ar", customer=customers[i % len(customers)], currency=partner.currency)
            for i in range(count)
        ],
        batch_size=2000,
    )
    slips = [
        slip_price(
            Slip(
                partner=partner,
                invoice=draft,
                position=n,
                description=f"Line {n}",
                quantity=Decimal("1.5"),
                bill_rate_units=Decimal(8500 + 100 * n),
                pay_rate_units=Decimal(5500),
                tax_rate=Decimal("8.25"),
            )
        )
        for draft in drafts
        for n in range(LINES_PER_DRAFT)
    ]
    Slip.objects.bulk_create(slips, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics after a bulk load (the sums query uses the slip indexes)
    return [draft.pk for draft in drafts]


def _gapless(partner, ids) -> bool:
    from invoicing.models import Invoice, NumberCounter

    issued = Invoice.objects.filter(pk__in=ids)
    sequences = sorted(issued.exclude(status="draft").values_list("sequence", flat=True))
    last = NumberCounter.objects.get(partner=partner, series="ar").last_value
    return (
        len(sequences) == len(ids)
        and sequences == list(range(sequences[0], sequences[0] + len(ids)))
        and last == sequences[-1]
        and issued.values("number").distinct().count() == len(ids)
    )


def _shares(ids):
    return [ids[i::ISSUERS] for i in range(ISSUERS)]


def _per_issue(total: Timing) -> str:
    ms = 1000 / max(total.count, 1)
    parts = {
        "lock waits": total.lock_wait,
        "SQL": total.sql,
        "Python": max(total.wall - total.sql - total.lock_wait, 0.0),
    }
    wall = sum(parts.values()) or 1.0
    return ", ".join(f"{name} {value * ms:.2f} ms ({100 * value / wall:.0f} %)" for name, value in parts.items())


def bench_issuing(lines: list[str]) -> None:
    from bench.table import record
    from invoicing.bulk_issue import invoices_issue_bulk

    rounds = []
    for n in range(ROUNDS):
        partner, customers = world_make(f"{n}")
        single_ids = drafts_make(partner, customers, SINGLE_DRAFTS)
        bulk_ids = drafts_make(partner, customers, BULK_DRAFTS)
        run_ids = drafts_make(partner, customers, RUN_SIZE)

        number_s, number_t = _in_processes(_numberer, [(partner.pk, NUMBERS // ISSUERS)] * ISSUERS)
        single_s, single_t = _in_processes(_single_issuer, [(share,) for share in _shares(single_ids)])
        ok = _gapless(partner, single_ids)
        bulk_s, bulk_t = _in_processes(_bulk_issuer, [(share, TX_SIZE) for share in _shares(bulk_ids)])
        ok = ok and _gapless(partner, bulk_ids)
        run_t = _timed(lambda ids=run_ids: len(invoices_issue_bulk(invoice_ids=ids).issued))
        ok = ok and _gapless(partner, run_ids)
        failures = (SINGLE_DRAFTS - single_t.count) + (BULK_DRAFTS - bulk_t.count) + (RUN_SIZE - run_t.count)
        rounds.append(
            {
                "numbers/s": NUMBERS / number_s,
                "single/s": SINGLE_DRAFTS / single_s,
                "bulk4/s": BULK_DRAFTS / bulk_s,
                "run/s": RUN_SIZE / run_t.wall,
                "ok": ok and not failures,
                "failures": failures,
                "timings": (number_t, single_t, bulk_t, run_t),
            }
        )
        print(f"round {n}: " + ", ".join(f"{k} {v:,.0f}" for k, v in rounds[-1].items() if k.endswith("/s")))

    def med(key):
        return statistics.median(r[key] for r in rounds)

    numbers, single, bulk4, run = med("numbers/s"), med("single/s"), med("bulk4/s"), med("run/s")
    ok = all(r["ok"] for r in rounds)
    middle = sorted(rounds, key=lambda r: r["bulk4/s"])[len(rounds) // 2]
    number_t, single_t, bulk_t, run_t = middle["timings"]
    record(
        f"issue one by one (invoice_issue), {ISSUERS} processes",
        f"{single:,.0f} invoices/s",
        limit=f"counter alone {numbers:,.0f} numbers/s",
        ratio=f"{single / numbers:.2f}x",
        goal="(was 153/s, 0.07x the counter)",
        met=None,
    )
    record(
        f"bulk issue, {ISSUERS} processes, {TX_SIZE} drafts per transaction",
        f"{bulk4:,.0f} invoices/s",
        limit=f"counter alone {numbers:,.0f} numbers/s",
        ratio=f"{bulk4 / numbers:.2f}x",
        goal=f">= 800 invoices/s or >= {GOAL_CONCURRENT:.2f}x the counter; 0 failures, 0 gaps",
        met=(bulk4 >= 800 or bulk4 / numbers >= GOAL_CONCURRENT) and ok,
    )
    record(
        f"bulk issue of a whole run ({RUN_SIZE:,} drafts, one call)",
        f"{run:,.0f} invoices/s",
        limit=f"counter alone {numbers:,.0f} numbers/s",
        ratio=f"{run / numbers:.2f}x",
        goal=f">= 5,000 invoices/s or >= {GOAL_RUN:.2f}x the counter",
        met=(run >= 5000 or run / numbers >= GOAL_RUN) and ok,
    )
    lines += [
        f"### Issuing against the number counter ({ISSUERS} processes, PostgreSQL)",
        "",
        f"Medians of {ROUNDS} rounds, each on fresh drafts ({LINES_PER_DRAFT} lines each, {CUSTOMERS:,} customers). "
        "The limit is the counter alone: bare numbers, a transaction per number, from the same number of processes.",
        "",
        "| step | invoices | rate | / counter | statements per invoice | time per invoice |",
        "|---|---|---|---|---|---|",
        f"| counter alone, a transaction per number | {NUMBERS:,} numbers | {numbers:,.0f} numbers/s | 1.00 | "
        f"{number_t.statements / max(number_t.count, 1):.1f} | {_per_issue(number_t)} |",
        f"| `invoice_issue` one by one | {SINGLE_DRAFTS:,} | {single:,.0f} invoices/s | {single / numbers:.2f} | "
        f"{single_t.statements / max(single_t.count, 1):.1f} | {_per_issue(single_t)} |",
        f"| bulk issue, {TX_SIZE} per transaction | {BULK_DRAFTS:,} | {bulk4:,.0f} invoices/s "
        f"| {bulk4 / numbers:.2f} | "
        f"{bulk_t.statements / max(bulk_t.count, 1):.2f} | {_per_issue(bulk_t)} |",
        f"| bulk issue of a whole run, 1 process | {RUN_SIZE:,} | {run:,.0f} invoices/s | {run / numbers:.2f} | "
        f"{run_t.statements / max(run_t.count, 1):.3f} | {_per_issue(run_t)} |",
        "",
        f"Numbers: {'gapless and unique in every round, no failure' if ok else 'GAPS, DUPLICATES OR FAILURES'}. "
        "Time per invoice is summed over the processes (wall time of each issuer): lock waits are the row-locking "
        "statements' time above their fastest run; SQL is every statement and COMMIT otherwise; Python the rest.",
        "",
    ]
    if not ok:
        raise SystemExit("issuing produced gaps, duplicates or failures")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench import run

    run.recreate_database()
    run.setup_django()
    out: list[str] = []
    bench_issuing(out)
    from bench.table import markdown

    print("\n".join(markdown() + out))
