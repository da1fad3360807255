"""A statement of account as a PDF (``templates/invoicing/pdf/statement.html``), in the invoice PDF's style.

Rendered on demand and never stored: a statement is a view of the ledger (``invoicing.statements``) for a period,
asked for from the office, the portal or the monthly e-mail.
"""

from __future__ import annotations

import datetime

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from customers.formats import partner_formats
from octoo_billing import locale as formats

from ..statements import Statement
from .contents import logo_url
from .engine import html_to_pdf


def period_label(start: datetime.date, end: datetime.date) -> str:
    """ "Mar 1 – Mar 31, 2026" (both years when they differ), in the active locale: "1 mars – 31 mars 2026"
    (fr_FR)."""
    if start.year != end.year:
        return f"{formats.format_date(start)} – {formats.format_date(end)}"
    return f"{formats.format_day_month(start)} – {formats.format_date(end)}"


def statement_pdf_context(statement: Statement) -> dict:
    """What the statement PDF shows: the partner's letterhead, the customer and its billing contact, the period,
    the opening balance, the entries, the closing balance and the aging. One query (the contact)."""
    customer = statement.customer
    contact = customer.contacts.filter(is_default=True).first()
    return {
        "statement": statement,
        "title": "Statement",
        "number": period_label(statement.start, statement.end),
        "is_draft": False,
        "partner": statement.partner,
        "customer": customer,
        "contact": {
            "organisation": customer.name,
            "name": contact.name if contact else "",
            "email": contact.email if contact else customer.email,
            "address": (contact.address if contact else "") or customer.address,
        },
        "currency": statement.currency,
        "logo_url": logo_url(statement.partner),
        "generated_at": timezone.now(),
    }


def statement_pdf_bytes(statement: Statement) -> bytes:
    with partner_formats(statement.customer.partner):  # its zone and locale, the same in the worker as on a page
        context = statement_pdf_context(statement)
        html = render_to_string("invoicing/pdf/statement.html", context)
    return html_to_pdf(html, title=f"Statement {context['number']}", author=context["partner"].name)


def statement_pdf_filename(statement: Statement) -> str:
    name = slugify(statement.customer.name)[:60] or f"customer-{statement.customer.pk}"
    return f"statement-{name}-{statement.start.isoformat()}-{statement.end.isoformat()}.pdf"
