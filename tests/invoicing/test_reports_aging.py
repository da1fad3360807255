"""AR aging as of a date, read from today's balances with what moved after the date taken back out (the open
invoices and those that moved, not every invoice's payment history): the same figures as the definition
(``aging_invoices``: each invoice's payments, refunds and credit dated on or before the date)."""

import datetime

import pytest
from django.utils import timezone

from invoicing.credits import credit_apply, credit_note_issue, payment_refund
from invoicing.lifecycle import invoice_void
from invoicing.payments import payment_record
from invoicing.reports import AGING_BUCKETS, aging_invoices, aging_sums, ar_aging, ar_aging_today, customer_aging
from tests.factories import CustomerFactory, draft_invoice, issued_invoice

pytestmark = pytest.mark.django_db

BUCKETS = [key for key, _ in AGING_BUCKETS]


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def pay(invoice, units, on):
    return payment_record(invoice=invoice, amount_units=units, method="transfer", received_on=on)


@pytest.fixture
def history(partner, customer, staff_user):
    """Two customers' invoices with payments, refunds, credit and a void on either side of the dates asked."""
    other = CustomerFactory(partner=partner, name="Second Customer")
    made = {}
    # open, nothing moved since they were issued
    made["open"] = issued_invoice(customer, [10000], issue_date=days_ago(70))
    made["open_other"] = issued_invoice(other, [12000], issue_date=days_ago(5))
    # paid in full 50 days ago
    made["paid_early"] = issued_invoice(customer, [20000], issue_date=days_ago(60))
    pay(made["paid_early"], 20000, days_ago(50))
    # paid in two parts: 20 days ago and today
    made["split"] = issued_invoice(customer, [30000], issue_date=days_ago(45))
    pay(made["split"], 10000, days_ago(20))
    pay(made["split"], 20000, days_ago(0))
    # paid in full 30 days ago, part of it refunded today (which reopens it)
    made["refunded"] = issued_invoice(other, [40000], issue_date=days_ago(50))
    payment = pay(made["refunded"], 40000, days_ago(30))
    payment_refund(payment=payment, amount_units=15000, reference="R-1", user=staff_user)
    # a credit note 25 days ago (applied to its own invoice that day), the rest paid 10 days ago
    made["credited"] = issued_invoice(customer, [50000], issue_date=days_ago(40))
    credit_note_issue(
        invoice=made["credited"], amount_units=20000, reason="Late", user=staff_user, issue_date=days_ago(25)
    )
    pay(made["credited"], 30000, days_ago(10))
    # a paid invoice's credit note (its credit left over), applied today to another open invoice
    donor = issued_invoice(other, [8000], issue_date=days_ago(35))
    pay(donor, 8000, days_ago(34))
    note = credit_note_issue(
        invoice=donor, amount_units=3000, reason="Goodwill", user=staff_user, issue_date=days_ago(20)
    )
    made["taker"] = issued_invoice(other, [9000], issue_date=days_ago(15))
    credit_apply(credit_note=note, invoice=made["taker"], amount_units=3000, user=staff_user)
    # credit refunded to the customer today, out of a credit note: the invoice stays settled
    kept = issued_invoice(other, [6000], issue_date=days_ago(33))
    kept_payment = pay(kept, 6000, days_ago(32))
    kept_note = credit_note_issue(invoice=kept, amount_units=2000, reason="Refund", user=staff_user)
    payment_refund(payment=kept_payment, amount_units=2000, credit_note=kept_note, reference="R-2", user=staff_user)
    # voided today: owed until today
    made["voided"] = issued_invoice(customer, [60000], issue_date=days_ago(30))
    invoice_void(invoice=made["voided"], reason="Billed twice")
    # issued three days ago; a draft; another partner's invoice
    made["recent"] = issued_invoice(customer, [70000], issue_date=days_ago(3))
    draft_invoice(customer, [88800])
    issued_invoice(CustomerFactory(name="Elsewhere Corp"), [123400], issue_date=days_ago(40))
    return made


def by_definition(partner, as_of) -> dict:
    """{customer id: (invoices, buckets...)} from ``aging_invoices`` (payments, refunds and credit as of the date)."""
    rows = aging_invoices(partner=partner, as_of=as_of).order_by().values("customer_id").annotate(**aging_sums(as_of))
    return {row["customer_id"]: (row["invoices"], *(row[key] or 0 for key in BUCKETS)) for row in rows}


def as_figures(report) -> dict:
    return {row.customer_id: (row.invoices, *(getattr(row, key) for key in BUCKETS)) for row in report.rows}


@pytest.mark.parametrize("days", [-5, 0, 1, 2, 3, 5, 10, 11, 15, 20, 25, 30, 31, 34, 40, 45, 50, 60, 70, 90])
def test_aging_as_of_any_date_has_the_figures_of_its_definition(partner, customer, history, days):
    as_of = days_ago(days)
    expected = by_definition(partner, as_of)
    assert as_figures(ar_aging(partner=partner, as_of=as_of)) == expected
    row = customer_aging(customer=customer, as_of=as_of)
    assert (row.invoices, *(getattr(row, key) for key in BUCKETS)) == expected.get(customer.pk, (0,) * 6)


def owed(invoice, as_of) -> int:
    """What the aging report says the invoice's customer (who has no other invoice) owed on ``as_of``."""
    return customer_aging(customer=invoice.customer, as_of=as_of).total


def test_an_invoice_paid_after_the_date_is_still_owed_as_of_the_date(partner, customer):
    invoice = issued_invoice(customer, [30000], issue_date=days_ago(45))
    pay(invoice, 10000, days_ago(20))
    pay(invoice, 20000, days_ago(0))
    assert owed(invoice, days_ago(21)) == 30000
    assert owed(invoice, days_ago(15)) == 20000
    assert owed(invoice, days_ago(0)) == 0


def test_a_refund_after_the_date_leaves_it_settled_as_of_the_date(partner, customer, staff_user):
    invoice = issued_invoice(customer, [40000], issue_date=days_ago(50))
    payment = pay(invoice, 40000, days_ago(30))
    payment_refund(payment=payment, amount_units=15000, reference="R-1", user=staff_user)  # made today
    assert owed(invoice, days_ago(31)) == 40000
    assert owed(invoice, days_ago(1)) == 0
    assert owed(invoice, days_ago(0)) == 15000


def test_credit_applied_after_the_date_counts_from_its_day(partner, customer, staff_user):
    donor = issued_invoice(customer, [8000], issue_date=days_ago(35))
    pay(donor, 8000, days_ago(34))
    note = credit_note_issue(invoice=donor, amount_units=3000, reason="Goodwill", user=staff_user)
    taker = issued_invoice(customer, [9000], issue_date=days_ago(15))
    credit_apply(credit_note=note, invoice=taker, amount_units=3000, user=staff_user)  # today
    assert owed(taker, days_ago(1)) == 9000
    assert owed(taker, days_ago(0)) == 6000


def test_a_void_invoice_is_owed_until_the_day_it_was_voided(partner, customer):
    invoice = issued_invoice(customer, [60000], issue_date=days_ago(30))
    invoice_void(invoice=invoice, reason="Billed twice")  # today
    assert owed(invoice, days_ago(1)) == 60000
    assert owed(invoice, days_ago(0)) == 0


def test_aging_today_is_the_aging_as_of_today(partner, history):
    today = timezone.localdate()
    assert as_figures(ar_aging_today(partner=partner, today=today)) == by_definition(partner, today)


def test_aging_is_one_query_whatever_moved(partner, customer, history, django_assert_num_queries):
    with django_assert_num_queries(1):
        ar_aging(partner=partner, as_of=days_ago(25))
    with django_assert_num_queries(1):
        customer_aging(customer=customer, as_of=days_ago(25))
