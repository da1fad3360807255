"""AP invoices: each provider is billed per month of past work; last month's wait as drafts or are pending, the
earlier ones are paid by ACH batch."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum

from invoicing.invoices_from_proformas import ap_invoices_generate
from invoicing.models import Invoice

from .context import DemoSeed, PartnerData
from .dates import month_end, month_start
from .timeline import issue_on


class ApFate(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    PAID = "paid"


@dataclass
class ApPlan:
    invoice: Invoice
    recent: bool  # of last month
    fate: ApFate = ApFate.PAID


def ap_plan(seed: DemoSeed, data: PartnerData) -> None:
    """Generate the AP drafts of every month before this one; plan the issue of all but some of last month's."""
    months = sorted({month_start(p.service_date) for p in data.proformas if p.service_date < month_start(seed.today)})
    last_month = months[-1] if months else None
    plans = [
        ApPlan(invoice, recent=first == last_month)
        for provider in data.providers.values()
        for first in months
        for invoice in ap_invoices_generate(
            provider=provider, period_start=first, period_end=month_end(first), issue=False
        )
    ]
    recent = [p for p in plans if p.recent]
    for i, p in enumerate(recent):  # last month's: every other one waits for review
        p.fate = ApFate.DRAFT if i % 2 == 0 else ApFate.PENDING
    if recent and all(p.fate == ApFate.DRAFT for p in recent):
        recent[-1].fate = ApFate.PENDING
    for p in plans:
        if p.fate != ApFate.DRAFT:
            day = min(p.invoice.period_end + datetime.timedelta(days=3), seed.today)
            seed.event(day, 0, ap_issue, seed, data, p, day)


def ap_issue(seed: DemoSeed, data: PartnerData, plan: ApPlan, day: datetime.date) -> None:
    """Issue the provider's invoice; an earlier month's is paid in an ACH batch one to two weeks later."""
    invoice = issue_on(plan.invoice, user=data.admin, day=day)
    if plan.fate == ApFate.PAID:
        on = day + datetime.timedelta(days=seed.rng.randint(5, 14))
        reference = f"ACH batch {min(on, seed.today):%Y%m%d}-{seed.rng.randint(1, 9)}"
        seed.payment(on, invoice, None, "transfer", reference, data.admin)
