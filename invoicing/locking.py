"""The one lock order for billing documents, and the helpers that take it.

Every write that can change an issued or issuable document's lines or totals (issue, void, payments,
adjustments, run additions, slip edits, child attach/detach) runs inside ``atomic()`` and locks, in this order:

1. invoice rows before proforma rows;
2. several invoices in ascending id order (a parent and its child, an AR and an AP invoice sharing a
   proforma: whichever has the lower id first);
3. several proformas in ascending id order.

Then it re-checks the status under the lock: a change to an invoice that was issued meanwhile is refused (a run
starts a new draft instead). Two writers that follow this order can wait for each other but never deadlock.
On SQLite, ``select_for_update`` is a no-op: the database takes one writer at a time.
"""

from __future__ import annotations

from .errors import InvalidTransition
from .models import Invoice, InvoiceProforma, Proforma


def invoices_lock(invoice_ids) -> dict[int, Invoice]:
    """Lock invoices by id, in the lock order; returns them fresh, by id."""
    ids = sorted(set(invoice_ids))
    if not ids:
        return {}
    rows = Invoice.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    return {invoice.pk: invoice for invoice in rows}


def proforma_lock(proforma_id: int) -> tuple[Proforma, dict[int, Invoice]]:
    """Lock a proforma and, first, every invoice it is live on. Refused if it was put on another invoice
    between the look-up and the lock (the caller's transaction then rolls back; trying again works)."""
    linked = set(_live_invoice_ids(proforma_id))
    invoices = invoices_lock(linked)
    proforma = Proforma.objects.select_for_update(of=("self",)).get(pk=proforma_id)
    if set(_live_invoice_ids(proforma_id)) != linked:
        raise InvalidTransition(f"{proforma} was just put on an invoice. Reload the page and try again.")
    return proforma, invoices


def proformas_lock(proforma_ids) -> list[int]:
    """Lock proformas by id, in the lock order (after any invoice the caller locks)."""
    ids = sorted(set(proforma_ids))
    if not ids:
        return []
    return list(
        Proforma.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )


def _live_invoice_ids(proforma_id: int) -> list[int]:
    return list(
        InvoiceProforma.objects.filter(proforma_id=proforma_id, is_active=True).values_list("invoice_id", flat=True)
    )
