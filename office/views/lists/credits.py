"""The credit note list and the refund list (money paid back: out, like AP payments)."""

from __future__ import annotations

from invoicing import credit_selectors
from invoicing.filters import credits as filters
from office import exports
from office.pagination import SortKey

from .base import DetailLinks, Header, ListSpec


def _decorate_credit_note(note, links: DetailLinks) -> None:
    note.url = links("credit_note", note.pk)
    note.invoice_url = links("invoice", note.invoice_id)
    note.customer_url = links("customer", note.customer_id)


def _decorate_refund(refund, links: DetailLinks) -> None:
    refund.invoice_url = links("invoice", refund.invoice_id)
    refund.customer_url = links("customer", refund.invoice.customer_id)
    refund.credit_note_url = links("credit_note", refund.credit_note_id)


CREDIT_NOTES = ListSpec(
    name="credit_note",
    title="Credit notes",
    noun="credit note",
    template="office/lists/credit_notes.html",
    rows=credit_selectors.credit_note_list_queryset,
    filterset=filters.CreditNoteFilterSet,
    sort_keys=(
        SortKey("number", "sequence", kind="int", first_desc=True),
        SortKey("issued", "issue_date", kind="date", first_desc=True),
        SortKey("customer", "customer__name", partner_path="customer__partner"),
        SortKey("total", "total_units", kind="int", first_desc=True),
        SortKey("left", "left_units", kind="int", first_desc=True),
    ),
    default_sort="-issued",
    headers=(
        Header("Number", "number"),
        Header("Invoice"),
        Header("Customer", "customer"),
        Header("Issued", "issued"),
        Header("Total", "total", "num"),
        Header("Applied", css="num"),
        Header("Refunded", css="num"),
        Header("Credit left", "left", "num"),
    ),
    totals=credit_selectors.credit_note_list_totals,
    csv_columns=exports.CREDIT_NOTE_COLUMNS,
    decorate=_decorate_credit_note,
    extra={"subtitle": "Taken back from issued AR invoices; what was not owed any more is the customer's credit"},
)

REFUNDS = ListSpec(
    name="refund",
    title="Refunds",
    noun="refund",
    template="office/lists/refunds.html",
    rows=credit_selectors.refund_list_queryset,
    filterset=filters.RefundFilterSet,
    sort_keys=(
        SortKey("refunded", "refunded_on", kind="date", nullable=True, first_desc=True),
        SortKey("requested", "created_at", kind="datetime", first_desc=True),
        SortKey("status", "status"),
        SortKey("amount", "amount_units", kind="int", first_desc=True),
    ),
    default_sort="-requested",
    headers=(
        Header("Requested", "requested"),
        Header("Refunded", "refunded"),
        Header("Invoice"),
        Header("Customer"),
        Header("Method"),
        Header("Status", "status"),
        Header("Reference"),
        Header("Paid out", "amount", "num"),
    ),
    totals=credit_selectors.refund_list_totals,
    csv_columns=exports.REFUND_COLUMNS,
    decorate=_decorate_refund,
    extra={"subtitle": "Money paid back to customers on their payments: money out"},
)
