"""What the office's customer and provider pages show besides the party itself: contacts and expense codes, the
open balance by age, recent invoices and proformas, and the confirmed proformas not yet invoiced (and how much of
that the next run takes). A fixed number of queries per page; amounts are integer minor units.
"""

from __future__ import annotations

import datetime

from django.db.models import BigIntegerField, Case, Count, F, Q, Sum, Value, When
from django.utils import timezone

from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel

from .credit_selectors import customer_credit_overview
from .invoices_from_proformas import uninvoiced
from .models import Invoice, Proforma, Quote
from .reports import customer_aging
from .schedules import closed_period

RECENT = 10
UNINVOICED_SHOWN = 25


def customer_overview(*, customer, today: datetime.date | None = None) -> dict:
    """What the customer page shows besides the customer: contacts, expense codes, open balance by age,
    recent AR invoices, the confirmed proformas not yet on an AR invoice, and its credit notes and the credit it
    has left. A fixed number of queries."""
    today = today or timezone.localdate()
    _, next_run_end = closed_period(customer.invoicing_schedule, today)
    not_invoiced = (
        Proforma.objects.filter(partner_id=customer.partner_id, customer=customer, status=Proforma.Status.CONFIRMED)
        .filter(uninvoiced(Invoice.Kind.AR))
        # a booking whose quote became an invoice was billed by that invoice (as in invoices_from_proformas)
        .exclude(service__request__quote__status=Quote.Status.CONVERTED)
    )
    uninvoiced_sums = not_invoiced.order_by().aggregate(
        count=Count("pk"),
        bill_units=Sum("bill_total_units", default=0),
        in_next_run=Count("pk", filter=Q(service_date__lte=next_run_end)),
    )
    return {
        "contacts": list(customer.contacts.all()),
        "labels": list(ExpenseCodeLabel.objects.filter(customer=customer).order_by("-is_active", "name")),
        "default_codes": list(AppliedExpenseCode.objects.filter(default_for=customer)),
        "aging": customer_aging(customer=customer, as_of=today),
        "recent_invoices": list(
            Invoice.objects.filter(partner_id=customer.partner_id, customer=customer, kind=Invoice.Kind.AR)
            .annotate(balance_units=_balance())
            .order_by("-id")[:RECENT]
        ),
        "uninvoiced": list(
            not_invoiced.select_related("provider", "service").order_by("service_date", "pk")[:UNINVOICED_SHOWN]
        ),
        "uninvoiced_sums": uninvoiced_sums,
        "next_run_end": next_run_end,
        **customer_credit_overview(customer=customer),  # credit_notes, credit_sums
    }


def _balance():
    return Case(
        When(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID], then=Value(0)),
        default=F("total_units") - F("paid_units") - F("children_units") - F("credited_units"),
        output_field=BigIntegerField(),
    )


def provider_overview(*, provider, today: datetime.date | None = None) -> dict:
    """What the provider page shows: recent proformas and AP invoices, what is not yet billed (and how much
    of it the next monthly run takes), what is owed. A fixed number of queries."""
    _, next_run_end = closed_period("monthly", today or timezone.localdate())
    proformas = Proforma.objects.filter(partner_id=provider.partner_id, provider=provider)
    ap = Invoice.objects.filter(partner_id=provider.partner_id, provider=provider, kind=Invoice.Kind.AP)
    unbilled = (
        proformas.filter(status=Proforma.Status.CONFIRMED)
        .filter(uninvoiced(Invoice.Kind.AP))
        .order_by()
        .aggregate(
            count=Count("pk"),
            pay_units=Sum("pay_total_units", default=0),
            in_next_run=Count("pk", filter=Q(service_date__lte=next_run_end)),
        )
    )
    owed = (
        ap.filter(status__in=Invoice.OPEN_STATUSES)
        .order_by()
        .aggregate(count=Count("pk"), units=Sum(_balance(), default=0))
    )
    return {
        "recent_proformas": list(proformas.select_related("customer").order_by("-service_date", "-pk")[:RECENT]),
        "recent_invoices": list(ap.annotate(balance_units=_balance()).order_by("-id")[:RECENT]),
        "unbilled": unbilled,
        "owed": owed,
        "next_run_end": next_run_end,
    }
