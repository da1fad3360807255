"""Proforma generation against the machine's own limit, in the same run: the sweep that prices 10,000 services
into proformas and slips, and a plain ``bulk_create`` of the same rows (the proformas, their slips, their codes
and audit rows, copied and rolled back). Their ratio is what to compare between versions (issue 14: pricing may
grow, generation must stay within 10 % of its ratio before): absolute times on a shared machine vary several-fold.

``bench_generation(lines)`` is called by ``bench/run.py`` after Django is set up on the bench database; run it
alone with ``BENCH_DATABASE_URL=postgres://.../octoo_gen_bench .venv/bin/python bench/generation.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3
# The ratio of the code before issue 14 (052c454^), measured on this machine on 2026-12-01 with this bench and the
# guard triggers' fast ignore check (octoo_billing.triggers): 2.45x and 2.62x in two runs, against 1.19x and 1.24x
# for the code after it in the same hour. (The 0.70x measured earlier that day predates the fast check: pgtrigger's
# subtransaction per row made the bulk_create reference several times slower than the sweep's COPY.)
RATIO_BEFORE_ISSUE_14 = 2.45


class _Rollback(Exception):
    pass


def _bulk_copy(partner) -> float:
    """Seconds to bulk_create a copy of the partner's proformas, slips, codes and audit rows (rolled back)."""
    from django.db import transaction

    from audit.models import AuditEvent
    from expense_codes.models import AppliedExpenseCode
    from invoicing.models import Proforma, Slip

    proformas = list(Proforma.objects.filter(partner=partner).order_by("pk"))
    slips = list(Slip.objects.filter(proforma__partner=partner).order_by("pk"))
    codes = list(AppliedExpenseCode.objects.filter(proforma__partner=partner).order_by("pk"))
    events = list(AuditEvent.objects.filter(action="generate").order_by("pk")[: len(proformas)])
    elapsed = 0.0
    try:
        with transaction.atomic():
            started = time.perf_counter()
            old_ids = [p.pk for p in proformas]
            for proforma in proformas:
                proforma.pk, proforma.service_id, proforma.number = None, None, None
            Proforma.objects.bulk_create(proformas)
            new_id = dict(zip(old_ids, (p.pk for p in proformas), strict=True))
            for slip in slips:
                slip.pk, slip.proforma_id = None, new_id[slip.proforma_id]
            Slip.objects.bulk_create(slips, batch_size=1000)
            for code in codes:
                code.pk, code.proforma_id = None, new_id[code.proforma_id]
            AppliedExpenseCode.objects.bulk_create(codes, batch_size=1000)
            for event in events:
                event.pk = None
            AuditEvent.objects.bulk_create(events, batch_size=1000)
            elapsed = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    return elapsed


def bench_generation(lines: list[str]) -> None:
    from bench.run import CUSTOMERS, SERVICES_PER_CUSTOMER, build_world
    from bench.table import record
    from invoicing.models import Slip
    from invoicing.proformas import proformas_sweep

    rounds = []
    for n in range(ROUNDS):
        partner = build_world(name=f"Bench Generation {n}", slug=f"bench-gen-{n}")
        started = time.perf_counter()
        created = proformas_sweep(partner=partner)["created"]
        sweep_s = time.perf_counter() - started
        slips = Slip.objects.filter(proforma__partner=partner).count()
        copy_s = _bulk_copy(partner)
        rounds.append((sweep_s, copy_s, created, slips))
    sweep_s = statistics.median(r[0] for r in rounds)
    copy_s = statistics.median(r[1] for r in rounds)
    ratio = statistics.median(r[0] / r[1] for r in rounds)
    created, slips = rounds[0][2], rounds[0][3]
    record(
        "proforma generation (sweep) vs a plain bulk_create of the same rows",
        f"{sweep_s:.2f} s",
        limit=f"bulk_create {copy_s:.2f} s",
        ratio=f"{ratio:.2f}x",
        goal=f"within 10 % of the ratio before issue 14 ({RATIO_BEFORE_ISSUE_14:.2f}x, see RATIO_BEFORE_ISSUE_14)",
        met=ratio <= RATIO_BEFORE_ISSUE_14 * 1.1,
    )
    lines += [
        f"### Proforma generation against a plain bulk_create ({CUSTOMERS:,} customers x {SERVICES_PER_CUSTOMER} "
        "services, PostgreSQL)",
        "",
        f"Medians of {ROUNDS} rounds, each on a fresh world: the sweep (read, price, number, write) and a "
        "`bulk_create` of a copy of the same rows (proformas, slips, codes, audit rows; rolled back).",
        "",
        "| step | rows | time | rate |",
        "|---|---|---|---|",
        f"| proforma generation (sweep) | {created:,} proformas, {slips:,} slips | {sweep_s:.2f} s "
        f"| {created / sweep_s:,.0f} proformas/s |",
        f"| plain bulk_create of the same rows | {created:,} proformas, {slips:,} slips | {copy_s:.2f} s "
        f"| {created / copy_s:,.0f} proformas/s |",
        f"| **ratio sweep / bulk_create** | | **{ratio:.2f}** | |",
        "",
        "Goal (issue 14): the ratio stays within 10 % of its value before coupons, zones by address, two time "
        "policies and public holidays were added to pricing.",
        "",
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench import run

    run.recreate_database()
    run.setup_django()
    out: list[str] = []
    bench_generation(out)
    print("\n".join(out))
