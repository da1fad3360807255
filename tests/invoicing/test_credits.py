"""Credit notes, customer credit and refunds, with worked figures (invoicing.credits)."""

import pytest
from django.db import DatabaseError, transaction

from customers.models import Customer
from invoicing.credits import credit_apply, credit_note_issue, payment_refund
from invoicing.errors import BillingRuleError, InvalidTransition
from invoicing.gateways import SimulatedCardGateway
from invoicing.lifecycle import invoice_void
from invoicing.models import CreditNote, Invoice, NumberCounter, OutboxJob, Payment, Refund, Slip
from invoicing.outbox_work import outbox_run
from invoicing.payments import payment_record
from tests.factories import CustomerFactory, StaffMembershipFactory, issued_invoice
from tests.invoicing.test_concurrency import run_at_once

pytestmark = pytest.mark.django_db

S = Invoice.Status


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


def refreshed(obj):
    obj.refresh_from_db()
    return obj


def test_300_invoice_100_paid_50_credited_leaves_150_due(customer, admin):
    invoice = issued_invoice(customer, [30000])
    payment_record(invoice=invoice, amount_units=10000, method="check", reference="101")
    note = credit_note_issue(invoice=invoice, amount_units=5000, reason="Late start", user=admin)
    invoice = refreshed(invoice)
    assert invoice.outstanding_units == 15000 and invoice.status == S.PARTIALLY_PAID
    assert note.number.startswith("CN-") and note.number.endswith("-00001")
    assert (note.total_units, note.applied_units, note.credit_left_units) == (5000, 5000, 0)
    assert invoice.credited_units == 5000


def test_paid_in_full_then_credited_in_full_leaves_a_credit_refunded_to_the_card(partner, admin, mailoutbox):
    customer = CustomerFactory(partner=partner)
    invoice = issued_invoice(customer, [30000], deliver=False)
    payment = payment_record(invoice=invoice, amount_units=30000, method="card", reference="sim_ch_0123456789abcdef")
    note = credit_note_issue(invoice=invoice, whole=True, reason="Service cancelled", user=admin)
    assert (note.total_units, note.applied_units, note.credit_left_units) == (30000, 0, 30000)
    assert refreshed(invoice).status == S.PAID  # it was paid; the credit is the customer's now

    refund = payment_refund(payment=payment, amount_units=30000, credit_note=note, user=admin)
    assert refund.status == Refund.Status.PENDING  # the gateway is asked by the worker
    outbox_run()
    refund, note, payment = refreshed(refund), refreshed(note), refreshed(payment)
    assert refund.status == Refund.Status.SUCCEEDED and refund.reference.startswith("sim_re_")
    assert (note.credit_left_units, note.refunded_units, payment.refunded_units) == (0, 30000, 30000)
    assert refreshed(invoice).status == S.PAID and refreshed(invoice).outstanding_units == 0


def test_paid_in_full_then_credited_the_credit_is_applied_to_the_next_invoice(customer, admin):
    first = issued_invoice(customer, [30000])
    payment_record(invoice=first, amount_units=30000, method="check", reference="7")
    note = credit_note_issue(invoice=first, amount_units=30000, reason="Overbilled", user=admin)
    second = issued_invoice(customer, [45000])
    credit_apply(credit_note=note, invoice=second, amount_units=30000, user=admin)
    second, note = refreshed(second), refreshed(note)
    assert (second.outstanding_units, second.status) == (15000, S.PENDING)  # nothing paid on it yet
    assert note.credit_left_units == 0


def test_a_fully_credited_unpaid_invoice_is_credited(customer, admin):
    invoice = issued_invoice(customer, [12000])
    credit_note_issue(invoice=invoice, whole=True, reason="Wrong customer", user=admin)
    invoice = refreshed(invoice)
    assert (invoice.status, invoice.outstanding_units, invoice.credited_units) == (S.CREDITED, 0, 12000)


def test_a_credit_above_what_is_left_to_credit_is_refused_on_the_amount(customer, admin):
    invoice = issued_invoice(customer, [30000])
    credit_note_issue(invoice=invoice, amount_units=20000, reason="Part", user=admin)
    with pytest.raises(BillingRuleError) as refused:
        credit_note_issue(invoice=invoice, amount_units=10001, reason="Too much", user=admin)
    assert refused.value.field == "amount" and "more than is left to credit" in refused.value.message
    assert CreditNote.objects.filter(invoice=invoice).count() == 1
    assert NumberCounter.objects.get(partner=invoice.partner, series="cn").last_value == 1  # no number used


def test_chosen_lines_are_credited_with_their_tax(customer, admin):
    invoice = issued_invoice(customer, [10000, 2500, 700])
    slips = list(Slip.objects.filter(invoice=invoice).order_by("position"))
    note = credit_note_issue(invoice=invoice, slip_ids=[slips[1].pk], reason="Not delivered", user=admin)
    assert note.total_units == slips[1].bill_total_units
    assert [line.description for line in note.lines.all()] == [slips[1].description]


def test_a_clerk_credits_but_only_an_admin_refunds_and_a_void_invoice_is_not_credited(customer, admin, clerk_user):
    invoice = issued_invoice(customer, [5000])
    payment = payment_record(invoice=invoice, amount_units=1000, method="check", reference="3")
    note = credit_note_issue(invoice=invoice, amount_units=100, reason="Short", user=clerk_user)
    assert note.created_by == clerk_user
    with pytest.raises(InvalidTransition, match="billing admin"):
        payment_refund(payment=payment, amount_units=100, user=clerk_user)
    invoice = issued_invoice(customer, [5000])
    invoice_void(invoice=invoice, reason="Typed twice")
    with pytest.raises(InvalidTransition, match="void invoice is not credited"):
        credit_note_issue(invoice=invoice, amount_units=100, reason="x", user=admin)


def test_the_void_refusal_for_a_paid_invoice_points_to_credit_notes(customer):
    invoice = issued_invoice(customer, [5000])
    payment_record(invoice=invoice, amount_units=1000, method="check", reference="1")
    with pytest.raises(BillingRuleError, match="issue a credit note instead"):
        invoice_void(invoice=invoice, reason="Mistake")


def test_a_check_refund_without_a_credit_note_reopens_the_balance(customer, admin):
    invoice = issued_invoice(customer, [10000])
    payment = payment_record(invoice=invoice, amount_units=10000, method="check", reference="55")
    refund = payment_refund(payment=payment, amount_units=4000, reference="Check 900", user=admin)
    assert refund.status == Refund.Status.SUCCEEDED
    invoice = refreshed(invoice)
    assert (invoice.paid_units, invoice.outstanding_units, invoice.status) == (6000, 4000, S.PARTIALLY_PAID)
    with pytest.raises(BillingRuleError) as refused:
        payment_refund(payment=payment, amount_units=6001, user=admin)
    assert refused.value.field == "amount"


def test_a_failed_card_refund_is_shown_and_retried_until_the_gateway_refunds(partner, admin, monkeypatch):
    invoice = issued_invoice(CustomerFactory(partner=partner), [8000], deliver=False)
    payment = payment_record(invoice=invoice, amount_units=8000, method="card", reference="sim_ch_00ff00ff00ff00ff")
    refund = payment_refund(payment=payment, amount_units=8000, user=admin)
    real = SimulatedCardGateway.refund
    monkeypatch.setattr(SimulatedCardGateway, "refund", lambda self, **kw: type(real(self, **kw))("error", "", "Down"))
    outbox_run()
    refund = refreshed(refund)
    assert refund.status == Refund.Status.PENDING and "Down" in refund.error
    job = OutboxJob.objects.get(refund=refund)
    assert job.status == "pending" and job.attempts == 1
    monkeypatch.setattr(SimulatedCardGateway, "refund", real)
    outbox_run(now=job.run_after)
    assert refreshed(refund).status == Refund.Status.SUCCEEDED
    assert refreshed(invoice).outstanding_units == 8000  # no credit note: owed again


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_credit_note_numbers_stay_gapless_under_concurrent_issue():
    customer = CustomerFactory()
    Customer.objects.filter(pk=customer.pk).update(auto_send=False)
    admin = StaffMembershipFactory(partner=customer.partner).user
    invoices = [issued_invoice(customer, [10000], deliver=False) for _ in range(8)]

    def job(invoice):
        return lambda: credit_note_issue(invoice=invoice, amount_units=1000, reason="Race", user=admin)

    results, errors = run_at_once([job(invoice) for invoice in invoices])
    assert errors == [None] * 8
    sequences = sorted(CreditNote.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, 9))
    assert Payment.objects.count() == 0


def test_the_database_refuses_to_change_or_delete_an_issued_credit_note(customer, admin):
    invoice = issued_invoice(customer, [9000])
    note = credit_note_issue(invoice=invoice, amount_units=3000, reason="Part", user=admin)
    changes = [
        lambda: CreditNote.objects.filter(pk=note.pk).update(total_units=1, subtotal_units=1, tax_units=0),
        lambda: CreditNote.objects.filter(pk=note.pk).update(number="CN-2026-99999"),
        lambda: CreditNote.objects.filter(pk=note.pk).delete(),
        lambda: note.lines.update(description="changed"),
    ]
    for change in changes:
        with pytest.raises(DatabaseError), transaction.atomic():
            change()
    CreditNote.objects.filter(pk=note.pk).update(sent_at=note.issued_at)  # its delivery may still be recorded
    assert refreshed(note).total_units == 3000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_identical_credit_submits_at_once_issue_one_credit_note():
    customer = CustomerFactory()
    admin = StaffMembershipFactory(partner=customer.partner).user
    invoice = issued_invoice(customer, [10000], deliver=False)

    def submit():
        return credit_note_issue(
            invoice=invoice, amount_units=4000, reason="Twice", user=admin, expected_creditable_units=10000
        )

    results, errors = run_at_once([submit, submit])
    assert sum(error is None for error in errors) == 1
    assert all(isinstance(error, InvalidTransition) for error in errors if error is not None)
    assert CreditNote.objects.filter(invoice=invoice).count() == 1
    assert refreshed(invoice).outstanding_units == 6000
