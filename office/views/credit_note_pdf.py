"""Office: a credit note's PDF (stored once, by the worker or on the first download), partner-scoped."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from customers.access import staff_required
from invoicing.models import CreditNote
from invoicing.pdf.credit_notes import credit_note_pdf_open
from invoicing.pdf.documents import PdfRenderError
from octoo_billing.http import pdf_response
from office.scoping import partner_object


@staff_required
@require_GET
def credit_note_pdf(request, pk):
    """The stored PDF of a credit note (stored now if it is still missing); another partner's is a 404."""
    note = partner_object(request, CreditNote, pk=pk)
    try:
        data, filename = credit_note_pdf_open(credit_note=note, user=request.user)
    except PdfRenderError as exc:
        messages.error(request, str(exc))
        return redirect("office:invoice_detail", pk=note.invoice_id)
    return pdf_response(data, filename, inline=request.GET.get("inline") == "1")
