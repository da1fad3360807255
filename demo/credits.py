"""Credit notes and refunds in the demo: one invoice credited in full, one partly paid invoice credited in part,
and one paid invoice credited in part with that credit refunded to the customer (invoicing.credits).

Picked from the partner's issued history after the payments ran, the same way every time (lowest numbers first),
and dated today: a credit note is numbered in the CN series at issue like an invoice. Their delivery work (PDF,
e-mail, receipts) is discarded with the rest of the history (``demo.delivery``)."""

from __future__ import annotations

from invoicing.credits import credit_note_issue, payment_refund
from invoicing.models import Invoice, Payment

from .context import PartnerData


def _first(data: PartnerData, status: str, **filters) -> Invoice | None:
    return (
        Invoice.objects.filter(
            partner=data.partner,
            kind=Invoice.Kind.AR,
            status=status,
            parent__isnull=True,
            children__isnull=True,
            **filters,
        )
        .order_by("sequence")
        .first()
    )


def credits_create(data: PartnerData) -> None:
    """The partner's three credit notes (each skipped when its history has no such invoice)."""
    pending = _first(data, Invoice.Status.PENDING, payments__isnull=True)
    if pending is not None:
        credit_note_issue(invoice=pending, whole=True, reason="Service cancelled by the customer", user=data.admin)
    partly = _first(data, Invoice.Status.PARTIALLY_PAID)
    if partly is not None:
        amount = min(partly.outstanding_units, partly.total_units // 4)
        credit_note_issue(
            invoice=partly,
            amount_units=amount,
            reason="Goodwill: late start",
            description="Late start",
            user=data.admin,
        )
    paid_by_check = _first(data, Invoice.Status.PAID, payments__method=Payment.Method.CHECK)
    if paid_by_check is not None:
        _credit_and_refund(data, paid_by_check)


def _credit_and_refund(data: PartnerData, invoice: Invoice) -> None:
    """Half of a paid invoice credited (it was paid: the half is the customer's credit), then sent back by check."""
    note = credit_note_issue(
        invoice=invoice,
        amount_units=invoice.total_units // 2,
        reason="Half the hours were not worked",
        description="Hours not worked",
        user=data.admin,
    )
    payment = invoice.payments.filter(method=Payment.Method.CHECK).order_by("id").first()
    amount = min(note.credit_left_units, payment.amount_units)
    payment_refund(
        payment=payment, amount_units=amount, credit_note=note, reference="Refund check 5001", user=data.admin
    )
