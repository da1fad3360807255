"""Invoices made by hand: manual invoices (seed 001), draft edits, adjustments, and quotes turned into invoices."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from audit.recording import audit_record
from expense_codes.applying import codes_copy
from octoo_billing.money import (
    MAX_AMOUNT_UNITS,
    MAX_PERCENT,
    MAX_QUANTITY,
    MAX_RATE_UNITS,
    PERCENT_PLACES,
    QUANTITY_PLACES,
    RATE_PLACES,
    format_units,
    to_decimal,
)

from .coupons import coupon_applies, coupon_for_code, coupon_redeem, coupon_release, coupon_scope, coupon_slips
from .errors import BillingRuleError, InvalidTransition
from .lifecycle import invoice_issue
from .locking import proforma_lock
from .models import Coupon, Invoice, InvoiceProforma, Proforma, Quote, Slip
from .pricing import (
    INVOICE_TOTAL_FIELDS,
    discount_spread,
    invoice_totals_refresh,
    proforma_totals_refresh,
    slip_price,
)
from .workflow import Actor, Role, TransitionRefused, action_begin, proforma_adjust_refusal


@dataclass
class LineInput:
    """One typed line of a manual invoice; amounts in minor units, quantity and rates as Decimal."""

    description: str
    quantity: Decimal
    unit_price_units: Decimal
    tax_rate: Decimal = Decimal(0)
    discount_units: int = 0
    slip_type: str = Slip.Type.GENERAL
    pay_rate_units: Decimal = Decimal(0)


def _slips_from_lines(partner_id: int, lines: list[LineInput], currency: str) -> list[Slip]:
    """Price typed lines, refusing any outside the bounds of octoo_billing.money: the forms check them first, this
    holds for every other caller (quotes, kept adjustments, scripts). The message names the line (no field: a line
    is not a field of the invoice's form)."""
    slips = []
    for position, line in enumerate(lines, start=1):
        where = f"Line {position}:"
        if not (line.description or "").strip():
            raise BillingRuleError(f"{where} enter a description.")
        quantity = to_decimal(line.quantity)
        if quantity.is_nan() or quantity <= 0:
            raise BillingRuleError(f"{where} the quantity must be more than zero.")
        if quantity > MAX_QUANTITY:
            raise BillingRuleError(f"{where} the quantity is at most {MAX_QUANTITY:,}.")
        if quantity != quantity.quantize(Decimal(1).scaleb(-QUANTITY_PLACES)):
            raise BillingRuleError(f"{where} use at most {QUANTITY_PLACES} decimal places in the quantity.")
        rates = {"unit price": to_decimal(line.unit_price_units), "pay rate": to_decimal(line.pay_rate_units)}
        for name, rate in rates.items():
            if rate.is_nan():
                raise BillingRuleError(f"{where} the {name} is not a number.")
            if abs(rate) > MAX_RATE_UNITS:
                raise BillingRuleError(f"{where} the {name} is at most {format_units(MAX_RATE_UNITS, currency)}.")
            if rate != rate.quantize(Decimal(1).scaleb(-RATE_PLACES)):
                raise BillingRuleError(f"{where} the {name} has too many decimal places.")
            if rate < 0 and line.slip_type not in Slip.TYPES_ALLOWING_NEGATIVE:
                raise BillingRuleError(f"{where} the {name} cannot be negative.")
        tax_rate = to_decimal(line.tax_rate)
        if tax_rate.is_nan() or not 0 <= tax_rate <= MAX_PERCENT:
            raise BillingRuleError(f"{where} the tax rate is 0 to {MAX_PERCENT} %.")
        if tax_rate != tax_rate.quantize(Decimal(1).scaleb(-PERCENT_PLACES)):
            raise BillingRuleError(f"{where} use at most {PERCENT_PLACES} decimal places in the tax rate.")
        if line.discount_units < 0:
            raise BillingRuleError(f"{where} a discount cannot be negative.")
        slip = slip_price(
            Slip(
                partner_id=partner_id,
                position=position,
                slip_type=line.slip_type,
                description=line.description.strip(),
                quantity=quantity,
                bill_rate_units=rates["unit price"],
                pay_rate_units=rates["pay rate"],
                tax_rate=tax_rate,
                line_discount_units=line.discount_units,
            )
        )
        if abs(slip.bill_amount_units) > MAX_AMOUNT_UNITS:
            raise BillingRuleError(f"{where} the line comes to more than {format_units(MAX_AMOUNT_UNITS, currency)}.")
        if line.discount_units > max(slip.bill_amount_units, 0):  # adjustments and credits may be negative
            raise BillingRuleError(f"{where} the discount is larger than the line.")
        slips.append(slip)
    return slips


def _coupon_lines(invoice: Invoice, slips: list[Slip]) -> list[Slip]:
    """The discount lines of the draft's coupon on its typed lines as they are now (none without a coupon)."""
    coupon = invoice.coupon
    if coupon is None:
        return []
    scope = coupon_scope(coupon)
    eligible = [slip for slip in slips if coupon_applies(scope, slip)]
    return coupon_slips(
        coupon, eligible, partner_id=invoice.partner_id, currency=invoice.currency, position=len(slips) + 1
    )


def _draft_fill(invoice: Invoice, lines: list[LineInput], discount_units: int) -> Invoice:
    """Replace the draft's lines. With a coupon on the draft its discount lines are recomputed from these lines
    (any coupon lines given are dropped), so they always match them."""
    if invoice.coupon_id is not None:
        lines = [line for line in lines if line.slip_type != Slip.Type.COUPON]
    if not lines:
        raise BillingRuleError("Add at least one line.")
    largest = format_units(MAX_AMOUNT_UNITS, invoice.currency)
    if discount_units < 0:
        raise BillingRuleError("The invoice discount cannot be negative.", field="discount")
    if discount_units > MAX_AMOUNT_UNITS:
        raise BillingRuleError(f"The invoice discount is at most {largest}.", field="discount")
    slips = _slips_from_lines(invoice.partner_id, lines, invoice.currency)
    discount_spread(slips, discount_units)
    coupon_lines = _coupon_lines(invoice, slips)
    if coupon_lines:
        room = sum(max(s.bill_amount_units - s.line_discount_units, 0) for s in slips) + sum(
            s.bill_amount_units for s in coupon_lines
        )
        if discount_units > room:
            raise BillingRuleError(
                f"With coupon {invoice.coupon.code}, the invoice discount can be at most "
                f"{format_units(max(room, 0), invoice.currency)}.",
                field="discount",
            )
        slips += coupon_lines
    if sum(slip.bill_total_units for slip in slips) > MAX_AMOUNT_UNITS:  # the invoice's total_units, from its lines
        raise BillingRuleError(f"The invoice would come to more than {largest}: split it into several.")
    Slip.objects.filter(invoice=invoice).delete()
    for slip in slips:
        slip.invoice = invoice
    Slip.objects.bulk_create(slips)
    invoice.discount_units = discount_units
    invoice_totals_refresh(invoice, save=False)
    invoice.save()
    return invoice


def _coupon_entered(*, partner, customer, code: str) -> Coupon | None:
    """The open coupon typed on a manual invoice, checked for today (None for no code); refusals are
    ``BillingRuleError`` on the ``coupon`` field."""
    return coupon_for_code(
        partner=partner,
        code=code,
        customer=customer,
        on_date=timezone.localdate(timezone=partner.tzinfo),
        manual=True,
    )


def _coupon_change(invoice: Invoice, code: str) -> bool:
    """Put the coupon ``code`` on a locked draft (an empty code takes it off): a new coupon is checked and its use
    counted; the one it replaces gets its use back. The same coupon again changes nothing. True if it changed."""
    code = (code or "").strip()
    current = invoice.coupon
    if current is not None and code.lower() == current.code.lower():
        return False
    if current is None and not code:
        return False
    if current is None and Slip.objects.filter(invoice=invoice, slip_type=Slip.Type.COUPON).exists():
        raise BillingRuleError(
            "This invoice already has the discount of its booking's coupon: an invoice takes one coupon.",
            field="coupon",
        )
    coupon = _coupon_entered(partner=invoice.partner, customer=invoice.customer, code=code)
    if current is not None:
        coupon_release(coupon=current, invoice=invoice)
    if coupon is not None:
        coupon_redeem(coupon=coupon, customer=invoice.customer, invoice=invoice)
    invoice.coupon = coupon
    return True


@transaction.atomic
def invoice_create_manual(
    *,
    partner,
    customer,
    lines: list[LineInput],
    discount_units: int = 0,
    billing_contact=None,
    payment_terms_days: int | None = None,
    due_date: datetime.date | None = None,
    notes: str = "",
    user=None,
    issue: bool = False,
    source: str = Invoice.Source.MANUAL,
    coupon_code: str = "",
) -> Invoice:
    """A draft AR invoice of typed lines for charges outside the booking flow; issued at once if asked.

    A ``coupon_code`` (an open coupon: not one for particular services) is checked, its use counted on the
    invoice, and its discount line added before tax; refusals are ``BillingRuleError`` on the ``coupon`` field."""
    if customer.partner_id != partner.pk:
        raise BillingRuleError("That customer belongs to another partner.")
    contact = billing_contact or customer.contacts.filter(is_default=True).first()
    if contact is not None and contact.customer_id != customer.pk:
        raise BillingRuleError("That billing contact belongs to another customer.")
    coupon = _coupon_entered(partner=partner, customer=customer, code=coupon_code)
    no_payment = customer.payment_terms == customer.PaymentTerms.NO_PAYMENT
    invoice = Invoice.objects.create(
        partner=partner,
        kind=Invoice.Kind.AR,
        customer=customer,
        source=source,
        currency=partner.currency,
        billing_contact=contact,
        contact_name=contact.name if contact else "",
        contact_email=contact.email if contact else "",
        bill_to_name=customer.name,
        payment_terms_days=customer.payment_terms_days if payment_terms_days is None else payment_terms_days,
        no_payment=no_payment,
        due_date=None if no_payment else due_date,
        notes=notes,
        expense_code_mode=customer.expense_code_mode,
        created_by=user if user is not None and user.is_authenticated else None,
        coupon=coupon,
    )
    if coupon is not None:
        coupon_redeem(coupon=coupon, customer=customer, invoice=invoice)
    _draft_fill(invoice, lines, discount_units)
    data = {"source": source, "lines": len(lines)}
    if coupon is not None:
        data["coupon"] = coupon.code
    audit_record(target=invoice, action="create", actor=user, to_status=Invoice.Status.DRAFT, data=data)
    if issue:
        invoice = invoice_issue(invoice=invoice, user=user)
    return invoice


@transaction.atomic
def invoice_update_draft(
    *,
    invoice: Invoice,
    lines: list[LineInput],
    discount_units: int = 0,
    billing_contact=None,
    payment_terms_days: int | None = None,
    due_date: datetime.date | None = None,
    notes: str = "",
    user=None,
    coupon_code: str | None = None,
) -> Invoice:
    """Replace a draft's lines and terms. Issued invoices are never edited. ``coupon_code``: the draft's coupon
    (None: keep it; "": take it off); its discount lines follow the new lines."""
    invoice = action_begin("edit", invoice.pk, user=user)
    if billing_contact is not None:
        if billing_contact.customer_id != invoice.customer_id:
            raise BillingRuleError("That billing contact belongs to another customer.")
        invoice.billing_contact = billing_contact
        invoice.contact_name, invoice.contact_email = billing_contact.name, billing_contact.email
    if payment_terms_days is not None:
        invoice.payment_terms_days = payment_terms_days
    invoice.due_date = None if invoice.no_payment else due_date
    invoice.notes = notes
    coupon_changed = coupon_code is not None and _coupon_change(invoice, coupon_code)
    _draft_fill(invoice, lines, discount_units)
    data = {"coupon": invoice.coupon.code if invoice.coupon else ""} if coupon_changed else {}
    audit_record(
        target=invoice, action="edit_draft", actor=user, from_status="draft", to_status="draft", data=data or None
    )
    return invoice


ADJUSTMENT_KINDS = {
    "additional_work": ("Additional work", Slip.Type.ADJUSTMENT, 1),
    "reduced_scope": ("Reduced scope", Slip.Type.ADJUSTMENT, -1),
    "credit": ("Credit", Slip.Type.CREDIT, -1),
}


@transaction.atomic
def slip_add_adjustment(
    *,
    kind: str,
    description: str,
    amount_units: int,
    invoice: Invoice | None = None,
    proforma: Proforma | None = None,
    tax_rate: Decimal = Decimal(0),
    pay_amount_units: int = 0,
    user=None,
    expected_status: str | None = None,
) -> Slip:
    """Add an adjustment line (additional work, reduced scope, credit) to a draft invoice or an uninvoiced
    proforma. ``amount_units`` is the positive size of the change; the kind gives its sign."""
    if kind not in ADJUSTMENT_KINDS:
        raise BillingRuleError("Choose additional work, reduced scope or credit.")
    if (invoice is None) == (proforma is None):
        raise BillingRuleError("An adjustment goes on one invoice or one proforma.")
    if not amount_units or amount_units <= 0:
        raise BillingRuleError("Enter the amount of the adjustment, more than zero.", field="amount")
    if amount_units > MAX_AMOUNT_UNITS or abs(pay_amount_units) > MAX_AMOUNT_UNITS:
        raise BillingRuleError("That amount is larger than any one adjustment can be.", field="amount")
    if not (description or "").strip():
        raise BillingRuleError("Describe the adjustment so the customer understands the change.")
    label, slip_type, sign = ADJUSTMENT_KINDS[kind]
    # The lock order (invoicing.locking): the invoice(s) first, then the proforma; status re-checked under them.
    if invoice is not None:
        invoice = action_begin("adjust", invoice.pk, user=user, expected_status=expected_status)
        target, owner, invoices = invoice, {"invoice": invoice}, [invoice]
        position = Slip.objects.filter(invoice=invoice).count() + 1
    else:
        proforma, locked = proforma_lock(proforma.pk)
        refusal = proforma_adjust_refusal(proforma, locked.values())
        if refusal is not None:
            raise TransitionRefused(refusal)
        target, owner, invoices = proforma, {"proforma": proforma}, list(locked.values())
        position = Slip.objects.filter(proforma=proforma).count() + 1
    slip = slip_price(
        Slip(
            partner_id=target.partner_id,
            position=position,
            slip_type=slip_type,
            description=f"{label}: {description.strip()}",
            quantity=Decimal(1),
            bill_rate_units=Decimal(sign * amount_units),
            pay_rate_units=Decimal(sign * pay_amount_units),
            tax_rate=to_decimal(tax_rate),
            **owner,
        )
    )
    slip.save()
    if proforma is not None:
        proforma_totals_refresh(proforma)
        if proforma.bill_total_units < 0 or proforma.pay_total_units < 0:
            raise BillingRuleError(
                "That credit is larger than the proforma's total; enter a smaller amount.", field="amount"
            )
    for document in invoices:
        invoice_totals_refresh(document, save=False)
        if document.total_units < document.paid_units + document.children_units:
            raise BillingRuleError(
                f"That credit is larger than what {document} adds up to; enter a smaller amount.", field="amount"
            )
        document.save(update_fields=INVOICE_TOTAL_FIELDS)
    audit_record(
        target=target,
        action="adjustment",
        actor=user,
        data={"kind": kind, "amount_units": sign * amount_units, "description": description.strip()},
    )
    return slip


@transaction.atomic
def quote_convert(*, quote: Quote, user=None, issue: bool = False, source: str = Invoice.Source.QUOTE) -> Invoice:
    """Generate an invoice from a booking's quote (seed 002: Actions > Generate invoice)."""
    quote = Quote.objects.select_for_update().select_related("request__customer__partner").get(pk=quote.pk)
    if quote.status not in (Quote.Status.OPEN, Quote.Status.ACCEPTED):
        raise InvalidTransition(f"This quote is {quote.get_status_display().lower()}; it cannot be invoiced.")
    request = quote.request
    if request.status == request.Status.CANCELLED:
        raise InvalidTransition("The booking was cancelled; its quote cannot be invoiced.")
    if request.repeat:  # seed 002: a recurring booking carries its own invoicing (invoicing.recurring)
        raise BillingRuleError(
            f"A recurring booking is invoiced as it says ({request.get_recurring_invoicing_display().lower()}), "
            "not from its quote."
        )
    billed = (
        InvoiceProforma.objects.filter(proforma__service__request=request, kind=Invoice.Kind.AR, is_active=True)
        .select_related("invoice")
        .first()
    )
    if billed is not None:  # its services were already billed by a run: invoicing the quote would bill them twice
        raise BillingRuleError(
            f"The services of this booking are already billed on {billed.invoice.number or 'a draft invoice'}."
        )
    lines = [
        LineInput(
            description=line.description,
            quantity=line.quantity,
            unit_price_units=line.unit_price_units,
            tax_rate=line.tax_rate,
            discount_units=line.discount_units,
            slip_type=line.slip_type,
        )
        for line in quote.lines.all()
    ]
    if not lines:
        raise BillingRuleError("The quote has no lines to invoice.")
    invoice = invoice_create_manual(
        partner=request.customer.partner,
        customer=request.customer,
        lines=lines,
        user=user,
        notes=f"From the quote for request {request}",
        source=source,
    )

    codes_copy(source={"request": request}, target={"invoice": invoice})
    quote.status = Quote.Status.CONVERTED
    quote.invoice = invoice
    quote.save(update_fields=["status", "invoice"])
    audit_record(target=invoice, action="from_quote", actor=user, data={"quote_id": quote.pk, "request_id": request.pk})
    if issue:  # the partner's auto-invoice setting issues it, whoever booked (workflow: the system acts)
        invoice = invoice_issue(invoice=invoice, user=user, actor=Actor(Role.SYSTEM, user))
    return invoice
