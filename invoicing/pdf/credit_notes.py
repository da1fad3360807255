"""A credit note's PDF: what it shows, rendered in the invoice PDF's style, stored once, opened for a download.

Like an invoice's, a credit note's PDF is rendered once (by the worker, after the note is issued: outbox job
``credit_note``) and stored in ``CreditNote.pdf``; the document the customer received never changes. It shows
how the credit was used when it was issued: applied to the invoice's balance, and what was left to the
customer. The template is ``templates/invoicing/pdf/credit_note.html``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from audit.recording import audit_record
from customers.formats import partner_formats

from ..models import CreditNote, Refund
from ..templatetags.money import money
from .contents import invoice_pdf_contact, logo_url
from .documents import PdfRenderError
from .engine import html_to_pdf

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreditNoteLineRow:
    """One printed line, its figures formatted."""

    description: str
    amount: str
    tax: str
    total: str


def credit_note_pdf_context(credit_note: CreditNote) -> dict:
    """Everything a credit note's PDF shows, in a fixed number of queries."""
    note = CreditNote.objects.select_related("partner", "customer", "invoice", "invoice__customer").get(
        pk=credit_note.pk
    )
    currency = note.currency
    lines = [
        CreditNoteLineRow(
            description=line.description,
            amount=money(line.amount_units, currency),
            tax=money(line.tax_units, currency) if line.tax_units else "",
            total=money(line.total_units, currency),
        )
        for line in note.lines.all()
    ]
    applications = list(note.applications.select_related("invoice").order_by("applied_on", "id"))
    refunds = list(note.refunds.filter(status=Refund.Status.SUCCEEDED).order_by("refunded_on", "id"))
    return {
        "doc": note,
        "note": note,
        "invoice": note.invoice,
        "kind": "credit_note",
        "title": "Credit note",
        "number": note.number,
        "is_draft": False,
        "partner": note.partner,
        "contact": invoice_pdf_contact(note.invoice),  # addressed as the invoice it credits
        "currency": currency,
        "lines": lines,
        "has_tax": bool(note.tax_units) or any(line.tax for line in lines),
        "applications": applications,
        "refunds": refunds,
        "logo_url": logo_url(note.partner),
        "generated_at": timezone.now(),
    }


def credit_note_pdf_bytes(*, credit_note: CreditNote) -> bytes:
    """Render a credit note to PDF bytes now."""
    with partner_formats(credit_note.partner):  # its zone and locale, the same in the worker as on a page
        context = credit_note_pdf_context(credit_note)
        html = render_to_string("invoicing/pdf/credit_note.html", context)
    return html_to_pdf(html, title=f"Credit note {context['number']}", author=context["partner"].name)


def credit_note_pdf_filename(credit_note: CreditNote) -> str:
    return f"{credit_note.number}.pdf"


def credit_note_pdf_store(*, credit_note: CreditNote, user=None) -> CreditNote:
    """Render a credit note and store the file, once: a credit note that has its PDF keeps it.

    A failure is recorded in the audit trail and raised as ``PdfRenderError`` (the outbox tries again).
    """
    current = CreditNote.objects.only("id", "pdf", "number", "partner_id").get(pk=credit_note.pk)
    if current.pdf:
        return current
    try:
        data = credit_note_pdf_bytes(credit_note=current)
    except Exception as exc:  # noqa: BLE001 - any rendering failure is recorded, then raised
        message = f"The PDF could not be rendered: {type(exc).__name__}: {exc}"[:2000]
        logger.exception("PDF rendering failed for credit note %s", credit_note.pk)
        audit_record(target=current, action="pdf_failed", actor=user, reason=message)
        raise PdfRenderError(message) from exc
    with transaction.atomic():
        locked = CreditNote.objects.select_for_update().only("id", "pdf", "number", "partner_id").get(pk=current.pk)
        if locked.pdf:  # another worker stored it meanwhile: keep theirs, the document never changes
            return locked
        locked.pdf.save(credit_note_pdf_filename(locked), ContentFile(data), save=False)
        CreditNote.objects.filter(pk=locked.pk).update(pdf=locked.pdf.name)
        audit_record(target=locked, action="pdf_stored", actor=user, data={"file": locked.pdf.name, "bytes": len(data)})
    credit_note.pdf = locked.pdf.name
    return locked


def credit_note_pdf_open(*, credit_note: CreditNote, user=None) -> tuple[bytes, str]:
    """(bytes, filename) for a download: the stored file (stored now if it is still missing)."""
    stored = credit_note_pdf_store(credit_note=credit_note, user=user)
    with stored.pdf.open("rb") as handle:
        return handle.read(), credit_note_pdf_filename(stored)
