"""Portal: a credit note's PDF, for the customer it was issued to (anyone else's is a 404)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET

from customers.access import customer_user_required
from invoicing.models import CreditNote
from invoicing.pdf.credit_notes import credit_note_pdf_open
from invoicing.pdf.documents import PdfRenderError
from octoo_billing.http import pdf_response


@customer_user_required
@require_GET
def credit_note_pdf(request, pk):
    """The credit note's stored PDF: the very document the customer was sent."""
    note = get_object_or_404(CreditNote.objects.filter(customer=request.customer), pk=pk)
    try:
        data, filename = credit_note_pdf_open(credit_note=note)
    except PdfRenderError:
        messages.error(request, "The PDF of this credit note is not available right now. Please try again later.")
        return redirect("portal:invoice_detail", pk=note.invoice_id)
    return pdf_response(data, filename, inline=request.GET.get("inline") == "1")
