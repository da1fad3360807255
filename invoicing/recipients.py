"""Who an invoice's e-mails go to: read by the send action's guard (``invoicing.workflow``), the delivery itself
(``invoicing.delivery``) and the issue preview."""

from __future__ import annotations

from .models import Invoice


def invoice_recipients(invoice: Invoice) -> tuple[list[str], list[str]]:
    """(to, cc): the invoice's billing contact (its current address), then the customer's other contacts
    flagged "receives invoices". One query, none when the customer's contacts were read along
    (``prefetch_related("customer__contacts")``)."""
    contact = invoice.billing_contact
    to_address = (contact.email if contact is not None else "") or invoice.contact_email
    contacts = list(invoice.customer.contacts.all()) if invoice.customer_id else []
    if not to_address:
        default = next((c for c in contacts if c.is_default), None)
        to_address = default.email if default else ""
    to = [to_address] if to_address else []
    cc = []
    for email in (c.email for c in contacts if c.receives_invoices):
        if email and email.lower() not in {a.lower() for a in to + cc}:
            cc.append(email)
    return to, cc


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
