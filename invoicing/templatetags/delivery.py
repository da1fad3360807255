"""What the delivery partials show about an invoice (PDF, e-mail, card charge, supporting documents).

{% load delivery %}
{% invoice_delivery invoice as delivery %}   -> delivery.documents, delivery.can_send, delivery.pdf_missing ...
"""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def invoice_delivery(context, invoice):
    """One dict for ``templates/office/invoices/_delivery.html``; costs one query (the documents)."""
    from invoicing.delivery import invoice_supporting_documents
    from invoicing.models import Invoice

    request = context.get("request")
    membership = getattr(request, "membership", None) or context.get("staff_membership")
    issued = invoice.status != Invoice.Status.DRAFT
    ar = invoice.kind == Invoice.Kind.AR
    customer = invoice.customer if ar else None
    card_customer = customer is not None and customer.payment_method == customer.PaymentMethod.CARD
    return {
        "issued": issued,
        "ar": ar,
        "documents": list(invoice_supporting_documents(invoice)) if invoice.pk else [],
        "can_send": ar and issued and invoice.status != Invoice.Status.VOID,
        "pdf_missing": issued and not invoice.pdf,
        # A charge failure matters while there is a balance; once settled some other way it is history.
        "charge_shown": ar
        and invoice.status in Invoice.OPEN_STATUSES
        and (card_customer or bool(invoice.charge_error)),
        "can_charge": (
            ar
            and invoice.status in Invoice.OPEN_STATUSES
            and invoice.outstanding_units > 0
            and card_customer
            and bool(customer.card_token)
            and membership is not None
            and getattr(membership, "is_billing_admin", False)
        ),
    }
