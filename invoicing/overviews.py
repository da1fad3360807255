"""What the office's dashboard, customer and provider pages show besides the party itself: on the dashboard what
needs attention, the figures and the charts' data; on a party's page contacts and expense codes, the open balance by
age, recent invoices and proformas, and the confirmed proformas not yet invoiced (and how much of that the next run
takes). A fixed number of queries per page; amounts are integer minor units.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import BigIntegerField, Case, Count, F, Q, Sum, Value, When
from django.utils import timezone
from django_q.models import Schedule

from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel

from . import tasks
from .credit_selectors import customer_credit_overview
from .filters.invoices import DELIVERY_PROBLEMS
from .filters.work import UNPRICED
from .invoices_from_proformas import uninvoiced
from .models import BillingRun, Invoice, Proforma, Quote, Service
from .reports import (
    AgingReport,
    CashReport,
    Range,
    RevenueReport,
    ar_aging_today,
    billed_by_month,
    cash_report,
    customer_aging,
    last_months,
    revenue_report,
)
from .schedules import closed_period
from .selectors import OfficeDashboardFigures, office_dashboard_figures

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


# --- the office dashboard ---------------------------------------------------------------------------------------

# The worker's schedules that start automatic runs (manage.py setup_schedules), and the kind each runs.
RUN_SCHEDULES = {
    f"{tasks.__name__}.{tasks.ar_run_task.__name__}": BillingRun.Kind.AR,
    f"{tasks.__name__}.{tasks.ap_run_task.__name__}": BillingRun.Kind.AP,
}


@dataclass(frozen=True)
class ScheduledRun:
    name: str
    kind: str
    next_run: datetime.datetime | None


@dataclass(frozen=True)
class Attention:
    """What someone should look at: each count is what the list it links to shows."""

    pdf_failed: int
    send_failed: int
    charge_failed: int
    unpriced_services: int
    last_run: BillingRun | None  # the last automatic (scheduled) run of the partner
    next_runs: list[ScheduledRun]


@dataclass
class OfficeDashboard:
    figures: OfficeDashboardFigures
    attention: Attention
    period: Range  # the twelve months the charts cover
    billed: dict[datetime.date, int]  # month -> billed, net of credit notes
    cash: CashReport
    aging: AgingReport
    by_provider: RevenueReport
    by_code: RevenueReport


def dashboard_attention(*, partner) -> Attention:
    """Failed PDFs, e-mails and charges (one query), services without a price (one), the last automatic run (one)
    and the worker's next runs (one)."""
    problems = (
        Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR)
        .filter(~Q(pdf_error="") | ~Q(send_error="") | ~Q(charge_error=""))
        .aggregate(**{key: Count("pk", filter=condition) for key, (_, condition) in DELIVERY_PROBLEMS.items()})
    )
    last_run = (
        BillingRun.objects.filter(partner=partner, kind__in=BillingRun.GENERATION_KINDS)
        .exclude(schedule_name="")
        .order_by("-created_at", "-id")
        .first()
    )
    next_runs = [
        ScheduledRun(name=s.name, kind=RUN_SCHEDULES[s.func], next_run=s.next_run)
        for s in Schedule.objects.filter(func__in=list(RUN_SCHEDULES)).order_by("next_run")
    ]
    return Attention(
        pdf_failed=problems["pdf_failed"],
        send_failed=problems["send_failed"],
        charge_failed=problems["charge_failed"],
        unpriced_services=Service.objects.filter(partner=partner).filter(UNPRICED).count(),
        last_run=last_run,
        next_runs=next_runs,
    )


def office_dashboard(*, partner, today: datetime.date | None = None) -> OfficeDashboard:
    """Everything the office dashboard shows: figures, what needs attention, and the charts of the last twelve
    months (billed and collected, cash in and out, margin by provider and by expense code) and of what is owed
    today by age. A fixed number of queries, each an aggregate."""
    today = today or timezone.localdate()
    period = last_months(today)
    span = {"partner": partner, "date_from": period.date_from, "date_to": period.date_to}
    return OfficeDashboard(
        figures=office_dashboard_figures(partner=partner),
        attention=dashboard_attention(partner=partner),
        period=period,
        billed=billed_by_month(**span),
        cash=cash_report(**span),
        aging=ar_aging_today(partner=partner, today=today),
        by_provider=revenue_report(**span, by="provider"),
        by_code=revenue_report(**span, by="expense_code"),
    )
