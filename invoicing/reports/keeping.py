"""The worker's hourly upkeep of what the dashboard and the reports read: open balances folded, closed months kept."""

from __future__ import annotations

import datetime

from django.utils import timezone

from customers.models import Partner

from .cash import cash_report
from .open_balances import open_balances_compact
from .periods import last_months
from .revenue import REVENUE_GROUPINGS, billed_by_month, revenue_report


def closed_months_keep(*, partner, today: datetime.date | None = None) -> None:
    """Computes and keeps what the dashboard and the reports read of the last twelve months' closed months (what is
    kept and current already costs one query a report), so that the first look after a month closes, or after a
    change in a closed month, does not compute them on a request (invoicing.reports.kept)."""
    period = last_months(today or timezone.localdate(timezone=partner.tzinfo))
    span = {"partner": partner, "date_from": period.date_from, "date_to": period.date_to}
    billed_by_month(**span)
    cash_report(**span)
    for by, _ in REVENUE_GROUPINGS:
        revenue_report(**span, by=by)


def report_figures_upkeep() -> int:
    """Every partner's open balances folded and closed months kept. Returns the number of partners."""
    partners = list(Partner.objects.all())
    for partner in partners:
        open_balances_compact(partner_id=partner.pk)
        closed_months_keep(partner=partner)
    return len(partners)
