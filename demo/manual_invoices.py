"""Manual invoices (``invoicing.manual``): seed 001's invoice of typed lines with an invoice-level discount (a
deposit paid, or paid in full and its duplicate voided), a draft still waiting, and a quote turned into an invoice.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from invoicing.lifecycle import invoice_void
from invoicing.manual import LineInput, invoice_create_manual, quote_convert
from invoicing.models import Invoice, Quote

from .context import DemoSeed, PartnerData
from .specs import QUOTE_CONVERTED_CUSTOMER, ManualInvoiceSpec
from .timeline import issue_on, pay


def manual_plan(seed: DemoSeed, data: PartnerData) -> None:
    """Plan the partner's manual invoices and the quote its staff invoice, as dated events."""
    seed.event(seed.days_ago(data.spec.manual_invoice.days_ago), 0, manual_invoice, seed, data)
    for c, quote in data.quotes:
        if c.name == QUOTE_CONVERTED_CUSTOMER:
            seed.event(seed.days_ago(4), 0, quote_invoice, seed, data, quote)
    if data.spec.manual_draft is not None:
        seed.event(seed.days_ago(2), 0, manual_draft, data)


def _manual_create(data: PartnerData, spec: ManualInvoiceSpec, *, user) -> Invoice:
    """A draft of the spec's lines, taxed at the customer's zone's rate."""
    customer = data.customers[spec.customer]
    tax = customer.zone.tax_rate if customer.zone else Decimal(0)
    lines = [
        LineInput(description=d, quantity=Decimal(q), unit_price_units=Decimal(u), tax_rate=tax)
        for d, q, u in spec.lines
    ]
    return invoice_create_manual(
        partner=data.partner,
        customer=customer,
        lines=lines,
        discount_units=spec.discount_units,
        notes=spec.notes,
        user=user,
    )


def manual_invoice(seed: DemoSeed, data: PartnerData) -> None:
    """Seed 001: a manual invoice with three lines and an invoice-level discount. A deposit is partly paid within
    days; otherwise it is paid in full, and the same call-out typed again the next day is voided."""
    spec = data.spec.manual_invoice
    customer = data.customers[spec.customer]
    day = seed.days_ago(spec.days_ago)
    invoice = issue_on(_manual_create(data, spec, user=data.admin), user=data.admin, day=day)
    if data.spec.manual_invoice_is_deposit:
        pay(seed, customer, invoice, user=data.clerk, part=True, on=day + datetime.timedelta(days=5))
        return
    pay(seed, customer, invoice, user=data.clerk, on=day + datetime.timedelta(days=14))
    seed.event(day + datetime.timedelta(days=1), 0, duplicate_voided, seed, data, invoice)


def duplicate_voided(seed: DemoSeed, data: PartnerData, original: Invoice) -> None:
    """The same call-out typed twice by mistake: the duplicate is issued, then voided (it keeps its number)."""
    duplicate = _manual_create(data, data.spec.manual_invoice, user=data.clerk)
    day = min(original.issue_date + datetime.timedelta(days=1), seed.today)
    duplicate = issue_on(duplicate, user=data.admin, day=day)
    invoice_void(
        invoice=duplicate,
        user=data.admin,
        reason=f"Duplicate of {original.number}: the emergency call-out was already invoiced.",
    )


def manual_draft(data: PartnerData) -> None:
    """A manual invoice left as a draft (awaiting the customer's PO)."""
    _manual_create(data, data.spec.manual_draft, user=data.clerk)


def quote_invoice(seed: DemoSeed, data: PartnerData, quote: Quote) -> None:
    """Seed 002: staff turn the customer's quote into an invoice (Actions > Generate invoice), issued that day."""
    invoice = quote_convert(quote=quote, user=data.clerk)
    issue_on(invoice, user=data.admin, day=seed.days_ago(4))
