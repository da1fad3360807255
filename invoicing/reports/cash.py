"""Cash basis: the money that came in and went out, by month, whatever was billed.

Money in is what customers paid on AR invoices (by the day it was received). Money out is what was paid to
providers on AP invoices (by the day it was paid) and what was refunded to customers (by the day the refund was
made; pending and failed refunds moved no money). Net is in - out. Partner-scoped; the closed months' figures
kept (invoicing.reports.kept), two queries for the rest.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min, Q, Sum

from ..models import Invoice, Payment, Refund
from .kept import figures_over
from .periods import months


@dataclass
class CashRow:
    month: datetime.date | None = None
    received_units: int = 0  # AR payments received
    refunded_units: int = 0  # refunds made to customers
    paid_out_units: int = 0  # AP payments to providers
    payments: int = 0  # AR and AP payments counted
    refunds: int = 0

    @property
    def label(self) -> str:
        return self.month.strftime("%b %Y") if self.month else "Total"

    @property
    def money_in_units(self) -> int:
        return self.received_units

    @property
    def money_out_units(self) -> int:
        return self.paid_out_units + self.refunded_units

    @property
    def net_units(self) -> int:
        return self.money_in_units - self.money_out_units

    @property
    def collected_units(self) -> int:
        """What customers paid and kept: received less refunded."""
        return self.received_units - self.refunded_units


@dataclass
class CashReport:
    date_from: datetime.date
    date_to: datetime.date
    rows: list[CashRow]
    totals: CashRow = field(default_factory=CashRow)


# A cash row's figures, in the order they are kept (invoicing.reports.kept).
FIGURES = ("received_units", "refunded_units", "paid_out_units", "payments", "refunds")


def cash_report(*, partner, date_from: datetime.date, date_to: datetime.date) -> CashReport:
    """Money in and out of every month from ``date_from`` to ``date_to`` (inclusive). The closed months kept
    (invoicing.reports.kept), two queries for the others."""
    rows = {month: CashRow(month=month) for month in months(date_from, date_to)}
    figures = figures_over(
        partner=partner,
        kind="cash",
        date_from=date_from,
        date_to=date_to,
        compute=lambda start, end: _cash_figures(partner, start, end),
        dated_keys=True,
    )
    totals = CashRow()
    for month, values in figures.items():
        for row in (rows[month], totals):
            for name, value in zip(FIGURES, values, strict=True):
                setattr(row, name, getattr(row, name) + value)
    return CashReport(date_from=date_from, date_to=date_to, rows=list(rows.values()), totals=totals)


def _cash_figures(partner, date_from: datetime.date, date_to: datetime.date) -> dict[datetime.date, list[int]]:
    figures: dict[datetime.date, list[int]] = {}

    def row_for(day: datetime.date) -> list[int]:
        return figures.setdefault(day.replace(day=1), [0] * len(FIGURES))

    # By day, added up by month here, off the payments' index alone: what was paid out is the payments on the
    # partner's AP invoices (a set of ids, hashed once), what came in all the others (AR), so no payment is joined
    # to its invoice.
    paid_out = Q(invoice__in=Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AP).values("pk"))
    payments = (
        Payment.objects.filter(partner=partner, received_on__gte=date_from, received_on__lte=date_to)
        .order_by()
        .values("received_on")
        .annotate(units=Sum("amount_units"), n=Count("pk"), out_units=Sum("amount_units", filter=paid_out, default=0))
    )
    for item in payments:
        row = row_for(item["received_on"])
        row[0] += (item["units"] or 0) - item["out_units"]
        row[2] += item["out_units"]
        row[3] += item["n"]
    refunds = (
        Refund.objects.filter(
            partner=partner, status=Refund.Status.SUCCEEDED, refunded_on__gte=date_from, refunded_on__lte=date_to
        )
        .order_by()
        .values("refunded_on")
        .annotate(units=Sum("amount_units"), n=Count("pk"))
    )
    for item in refunds:
        row = row_for(item["refunded_on"])
        row[1] += item["units"] or 0
        row[4] += item["n"]
    return figures


def cash_dates(*, partner) -> tuple[datetime.date | None, datetime.date | None]:
    """The first and last days money moved (a payment or a refund made). One query."""
    dates = Payment.objects.filter(partner=partner).aggregate(
        first=Min("received_on"),
        last=Max("received_on"),
        last_refund=Max("refunds__refunded_on", filter=Q(refunds__status=Refund.Status.SUCCEEDED)),
    )
    last = max((d for d in (dates["last"], dates["last_refund"]) if d), default=None)
    return dates["first"], last
