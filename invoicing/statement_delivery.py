"""Statements of account by e-mail (``invoicing.statements``), through the outbox.

Two ways in, both a ``STATEMENT`` job about the customer:

- the monthly statement (``statements_monthly_queue``, the daily ``statements_task``): from the 1st of a month
  (the partner's today), every customer with ``monthly_statement`` on gets the statement of the previous month,
  once: the job's key is per customer and month (``statement:customer:<id>:<YYYY-MM>``), so a second run, or a
  run on the 2nd, queues nothing more;
- the office's "E-mail to customer" (``statement_email_queue``) for the period on the page: a job of its own
  (``statement:customer:<id>:<start>:<end>:<token>``); one already waiting for that period is not doubled.

The worker (``statement_job_send``, the outbox handler) reads the period from the key, renders the PDF (not
stored) and e-mails it to the customer's billing contact, contacts flagged "receives invoices" in cc. The
Message-ID is made from the job's key, and an audit row on the customer records the send, so a job run again
after a crash sends nothing twice.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from audit.recording import audit_record, audit_trail
from customers.billing import check_staff
from customers.models import Customer, Partner

from .delivery import partner_email, sender_name
from .errors import BillingRuleError
from .models import OutboxJob
from .outbox import JobGiveUp, JobRetry, customer_job_add, message_id
from .pdf.statements import period_label, statement_pdf_bytes, statement_pdf_filename
from .recipients import customer_recipients
from .schedules import closed_period, month_period
from .statements import Statement, customer_statement, period_check

STATEMENT = OutboxJob.Kind.STATEMENT
OPEN_JOB = (OutboxJob.Status.PENDING, OutboxJob.Status.RUNNING)


def monthly_key(customer_id: int, month_start: datetime.date) -> str:
    return f"statement:customer:{customer_id}:{month_start:%Y-%m}"


def _period_prefix(customer_id: int, start: datetime.date, end: datetime.date) -> str:
    return f"statement:customer:{customer_id}:{start.isoformat()}:{end.isoformat()}:"


def statement_period_of(job: OutboxJob) -> tuple[datetime.date, datetime.date, bool]:
    """(start, end, monthly) of a statement job, read from its key."""
    parts = job.key.split(":")
    if len(parts) == 4:  # statement:customer:<id>:<YYYY-MM>
        year, month = (int(part) for part in parts[3].split("-"))
        return (*month_period(year, month), True)
    return datetime.date.fromisoformat(parts[3]), datetime.date.fromisoformat(parts[4]), False


@dataclass
class MonthlyReport:
    queued: int = 0
    already: int = 0


def statements_monthly_queue(*, today: datetime.date | None = None) -> MonthlyReport:
    """Queue last month's statement of every customer with ``monthly_statement`` on, once per customer and month:
    on any day from the 1st (the partner's today, unless ``today`` is given), so a missed day is made up."""
    report = MonthlyReport()
    partners = Partner.objects.filter(customers__monthly_statement=True).distinct().order_by("pk")
    for partner in partners:
        month_start, _month_end = closed_period("monthly", today or timezone.localdate(timezone=partner.tzinfo))
        customers = list(Customer.objects.filter(partner=partner, monthly_statement=True).order_by("pk"))
        keys = {customer.pk: monthly_key(customer.pk, month_start) for customer in customers}
        queued = set(OutboxJob.objects.filter(key__in=keys.values()).values_list("key", flat=True))
        with transaction.atomic():  # one drain of the outbox after the commit, however many customers
            for customer in customers:
                if keys[customer.pk] in queued:
                    report.already += 1
                    continue
                customer_job_add(customer=customer, kind=STATEMENT, key=keys[customer.pk])
                report.queued += 1
    return report


def statement_email_queue(*, customer: Customer, start: datetime.date, end: datetime.date, user=None) -> OutboxJob:
    """Staff's "E-mail to customer": the statement of ``start`` to ``end`` e-mailed from the worker. Refused when
    the customer has no address to send it to; a job already waiting for the same period is returned."""
    check_staff(user, customer.partner_id)
    period_check(start, end)
    to, cc = customer_recipients(customer)
    if not to:
        raise BillingRuleError("The customer has no billing contact with an e-mail address to send it to.")
    prefix = _period_prefix(customer.pk, start, end)
    with transaction.atomic():
        waiting = OutboxJob.objects.filter(
            customer=customer, kind=STATEMENT, status__in=OPEN_JOB, key__startswith=prefix
        ).first()
        if waiting is not None:
            return waiting
        job = customer_job_add(customer=customer, kind=STATEMENT, key=f"{prefix}{uuid.uuid4().hex[:12]}")
        data = {"job": job.key, "start": start.isoformat(), "end": end.isoformat(), "to": to, "cc": cc}
        audit_record(target=customer, action="statement_queued", actor=user, data=data)
    return job


def statement_email_build(
    *, statement: Statement, pdf: bytes, to: list[str], cc: list[str], message_id: str | None = None
) -> EmailMultiAlternatives:
    """The e-mail of a statement, its PDF attached. ``message_id``: the same on every attempt of one job."""
    partner = statement.partner
    contact = statement.customer.contacts.filter(is_default=True).first()
    context = {
        "statement": statement,
        "partner": partner,
        "customer": statement.customer,
        "sender_name": sender_name(partner),
        "contact_name": contact.name if contact else "",
        "currency": statement.currency,
        "period": period_label(statement.start, statement.end),
    }
    message = partner_email(partner, "statement", context, to=to, cc=cc, message_id=message_id)
    message.attach(statement_pdf_filename(statement), pdf, "application/pdf")
    return message


def statement_job_send(job: OutboxJob) -> str:
    """The outbox handler of a STATEMENT job: render the statement of the job's period and e-mail it, once."""

    customer = Customer.objects.select_related("partner").get(pk=job.customer_id)
    if audit_trail(customer).filter(action="statement_sent", data__job=job.key).exists():
        return "already sent"
    start, end, monthly = statement_period_of(job)
    if monthly and not customer.monthly_statement:
        return "not sent: monthly statements were turned off"
    statement = customer_statement(customer=customer, start=start, end=end)
    if monthly and statement.is_empty:
        return "not sent: nothing happened and nothing is owed"
    to, cc = customer_recipients(customer)
    if not to:
        raise JobGiveUp("Not sent: the customer has no billing contact with an e-mail address.")
    message = statement_email_build(
        statement=statement, pdf=statement_pdf_bytes(statement), to=to, cc=cc, message_id=message_id(job)
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend failure (SMTP, network) is tried again later
        raise JobRetry(f"Not sent: the mail server refused it ({type(exc).__name__}: {exc}).") from exc
    data = {"job": job.key, "start": start.isoformat(), "end": end.isoformat(), "to": to, "cc": cc}
    audit_record(target=customer, action="statement_sent", data=data)
    return f"sent to {', '.join(to)}"[:200]
