"""What an invoice or proforma PDF shows: its lines grouped by proforma with their figures already formatted,
the addressee, terms, payment instructions and remittance details, in a fixed number of queries whatever the
document's size. The templates are ``templates/invoicing/pdf/``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain

from django.db.models import Q
from django.utils import timezone

from customers.models import NO_PAYMENT_TERMS
from expense_codes.models import AppliedExpenseCode

from ..models import Invoice, InvoiceProforma, Payment, Proforma, Slip
from ..pricing import tax_band_lines, tax_bands
from ..templatetags.money import money as money_filter
from ..templatetags.money import rate as rate_filter
from .engine import media_url


@dataclass
class Line:
    """One printed line, its figures already formatted. ``label`` carries the slip type and pay-schedule rate
    in the same text as the description: every extra cell or element costs layout time and memory on a
    2,500-line invoice."""

    label: str
    quantity_price: str  # "2.5 × $85.00": one cell, not two
    discount: str
    tax: str
    total: str
    total_units: int
    has_discount: bool
    has_tax: bool


@dataclass
class Group:
    """The lines of one proforma (or the invoice's own lines when ``proforma`` is None)."""

    proforma: Proforma | None
    codes: list = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    total_units: int = 0


# Slip types named in front of the description (the others are plain from their description).
TYPE_PREFIXES = {
    Slip.Type.ADJUSTMENT: "Adjustment",
    Slip.Type.CREDIT: "Credit",
    Slip.Type.REIMBURSEMENT: "Reimbursement",
}
SCHEDULE_LABELS = {value: label.lower() for value, label in Slip._meta.get_field("pay_schedule").choices}


def _label(slip: Slip) -> str:
    label = slip.description
    prefix = TYPE_PREFIXES.get(slip.slip_type)
    if prefix and not label.lower().startswith(prefix.lower()):
        label = f"{prefix}: {label}"
    if slip.pay_schedule:
        label = f"{label} · {SCHEDULE_LABELS.get(slip.pay_schedule, slip.pay_schedule)} rate"
    return label


@lru_cache(maxsize=8192)
def _money(units, currency: str) -> str:
    return money_filter(units, currency)


@lru_cache(maxsize=8192)
def _rate(units, currency: str) -> str:
    return rate_filter(units, currency)


def _quantity(quantity) -> str:
    text = f"{quantity.normalize():f}"  # 2.5000 -> "2.5", 10 -> "10" (never "1E+1")
    return text


def _line(slip: Slip, side: str, currency: str) -> Line:
    if side == "pay":
        return Line(
            label=_label(slip),
            quantity_price=f"{_quantity(slip.paid_quantity)} × {_rate(slip.pay_rate_units, currency)}",
            discount="",
            tax="",
            total=_money(slip.pay_total_units, currency),
            total_units=slip.pay_total_units,
            has_discount=False,
            has_tax=False,
        )
    discount = slip.line_discount_units + slip.invoice_discount_units
    tax = ""
    if slip.bill_tax_units:
        tax = f"{_money(slip.bill_tax_units, currency)} ({slip.tax_rate.normalize():f}%)"
    return Line(
        label=_label(slip),
        quantity_price=f"{_quantity(slip.quantity)} × {_rate(slip.bill_rate_units, currency)}",
        discount=f"−{_money(discount, currency)}" if discount else "",
        tax=tax,
        total=_money(slip.bill_total_units, currency),
        total_units=slip.bill_total_units,
        has_discount=bool(discount),
        has_tax=bool(slip.bill_tax_units),
    )


def _columns(groups: list[Group], side: str) -> dict:
    """Which optional columns this document needs (a column of blanks is noise, and costs render time)."""
    lines = [line for group in groups for line in group.lines]
    bill = side == "bill"
    discount = bill and any(line.has_discount for line in lines)
    tax = bill and any(line.has_tax for line in lines)
    return {"discount": discount, "tax": tax, "span": 1 + discount + tax}


def _codes_by_owner(*conditions, **filters) -> dict:
    """Applied expense codes keyed by invoice id, or by ("pf", proforma id)."""
    found = defaultdict(list)
    for code in AppliedExpenseCode.objects.filter(*conditions, **filters).order_by("label_name", "value"):
        found[code.invoice_id or ("pf", code.proforma_id)].append(code)
    return found


# The invoice's related rows its PDF shows, read with it.
INVOICE_RELATED = ("partner", "customer", "provider", "billing_contact")
# The first this many lines are read in one query; any beyond, in chunks through a server-side cursor (a huge
# invoice's lines are never all held at once), which costs three round trips more.
LINES_AT_ONCE = 2000


def invoice_pdf_context(invoice: Invoice) -> dict:
    """Everything an invoice PDF shows, in a fixed number of queries whatever its size. The invoice is read again
    with ``INVOICE_RELATED``, unless it was just read so (``documents.invoice_pdf_read``: the PDF the worker
    stores, read once for the check and the render)."""
    if not getattr(invoice, "read_for_pdf", False):
        invoice = Invoice.objects.select_related(*INVOICE_RELATED).get(pk=invoice.pk)
    side = "bill" if invoice.kind == Invoice.Kind.AR else "pay"
    currency = invoice.currency
    links = InvoiceProforma.objects.filter(invoice=invoice)
    if invoice.status != Invoice.Status.VOID:
        links = links.filter(is_active=True)
    links = list(links.select_related("proforma", "proforma__provider").order_by("position", "id"))
    proformas = [link.proforma for link in links]
    slips = Slip.objects.filter(Q(invoice=invoice) | Q(proforma__in=[p.pk for p in proformas])).order_by(
        "position", "id"
    )
    codes = _codes_by_owner(Q(invoice=invoice) | Q(proforma__in=[p.pk for p in proformas]))
    per_proforma = invoice.expense_code_mode == Invoice.ExpenseCodeMode.PER_PROFORMA
    groups = {p.pk: Group(proforma=p, codes=codes.get(("pf", p.pk), []) if per_proforma else []) for p in proformas}
    own = Group(proforma=None)
    billed = []  # the bill side's lines, for the tax per rate (pricing.tax_bands) without another query
    first = list(slips[:LINES_AT_ONCE])
    rest = slips[LINES_AT_ONCE:].iterator(chunk_size=LINES_AT_ONCE) if len(first) == LINES_AT_ONCE else ()
    for slip in chain(first, rest):
        group = groups.get(slip.proforma_id, own) if slip.proforma_id else own
        line = _line(slip, side, currency)
        group.lines.append(line)
        group.total_units += line.total_units
        if side == "bill":
            billed.append(slip)
    ordered = [g for g in groups.values() if g.lines]
    if own.lines:
        ordered.append(own)
    header_codes = [] if per_proforma else codes.get(invoice.pk, [])
    if not header_codes and not per_proforma and invoice.expense_code_key:
        header_codes = [{"label_name": "", "value": invoice.expense_code_key}]
    payments = list(Payment.objects.filter(invoice=invoice).order_by("received_on", "id"))
    children = list(invoice.children.exclude(status=Invoice.Status.VOID).order_by("issue_date", "id"))
    party = invoice.party
    contact = invoice_pdf_contact(invoice)
    instructions = _instructions(invoice)
    return {
        "doc": invoice,
        "invoice": invoice,
        "kind": "ar" if invoice.kind == Invoice.Kind.AR else "ap",
        "title": "Invoice" if invoice.kind == Invoice.Kind.AR else "AP invoice (provider bill)",
        "number": invoice.number or "DRAFT",
        "is_draft": invoice.is_draft,
        "partner": invoice.partner,
        "party": party,
        "contact": contact,
        "currency": invoice.currency,
        "side": side,
        "groups": ordered,
        "columns": _columns(ordered, side),
        "tax_lines": tax_band_lines(tax_bands(billed), currency),
        "has_proformas": bool(proformas),
        "header_codes": header_codes,
        "per_proforma": per_proforma,
        "payments": payments,
        "children": children,
        "terms": _terms(invoice),
        "instructions": instructions,
        "remittance": _remittance(invoice.partner, instructions),
        "logo_url": logo_url(invoice.partner),
        "generated_at": timezone.now(),
    }


def invoice_pdf_contact(invoice: Invoice) -> dict:
    """Who the document is addressed to: the frozen snapshot once issued, the current contact on a draft."""
    if invoice.kind == Invoice.Kind.AP:
        provider = invoice.provider
        return {
            "organisation": invoice.bill_to_name or provider.name,
            "name": invoice.contact_name if invoice.contact_name != provider.name else "",
            "email": invoice.contact_email or provider.email,
            "address": invoice.contact_address or provider.address,
        }
    if invoice.is_draft:
        contact = invoice.billing_contact or invoice.customer.contacts.filter(is_default=True).first()
        return {
            "organisation": invoice.customer.name,
            "name": contact.name if contact else invoice.contact_name,
            "email": contact.email if contact else invoice.contact_email,
            "address": (contact.address if contact else "") or invoice.customer.address,
        }
    return {
        "organisation": invoice.bill_to_name or invoice.customer.name,
        "name": invoice.contact_name,
        "email": invoice.contact_email,
        "address": invoice.contact_address,
    }


def _terms(invoice: Invoice) -> str:
    if invoice.no_payment:
        return NO_PAYMENT_TERMS
    days = invoice.payment_terms_days
    if days is None and invoice.party is not None:
        days = invoice.party.payment_terms_days
    if days is None:
        return ""
    return "Due on receipt" if days == 0 else f"Net {days} days"


def _instructions(invoice: Invoice) -> dict:
    """How the balance gets paid: a check to the partner, or the card on file."""
    partner = invoice.partner
    if invoice.kind == Invoice.Kind.AP:
        return {"kind": "ap", "payer": partner.legal_name or partner.name}
    if invoice.status == Invoice.Status.VOID:
        return {"kind": "void"}
    if not invoice.is_draft and invoice.outstanding_units <= 0:
        return {"kind": "paid"}
    customer = invoice.customer
    if customer.payment_method == customer.PaymentMethod.CARD:
        if invoice.charged_on_issue and customer.card_last4:
            return {"kind": "card_auto", "last4": customer.card_last4, "brand": customer.card_brand}
        return {"kind": "card", "last4": customer.card_last4, "email": partner.email}
    return {"kind": "check", "payee": partner.legal_name or partner.name, "address": partner.address}


def logo_url(partner) -> str:
    """The partner's logo as the media URL the fetcher reads from the default storage ("" without a logo). The file was
    checked when it was uploaded (customers.company.logo_check): a plain PNG, or an SVG that loads nothing."""
    if not partner.logo:
        return ""
    return media_url(partner.logo.name)


@dataclass(frozen=True)
class Remittance:
    """How to pay by transfer (the company settings), printed on AR invoices with a balance the customer pays."""

    text: str
    bank_name: str
    account_name: str
    account_number: str
    routing: str

    @property
    def has_bank(self) -> bool:
        return any((self.bank_name, self.account_name, self.account_number, self.routing))


def _remittance(partner, instructions: dict) -> Remittance | None:
    if instructions["kind"] not in ("check", "card"):  # AP, void, paid, or charged to the card on file
        return None
    remittance = Remittance(
        text=partner.remittance,
        bank_name=partner.bank_name,
        account_name=partner.bank_account_name,
        account_number=partner.bank_account_number,
        routing=partner.bank_routing,
    )
    return remittance if remittance.text or remittance.has_bank else None


def proforma_pdf_context(proforma: Proforma, *, side: str = "bill") -> dict:
    proforma = Proforma.objects.select_related("partner", "customer", "provider", "service__request").get(
        pk=proforma.pk
    )
    codes = _codes_by_owner(proforma=proforma).get(("pf", proforma.pk), [])
    currency = proforma.partner.currency
    group = Group(proforma=proforma)
    for slip in Slip.objects.filter(proforma=proforma).order_by("position", "id"):
        line = _line(slip, side, currency)
        group.lines.append(line)
        group.total_units += line.total_units
    customer = proforma.customer
    contact = customer.contacts.filter(is_default=True).first()
    if side == "bill":
        totals = {
            "subtotal": proforma.bill_subtotal_units,
            "discount": proforma.bill_discount_units,
            "tax": proforma.bill_tax_units,
            "total": proforma.bill_total_units,
        }
    else:
        totals = {"subtotal": proforma.pay_total_units, "discount": 0, "tax": 0, "total": proforma.pay_total_units}
    return {
        "doc": proforma,
        "proforma": proforma,
        "kind": "proforma",
        "title": "Proforma",
        "number": proforma.number or "DRAFT",
        "is_draft": proforma.status == Proforma.Status.DRAFT or not proforma.number,
        "partner": proforma.partner,
        "party": customer,
        "contact": {
            "organisation": customer.name,
            "name": contact.name if contact else "",
            "email": contact.email if contact else customer.email,
            "address": (contact.address if contact else "") or customer.address,
        },
        "currency": proforma.partner.currency,
        "side": side,
        "groups": [group],
        "columns": _columns([group], side),
        "header_codes": codes,
        "totals": totals,
        "logo_url": logo_url(proforma.partner),
        "generated_at": timezone.now(),
    }
