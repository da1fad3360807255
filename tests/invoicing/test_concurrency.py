"""Races on PostgreSQL: gapless numbering under concurrent issuing, and payments recorded at the same time."""

import threading
from collections import Counter

import pytest
from django.db import connections

from invoicing.errors import BillingRuleError
from invoicing.lifecycle import invoice_issue
from invoicing.models import Invoice, NumberCounter, Payment
from invoicing.payments import payment_record
from tests.factories import CustomerFactory, draft_invoice, issued_invoice

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def run_at_once(jobs):
    """Run each job in its own thread, all released together; return (results, errors) in job order."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), [None] * len(jobs)

    def worker(i, job):
        try:
            barrier.wait(timeout=30)
            results[i] = job()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return results, errors


def test_concurrent_issuing_gives_gapless_unique_numbers():
    customer = CustomerFactory()
    drafts = [draft_invoice(customer, [1000 + i]).pk for i in range(400)]

    def issue_slice(ids):
        def job():
            for pk in ids:
                invoice_issue(invoice=Invoice.objects.get(pk=pk))
            return len(ids)

        return job

    results, errors = run_at_once([issue_slice(drafts[i::THREADS]) for i in range(THREADS)])

    assert errors == [None] * THREADS
    assert sum(results) == 400
    issued = Invoice.objects.filter(partner=customer.partner, kind="ar")
    sequences = sorted(issued.values_list("sequence", flat=True))
    assert sequences == list(range(1, 401))
    numbers = list(issued.values_list("number", flat=True))
    assert len(set(numbers)) == 400 and not [n for n, c in Counter(numbers).items() if c > 1]
    assert NumberCounter.objects.get(partner=customer.partner, series="ar").last_value == 400
    assert not issued.filter(status=Invoice.Status.DRAFT).exists()


@pytest.mark.parametrize("amount", [3000, 10000], ids=["partial", "settling"])
def test_same_payment_submitted_twice_at_once_is_recorded_once(amount):
    invoice = issued_invoice(CustomerFactory(), [10000])

    def job():
        return payment_record(invoice=invoice, amount_units=amount, method="card", idempotency_key="double-click").pk

    results, errors = run_at_once([job, job])

    assert errors == [None, None]
    assert results[0] == results[1]
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).paid_units == amount


def test_two_payments_exceeding_the_balance_together_let_one_through():
    invoice = issued_invoice(CustomerFactory(), [10000])

    def job(amount, key):
        return lambda: payment_record(invoice=invoice, amount_units=amount, method="card", idempotency_key=key)

    results, errors = run_at_once([job(7000, "a"), job(6000, "b")])

    assert sum(e is None for e in errors) == 1
    [refused] = [e for e in errors if e is not None]
    assert isinstance(refused, BillingRuleError) and refused.field == "amount"
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.paid_units == sum(r.amount_units for r in results if r is not None)
    assert invoice.paid_units <= invoice.total_units
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
