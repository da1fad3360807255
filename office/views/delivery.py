"""Office delivery: invoice PDFs (download, retry a failed rendering), e-mail (send / resend), the card charge,
and a request's supporting documents (upload, download).

Thin views: load through ``partner_object`` (another partner's object is a 404), call the domain function,
add a message, redirect back to the page the button was on.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from customers.access import staff_required
from invoicing.charging import invoice_charge as charge_invoice
from invoicing.delivery import invoice_send as send_invoice
from invoicing.errors import BillingError
from invoicing.models import Invoice, Proforma, ServiceRequest, SupportingDocument
from invoicing.outbox import outbox_jobs_retry
from invoicing.pdf.documents import PdfRenderError, invoice_pdf_store, proforma_pdf_bytes
from invoicing.pdf.stamps import invoice_pdf_download
from invoicing.recipients import invoice_recipients
from invoicing.uploads import DocumentUploadForm, supporting_document_add
from octoo_billing.http import pdf_response
from octoo_billing.money import format_units
from office.scoping import partner_object

from .actions import action_permitted


def _back(request, fallback: str) -> str:
    """Where a button's POST returns: its ``next`` field when it is a path on this site, else the fallback."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return fallback


def _invoice(request, pk) -> Invoice:
    return partner_object(request, Invoice.objects.select_related("partner", "customer", "provider"), pk=pk)


@staff_required
@require_GET
def invoice_pdf(request, pk):
    """An issued invoice's PDF as it stands now (its status stamped over the stored original once paid, credited
    or voided), or ``?original=1`` the stored original; either stored now if it is still missing. A fresh render
    of a draft."""
    invoice = _invoice(request, pk)
    try:
        data, filename = invoice_pdf_download(invoice, original=request.GET.get("original") == "1", user=request.user)
    except PdfRenderError as exc:
        messages.error(request, str(exc))
        return redirect(_back(request, reverse("office:invoice_detail", args=[invoice.pk])))
    return pdf_response(data, filename, inline=request.GET.get("inline") == "1")


@staff_required
@require_POST
def invoice_pdf_render(request, pk):
    """Retry: render and store an issued invoice's missing PDF (a stored PDF is never replaced)."""
    invoice = _invoice(request, pk)
    back = _back(request, reverse("office:invoice_detail", args=[invoice.pk]))
    if invoice.is_draft:
        messages.info(request, "A draft's PDF is rendered when you download it.")
        return redirect(back)
    if invoice.pdf:
        messages.info(request, f"The PDF of {invoice} is already stored.")
        return redirect(back)
    try:
        invoice_pdf_store(invoice=invoice, user=request.user)
    except PdfRenderError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The PDF of {invoice} is rendered and stored.")
    return redirect(back)


@staff_required
@require_POST
def invoice_send(request, pk):
    """Send (or resend) an issued AR invoice by e-mail now."""
    invoice = _invoice(request, pk)
    action_permitted(request, "send", invoice)
    back = _back(request, reverse("office:invoice_detail", args=[invoice.pk]))
    try:
        invoice = send_invoice(invoice=invoice, user=request.user)
    except BillingError as exc:  # DeliveryError included: the reason, in plain words
        messages.error(request, exc.message)
    else:
        to, cc = invoice_recipients(invoice)
        copied = f" (copy to {', '.join(cc)})" if cc else ""
        messages.success(request, f"{invoice} was e-mailed to {', '.join(to)}{copied}.")
    return redirect(back)


@staff_required
@require_POST
def invoice_charge(request, pk):
    """Charge the outstanding balance to the customer's card on file (billing admins: it moves money)."""
    invoice = _invoice(request, pk)
    action_permitted(request, "charge", invoice)
    back = _back(request, reverse("office:invoice_detail", args=[invoice.pk]))
    try:
        outcome = charge_invoice(invoice=invoice, user=request.user)
    except BillingError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if outcome.succeeded:
        amount = format_units(outcome.payment.amount_units, invoice.currency)
        messages.success(request, f"Charged {amount} to the card on file ending {invoice.customer.card_last4}.")
    elif outcome.status == "nothing_due":
        messages.info(request, outcome.message or "Nothing is left to pay.")
    else:
        messages.error(request, outcome.message)
    return redirect(back)


@staff_required
@require_POST
def invoice_outbox_retry(request, pk):
    """Queue an invoice's failed delivery work (PDF, e-mail, charge) again, with a fresh set of attempts."""
    invoice = _invoice(request, pk)
    back = _back(request, reverse("office:invoice_detail", args=[invoice.pk]))
    retried = outbox_jobs_retry(invoice=invoice, user=request.user)
    if retried:
        messages.success(request, f"The failed delivery work of {invoice} is queued again ({retried}).")
    else:
        messages.info(request, f"{invoice} has no failed delivery work.")
    return redirect(back)


@staff_required
@require_GET
def proforma_pdf(request, pk):
    """A proforma as PDF, rendered on demand: ``?side=pay`` for the provider's side."""
    proforma = partner_object(request, Proforma, pk=pk)
    side = "pay" if request.GET.get("side") == "pay" else "bill"
    try:
        data = proforma_pdf_bytes(proforma=proforma, side=side)
    except Exception as exc:  # noqa: BLE001 - shown to staff instead of a server error
        messages.error(request, f"The PDF could not be rendered: {exc}")
        return redirect(_back(request, reverse("office:proforma_detail", args=[proforma.pk])))
    return pdf_response(data, f"{proforma.number or f'proforma-{proforma.pk}'}-{side}.pdf")


@staff_required
@require_POST
def request_document_upload(request, pk):
    """Attach a supporting document (PDF, PNG, JPG) to a request. A refused file is shown with the reason."""
    service_request = partner_object(request, ServiceRequest.objects.select_related("customer"), pk=pk)
    form = DocumentUploadForm(request.POST, request.FILES)
    if form.is_valid():
        document = supporting_document_add(
            service_request=service_request, uploaded_file=form.cleaned_data["file"], user=request.user
        )
        messages.success(request, f"“{document.name}” is attached to {service_request}.")
        return redirect(_back(request, reverse("office:request_detail", args=[service_request.pk])))
    context = {
        "service_request": service_request,
        "form": form,
        "back_url": _back(request, reverse("office:request_detail", args=[service_request.pk])),
    }
    return render(request, "office/requests/document_upload.html", context, status=400)


@staff_required
@require_GET
def request_document_download(request, pk):
    document = partner_object(
        request, SupportingDocument.objects.filter(request__partner=request.partner).select_related("request"), pk=pk
    )
    response = FileResponse(
        document.file.open("rb"), as_attachment=True, filename=document.name, content_type=document.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response
