"""The AR and AP invoice lists (one spec made for each kind) and the payments list."""

from __future__ import annotations

from django.utils import timezone

from invoicing import selectors
from invoicing.filters import invoices as filters
from invoicing.models import Invoice
from office import exports
from office.pagination import SortKey

from .base import DetailLinks, Header, ListSpec


def _decorate_invoice(invoice, links: DetailLinks) -> None:
    invoice.url = links("invoice", invoice.pk)
    invoice.party_url = links.party(invoice)
    invoice.past_due = bool(
        invoice.status in Invoice.OPEN_STATUSES and invoice.due_date and invoice.due_date < timezone.localdate()
    )


def _decorate_payment(payment, links: DetailLinks) -> None:
    payment.invoice_url = links("invoice", payment.invoice_id)
    payment.party_url = links.party(payment.invoice)


_INVOICE_SORTS = (
    SortKey("number", "sequence", kind="int", nullable=True, first_desc=True),
    SortKey("issued", "issue_date", kind="date", nullable=True, first_desc=True),
    SortKey("due", "due_date", kind="date", nullable=True),
    SortKey("status", "status"),
    SortKey("total", "total_units", kind="int", first_desc=True),
    SortKey("outstanding", "balance_units", kind="int", first_desc=True),
)


def invoice_spec(kind: str) -> ListSpec:
    """The list of a partner's AR (``kind="ar"``: to customers) or AP (from providers) invoices."""
    ar = kind == Invoice.Kind.AR
    party, party_label = ("customer", "Customer") if ar else ("provider", "Provider")
    return ListSpec(
        name=f"{kind}_invoice",
        title=f"{kind.upper()} invoices",
        noun="invoice",
        template="office/lists/invoices.html",
        rows=lambda *, partner: selectors.invoice_list_queryset(partner=partner, kind=kind),
        filterset=filters.InvoiceFilterSet.for_kind(kind),
        sort_keys=(*_INVOICE_SORTS, SortKey(party, f"{party}__name", partner_path=f"{party}__partner")),
        default_sort="-issued",
        headers=(
            Header("Number", "number"),
            Header(party_label, party),
            Header("Issued", "issued"),
            Header("Due", "due"),
            Header("Status", "status"),
            Header("Total", "total", "num"),
            Header("Outstanding", "outstanding", "num"),
        ),
        totals=selectors.invoice_list_totals,
        csv_columns=exports.invoice_columns(party),
        decorate=_decorate_invoice,
        page_fields=(
            "kind",
            "status",
            "number",
            "currency",
            "issue_date",
            "due_date",
            "no_payment",
            "contact_name",
            "total_units",
            "paid_units",  # with the three below, the row's outstanding_units
            "children_units",
            "credited_units",
            f"{party}__name",
        ),
        csv_fields=exports.invoice_fields(party),
        extra={
            "kind": kind,
            "party": party,
            "bulk_url_name": f"office:{kind}_invoice_bulk",  # office.views.bulk
            "subtitle": "Bills to customers" if ar else "Bills from providers",
        },
    )


AR_INVOICES = invoice_spec(Invoice.Kind.AR)
AP_INVOICES = invoice_spec(Invoice.Kind.AP)

PAYMENTS = ListSpec(
    name="payment",
    title="Payments",
    noun="payment",
    template="office/lists/payments.html",
    rows=selectors.payment_list_queryset,
    filterset=filters.PaymentFilterSet,
    sort_keys=(
        SortKey("received", "received_on", kind="date", first_desc=True),
        SortKey("invoice", "invoice__sequence", kind="int", nullable=True, first_desc=True),
        SortKey("method", "method"),
        SortKey("amount", "amount_units", kind="int", first_desc=True),
    ),
    default_sort="-received",
    headers=(
        Header("Received", "received"),
        Header("Invoice", "invoice"),
        Header("Customer or provider"),
        Header("Method", "method"),
        Header("Reference"),
        # Money in and money out apart (refunds, also money out, are the refund list's rows).
        Header("Received", "amount", "num"),
        Header("Paid out", css="num"),
    ),
    totals=selectors.payment_list_totals,
    csv_columns=exports.PAYMENT_COLUMNS,
    decorate=_decorate_payment,
    extra={"subtitle": "Money received on AR invoices (in) and paid out on AP invoices (out); refunds are apart"},
)
