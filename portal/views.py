from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from customers.access import customer_user_required
from invoicing import selectors
from invoicing.delivery import invoice_supporting_documents
from invoicing.models import Invoice
from invoicing.pdf import PdfRenderError, invoice_pdf_context, invoice_pdf_open
from octoo_billing.http import pdf_response

STATUS_FILTERS = {
    "open": ("Open", list(Invoice.OPEN_STATUSES)),
    "overdue": ("Overdue", [Invoice.Status.OVERDUE]),
    "paid": ("Paid", [Invoice.Status.PAID]),
    "void": ("Void", [Invoice.Status.VOID]),
}


@customer_user_required
def dashboard(request):
    figures = selectors.portal_dashboard_figures(customer=request.customer)
    return render(request, "portal/dashboard.html", {"figures": figures})


def _customer_invoice(request, pk) -> Invoice:
    """One of the signed-in customer's issued invoices; anyone else's (or a draft) is a 404."""
    return get_object_or_404(
        selectors.customer_invoices(customer=request.customer).select_related("partner", "customer"), pk=pk
    )


@customer_user_required
@require_GET
def invoice_list(request):
    invoices = selectors.customer_invoices(customer=request.customer)
    status = request.GET.get("status", "")
    if status in STATUS_FILTERS:
        invoices = invoices.filter(status__in=STATUS_FILTERS[status][1])
    else:
        status = ""
    page = Paginator(invoices, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "invoices": page.object_list,
        "status": status,
        "filters": [(key, label) for key, (label, _statuses) in STATUS_FILTERS.items()],
        "figures": selectors.portal_dashboard_figures(customer=request.customer),
    }
    return render(request, "portal/invoice_list.html", context)


@customer_user_required
@require_GET
def invoice_detail(request, pk):
    invoice = _customer_invoice(request, pk)
    document = invoice_pdf_context(invoice)  # the same lines, groups and totals as the PDF
    context = {**document, "documents": list(invoice_supporting_documents(invoice))}
    return render(request, "portal/invoice_detail.html", context)


@customer_user_required
@require_GET
def invoice_pdf(request, pk):
    """The invoice's stored PDF: the very document the customer was sent."""
    invoice = _customer_invoice(request, pk)
    try:
        data, filename = invoice_pdf_open(invoice=invoice)
    except PdfRenderError:
        messages.error(request, "The PDF of this invoice is not available right now. Please try again later.")
        return redirect("portal:invoice_detail", pk=invoice.pk)
    return pdf_response(data, filename, inline=request.GET.get("inline") == "1")


@customer_user_required
@require_GET
def invoice_document(request, pk, document_pk):
    """A supporting document of one of the customer's invoices."""
    invoice = _customer_invoice(request, pk)
    document = get_object_or_404(invoice_supporting_documents(invoice), pk=document_pk)
    response = FileResponse(
        document.file.open("rb"), as_attachment=True, filename=document.name, content_type=document.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response
