"""Who an invoice's e-mails go to: read by the send action's guard (``invoicing.workflow``), the delivery itself
(``invoicing.delivery``) and the issue preview."""

from __future__ import annotations

from .models import Invoice


def invoice_recipients(invoice: Invoice) -> tuple[list[str], list[str]]:
    """(to, cc): the invoice's billing contact (its current address), then the customer's other contacts
    flagged "receives invoices"."""
    contact = invoice.billing_contact
    to_address = (contact.email if contact is not None else "") or invoice.contact_email
    if not to_address and invoice.customer_id:
        default = invoice.customer.contacts.filter(is_default=True).first()
        to_address = default.email if default else ""
    to = [to_address] if to_address else []
    cc = []
    if invoice.customer_id:
        for email in invoice.customer.contacts.filter(receives_invoices=True).values_list("email", flat=True):
            if email and email.lower() not in {a.lower() for a in to + cc}:
                cc.append(email)
    return to, cc
