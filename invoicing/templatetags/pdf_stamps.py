"""Whether an invoice's current PDF differs from its stored original (its status is stamped over it), for the
"Original PDF" links of the office and the portal.

{% load pdf_stamps %}
{% if invoice|pdf_stamped %}<a href="...?original=1">Original PDF</a>{% endif %}
"""

from django import template

from invoicing.pdf.stamps import invoice_pdf_stamped

register = template.Library()


@register.filter
def pdf_stamped(invoice) -> bool:
    """No query: read from the invoice's own status and figures."""
    return invoice_pdf_stamped(invoice)
