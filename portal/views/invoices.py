from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from customers.access import customer_user_required
from invoicing import credit_selectors, selectors
from invoicing.charging import invoice_pay_by_card, invoice_payable_by_card
from invoicing.delivery import invoice_supporting_documents
from invoicing.errors import BillingError
from invoicing.models import Invoice
from invoicing.pdf.contents import invoice_pdf_context
from invoicing.pdf.documents import PdfRenderError
from invoicing.pdf.stamps import invoice_pdf_download
from octoo_billing.http import pdf_response
from octoo_billing.money import format_units
from portal.forms.pay import CardPaymentForm, PayKeyForm, new_pay_key

STATUS_FILTERS = {
    "open": ("Open", list(Invoice.OPEN_STATUSES)),
    "due": ("Due", list(Invoice.OPEN_STATUSES)),
    "overdue": ("Overdue", list(Invoice.OPEN_STATUSES)),
    "paid": ("Paid", [Invoice.Status.PAID]),
    "credited": ("Credited", [Invoice.Status.CREDITED]),
    "void": ("Void", [Invoice.Status.VOID]),
}


def _status_filter(invoices, status: str, today):
    """The due and overdue filters split the open invoices as the dashboard counts them (invoicing.portal_dashboard):
    an open invoice past its due date is overdue before the nightly job marks it."""
    invoices = invoices.filter(status__in=STATUS_FILTERS[status][1])
    past_due = Q(status=Invoice.Status.OVERDUE) | Q(due_date__lt=today)
    if status == "due":
        return invoices.exclude(past_due)
    if status == "overdue":
        return invoices.filter(past_due)
    return invoices


def _customer_invoice(request, pk) -> Invoice:
    """One of the signed-in customer's issued invoices; anyone else's (or a draft) is a 404."""
    return get_object_or_404(
        selectors.customer_invoices(customer=request.customer).select_related("partner", "customer"), pk=pk
    )


@customer_user_required
@require_GET
def invoice_list(request):
    invoices = selectors.customer_invoices(customer=request.customer)
    today = timezone.localdate(timezone=request.customer.partner.tzinfo)
    status = request.GET.get("status", "")
    if status in STATUS_FILTERS:
        invoices = _status_filter(invoices, status, today)
    else:
        status = ""
    paid_in = request.GET.get("paid_in", "")
    if paid_in.isdigit() and len(paid_in) == 4:
        # the invoices a payment of that year was received on (the dashboard's "Paid this year")
        invoices = invoices.filter(payments__received_on__year=int(paid_in)).distinct()
    else:
        paid_in = ""
    page = Paginator(invoices, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "invoices": page.object_list,
        "status": status,
        "paid_in": paid_in,
        "filters": [(key, label) for key, (label, _statuses) in STATUS_FILTERS.items()],
        "figures": selectors.portal_dashboard_figures(customer=request.customer),
    }
    return render(request, "portal/invoice_list.html", context)


def _detail_page(request, invoice: Invoice, *, card_form=None, status=200):
    document = invoice_pdf_context(invoice)  # the same lines, groups and totals as the PDF
    context = {
        **document,
        "documents": list(invoice_supporting_documents(invoice)),
        # its credit notes, the credit applied to it and its refunds (templates/portal/_invoice_credits.html)
        **credit_selectors.portal_invoice_credits(invoice=invoice).context(),
    }
    if invoice_payable_by_card(invoice, request.user):
        # A form shown again after an error keeps its key (submitting it twice still charges once).
        kept = card_form.cleaned_data.get("pay_key") if card_form is not None else None
        context["pay"] = {
            "card_form": card_form or CardPaymentForm(),
            "key": kept or new_pay_key(),
            "saved_card": invoice.customer.card_last4
            and f"{invoice.customer.card_brand} ending {invoice.customer.card_last4}",
        }
    return render(request, "portal/invoice_detail.html", context, status=status)


@customer_user_required
@require_GET
def invoice_detail(request, pk):
    return _detail_page(request, _customer_invoice(request, pk))


@customer_user_required
@require_POST
def invoice_pay(request, pk):
    """Pay the invoice's balance by card: the card on file, or one typed in (kept only if asked)."""
    invoice = _customer_invoice(request, pk)
    with_saved_card = "number" not in request.POST
    form = PayKeyForm(request.POST) if with_saved_card else CardPaymentForm(request.POST)
    if not invoice_payable_by_card(invoice, request.user):
        messages.info(request, "There is nothing to pay by card on this invoice.")
        return redirect("portal:invoice_detail", pk=invoice.pk)
    if not form.is_valid():
        if with_saved_card:
            messages.error(request, " ".join(form.errors.get("pay_key", ["Reload the page and try again."])))
            return redirect("portal:invoice_detail", pk=invoice.pk)
        return _detail_page(request, invoice, card_form=form, status=400)
    data = form.cleaned_data
    month, year = data["expiry"] if not with_saved_card else (None, None)
    try:
        outcome = invoice_pay_by_card(
            invoice=invoice,
            user=request.user,
            idempotency_key=f"portal-{invoice.pk}-{data['pay_key']}",
            number="" if with_saved_card else data["number"],
            exp_month=month,
            exp_year=year,
            keep_on_file=not with_saved_card and data["keep_on_file"],
        )
    except BillingError as exc:
        if with_saved_card:
            messages.error(request, exc.message)
            return redirect("portal:invoice_detail", pk=invoice.pk)
        form.add_error("number", exc.message)
        return _detail_page(request, invoice, card_form=form, status=400)
    if outcome.succeeded:
        amount = format_units(outcome.payment.amount_units, invoice.currency)
        messages.success(request, f"Thank you: {amount} was paid on {invoice.number} by card.")
    else:
        messages.error(request, outcome.message or "The card was not charged.")
    return redirect("portal:invoice_detail", pk=invoice.pk)


@customer_user_required
@require_GET
def invoice_pdf(request, pk):
    """The invoice's PDF as it stands now: the document the customer was sent, with its status (paid, credited,
    void) stamped over it once it changed; ``?original=1``: that document as it was sent."""
    invoice = _customer_invoice(request, pk)
    try:
        data, filename = invoice_pdf_download(invoice, original=request.GET.get("original") == "1")
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
