"""Reads of credit notes, customer credit and refunds, shared by the office's and the portal's pages, the office
lists and their CSV exports. Partner-scoped; a fixed number of queries whatever the number of rows.

Money in and money out stay apart everywhere: a payment on an AR invoice is money received, a payment on an AP
invoice and a refund are money paid out. A credit note moves no money: it lowers what is owed, and what it does
not lower is the customer's credit (``credit_left_units``), to apply to another invoice or to refund.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import BigIntegerField, Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from audit.recording import audit_trail

from .models import CreditApplication, CreditNote, Invoice, Payment, Refund
from .selectors import PageParts

Status = Invoice.Status


def credit_left_expression():
    """What a credit note has left to apply or refund (``CreditNote.credit_left_units`` in the database)."""
    return F("total_units") - F("applied_units") - F("refunded_units")


def _refunds_under_way(payment_ref: str = "pk"):
    """The refunds made or under way on a payment (failed ones give the money back to refund), as a subquery."""
    return Coalesce(
        Subquery(
            Refund.objects.filter(payment=OuterRef(payment_ref))
            .exclude(status=Refund.Status.FAILED)
            .order_by()
            .values("payment")
            .annotate(s=Sum("amount_units"))
            .values("s"),
            output_field=BigIntegerField(),
        ),
        0,
    )


def card_endings(audit_events) -> dict[int, str]:
    """payment id -> the last four digits of the card its charge went to, from an invoice's audit trail (a card
    payment staff typed in by hand has none)."""
    endings = {}
    for event in audit_events:
        if event.action == "charge" and isinstance(event.data, dict) and event.data.get("payment_id"):
            endings[event.data["payment_id"]] = event.data.get("last4") or ""
    return endings


# --- the invoice page ---------------------------------------------------------------------------------------


@dataclass
class InvoiceCredits(PageParts):
    """What an AR invoice's page shows about credit: its own credit notes, the other credit notes applied to it
    (each with ``applied_here_units``), the customer's credit notes with credit left, and its payments' refunds."""

    notes: list = field(default_factory=list)
    applied_from_others: list = field(default_factory=list)
    customer_notes: list = field(default_factory=list)
    refunds: list = field(default_factory=list)

    def facts(self, invoice: Invoice, payments: list) -> dict:
        """The workflow's facts about credit (``invoicing.workflow.InvoiceFacts``) from what is loaded here."""
        under_way = sum(r.amount_units for r in self.refunds if r.status != Refund.Status.FAILED)
        return {
            "creditable_units": invoice.total_units - sum(note.total_units for note in self.notes),
            "refundable_units": sum(p.amount_units for p in payments) - under_way,
            "customer_credit_units": sum(note.credit_left_units for note in self.customer_notes),
        }

    def refunds_of(self, payment: Payment) -> list[Refund]:
        return [refund for refund in self.refunds if refund.payment_id == payment.pk]

    def refundable_of(self, payment: Payment) -> int:
        back = sum(r.amount_units for r in self.refunds_of(payment) if r.status != Refund.Status.FAILED)
        return payment.amount_units - back


def invoice_credits(*, invoice: Invoice, payments: list) -> InvoiceCredits:
    """The credit notes an issued AR invoice's page shows (one query: its own, those applied to it, and the
    customer's with credit left) and its payments' refunds (one query, none without payments)."""
    if invoice.kind != Invoice.Kind.AR or invoice.status == Status.DRAFT:
        return InvoiceCredits()
    applied_here = (
        CreditApplication.objects.filter(credit_note=OuterRef("pk"), invoice_id=invoice.pk)
        .order_by()
        .values("credit_note")
        .annotate(s=Sum("amount_units"))
        .values("s")
    )
    notes = list(
        CreditNote.objects.filter(partner_id=invoice.partner_id, customer_id=invoice.customer_id)
        .annotate(
            applied_here_units=Coalesce(Subquery(applied_here, output_field=BigIntegerField()), 0),
            left_units=credit_left_expression(),
        )
        .filter(Q(invoice_id=invoice.pk) | Q(applied_here_units__gt=0) | Q(left_units__gt=0))
        .select_related("invoice")
        .order_by("issue_date", "id")
    )
    refunds = []
    if payments:
        refunds = list(
            Refund.objects.filter(invoice_id=invoice.pk).select_related("credit_note", "created_by").order_by("id")
        )
    return InvoiceCredits(
        notes=[note for note in notes if note.invoice_id == invoice.pk],
        applied_from_others=[note for note in notes if note.invoice_id != invoice.pk and note.applied_here_units],
        customer_notes=[note for note in notes if note.left_units > 0],
        refunds=refunds,
    )


# --- the credit note page ------------------------------------------------------------------------------------


@dataclass
class CreditNoteParts(PageParts):
    lines: list
    applications: list  # to which invoices its credit went (its own first), with the invoice
    refunds: list  # paid back out of its credit, with the payment
    open_invoices: list  # the customer's open invoices with a balance: where the credit may go
    payments: list  # its invoice's payments, each with ``refundable_units``
    card_endings: dict
    audit: list


def credit_note_queryset(*, partner):
    """A partner's credit notes with their invoice and customer."""
    return CreditNote.objects.filter(partner=partner).select_related("invoice", "customer", "created_by")


def credit_note_parts(*, note: CreditNote) -> CreditNoteParts:
    """The rest of a credit note's page, each part in one query."""
    payments = list(
        Payment.objects.filter(invoice_id=note.invoice_id)
        .annotate(refundable_units=F("amount_units") - _refunds_under_way())
        .order_by("received_on", "id")
    )
    open_invoices = list(
        Invoice.objects.filter(
            partner_id=note.partner_id,
            customer_id=note.customer_id,
            kind=Invoice.Kind.AR,
            status__in=Invoice.OPEN_STATUSES,
        )
        .annotate(balance_units=F("total_units") - F("paid_units") - F("children_units") - F("credited_units"))
        .filter(balance_units__gt=0)
        .order_by("due_date", "id")
    )
    refunds = list(note.refunds.select_related("payment", "created_by").order_by("id"))
    return CreditNoteParts(
        lines=list(note.lines.all()),
        applications=list(note.applications.select_related("invoice", "created_by").order_by("id")),
        refunds=refunds,
        open_invoices=open_invoices,
        payments=payments,
        card_endings=card_endings(audit_trail(note.invoice).filter(action="charge")) if payments else {},
        audit=list(_credit_note_history(note, refunds)),
    )


def _credit_note_history(note: CreditNote, refunds: list):
    """Its own trail (applied to other invoices) and its invoice's rows about it (issued, refunded out of it)."""
    about_it = Q(data__credit_note_id=note.pk)
    if refunds:
        about_it |= Q(data__refund_id__in=[refund.pk for refund in refunds])
    return (audit_trail(note) | audit_trail(note.invoice).filter(about_it)).order_by("at", "id")


# --- the portal's invoice page -------------------------------------------------------------------------------


@dataclass
class PortalInvoiceCredits(PageParts):
    credit_notes: list  # the invoice's own credit notes
    credit_applications: list  # credit applied to this invoice (its own notes' and others'), with the note
    refunds: list  # refunds made or under way on its payments (a failed one is staff's to retry, not shown)


def portal_invoice_credits(*, invoice: Invoice) -> PortalInvoiceCredits:
    """What the customer sees of credit on one of its invoices: three queries."""
    return PortalInvoiceCredits(
        credit_notes=list(CreditNote.objects.filter(invoice=invoice).order_by("issue_date", "id")),
        credit_applications=list(
            CreditApplication.objects.filter(invoice=invoice).select_related("credit_note").order_by("id")
        ),
        refunds=list(
            Refund.objects.filter(invoice=invoice)
            .exclude(status=Refund.Status.FAILED)
            .select_related("payment", "credit_note")
            .order_by("id")
        ),
    )


# --- the customer page -----------------------------------------------------------------------------------------

RECENT = 10


def customer_credit_overview(*, customer) -> dict:
    """A customer's recent credit notes and the credit it has left: two queries."""
    notes = CreditNote.objects.filter(partner_id=customer.partner_id, customer=customer)
    sums = notes.order_by().aggregate(
        count=Count("pk"),
        total=Sum("total_units", default=0),
        left=Sum(credit_left_expression(), default=0),
    )
    return {
        "credit_notes": list(notes.select_related("invoice").order_by("-issue_date", "-id")[:RECENT]),
        "credit_sums": sums,
    }


# --- the office lists ------------------------------------------------------------------------------------------


def credit_note_list_queryset(*, partner):
    """A partner's credit notes with their customer, invoice and ``left_units`` (credit left)."""
    return (
        CreditNote.objects.filter(partner=partner)
        .select_related("customer", "invoice")
        .annotate(left_units=credit_left_expression())
    )


def credit_note_list_totals(queryset) -> dict:
    """Count, total credited, applied, refunded and left of a (filtered) credit note list: one query."""
    return queryset.order_by().aggregate(
        count=Count("id"),
        total=Sum("total_units", default=0),
        applied=Sum("applied_units", default=0),
        refunded=Sum("refunded_units", default=0),
        left=Sum(credit_left_expression(), default=0),
    )


def refund_list_queryset(*, partner):
    """A partner's refunds with their payment, invoice, customer and credit note."""
    return Refund.objects.filter(partner=partner).select_related("payment", "invoice__customer", "credit_note")


def refund_list_totals(queryset) -> dict:
    """Money paid out by refunds (made), and what is still under way (pending), of a (filtered) list."""
    return queryset.order_by().aggregate(
        count=Count("id"),
        paid_out=Sum("amount_units", filter=Q(status=Refund.Status.SUCCEEDED), default=0),
        pending=Sum("amount_units", filter=Q(status=Refund.Status.PENDING), default=0),
    )
