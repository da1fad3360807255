"""Statements of account (invoicing.statements, invoicing.statement_delivery), with worked figures.

The ledger below is made through the domain functions only: invoices issued on past dates, a partial payment, a
credit note applied to its invoice, a credit note left as credit (part applied to another invoice later, part
refunded), a plain refund that reopens an invoice, a void invoice, a parent with a child of another customer and
one of its own, and a card refund still pending at the gateway (not on the statement).
"""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from customers.models import Customer
from invoicing.credits import credit_apply, credit_note_issue, payment_refund
from invoicing.errors import BillingRuleError
from invoicing.lifecycle import invoice_attach_child, invoice_void
from invoicing.models import CreditNote, Invoice, OutboxJob
from invoicing.outbox_work import outbox_run
from invoicing.payments import payment_record
from invoicing.pdf.statements import statement_pdf_bytes
from invoicing.recipients import customer_recipients
from invoicing.statement_delivery import statement_email_queue, statements_monthly_queue
from invoicing.statements import LineKind, customer_statement, period_choices
from invoicing.tasks import statements_task
from tests.factories import (
    BillingContactFactory,
    CustomerFactory,
    PartnerFactory,
    StaffMembershipFactory,
    issued_invoice,
)

pytestmark = pytest.mark.django_db

K = LineKind


def days_ago(today, n: int) -> datetime.date:
    return today - datetime.timedelta(days=n)


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


@pytest.fixture
def ledger(partner, customer, admin):
    today = timezone.localdate(timezone=partner.tzinfo)
    d = lambda n: days_ago(today, n)  # noqa: E731
    a = issued_invoice(customer, [30000], issue_date=d(70))
    pay_a = payment_record(invoice=a, amount_units=10000, method="check", reference="101", received_on=d(50))
    b = issued_invoice(customer, [45000], issue_date=d(40))
    cn1 = credit_note_issue(invoice=b, amount_units=5000, reason="Late start", user=admin, issue_date=d(35))
    c = issued_invoice(customer, [20000], issue_date=d(30))
    pay_c = payment_record(invoice=c, amount_units=20000, method="check", reference="102", received_on=d(25))
    cn2 = credit_note_issue(invoice=c, whole=True, reason="Cancelled", user=admin, issue_date=d(20))
    e = issued_invoice(customer, [7000], issue_date=d(15))
    k = issued_invoice(customer, [6000], issue_date=d(12), deliver=False)
    pay_k = payment_record(
        invoice=k, amount_units=6000, method="card", reference="sim_ch_0123456789abcdef", received_on=d(12)
    )
    d_inv = issued_invoice(customer, [10000], issue_date=d(10))
    pay_d = payment_record(invoice=d_inv, amount_units=10000, method="check", reference="103", received_on=d(5))
    f = issued_invoice(customer, [50000], issue_date=d(8))
    other = CustomerFactory(partner=partner, name="Sister Clinic")
    g = issued_invoice(other, [12000], issue_date=d(8))  # another customer's child: owed on its own statement
    h = issued_invoice(customer, [5000], issue_date=d(8))  # a child of the customer's own
    invoice_attach_child(parent=f, child=g, user=admin)
    invoice_attach_child(parent=f, child=h, user=admin)
    # today: the void, the credit applied elsewhere, the refund out of credit, the plain refund, a pending refund
    invoice_void(invoice=e, reason="Typed twice", user=admin)
    credit_apply(credit_note=cn2, invoice=b, amount_units=3000, user=admin)
    refund_c = payment_refund(payment=pay_c, amount_units=8000, credit_note=cn2, reference="Check 900", user=admin)
    refund_d = payment_refund(payment=pay_d, amount_units=4000, reference="Check 901", user=admin)
    payment_refund(payment=pay_k, amount_units=6000, user=admin)  # card: pending until the worker asks the gateway
    payment_record(invoice=g, amount_units=1000, method="check", reference="900", received_on=d(1))  # not ours
    stranger = issued_invoice(CustomerFactory(partner=PartnerFactory()), [99900], issue_date=d(3))
    payment_record(invoice=stranger, amount_units=500, method="check", reference="1", received_on=d(2))
    return {
        "today": today,
        "d": d,
        "a": a,
        "b": b,
        "c": c,
        "e": e,
        "k": k,
        "d_inv": d_inv,
        "f": f,
        "h": h,
        "cn1": cn1,
        "cn2": cn2,
        "pay_a": pay_a,
        "refund_c": refund_c,
        "refund_d": refund_d,
        "other": other,
    }


def book_balance(customer) -> int:
    """What the invoices say is owed, less the credit left on the credit notes: the closing balance today."""
    outstanding = sum(i.outstanding_units for i in Invoice.objects.filter(customer=customer).exclude(status="draft"))
    credit = sum(n.credit_left_units for n in CreditNote.objects.filter(customer=customer))
    return outstanding - credit


def test_the_closing_balance_today_equals_the_invoices_outstanding_less_unapplied_credit(customer, ledger):
    statement = customer_statement(customer=customer, start=ledger["d"](90), end=ledger["today"])
    assert statement.opening_units == 0
    assert book_balance(customer) == 90000  # 20000 + 37000 + 4000 + 33000 + 5000 open, less 9000 credit
    assert statement.closing_units == book_balance(customer) == 90000
    assert statement.unapplied_credit_units == 9000 == refreshed(ledger["cn2"]).credit_left_units
    assert statement.aging.total - statement.unapplied_credit_units == statement.closing_units


def refreshed(obj):
    obj.refresh_from_db()
    return obj


def test_every_line_of_the_whole_period_with_its_running_balance(customer, ledger):
    L, d = ledger, ledger["d"]
    statement = customer_statement(customer=customer, start=d(90), end=L["today"])
    got = [(line.date, line.kind, line.number, line.amount_units, line.balance_units) for line in statement.lines]
    assert got == [
        (d(70), K.INVOICE, L["a"].number, 30000, 30000),
        (d(50), K.PAYMENT, L["a"].number, -10000, 20000),
        (d(40), K.INVOICE, L["b"].number, 45000, 65000),
        (d(35), K.CREDIT_NOTE, L["cn1"].number, -5000, 60000),
        (d(30), K.INVOICE, L["c"].number, 20000, 80000),
        (d(25), K.PAYMENT, L["c"].number, -20000, 60000),
        (d(20), K.CREDIT_NOTE, L["cn2"].number, -20000, 40000),
        (d(15), K.INVOICE, L["e"].number, 7000, 47000),
        (d(12), K.INVOICE, L["k"].number, 6000, 53000),
        (d(12), K.PAYMENT, L["k"].number, -6000, 47000),
        (d(10), K.INVOICE, L["d_inv"].number, 10000, 57000),
        (d(8), K.INVOICE, L["f"].number, 33000, 90000),  # 50000 less the two children's 17000
        (d(8), K.INVOICE, L["h"].number, 5000, 95000),  # the own child, once, on its own line
        (d(5), K.PAYMENT, L["d_inv"].number, -10000, 85000),
        (L["today"], K.REFUND, L["c"].number, 8000, 93000),  # out of CN2's credit
        (L["today"], K.REFUND, L["d_inv"].number, 4000, 97000),  # reopens D
        (L["today"], K.VOID, L["e"].number, -7000, 90000),
    ]
    f_line = next(line for line in statement.lines if line.number == L["f"].number)
    assert "$170.00 of it billed through child invoices" in f_line.description
    refund_line = next(line for line in statement.lines if line.kind == K.REFUND)
    assert "out of the credit of" in refund_line.description and L["cn2"].number in refund_line.description
    assert (statement.charges_units, statement.credits_units) == (168000, 78000)
    assert statement.opening_units + statement.charges_units - statement.credits_units == statement.closing_units


def test_a_period_in_the_middle_opening_closing_and_aging_to_the_cent(customer, ledger):
    L, d = ledger, ledger["d"]
    statement = customer_statement(customer=customer, start=d(36), end=d(20))
    assert statement.opening_units == 30000 - 10000 + 45000  # A, its payment, B
    assert [(line.kind, line.amount_units, line.balance_units) for line in statement.lines] == [
        (K.CREDIT_NOTE, -5000, 60000),
        (K.INVOICE, 20000, 80000),
        (K.PAYMENT, -20000, 60000),
        (K.CREDIT_NOTE, -20000, 40000),
    ]
    assert statement.closing_units == 40000
    # On d(20): A owes 20000, 20 days late (due d(40)); B owes 40000, not yet due; C is settled; CN2's 20000 unused.
    assert L["a"].due_date == d(40) and L["b"].due_date == d(10)
    assert (statement.aging.current, statement.aging.days_1_30, statement.aging.days_31_60) == (40000, 20000, 0)
    assert (statement.aging.days_61_90, statement.aging.days_over_90, statement.aging.invoices) == (0, 0, 2)
    assert statement.unapplied_credit_units == 20000
    assert statement.aging.total - statement.unapplied_credit_units == statement.closing_units


def test_the_aging_today_splits_the_open_invoices_by_due_date(customer, ledger):
    L, d = ledger, ledger["d"]
    aging = customer_statement(customer=customer, start=d(5), end=L["today"]).aging
    assert aging.days_31_60 == 20000  # A, due d(40)
    assert aging.days_1_30 == 37000  # B, due d(10): 45000 - 5000 credited - 3000 of CN2 applied
    assert aging.current == 4000 + 33000 + 5000  # D reopened, F less its children, H
    assert aging.invoices == 5 and aging.total == 99000


def test_a_payment_on_the_last_day_is_in_and_the_next_day_is_out(partner, customer):
    today = timezone.localdate(timezone=partner.tzinfo)
    d = lambda n: days_ago(today, n)  # noqa: E731
    invoice = issued_invoice(customer, [9000], issue_date=d(40))
    payment_record(invoice=invoice, amount_units=1000, method="check", reference="1", received_on=d(20))
    payment_record(invoice=invoice, amount_units=2000, method="check", reference="2", received_on=d(19))
    first = customer_statement(customer=customer, start=d(30), end=d(20))
    second = customer_statement(customer=customer, start=d(19), end=d(19))
    assert [(line.date, line.amount_units) for line in first.lines] == [(d(20), -1000)]
    assert (first.opening_units, first.closing_units) == (9000, 8000)
    assert [(line.date, line.amount_units) for line in second.lines] == [(d(19), -2000)]
    assert (second.opening_units, second.closing_units) == (8000, 6000)
    issued_day = customer_statement(customer=customer, start=d(40), end=d(40))
    assert (issued_day.opening_units, issued_day.closing_units) == (0, 9000)


def test_a_statement_costs_a_fixed_number_of_queries(customer, ledger, django_assert_num_queries):
    customer = Customer.objects.select_related("partner").get(pk=customer.pk)
    with django_assert_num_queries(6):  # balances, invoices, credit notes, payments, refunds, aging
        statement = customer_statement(customer=customer, start=ledger["d"](90), end=ledger["today"])
    assert len(statement.lines) == 17


def test_an_end_before_the_start_is_refused_on_the_end(customer):
    today = timezone.localdate()
    with pytest.raises(BillingRuleError) as refused:
        customer_statement(customer=customer, start=today, end=today - datetime.timedelta(days=1))
    assert refused.value.field == "end"


def test_a_customer_in_credit_has_a_negative_balance(customer, admin):
    invoice = issued_invoice(customer, [12000])
    payment_record(invoice=invoice, amount_units=12000, method="check", reference="5")
    credit_note_issue(invoice=invoice, amount_units=3000, reason="Discount", user=admin)
    today = timezone.localdate(timezone=customer.partner.tzinfo)
    statement = customer_statement(customer=customer, start=today.replace(day=1), end=today)
    assert statement.closing_units == -3000 == book_balance(customer) and statement.in_credit
    assert statement.aging.total == 0 and statement.unapplied_credit_units == 3000


def test_the_quick_periods(partner):
    choices = {c.key: (c.start, c.end) for c in period_choices(datetime.date(2026, 3, 15))}
    assert choices == {
        "this_month": (datetime.date(2026, 3, 1), datetime.date(2026, 3, 15)),
        "last_month": (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28)),
        "this_year": (datetime.date(2026, 1, 1), datetime.date(2026, 3, 15)),
    }


def test_the_pdf_renders(customer, ledger):
    statement = customer_statement(customer=customer, start=ledger["d"](90), end=ledger["today"])
    assert statement_pdf_bytes(statement).startswith(b"%PDF")


# --- monthly e-mail -------------------------------------------------------------------------------------------


@pytest.fixture
def monthly(partner):
    """Two customers with monthly statements on (one with a cc contact), one without."""
    march = datetime.date(2026, 3, 2)
    on = CustomerFactory(partner=partner, monthly_statement=True)
    BillingContactFactory(customer=on, is_default=False, receives_invoices=True, email="ap@example.com")
    invoice = issued_invoice(on, [25000], issue_date=datetime.date(2026, 2, 10), deliver=False)
    payment_record(
        invoice=invoice, amount_units=5000, method="check", reference="7", received_on=datetime.date(2026, 2, 20)
    )
    quiet = CustomerFactory(partner=partner, monthly_statement=True)  # nothing to state: no e-mail
    CustomerFactory(partner=partner, monthly_statement=False)
    outbox_run()  # the payment's receipt and whatever else the ledger queued
    mail.outbox.clear()
    return {"day": march, "on": on, "quiet": quiet}


def test_the_monthly_task_queues_once_per_customer_and_month_even_when_run_twice(partner, monthly):
    first = statements_monthly_queue(today=monthly["day"])
    again = statements_monthly_queue(today=monthly["day"] + datetime.timedelta(days=1))
    assert (first.queued, first.already, again.queued, again.already) == (2, 0, 0, 2)
    jobs = OutboxJob.objects.filter(kind=OutboxJob.Kind.STATEMENT).order_by("customer_id")
    assert [(job.customer_id, job.key) for job in jobs] == [
        (monthly["on"].pk, f"statement:customer:{monthly['on'].pk}:2026-02"),
        (monthly["quiet"].pk, f"statement:customer:{monthly['quiet'].pk}:2026-02"),
    ]
    assert all(job.invoice_id is None and job.partner_id == partner.pk for job in jobs)


def test_the_scheduled_task_uses_each_partners_today(partner, monthly):
    assert statements_task()["queued"] == 2
    assert statements_task() == {"queued": 0, "already": 2}
    today = timezone.localdate(timezone=partner.tzinfo)
    last_month = (today.replace(day=1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    assert OutboxJob.objects.filter(key=f"statement:customer:{monthly['on'].pk}:{last_month}").exists()


def test_the_handler_emails_one_message_with_the_pdf_attached_once(partner, monthly):
    statements_monthly_queue(today=monthly["day"])
    late = CustomerFactory(partner=partner, monthly_statement=True)
    statements_monthly_queue(today=monthly["day"])
    Customer.objects.filter(pk=late.pk).update(monthly_statement=False)  # turned off before the worker ran
    outbox_run()
    assert len(mail.outbox) == 1  # the quiet customer had nothing to state
    message = mail.outbox[0]
    to, cc = customer_recipients(monthly["on"])
    assert (message.to, message.cc) == (to, cc) and cc == ["ap@example.com"]
    assert "Feb 1 – Feb 28, 2026" in message.subject and "$200.00 due" in message.subject
    key = f"statement:customer:{monthly['on'].pk}:2026-02"
    assert message.extra_headers["Message-ID"] == f"<{key.replace(':', '.')}.{partner.pk}@octoo-billing.invalid>"
    [(filename, content, mimetype)] = message.attachments
    assert filename.endswith("-2026-02-01-2026-02-28.pdf") and mimetype == "application/pdf"
    assert content.startswith(b"%PDF")
    jobs = {job.customer_id: job for job in OutboxJob.objects.filter(kind=OutboxJob.Kind.STATEMENT)}
    assert jobs[monthly["on"].pk].status == "done" and jobs[monthly["on"].pk].result.startswith("sent to")
    assert jobs[monthly["quiet"].pk].result.startswith("not sent: nothing")
    assert jobs[late.pk].result == "not sent: monthly statements were turned off"

    # run again (a crash after the send): nothing is sent twice
    job = jobs[monthly["on"].pk]
    OutboxJob.objects.filter(pk=job.pk).update(status="pending", done_at=None)
    outbox_run()
    assert len(mail.outbox) == 1 and refreshed(job).result == "already sent"
    assert AuditEvent.objects.filter(action="statement_sent", target_id=monthly["on"].pk).count() == 1


def test_the_office_button_queues_a_job_for_its_period_not_doubled(partner, customer, admin):
    issued_invoice(customer, [4000], issue_date=datetime.date(2026, 1, 5), deliver=False)
    start, end = datetime.date(2026, 1, 1), datetime.date(2026, 1, 31)
    job = statement_email_queue(customer=customer, start=start, end=end, user=admin)
    assert job.key.startswith(f"statement:customer:{customer.pk}:2026-01-01:2026-01-31:")
    assert statement_email_queue(customer=customer, start=start, end=end, user=admin) == job  # still waiting
    outbox_run()
    assert len(mail.outbox) == 1 and "Jan 1 – Jan 31, 2026" in mail.outbox[0].subject
    again = statement_email_queue(customer=customer, start=start, end=end, user=admin)
    assert again.pk != job.pk  # asked again once sent: a new e-mail
