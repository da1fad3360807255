"""Payment reminders: e-mails to the billing contact before and after an AR invoice's due date.

**The schedule** is the partner's (``Partner.reminder_days``, set on the office's company settings page): days
from the due date, negative before it; ``-3, 1, 7, 14, 30`` by default, at most ``MAX_STEPS`` steps from
``MIN_DAYS`` to ``MAX_DAYS``. An empty schedule sends none. A customer turns them off with
``Customer.sends_reminders`` (its billing settings).

**Which reminder is made** (``reminders_queue``, run by the worker's hourly schedule, ``reminders_task``): for
each open AR invoice (pending, partly paid, overdue) with a due date and a balance, of a customer with reminders
on, the steps that are due are those whose day (due date + days) has come in the partner's time zone and falls
after the issue date (the invoice e-mail itself is the first word: no reminder on or before the day it was
issued). Only the **latest** due step is made, and only when it is later than every reminder the invoice already
has. So an invoice 20 days overdue when reminders start gets the 14-day reminder, not four at once; the missed
earlier steps are simply not made (no row: the page lists what was queued, sent or skipped, not what was passed
over), and a schedule changed to earlier days never sends an earlier reminder after a later one.

**Once only.** A reminder is an ``InvoiceReminder`` row, unique per (invoice, days), made with its outbox job in
one transaction; the job's key is the reminder's, so it exists once too. A second run, or a second worker at the
same moment, hits the unique constraint (on PostgreSQL it waits for the first to commit) and makes nothing. At
send time the handler (``reminder_job_run``) sends nothing once ``sent_at`` or ``skipped`` is recorded, and the
e-mail's Message-ID is the job's, so a retry after a crash between the send and its record is one message.

**At send time** the invoice is read again: paid, credited, void, nothing left to pay, or the customer turned
reminders off meanwhile, and the reminder is recorded as skipped with the reason (the job is done with that
result). The e-mail says how things stand on the day it goes out: the amount due now, the due date, how many
days before or after it, and the "View and pay" link (``invoicing.paylinks``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, models, transaction
from django.db.models import F, Max, OuterRef, Subquery
from django.utils import timezone

from audit.recording import audit_record
from customers.models import Partner

from .delivery import DeliveryError, partner_email, sender_name
from .models import Invoice, InvoiceReminder, OutboxJob
from .outbox import message_id, outbox_add
from .paylinks import pay_link_url
from .recipients import invoice_recipients

FIELD = "reminder_days"
MIN_DAYS, MAX_DAYS, MAX_STEPS = -60, 365, 10
EXAMPLE = "-3, 1, 7, 14, 30"


# --- the schedule ------------------------------------------------------------------------------------------------


def reminder_days_parse(value: str | Iterable[int] | None) -> list[int]:
    """The schedule typed on the settings page ("-3, 1, 7, 14, 30": commas or spaces between) or given as a list,
    checked and sorted. Empty: no reminders. ``ValidationError`` keyed ``reminder_days``, in plain words."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.replace("\u2212", "-")  # a typographic minus, as pasted from a document
        items = [item for item in re.split(r"[\s,;]+", text.strip()) if item]
    else:
        items = list(value)
    days, problems = [], []
    for item in items:
        if isinstance(item, bool) or not (
            isinstance(item, int) or (isinstance(item, str) and re.fullmatch(r"[+-]?\d{1,6}", item))
        ):
            problems.append(f"“{item}” is not a whole number of days. Enter days separated by commas, e.g. {EXAMPLE}.")
            continue
        days.append(int(item))
    out_of_range = [day for day in days if not MIN_DAYS <= day <= MAX_DAYS]
    if out_of_range:
        listed = ", ".join(str(day) for day in out_of_range)
        problems.append(
            f"Reminder days go from {MIN_DAYS} ({-MIN_DAYS} days before the due date) to {MAX_DAYS} "
            f"(a year after it); {listed} {'is' if len(out_of_range) == 1 else 'are'} outside that."
        )
    twice = sorted({day for day in days if days.count(day) > 1})
    if twice:
        listed = ", ".join(str(day) for day in twice)
        problems.append(f"{listed} {'is' if len(twice) == 1 else 'are'} listed twice: each day can have one reminder.")
    if len(set(days)) > MAX_STEPS:
        problems.append(f"Use at most {MAX_STEPS} reminder days (there are {len(set(days))}).")
    if problems:
        raise ValidationError({FIELD: problems})
    return sorted(days)


def reminder_days_text(days: Iterable[int] | None) -> str:
    """A schedule as the settings page shows it: "-3, 1, 7, 14, 30"."""
    return ", ".join(str(day) for day in days or [])


def partner_schedule(partner: Partner) -> list[int]:
    """The partner's schedule as stored, sorted; anything that is not a day in range is left out."""
    stored = partner.reminder_days if isinstance(partner.reminder_days, list) else []
    return sorted({day for day in stored if type(day) is int and MIN_DAYS <= day <= MAX_DAYS})


def step_label(days: int) -> str:
    """The step in words: "3 days before the due date", "On the due date", "1 day after the due date"."""
    if days == 0:
        return "On the due date"
    count = abs(days)
    return f"{count} day{'' if count == 1 else 's'} {'before' if days < 0 else 'after'} the due date"


def _step_date(due_date: datetime.date, days: int) -> datetime.date:
    return due_date + datetime.timedelta(days=days)


def reminder_step_due(
    *,
    schedule: list[int],
    due_date: datetime.date,
    issue_date: datetime.date | None,
    today: datetime.date,
    last_days: int | None = None,
) -> int | None:
    """The step of the schedule to make today, or None: the latest step whose day has come and falls after the
    issue date, when it is later than the invoice's latest reminder (``last_days``)."""
    due = [
        days
        for days in schedule
        if _step_date(due_date, days) <= today and (issue_date is None or _step_date(due_date, days) > issue_date)
    ]
    if not due:
        return None
    step = max(due)
    return step if last_days is None or step > last_days else None


def _balance():
    return F("total_units") - F("paid_units") - F("children_units") - F("credited_units")


def _partner_today(partner: Partner) -> datetime.date:
    return timezone.localdate(timezone=partner.tzinfo)


# --- queueing ----------------------------------------------------------------------------------------------------


# What a candidate invoice is read with: its dates and what its balance (outstanding_units) is made of.
_QUEUE_FIELDS = ["partner", "status", "due_date", "issue_date"]
_QUEUE_FIELDS += ["total_units", "paid_units", "children_units", "credited_units"]


def reminders_queue(*, today: datetime.date | None = None, partner: Partner | None = None) -> int:
    """Make the reminders due (see the module's docstring): each an ``InvoiceReminder`` with its outbox job, in
    one transaction. ``today``: the day to act on (default: each partner's own today); ``partner``: one partner
    only (default: all). Returns how many reminders this call made; running it again the same day makes none."""
    if partner is None:
        return sum(reminders_queue(today=today, partner=each) for each in Partner.objects.order_by("pk"))
    schedule = partner_schedule(partner)
    if not schedule:
        return 0
    today = today or _partner_today(partner)
    candidates = (
        Invoice.objects.filter(
            partner=partner,
            kind=Invoice.Kind.AR,
            status__in=Invoice.OPEN_STATUSES,
            due_date__isnull=False,
            due_date__lte=today - datetime.timedelta(days=schedule[0]),  # the earliest step has come
            issue_date__lt=today,
            customer__sends_reminders=True,
        )
        .alias(balance=_balance())
        .filter(balance__gt=0)
        .annotate(last_days=Max("reminders__days"))
        .only(*_QUEUE_FIELDS)
        .order_by("id")
    )
    made = 0
    for invoice in candidates:
        step = reminder_step_due(
            schedule=schedule,
            due_date=invoice.due_date,
            issue_date=invoice.issue_date,
            today=today,
            last_days=invoice.last_days,
        )
        if step is not None and _reminder_make(invoice, step):
            made += 1
    return made


def _reminder_make(invoice: Invoice, days: int) -> bool:
    """The reminder and its outbox job, together or not at all. False when it exists already (another run or
    worker made it: the unique (invoice, days) decides, and on PostgreSQL the second insert waits for the first
    to commit, then fails here)."""
    try:
        with transaction.atomic():
            reminder = InvoiceReminder.objects.create(
                invoice=invoice, days=days, amount_due_units=invoice.outstanding_units
            )
            outbox_add(invoice=invoice, kinds=[OutboxJob.Kind.REMINDER], subject=reminder)
    except IntegrityError:
        return False
    return True


# --- sending -----------------------------------------------------------------------------------------------------


SKIP_REASONS = {
    Invoice.Status.PAID: "the invoice was paid",
    Invoice.Status.CREDITED: "the invoice was credited",
    Invoice.Status.VOID: "the invoice was voided",
}


def reminder_skip_reason(invoice: Invoice) -> str:
    """Why a reminder of this invoice must not go out now ("" when it may)."""
    if invoice.status not in Invoice.OPEN_STATUSES:
        return SKIP_REASONS.get(invoice.status, f"the invoice is {invoice.get_status_display().lower()}")
    if invoice.outstanding_units <= 0:
        return "nothing is left to pay"
    if invoice.due_date is None:
        return "the invoice has no due date"
    if not invoice.customer.sends_reminders:
        return "the customer's payment reminders are off"
    return ""


def reminder_email_build(
    *, reminder: InvoiceReminder, message_id: str | None = None, today: datetime.date | None = None
) -> EmailMultiAlternatives:
    """The reminder e-mail as things stand on ``today`` (default: the partner's today): the amount due now, the
    due date, the days before or after it, and the "View and pay" link."""
    invoice = reminder.invoice
    partner = invoice.partner
    today = today or _partner_today(partner)
    to, cc = invoice_recipients(invoice)
    days_overdue = (today - invoice.due_date).days
    context = {
        "invoice": invoice,
        "partner": partner,
        "sender_name": sender_name(partner),
        "customer": invoice.customer,
        "contact_name": invoice.contact_name,
        "currency": invoice.currency,
        "amount_due_units": invoice.outstanding_units,
        "due_date": invoice.due_date,
        "days_overdue": days_overdue,
        "days_until_due": -days_overdue,
        "pay_url": pay_link_url(invoice),
    }
    message = partner_email(partner, "reminder", context, to=to, cc=cc, message_id=message_id)
    return message


def _skip(reminder: InvoiceReminder, reason: str) -> str:
    InvoiceReminder.objects.filter(pk=reminder.pk, sent_at__isnull=True, skipped="").update(skipped=reason[:200])
    reminder.skipped = reason
    return f"not sent: {reason}"


def reminder_send(
    *, reminder: InvoiceReminder, message_id: str | None = None, today: datetime.date | None = None
) -> str:
    """Send a queued reminder, once: nothing when it was sent or skipped already; skipped, with the reason, when
    the invoice or the customer no longer calls for it. Records ``sent_at`` and an audit row on the invoice.
    Returns the outcome for the outbox job; a mail server failure raises ``DeliveryError`` (retried)."""
    reminder = InvoiceReminder.objects.select_related(
        "invoice__partner", "invoice__customer", "invoice__billing_contact"
    ).get(pk=reminder.pk)
    if reminder.sent_at is not None:
        return "already sent"
    if reminder.skipped:
        return f"not sent: {reminder.skipped}"
    invoice = reminder.invoice
    reason = reminder_skip_reason(invoice)
    if reason:
        return _skip(reminder, reason)
    message = reminder_email_build(reminder=reminder, message_id=message_id, today=today)
    if not message.to:
        return _skip(reminder, "no e-mail address for the billing contact")
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend failure (SMTP, network) is retried with backoff
        raise DeliveryError(f"Reminder not sent: the mail server refused it ({type(exc).__name__}: {exc}).") from exc
    now = timezone.now()
    InvoiceReminder.objects.filter(pk=reminder.pk).update(sent_at=now)
    reminder.sent_at = now
    audit_record(
        target=invoice,
        action="reminder_sent",
        reason=step_label(reminder.days),
        data={
            "days": reminder.days,
            "to": message.to,
            "cc": message.cc,
            "amount_due_units": invoice.outstanding_units,
        },
    )
    return "sent"


def reminder_job_run(job: OutboxJob) -> str:
    """The outbox handler of a reminder job (``invoicing.outbox_work.HANDLERS``)."""

    return reminder_send(reminder=job.reminder, message_id=message_id(job))


# --- the office's invoice page -----------------------------------------------------------------------------------


class ReminderState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


@dataclass(frozen=True)
class ReminderRow:
    days: int
    step: str  # "3 days before the due date"
    on_date: datetime.date | None  # the step's day
    amount_due_units: int  # when it was queued
    queued_at: datetime.datetime
    sent_at: datetime.datetime | None
    state: ReminderState
    detail: str  # the skip reason or the last delivery error


@dataclass(frozen=True)
class InvoiceReminders:
    """What the invoice page shows of an AR invoice's reminders: those made, the next one and why none will go."""

    rows: list[ReminderRow]
    next_days: int | None = None
    next_on: datetime.date | None = None
    off_reason: str = ""  # "" while reminders may still go out

    @property
    def shown(self) -> bool:
        return bool(self.rows or self.next_on or self.off_reason)

    @property
    def next_step(self) -> str:
        return step_label(self.next_days) if self.next_days is not None else ""


def invoice_reminders(invoice: Invoice, *, jobs: list[OutboxJob] | None = None) -> InvoiceReminders:
    """The reminders of an issued AR invoice, in one query (the invoice comes with its partner and customer).
    ``jobs``: the invoice's outbox jobs when the page has them already; without a reminder job among them there
    is no reminder (each is made with its job), and no query."""
    if invoice.kind != Invoice.Kind.AR or invoice.status == Invoice.Status.DRAFT:
        return InvoiceReminders(rows=[])
    reminders = InvoiceReminder.objects.none()
    if jobs is None or any(job.kind == OutboxJob.Kind.REMINDER for job in jobs):
        latest_job = OutboxJob.objects.filter(reminder=OuterRef("pk")).order_by("-id")
        reminders = InvoiceReminder.objects.filter(invoice=invoice).annotate(
            job_status=Subquery(latest_job.values("status")[:1]),
            job_error=Subquery(latest_job.values("last_error")[:1]),
        )
    rows = []
    for reminder in reminders.order_by("days"):
        if reminder.sent_at is not None:
            state, detail = ReminderState.SENT, ""
        elif reminder.skipped:
            state, detail = ReminderState.SKIPPED, reminder.skipped
        elif reminder.job_status == OutboxJob.Status.FAILED:
            state, detail = ReminderState.FAILED, reminder.job_error
        else:
            state, detail = ReminderState.QUEUED, reminder.job_error  # a retry pending shows its last error
        rows.append(
            ReminderRow(
                days=reminder.days,
                step=step_label(reminder.days),
                on_date=_step_date(invoice.due_date, reminder.days) if invoice.due_date else None,
                amount_due_units=reminder.amount_due_units,
                queued_at=reminder.queued_at,
                sent_at=reminder.sent_at,
                state=ReminderState(state),
                detail=detail or "",
            )
        )
    if not invoice.is_open or invoice.outstanding_units <= 0 or invoice.due_date is None:
        return InvoiceReminders(rows=rows)
    schedule = partner_schedule(invoice.partner)
    if not invoice.customer.sends_reminders:
        return InvoiceReminders(rows=rows, off_reason="Payment reminders are off for this customer.")
    if not schedule:
        return InvoiceReminders(rows=rows, off_reason="The company's reminder schedule is empty.")
    today = _partner_today(invoice.partner)
    last = max((row.days for row in rows), default=None)
    facts = {"schedule": schedule, "due_date": invoice.due_date, "issue_date": invoice.issue_date, "last_days": last}
    due_now = reminder_step_due(today=today, **facts)
    if due_now is not None:  # made by the next run of the schedule, within the hour
        return InvoiceReminders(rows=rows, next_days=due_now, next_on=today)
    after = max(today, invoice.issue_date or today)
    later = [d for d in schedule if (last is None or d > last) and _step_date(invoice.due_date, d) > after]
    if not later:
        return InvoiceReminders(rows=rows)
    return InvoiceReminders(rows=rows, next_days=later[0], next_on=_step_date(invoice.due_date, later[0]))


__all__ = [
    "InvoiceReminders",
    "ReminderRow",
    "ReminderState",
    "invoice_reminders",
    "partner_schedule",
    "reminder_days_parse",
    "reminder_days_text",
    "reminder_email_build",
    "reminder_job_run",
    "reminder_send",
    "reminder_skip_reason",
    "reminders_queue",
    "step_label",
]
