"""An invoice's or proforma's PDF: rendered to bytes now, stored once on an issued invoice, opened for a download.

An issued invoice's PDF is rendered once (by the worker, after the issue commits) and stored in
``Invoice.pdf`` so the document a customer received never changes; drafts are rendered on demand.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from audit.recording import audit_record
from customers.formats import partner_formats

from ..models import Invoice, Proforma
from .contents import INVOICE_RELATED, invoice_pdf_context, proforma_pdf_context
from .engine import html_to_pdf

logger = logging.getLogger(__name__)


class PdfRenderError(Exception):
    """A document could not be rendered; the message is shown to staff on the invoice."""


def invoice_pdf_bytes(*, invoice: Invoice) -> bytes:
    """Render an invoice (any status) to PDF bytes now. Drafts carry a DRAFT watermark."""
    with partner_formats(invoice.partner):  # its zone and locale, the same in the worker as on a page
        context = invoice_pdf_context(invoice)
        html = render_to_string("invoicing/pdf/invoice.html", context)
    return html_to_pdf(html, title=f"{context['title']} {context['number']}", author=context["partner"].name)


def proforma_pdf_bytes(*, proforma: Proforma, side: str = "bill") -> bytes:
    with partner_formats(proforma.partner):
        context = proforma_pdf_context(proforma, side=side)
        html = render_to_string("invoicing/pdf/proforma.html", context)
    return html_to_pdf(html, title=f"Proforma {context['number']}", author=context["partner"].name)


def pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number or f'draft-{invoice.pk}'}.pdf"


def invoice_pdf_read(invoice_id: int) -> Invoice:
    """An invoice with what its PDF shows of the parties (``contents.INVOICE_RELATED``), in one query; marked so
    that rendering it now does not read it again (``contents.invoice_pdf_context``)."""
    invoice = Invoice.objects.select_related(*INVOICE_RELATED).get(pk=invoice_id)
    invoice.read_for_pdf = True
    return invoice


def invoice_pdf_store(*, invoice: Invoice, user=None) -> Invoice:
    """Render an issued invoice and store the file, once: an invoice that already has its PDF keeps it.

    The invoice returned carries the bytes it stored in ``rendered_pdf`` when this call stored them (None when the
    PDF was there already, or another worker stored its own meanwhile): the worker e-mails those bytes rather than
    reading the file back. A failure is recorded in ``pdf_error`` (and the audit trail) and raised as
    ``PdfRenderError``; it never touches the invoice's status or number.
    """
    current = invoice_pdf_read(invoice.pk)  # what the render needs too: one read for both
    current.rendered_pdf = None
    if current.is_draft:
        raise PdfRenderError("A draft is rendered on demand; only issued invoices have a stored PDF.")
    if current.pdf:
        return current
    try:
        data = invoice_pdf_bytes(invoice=current)
    except Exception as exc:  # noqa: BLE001 - any rendering failure is recorded on the invoice, then raised
        message = f"The PDF could not be rendered: {type(exc).__name__}: {exc}"[:2000]
        logger.exception("PDF rendering failed for invoice %s", invoice.pk)
        Invoice.objects.filter(pk=current.pk).update(pdf_error=message, updated_at=timezone.now())
        audit_record(target=current, action="pdf_failed", actor=user, reason=message)
        raise PdfRenderError(message) from exc
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().only("id", "pdf", "number", "partner_id").get(pk=current.pk)
        if locked.pdf:  # another worker stored it meanwhile: keep theirs, the document never changes
            locked.rendered_pdf = None
            return locked
        locked.pdf.save(pdf_filename(locked), ContentFile(data), save=False)
        Invoice.objects.filter(pk=locked.pk).update(pdf=locked.pdf.name, pdf_error="", updated_at=timezone.now())
        audit_record(target=locked, action="pdf_stored", actor=user, data={"file": locked.pdf.name, "bytes": len(data)})
    invoice.pdf, invoice.pdf_error = locked.pdf.name, ""
    locked.rendered_pdf = data  # the stored file's exact bytes
    return locked


def invoice_pdf_open(*, invoice: Invoice, user=None) -> tuple[bytes, str]:
    """(bytes, filename) for a download: the stored file of an issued invoice, a fresh render of a draft."""
    if invoice.is_draft:
        return invoice_pdf_bytes(invoice=invoice), pdf_filename(invoice)
    stored = invoice_pdf_store(invoice=invoice, user=user)
    with stored.pdf.open("rb") as handle:
        return handle.read(), pdf_filename(stored)
