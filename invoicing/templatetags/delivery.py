"""What the delivery partials show about an invoice (PDF, e-mail, card charge, supporting documents).

{% load delivery %}
{% invoice_delivery invoice as delivery %}   -> delivery.documents, delivery.can_send, delivery.pdf_missing ...
"""

from django import template
from django.contrib.auth.models import AnonymousUser

from invoicing.delivery import invoice_supporting_documents
from invoicing.models import Invoice
from invoicing.workflow import Offers, actor_for, invoice_offers

register = template.Library()


@register.simple_tag(takes_context=True)
def invoice_delivery(context, invoice):
    """One dict for ``templates/office/invoices/_delivery.html``; costs one query (the documents). Send and Charge
    are offered when the workflow allows them (invoicing.workflow)."""
    request = context.get("request")
    offers = context.get("actions")  # the invoice page's own offers: asked once per page
    if not isinstance(offers, Offers):
        offers = invoice_offers(invoice, actor_for(getattr(request, "user", None) or AnonymousUser(), invoice))
    issued = invoice.status != Invoice.Status.DRAFT
    ar = invoice.kind == Invoice.Kind.AR
    customer = invoice.customer if ar else None
    card_customer = customer is not None and customer.payment_method == customer.PaymentMethod.CARD
    return {
        "issued": issued,
        "ar": ar,
        "documents": list(invoice_supporting_documents(invoice)) if invoice.pk else [],
        "can_send": offers.send,
        "pdf_missing": issued and not invoice.pdf,
        # A charge failure matters while there is a balance; once settled some other way it is history.
        "charge_shown": ar
        and invoice.status in Invoice.OPEN_STATUSES
        and (card_customer or bool(invoice.charge_error)),
        "can_charge": offers.charge,
    }
