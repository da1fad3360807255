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

from functools import cache

from django.db import connection

from customers.models import BillingContact, Customer, Partner

from .errors import InvalidTransition
from .models import Invoice, InvoiceProforma, Proforma


def invoices_lock(invoice_ids) -> dict[int, Invoice]:
    """Lock invoices by id, in the lock order; returns them fresh, by id."""
    ids = sorted(set(invoice_ids))
    if not ids:
        return {}
    rows = Invoice.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    return {invoice.pk: invoice for invoice in rows}


def invoice_lock_issuing(invoice_id: int) -> tuple[Invoice | None, BillingContact | None]:
    """Lock one invoice as ``workflow.invoice_lock`` does (its row only, with its partner, customer and billing
    contact read along), in one plain statement that also reads its customer's default billing contact when the
    invoice names none: what an issue needs, without compiling a query. PostgreSQL only. Returns (None, None) when
    it no longer exists; the default contact is None when there is none (or the invoice names its own)."""
    sql, parts = _issuing_lock_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [invoice_id])
        row = cursor.fetchone()
    if row is None:
        return None, None
    objects, start = [], 0
    for model, names in parts:
        values = row[start : start + len(names)]
        start += len(names)
        objects.append(model.from_db(connection.alias, names, values) if values[0] is not None else None)
    invoice, partner, customer, contact, default = objects
    Invoice.partner.field.set_cached_value(invoice, partner)
    Invoice.customer.field.set_cached_value(invoice, customer)
    Invoice.billing_contact.field.set_cached_value(invoice, contact)
    return invoice, default


@cache
def _issuing_lock_sql() -> tuple[str, list]:
    quote = connection.ops.quote_name
    tables = [
        (Invoice, "i", None),
        (Partner, "p", "JOIN {table} p ON p.id = i.partner_id"),
        (Customer, "c", "LEFT JOIN {table} c ON c.id = i.customer_id"),
        (BillingContact, "b", "LEFT JOIN {table} b ON b.id = i.billing_contact_id"),
        (
            BillingContact,
            "d",  # at most one default per customer (a unique constraint)
            "LEFT JOIN {table} d ON i.billing_contact_id IS NULL AND d.customer_id = i.customer_id AND d.is_default",
        ),
    ]
    columns, joins, parts = [], [], []
    for model, alias, join in tables:
        fields = [f for f in model._meta.concrete_fields if not f.generated]
        columns += [f"{alias}.{quote(f.column)}" for f in fields]
        parts.append((model, [f.attname for f in fields]))
        if join:
            joins.append(join.format(table=quote(model._meta.db_table)))
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Invoice._meta.db_table)} i {' '.join(joins)} "  # noqa: S608
        "WHERE i.id = %s FOR UPDATE OF i"
    )
    return sql, parts


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
