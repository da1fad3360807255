"""Receipts (invoicing.receipts): one e-mail per payment and per refund, to the billing contact, sent once however
often the outbox runs its job."""

import re
import smtplib

import pytest
from django.core.mail.backends.base import BaseEmailBackend

from audit.recording import audit_trail
from customers.models import BillingContact
from invoicing import receipts
from invoicing.charging import invoice_pay_by_card
from invoicing.credits import credit_note_issue, payment_refund
from invoicing.models import OutboxJob
from invoicing.outbox import message_id
from invoicing.outbox_work import outbox_run
from invoicing.paylinks import pay_link_invoice
from invoicing.payments import payment_record
from invoicing.workflow import Actor, Role
from tests.factories import CustomerFactory, StaffMembershipFactory, issued_invoice

pytestmark = pytest.mark.django_db

GOOD = "4242424242424242"


class FailingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


@pytest.fixture
def invoice(customer):
    return issued_invoice(customer, [30000], deliver=False)  # no invoice e-mail: only receipts reach the outbox


def receipt_jobs(invoice):
    return OutboxJob.objects.filter(invoice=invoice, kind=OutboxJob.Kind.RECEIPT)


def test_a_payment_recorded_in_the_office_sends_one_receipt_even_when_the_outbox_runs_twice(invoice, admin, mailoutbox):
    payment = payment_record(invoice=invoice, amount_units=10000, method="check", reference="1001", user=admin)

    outbox_run()
    outbox_run()

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    contact = invoice.customer.contacts.get(is_default=True)
    assert mail.to == [contact.email]
    assert mail.subject == f"Receipt: $100.00 received for invoice {invoice.number} from {invoice.partner.name}"
    for text in (
        "Amount paid:     $100.00",
        "Paid by:         Check",
        "Reference:       1001",
        "Balance due now: $200.00",
    ):
        assert text in mail.body
    token = re.search(r"View and pay the balance online: http://\S+/pay/(\S+)/\n", mail.body).group(1)
    assert pay_link_invoice(token) == invoice
    html = mail.alternatives[0][0]
    assert "$100.00" in html and "View and pay" in html
    job = receipt_jobs(invoice).get()
    assert (job.payment_id, job.status, job.result) == (payment.pk, "done", "sent")
    assert mail.extra_headers["Message-ID"] == message_id(job)
    [sent] = audit_trail(invoice).filter(action="receipt_sent")
    assert sent.data["job"] == job.key and sent.data["payment_id"] == payment.pk


def test_paying_the_rest_says_nothing_is_left_and_carries_no_pay_link(invoice, mailoutbox):
    payment_record(invoice=invoice, amount_units=30000, method="transfer", reference="WIRE-7")

    outbox_run()

    [mail] = mailoutbox
    assert "Paid by:         Bank transfer" in mail.body and "Balance due now: $0.00" in mail.body
    assert "Nothing is left to pay on this invoice." in mail.body
    assert "/pay/" not in mail.body


def test_a_card_payment_sends_one_receipt_naming_the_card(invoice, mailoutbox):
    outcome = invoice_pay_by_card(
        invoice=invoice,
        user=None,
        actor=Actor(Role.CUSTOMER),
        idempotency_key="receipt-card-test-0001",
        number=GOOD,
        exp_month=12,
        exp_year=2039,
    )
    assert outcome.succeeded

    outbox_run()
    outbox_run()

    [mail] = mailoutbox
    assert "Paid by:         Card ending 4242" in mail.body
    assert f"Reference:       {outcome.payment.reference}" in mail.body
    assert receipt_jobs(invoice).get().payment_id == outcome.payment.pk


def test_a_rerun_of_a_sent_receipt_job_sends_nothing(invoice, mailoutbox):
    payment_record(invoice=invoice, amount_units=5000, method="check", reference="12")
    outbox_run()
    job = receipt_jobs(invoice).get()

    assert receipts.receipt_job_run(job) == "already sent"  # a worker that took it again after its lease
    assert len(mailoutbox) == 1


def test_a_crash_between_the_send_and_its_record_resends_the_same_message(invoice, mailoutbox, monkeypatch):
    """The invoice e-mail's guarantee: the worker may send again after such a crash, with the same Message-ID, so the
    recipient's mail system shows it once; once recorded, nothing more is sent."""
    payment_record(invoice=invoice, amount_units=5000, method="check", reference="12")

    def crash(**kwargs):
        raise RuntimeError("the worker died")

    monkeypatch.setattr(receipts, "audit_record", crash)
    outbox_run()
    job = receipt_jobs(invoice).get()
    assert job.status == "pending" and len(mailoutbox) == 1
    monkeypatch.undo()

    outbox_run(now=job.run_after)
    outbox_run(now=job.run_after)

    assert len(mailoutbox) == 2
    assert mailoutbox[0].extra_headers["Message-ID"] == mailoutbox[1].extra_headers["Message-ID"] == message_id(job)
    assert receipt_jobs(invoice).get().status == "done"


def test_a_mail_server_that_is_down_is_tried_again(invoice, mailoutbox, settings):
    settings.EMAIL_BACKEND = "tests.invoicing.test_receipts.FailingBackend"
    payment_record(invoice=invoice, amount_units=5000, method="check", reference="12")

    outbox_run()

    job = receipt_jobs(invoice).get()
    assert job.status == "pending" and "the mail server refused it" in job.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    outbox_run(now=job.run_after)
    assert len(mailoutbox) == 1 and receipt_jobs(invoice).get().status == "done"


def test_a_customer_without_an_email_contact_gets_no_receipt_and_the_job_says_why(partner, mailoutbox):
    customer = CustomerFactory(partner=partner)
    BillingContact.objects.filter(customer=customer).update(email="")
    invoice = issued_invoice(customer, [5000], deliver=False)
    payment_record(invoice=invoice, amount_units=5000, method="check", reference="12")

    outbox_run()

    job = receipt_jobs(invoice).get()
    assert job.status == "failed" and job.attempts == 1  # given up at once: trying again cannot help
    assert job.last_error == (
        f"No receipt sent: {customer} has no billing contact with an e-mail address. Add one, then retry."
    )
    assert mailoutbox == []


def test_a_check_refund_sends_one_receipt(invoice, admin, mailoutbox):
    payment = payment_record(invoice=invoice, amount_units=30000, method="check", reference="1001")
    outbox_run()  # the payment's receipt
    mailoutbox.clear()

    refund = payment_refund(payment=payment, amount_units=12000, reference="5555", reason="Overpaid", user=admin)
    outbox_run()
    outbox_run()

    [mail] = mailoutbox
    assert mail.subject == f"Refund of $120.00 on invoice {invoice.number} from {invoice.partner.name}"
    for text in (
        "Amount refunded: $120.00",
        "Paid back to:    a check",
        "Reference:       5555",
        "Balance due now: $120.00",
    ):
        assert text in mail.body
    assert receipt_jobs(invoice).filter(refund=refund).get().status == "done"


def test_a_card_refund_out_of_a_credit_note_sends_one_receipt_once_the_gateway_refunded(invoice, admin, mailoutbox):
    outcome = invoice_pay_by_card(
        invoice=invoice,
        user=None,
        actor=Actor(Role.CUSTOMER),
        idempotency_key="receipt-card-test-0002",
        number=GOOD,
        exp_month=12,
        exp_year=2039,
    )
    note = credit_note_issue(invoice=invoice, whole=True, reason="Service cancelled", user=admin)
    outbox_run()
    mailoutbox.clear()

    payment_refund(payment=outcome.payment, amount_units=30000, credit_note=note, user=admin)
    outbox_run()  # the gateway refunds, then its receipt goes
    outbox_run()

    [mail] = mailoutbox
    assert mail.subject.startswith("Refund of $300.00 on invoice")
    assert f"out of the credit of credit note {note.number}" in mail.body
    assert "Paid back to:    the card ending 4242" in mail.body and "Balance due now: $0.00" in mail.body
