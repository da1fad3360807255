"""Payment reminders (invoicing.reminders): the schedule, which step is made when, once only (also with two
workers at once, on PostgreSQL), the re-check at send time and the e-mail."""

import datetime
import io
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from audit.recording import audit_trail
from customers.models import Customer
from invoicing.credits import credit_note_issue
from invoicing.lifecycle import invoice_void
from invoicing.models import Invoice, InvoiceReminder, OutboxJob
from invoicing.outbox import message_id
from invoicing.outbox_work import outbox_run
from invoicing.paylinks import pay_link_invoice, pay_link_url
from invoicing.payments import payment_record
from invoicing.reminders import (
    reminder_days_parse,
    reminder_send,
    reminder_step_due,
    reminders_queue,
    step_label,
)
from invoicing.tasks import reminders_task
from tests.factories import CustomerFactory, issued_invoice
from tests.invoicing.test_concurrency import run_at_once

pytestmark = pytest.mark.django_db

REMINDER = OutboxJob.Kind.REMINDER


def today_of(partner) -> datetime.date:
    return timezone.localdate(timezone=partner.tzinfo)


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def invoice_due(customer, due_date: datetime.date, amounts=(10000,)) -> Invoice:
    """An issued AR invoice on net-30 terms due on ``due_date`` (issued 30 days before), without its delivery
    work in the outbox: only reminders are there."""
    return issued_invoice(customer, amounts, issue_date=due_date - days(30), deliver=False)


def made(invoice) -> list[int]:
    return list(InvoiceReminder.objects.filter(invoice=invoice).order_by("days").values_list("days", flat=True))


def reminders_sent(outbox) -> list:
    """The reminder e-mails among those sent (a payment's receipt goes out too)."""
    return [message for message in outbox if message.subject.startswith("Reminder:")]


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


# --- the schedule --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "schedule"),
    [
        ("-3, 1, 7, 14, 30", [-3, 1, 7, 14, 30]),
        ("30,14 7;1, -3", [-3, 1, 7, 14, 30]),
        ("  ", []),
        ("\u22123, +7, 0", [-3, 0, 7]),  # a typographic minus and a plus sign
        ([7, -3], [-3, 7]),
    ],
)
def test_a_schedule_is_read_and_sorted(typed, schedule):
    assert reminder_days_parse(typed) == schedule


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("-3, soon, 7", "“soon” is not a whole number of days"),
        ("1.5", "“1.5” is not a whole number of days"),
        ("7, 400", "400 is outside that"),
        ("-61", "from -60 (60 days before the due date) to 365"),
        ("7, 1, 7", "7 is listed twice"),
        (", ".join(str(n) for n in range(1, 12)), "Use at most 10 reminder days (there are 11)"),
    ],
)
def test_a_bad_schedule_is_refused_in_plain_words_on_its_field(typed, words):
    with pytest.raises(ValidationError) as refused:
        reminder_days_parse(typed)
    assert list(refused.value.message_dict) == ["reminder_days"]
    assert any(words in message for message in refused.value.message_dict["reminder_days"])


def test_the_latest_step_that_has_come_is_the_one_made():
    due = datetime.date(2026, 3, 31)
    facts = {"schedule": [-3, 1, 7, 14, 30], "due_date": due, "issue_date": due - days(30)}
    assert reminder_step_due(today=due - days(4), **facts) is None
    assert reminder_step_due(today=due - days(3), **facts) == -3
    assert reminder_step_due(today=due, **facts) == -3
    assert reminder_step_due(today=due + days(20), **facts) == 14
    assert reminder_step_due(today=due + days(20), last_days=14, **facts) is None
    assert reminder_step_due(today=due + days(20), last_days=30, **facts) is None  # never an earlier one after
    # A step on or before the issue date is never made: the invoice e-mail was the word that day.
    assert reminder_step_due(today=due, **{**facts, "issue_date": due - days(3)}) is None


def test_steps_read_in_words():
    assert [step_label(d) for d in (-3, -1, 0, 1, 7)] == [
        "3 days before the due date",
        "1 day before the due date",
        "On the due date",
        "1 day after the due date",
        "7 days after the due date",
    ]


# --- which reminder is made when ----------------------------------------------------------------------------


def test_a_reminder_goes_three_days_before_the_due_date(customer, mailoutbox):
    today = today_of(customer.partner)
    invoice = invoice_due(customer, today + days(3))
    assert reminders_queue(today=today - days(1), partner=customer.partner) == 0
    assert made(invoice) == []

    assert reminders_queue(today=today, partner=customer.partner) == 1
    [reminder] = InvoiceReminder.objects.filter(invoice=invoice)
    assert (reminder.days, reminder.amount_due_units, reminder.sent_at) == (-3, 10000, None)
    [job] = OutboxJob.objects.filter(invoice=invoice)
    assert (job.kind, job.reminder_id) == (REMINDER, reminder.pk)

    outbox_run()
    [message] = mailoutbox
    assert message.subject == f"Reminder: invoice {invoice.number} is due in 3 days"
    assert message.to == [invoice.contact_email]
    assert fresh(reminder).sent_at is not None
    assert fresh(job).status == OutboxJob.Status.DONE and fresh(job).result == "sent"
    assert "reminder_sent" in [event.action for event in audit_trail(invoice)]


def test_after_the_due_date_each_step_goes_once_on_its_day(customer):
    due = today_of(customer.partner) - days(30)
    invoice = invoice_due(customer, due)
    runs = {}
    for day in range(-4, 32):
        runs[day] = reminders_queue(today=due + days(day), partner=customer.partner)
        reminders_queue(today=due + days(day), partner=customer.partner)  # the hourly schedule, again
    assert [day for day, count in runs.items() if count] == [-3, 1, 7, 14, 30]
    assert made(invoice) == [-3, 1, 7, 14, 30]
    assert OutboxJob.objects.filter(invoice=invoice, kind=REMINDER).count() == 5


def test_an_invoice_20_days_overdue_when_reminders_start_gets_only_the_14_day_reminder(customer):
    today = today_of(customer.partner)
    invoice = invoice_due(customer, today - days(20))
    assert reminders_queue(today=today, partner=customer.partner) == 1
    assert made(invoice) == [14]  # not -3, 1 and 7 as well: they are passed over, not made
    assert reminders_queue(today=today + days(9), partner=customer.partner) == 0
    assert reminders_queue(today=today + days(10), partner=customer.partner) == 1
    assert made(invoice) == [14, 30]


def test_the_task_run_twice_sends_each_reminder_once(customer, mailoutbox):
    invoice = invoice_due(customer, today_of(customer.partner) - days(1))
    assert reminders_task() == 1
    assert reminders_task() == 0
    outbox_run()
    outbox_run()
    assert len(mailoutbox) == 1
    assert made(invoice) == [1]
    assert OutboxJob.objects.filter(invoice=invoice, kind=REMINDER).count() == 1


def test_a_job_run_again_after_its_send_sends_nothing(customer, mailoutbox):
    """A worker that died between the send and recording the job's outcome: the reminder's sent_at holds."""
    invoice = invoice_due(customer, today_of(customer.partner) - days(1))
    reminders_queue(partner=customer.partner)
    outbox_run()
    job = OutboxJob.objects.get(invoice=invoice, kind=REMINDER)
    OutboxJob.objects.filter(pk=job.pk).update(status=OutboxJob.Status.PENDING, done_at=None)
    report = outbox_run()
    assert len(mailoutbox) == 1
    assert report.done == 1 and fresh(job).result == "already sent"


def test_a_mail_server_failure_is_retried_and_then_sent_once(customer, mailoutbox, monkeypatch):
    invoice = invoice_due(customer, today_of(customer.partner) - days(1))
    reminders_queue(partner=customer.partner)
    sent = mail.EmailMultiAlternatives.send

    def refused(self, fail_silently=False):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", refused)
    report = outbox_run()
    job = OutboxJob.objects.get(invoice=invoice, kind=REMINDER)
    assert report.retried == 1 and "mail server down" in fresh(job).last_error
    assert fresh(job.reminder).sent_at is None

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", sent)
    outbox_run(now=timezone.now() + datetime.timedelta(hours=1))  # after the backoff
    assert len(mailoutbox) == 1 and fresh(job.reminder).sent_at is not None


def test_the_e_mail_carries_the_pay_link_and_what_is_due_now(customer, mailoutbox):
    partner = customer.partner
    invoice = invoice_due(customer, today_of(partner) - days(7), amounts=[10000])
    reminders_queue(partner=partner)
    payment_record(invoice=invoice, amount_units=2500, method="check", reference="1001")
    outbox_run()
    [message] = reminders_sent(mailoutbox)
    invoice = fresh(invoice)
    assert message.subject == f"Reminder: invoice {invoice.number} is 7 days overdue"
    # The link is signed with the time it was made: read it back rather than make another one a second later.
    link = pay_link_url(invoice).split("/pay/")[0] + "/pay/"
    html = message.alternatives[0][0]
    for text in (message.body, html):
        token = re.search(re.escape(link) + r"([^/\s\"]+)/", text).group(1)
        assert pay_link_invoice(token) == invoice
        assert "$75.00" in text  # due now: the payment made after it was queued is taken off
        assert invoice.due_date.strftime("%b") in text and str(invoice.due_date.year) in text
    assert "$100.00" not in message.body
    job = OutboxJob.objects.get(invoice=invoice, kind=REMINDER)
    assert message.extra_headers["Message-ID"] == message_id(job)
    assert message.from_email.endswith(f"<{partner.email}>")


@pytest.mark.parametrize(
    ("offset", "words"),
    [(-1, "is due in 1 day"), (0, "is due today"), (1, "is 1 day overdue")],
)
def test_the_subject_says_how_things_stand_on_the_day_it_goes(customer, mailoutbox, offset, words):
    today = today_of(customer.partner)
    invoice = invoice_due(customer, today - days(offset))
    reminders_queue(today=today, partner=customer.partner)
    reminder_send(reminder=InvoiceReminder.objects.get(invoice=invoice))
    assert mailoutbox[0].subject == f"Reminder: invoice {invoice.number} {words}"


# --- no reminder --------------------------------------------------------------------------------------------


def _paid(invoice):
    payment_record(invoice=invoice, amount_units=invoice.outstanding_units, method="check", reference="2002")


def _credited(invoice):
    credit_note_issue(invoice=invoice, whole=True, reason="Cancelled")


def _voided(invoice):
    invoice_void(invoice=invoice, reason="Issued by mistake")


SETTLED = {"paid": (_paid, "the invoice was paid"), "credited": (_credited, "the invoice was credited")}
SETTLED["void"] = (_voided, "the invoice was voided")


@pytest.mark.parametrize("how", list(SETTLED))
def test_settled_invoices_get_no_reminder(customer, how):
    invoice = invoice_due(customer, today_of(customer.partner) - days(7))
    SETTLED[how][0](invoice)
    assert fresh(invoice).status == how
    assert reminders_queue(partner=customer.partner) == 0
    assert made(invoice) == []


@pytest.mark.parametrize("how", list(SETTLED))
def test_a_reminder_queued_before_the_invoice_was_settled_is_skipped_at_send_time(customer, mailoutbox, how):
    invoice = invoice_due(customer, today_of(customer.partner) - days(7))
    assert reminders_queue(partner=customer.partner) == 1
    settle, reason = SETTLED[how]
    settle(invoice)
    outbox_run()
    assert reminders_sent(mailoutbox) == []
    reminder = InvoiceReminder.objects.get(invoice=invoice)
    assert (reminder.sent_at, reminder.skipped) == (None, reason)
    job = OutboxJob.objects.get(invoice=invoice, kind=REMINDER)
    assert (job.status, job.result) == (OutboxJob.Status.DONE, f"not sent: {reason}")


def test_customers_who_turned_reminders_off_get_none(partner, mailoutbox):
    off = CustomerFactory(partner=partner, sends_reminders=False)
    on = CustomerFactory(partner=partner)
    due = today_of(partner) - days(1)
    quiet, reminded = invoice_due(off, due), invoice_due(on, due)
    assert reminders_queue(partner=partner) == 1
    assert (made(quiet), made(reminded)) == ([], [1])

    Customer.objects.filter(pk=on.pk).update(sends_reminders=False)  # turned off after it was queued
    outbox_run()
    assert mailoutbox == []
    assert InvoiceReminder.objects.get(invoice=reminded).skipped == "the customer's payment reminders are off"


def test_an_empty_schedule_sends_none(customer):
    customer.partner.reminder_days = []
    customer.partner.save(update_fields=["reminder_days"])
    invoice_due(customer, today_of(customer.partner) - days(7))
    assert reminders_queue(partner=customer.partner) == 0


def test_invoices_without_a_due_date_or_issued_that_day_get_none(partner):
    today = today_of(partner)
    no_terms = CustomerFactory(partner=partner, payment_terms=Customer.PaymentTerms.NO_PAYMENT)
    undated = issued_invoice(no_terms, [10000], issue_date=today - days(40), deliver=False)
    on_receipt = CustomerFactory(partner=partner, payment_terms_days=0)
    issued_today = issued_invoice(on_receipt, [10000], issue_date=today, deliver=False)
    assert (undated.due_date, issued_today.due_date) == (None, today)
    assert reminders_queue(today=today, partner=partner) == 0  # -3 came before it was issued
    assert reminders_queue(today=today + days(1), partner=partner) == 1
    assert (made(undated), made(issued_today)) == ([], [1])


def test_each_partner_uses_its_own_schedule(partner):
    other = CustomerFactory()
    other.partner.reminder_days = [10]
    other.partner.save(update_fields=["reminder_days"])
    ours = invoice_due(CustomerFactory(partner=partner), today_of(partner) - days(7))
    theirs = invoice_due(other, today_of(other.partner) - days(7))
    reminders_queue()
    assert (made(ours), made(theirs)) == ([7], [])


def test_the_worker_schedules_the_reminders(db):
    call_command("setup_schedules", stdout=io.StringIO())
    assert Schedule.objects.get(name="Send payment reminders").func == "invoicing.tasks.reminders_task"


# --- two workers at once (PostgreSQL) -----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_queue_and_send_one_reminder():
    customer = CustomerFactory()
    partner = customer.partner
    invoices = [invoice_due(customer, today_of(partner) - days(n)) for n in (1, 7, 20)]
    mail.outbox = []

    results, errors = run_at_once([lambda: reminders_queue(partner=partner)] * 4)
    assert errors == [None] * 4
    assert sum(results) == 3  # each reminder made by exactly one of them
    assert [made(invoice) for invoice in invoices] == [[1], [7], [14]]
    assert OutboxJob.objects.filter(kind=REMINDER).count() == 3

    results, errors = run_at_once([outbox_run] * 4)
    assert errors == [None] * 4
    assert sorted(message.subject for message in mail.outbox) == sorted(
        f"Reminder: invoice {invoice.number} is {n} day{'s' if n > 1 else ''} overdue"
        for invoice, n in zip(invoices, (1, 7, 20), strict=True)
    )
    assert not InvoiceReminder.objects.filter(sent_at__isnull=True).exists()
