"""AR invoices: generated as drafts for every closed period (as the worker would), then each given a fate: paid,
partly paid, pending, overdue, voided and re-invoiced, or shared with another customer through a child invoice.

Planning draws every choice first; the issues, voids and child invoices then run as dated events
(``demo.timeline``).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from invoicing.invoices_from_proformas import ar_invoices_generate
from invoicing.lifecycle import invoice_attach_child, invoice_void
from invoicing.manual import LineInput, invoice_create_manual, slip_add_adjustment
from invoicing.models import Invoice

from .context import DemoSeed, PartnerData
from .dates import closed_periods, month_start
from .specs import SHARED_BILL_CUSTOMERS, SHARED_BILL_PAYER
from .timeline import issue_on, pay


class Fate(StrEnum):
    PAID = "paid"
    PARTIAL = "partial"
    PENDING = "pending"
    OVERDUE = "overdue"
    OVERDUE_PARTIAL = "overdue_partial"
    VOID_REISSUE = "void_reissue"
    PARENT = "parent"  # another customer pays half of it through a child invoice


@dataclass
class ArPlan:
    invoice: Invoice  # the draft, then the issued invoice
    customer: object
    issue_on: datetime.date
    due: datetime.date | None
    fate: Fate


def ar_plan(seed: DemoSeed, data: PartnerData) -> None:
    """Generate the AR drafts, keep the last few for review, plan the others' fates and issue them as events."""
    proforma_adjust(seed, data)
    drafts = _drafts_generate(seed, data)
    kept = _drafts_kept(seed, drafts)
    plans = [_fate_draw(seed, invoice, customer) for invoice, customer in drafts if invoice.pk not in kept]
    past_due = [p for p in plans if p.due is not None and p.due < seed.today]
    current = [p for p in plans if p.due is not None and p.due >= seed.today]
    if data.spec.void_and_reissue:
        _reissue_pick(past_due)
    _fates_guarantee(past_due, current)
    if data.spec.shared_bill:
        _parent_pick(seed, data, current)
    for plan in plans:
        seed.event(plan.issue_on, 0, ar_issue, seed, data, plan)
    _late_credit(data, [invoice for invoice, _ in drafts if invoice.pk in kept])


def proforma_adjust(seed: DemoSeed, data: PartnerData) -> None:
    """Seed 001: an adjustment (additional work, reduced scope) on a proforma of an earlier month, before it is
    invoiced."""
    earlier = [p for p in data.proformas if p.service_date < month_start(seed.today)]
    if not earlier:
        return
    target = earlier[len(earlier) // 3]
    adjustment = data.spec.proforma_adjustment
    slip_add_adjustment(
        kind=adjustment.kind,
        proforma=target,
        description=adjustment.description,
        amount_units=adjustment.amount_units,
        pay_amount_units=adjustment.pay_amount_units,
        tax_rate=target.slips.values_list("tax_rate", flat=True).first() or Decimal(0),
        user=data.clerk,
    )


def _drafts_generate(seed: DemoSeed, data: PartnerData) -> list[tuple[Invoice, object]]:
    """(draft, customer) for every period of each customer's schedule that has closed, by period end."""
    dates_by_customer = defaultdict(set)
    for p in data.proformas:
        dates_by_customer[p.customer_id].add(p.service_date)
    drafts = []
    for customer in data.customers.values():
        dates = dates_by_customer.get(customer.pk, ())
        for start, end in closed_periods(customer.invoicing_schedule, dates, seed.today):
            generated = ar_invoices_generate(
                customer=customer, period_start=start, period_end=end, user=None, issue=False
            )
            drafts += [(invoice, customer) for invoice in generated]
    drafts.sort(key=lambda pair: (pair[0].period_end, pair[0].pk))
    return drafts


def _drafts_kept(seed: DemoSeed, drafts: list[tuple[Invoice, object]]) -> set[int]:
    """The last few days' invoices wait for review as drafts; at least two per partner."""
    kept = {invoice.pk for invoice, _ in drafts if invoice.period_end >= seed.days_ago(6)}
    for invoice, _ in reversed(drafts):
        if len(kept) >= 2:
            break
        kept.add(invoice.pk)
    return kept


def _fate_draw(seed: DemoSeed, invoice: Invoice, customer) -> ArPlan:
    """Cards are charged on time; checks are sometimes late, or partly paid; what is not due yet may be paid."""
    issue_day = min(invoice.period_end + datetime.timedelta(days=1 + seed.rng.randint(0, 2)), seed.today)
    no_payment = customer.payment_terms == "no_payment"
    due = None if no_payment else issue_day + datetime.timedelta(days=customer.payment_terms_days)
    roll = seed.rng.random()
    if no_payment:
        fate = Fate.PENDING
    elif due < seed.today:
        on_time = 0.95 if customer.payment_method == "card" else 0.72
        fate = Fate.PAID if roll < on_time else Fate.OVERDUE if roll < on_time + 0.18 else Fate.OVERDUE_PARTIAL
    else:
        fate = Fate.PAID if roll < 0.3 else Fate.PARTIAL if roll < 0.65 else Fate.PENDING
    return ArPlan(invoice, customer, issue_day, due, fate)


def _reissue_pick(past_due: list[ArPlan]) -> None:
    """An invoice sent with the wrong PO (a monthly or weekly check payer's, would-be paid if any) is voided and
    its proformas re-invoiced."""
    candidates = [
        p
        for p in past_due
        if p.customer.payment_method == "check" and p.customer.invoicing_schedule in ("monthly", "weekly")
    ]
    candidates.sort(key=lambda p: p.fate != Fate.PAID)
    if candidates:
        candidates[0].fate = Fate.VOID_REISSUE


def _fates_guarantee(past_due: list[ArPlan], current: list[ArPlan]) -> None:
    """At least two overdue and one paid among the past-due, one pending and one partly paid among the others."""
    overdue = [p for p in past_due if p.fate == Fate.OVERDUE]
    for p in past_due:
        if len(overdue) >= 2:
            break
        if p.fate == Fate.PAID and sum(q.fate == Fate.PAID for q in past_due) > 1:
            p.fate = Fate.OVERDUE
            overdue.append(p)
    if not any(p.fate == Fate.PAID for p in past_due):
        spare = [p for p in past_due if p.fate in (Fate.OVERDUE, Fate.OVERDUE_PARTIAL)][2:]
        if spare:
            spare[0].fate = Fate.PAID
    for wanted in (Fate.PENDING, Fate.PARTIAL):
        if not any(p.fate == wanted for p in current):
            spare = [p for p in current if p.fate == Fate.PAID]
            if spare:
                spare[-1].fate = wanted


def _parent_pick(seed: DemoSeed, data: PartnerData, current: list[ArPlan]) -> None:
    """Seed 003: the child invoice shares the biggest open invoice's bill (one not partly paid, if any)."""
    parents = [p for p in current if p.customer.name in SHARED_BILL_CUSTOMERS and p.invoice.total_units >= 10000]
    parents.sort(key=lambda p: (p.fate == Fate.PARTIAL, -p.invoice.total_units))
    if parents:
        parents[0].fate = Fate.PARENT
    else:  # no generated invoice fits: seed 003's own example, a $2,000 invoice shared $1,000 / $1,000
        seed.event(seed.days_ago(6), 0, manual_parent, seed, data)


def _late_credit(data: PartnerData, kept: list[Invoice]) -> None:
    """A goodwill credit on a draft still under review."""
    drafts = [invoice for invoice in kept if invoice.total_units > 5000]
    if drafts:
        slip_add_adjustment(
            kind="credit",
            invoice=drafts[-1],
            description=data.spec.late_credit_reason,
            amount_units=2500,
            user=data.admin,
        )


def ar_issue(seed: DemoSeed, data: PartnerData, plan: ArPlan) -> None:
    """Issue the planned invoice on its day, and plan what follows: its payment, its void, its child invoice."""
    plan.invoice = issue_on(plan.invoice, user=data.admin, day=plan.issue_on)
    if plan.fate == Fate.PAID:
        pay(seed, plan.customer, plan.invoice, user=data.clerk)
    elif plan.fate in (Fate.PARTIAL, Fate.OVERDUE_PARTIAL):
        pay(seed, plan.customer, plan.invoice, user=data.clerk, part=True)
    elif plan.fate == Fate.VOID_REISSUE:
        seed.event(plan.issue_on + datetime.timedelta(days=3), 1, void_and_reissue, seed, data, plan)
    elif plan.fate == Fate.PARENT:
        seed.event(plan.issue_on + datetime.timedelta(days=2), 1, child_attach, seed, data, plan.invoice, plan.issue_on)


def void_and_reissue(seed: DemoSeed, data: PartnerData, plan: ArPlan) -> None:
    """Void the invoice sent with the wrong PO; its services go on a corrected invoice, which is then paid."""
    invoice = plan.invoice
    day = min(plan.issue_on + datetime.timedelta(days=3), seed.today)
    invoice_void(
        invoice=invoice,
        user=data.admin,
        reason="Sent with the wrong billing contact and PO; its services were re-invoiced on a corrected invoice.",
    )
    for again in ar_invoices_generate(
        customer=plan.customer, period_start=invoice.period_start, period_end=invoice.period_end, issue=False
    ):
        again = issue_on(again, user=data.admin, day=day)
        pay(seed, plan.customer, again, user=data.clerk)


def manual_parent(seed: DemoSeed, data: PartnerData) -> None:
    """The parent of the child invoice when no generated invoice fits: a manual invoice of $2,000."""
    day = seed.days_ago(6)
    invoice = invoice_create_manual(
        partner=data.partner,
        customer=data.customers["Harborview Medical Center"],
        lines=[
            LineInput("Interpreting – community health fair (4 interpreters, full day)", Decimal(1), Decimal(200000))
        ],
        user=data.admin,
    )
    invoice = issue_on(invoice, user=data.admin, day=day)
    child_attach(seed, data, invoice, day)


def child_attach(seed: DemoSeed, data: PartnerData, parent: Invoice, parent_issued_on: datetime.date) -> None:
    """Seed 003: another customer agrees to pay half; a manual child invoice with one general slip."""
    day = min(parent_issued_on + datetime.timedelta(days=2), seed.today)
    share = parent.total_units // 2 // 100 * 100
    child = invoice_create_manual(
        partner=data.partner,
        customer=data.customers[SHARED_BILL_PAYER],
        lines=[
            LineInput(
                description=f"Share of {parent.number} ({parent.customer}) under the cost-sharing agreement",
                quantity=Decimal(1),
                unit_price_units=Decimal(share),
                slip_type="general",
            )
        ],
        notes=f"Pacific Crest covers half of {parent.number}, per claim agreement CLM-SHARE-2231.",
        user=data.admin,
    )
    child = issue_on(child, user=data.admin, day=day)
    invoice_attach_child(parent=parent, child=child, user=data.admin)
