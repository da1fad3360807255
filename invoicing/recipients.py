"""Who an invoice's e-mails go to: read by the send action's guard (``invoicing.workflow``), the delivery itself
(``invoicing.delivery``) and the issue preview."""

from __future__ import annotations

from .models import Invoice


def invoice_recipients(invoice: Invoice) -> tuple[list[str], list[str]]:
    """(to, cc): the invoice's billing contact (its current address), then the customer's other contacts
    flagged "receives invoices". Without a query when the customer's contacts were read along
    (``prefetch_related("customer__contacts")``, in their usual order: the default first, then by name)."""
    contact = invoice.billing_contact
    to_address = (contact.email if contact is not None else "") or invoice.contact_email
    contacts = _contacts_read_along(invoice)
    if not to_address and invoice.customer_id:
        if contacts is None:
            default = invoice.customer.contacts.filter(is_default=True).first()
        else:
            default = next((c for c in contacts if c.is_default), None)
        to_address = default.email if default else ""
    to = [to_address] if to_address else []
    cc = []
    if invoice.customer_id:
        if contacts is None:
            emails = invoice.customer.contacts.filter(receives_invoices=True).values_list("email", flat=True)
        else:
            emails = [c.email for c in contacts if c.receives_invoices]
        for email in emails:
            if email and email.lower() not in {a.lower() for a in to + cc}:
                cc.append(email)
    return to, cc


def _contacts_read_along(invoice: Invoice) -> list | None:
    """The customer's contacts when a prefetch read them with the invoice, else None."""
    if not invoice.customer_id or "customer" not in invoice._state.fields_cache:
        return None
    cache = getattr(invoice.customer, "_prefetched_objects_cache", {})
    return list(cache["contacts"]) if "contacts" in cache else None


def customer_recipients(customer) -> tuple[list[str], list[str]]:
    """(to, cc) of what is e-mailed to a customer rather than about one invoice (its statement of account): the
    default billing contact (else the customer's general address), then the other contacts flagged "receives
    invoices". One query."""
    contacts = list(customer.contacts.all())
    default = next((contact for contact in contacts if contact.is_default), None)
    to_address = (default.email if default is not None else "") or customer.email
    to = [to_address] if to_address else []
    cc = []
    for contact in contacts:
        if contact.receives_invoices and contact.email and contact.email.lower() not in {a.lower() for a in to + cc}:
            cc.append(contact.email)
    return to, cc
