"""The demo's invoices over time: each is issued on its own (past) day, in date order so that numbers follow dates,
and paid in its customer's usual way; the payments are recorded once every invoice is issued.
"""

from __future__ import annotations

import datetime
from unittest import mock

from django.utils import timezone

from invoicing.lifecycle import invoice_issue
from invoicing.models import Invoice
from invoicing.payments import payment_record

from .context import DemoSeed
from .dates import at


def issue_on(invoice: Invoice, *, user, day: datetime.date) -> Invoice:
    """Issue ``invoice`` on ``day`` as already delivered (``deliver=False``: no PDF, e-mail or charge work for the
    history), recorded as issued that morning as it would have been: invoice_issue stamps issued_at (and its audit
    row) from the clock, and the database refuses to change an issued invoice's issued_at afterwards."""
    with timezone.override(invoice.partner.tzinfo):
        moment = min(at(day, 9, invoice.pk * 37 % 60), timezone.now())
    with mock.patch.object(timezone, "now", return_value=moment):
        return invoice_issue(invoice=invoice, user=user, issue_date=day, deliver=False)


def pay(seed: DemoSeed, customer, invoice: Invoice, *, user, part: bool = False, on: datetime.date | None = None):
    """Plan a payment in the customer's usual way: by card, check, or (big institutions) bank transfer. ``part``:
    some of it (a deposit, or a partial payment); ``on``: the day (by default, some days after the issue)."""
    terms = customer.payment_terms_days or 30
    if on is None:
        days = seed.rng.randint(2, 12) if part else seed.rng.randint(4, max(5, terms - 2))
        on = invoice.issue_date + datetime.timedelta(days=days)
    method, reference = _payment_method(seed, customer, terms)
    amount = _part_amount(seed, invoice) if part else None  # None: the balance at the time
    seed.payment(on, invoice, amount, method, reference, user)


def _payment_method(seed: DemoSeed, customer, terms: int) -> tuple[str, str]:
    rng = seed.rng
    if customer.payment_method == "card":
        return "card", f"Visa ending {rng.randint(1000, 9999)}, auth {rng.randint(100000, 999999)}"
    if terms >= 45 and rng.random() < 0.5:
        return "transfer", f"ACH trace {rng.randint(10**14, 10**15 - 1)}"
    return "check", f"{rng.randint(1000, 99999)}"


def _part_amount(seed: DemoSeed, invoice: Invoice) -> int:
    """A round 30 to 50% of the invoice, less than what is owed once its child invoices pay their share."""
    owed = invoice.total_units - invoice.children_units
    amount = invoice.total_units * seed.rng.choice((30, 40, 50)) // 100 // 100 * 100
    return amount if 0 < amount < owed else max(1, owed // 2)


def events_run(seed: DemoSeed) -> None:
    """Run the planned events in date order; an event may plan later ones (a void a few days after an issue)."""
    while seed.events:
        seed.events.sort(key=lambda e: (e.day, e.order, e.seq))
        seed.events.pop(0).run()


def payments_run(seed: DemoSeed) -> None:
    """Record the planned payments in date order (``invoicing.payments.payment_record``), never before the issue
    and never more than is owed: an invoice paid meanwhile (or void) is skipped."""
    for planned in sorted(seed.payments, key=lambda p: (p.day, p.seq)):
        invoice = Invoice.objects.get(pk=planned.invoice_id)
        amount = invoice.outstanding_units if planned.amount_units is None else planned.amount_units
        if amount <= 0 or invoice.status not in Invoice.OPEN_STATUSES:
            continue
        payment_record(
            invoice=invoice,
            amount_units=amount,
            method=planned.method,
            reference=planned.reference,
            received_on=max(planned.day, invoice.issue_date),
            user=planned.user,
        )
