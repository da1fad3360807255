"""Actions on billing documents: every one a POST with CSRF, a permission check, and a domain function.

Clerks: record payments, add adjustments, delete their own drafts, publish outcomes, convert quotes.
Billing admins also issue, void, delete any draft and attach or detach child AR invoices (403 for clerks).

Who may take which action, from which status and under which guards is the workflow's (invoicing.workflow):
a user it does not allow at all gets a 403; every other refusal comes from the domain function the view calls.
Every invoice action form carries the status its page showed (``expected_status``): when the invoice moved
meanwhile, the action is refused with a message and nothing changes. A bad form comes back on the invoice
page with the error next to its field; a domain refusal goes on the field it names, or becomes a message,
never a 500.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse

from customers.access import staff_required
from invoicing import lifecycle
from invoicing.errors import BillingError, InvalidTransition, PricingError
from invoicing.forms import (
    AttachChildForm,
    DetachChildForm,
    InvoiceActionForm,
    InvoiceAdjustmentForm,
    PaymentForm,
    ProformaAdjustmentForm,
    VoidForm,
)
from invoicing.manual import quote_convert, slip_add_adjustment
from invoicing.models import Invoice, Proforma, Quote, Service, ServiceRequest
from invoicing.payments import payment_record
from invoicing.proformas import service_publish_outcome
from invoicing.workflow import INVOICE_ACTIONS, action_forbidden, actor_for, refusals_of
from octoo_billing import locale as formats
from octoo_billing.money import format_units
from office.scoping import partner_object

from .documents import (
    invoice_for_page,
    maybe_reverse,
    proforma_for_page,
    render_invoice_page,
    render_proforma_page,
)

Status = Invoice.Status


def post_only(page: str, model):
    """A POST-only action. A GET (a bookmark, the browser's back button, or a link built from the URL of a
    page re-rendered with form errors) changes nothing and goes to the document's page instead (another
    partner's document is a 404 here too)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, pk, *args, **kwargs):
            if request.method in ("GET", "HEAD"):
                partner_object(request, model, pk=pk)
                return redirect(page, pk=pk)
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return view(request, pk, *args, **kwargs)

        return wrapper

    return decorator


def _to_invoice(invoice_or_pk):
    pk = getattr(invoice_or_pk, "pk", invoice_or_pk)
    return redirect("office:invoice_detail", pk=pk)


def expected_status_posted(request) -> str | None:
    form = InvoiceActionForm(request.POST)
    return form.cleaned_data["expected_status"] if form.is_valid() else None


def form_incomplete(request, invoice):
    messages.error(request, "That form was incomplete or out of date; nothing was changed. Reload and try again.")
    return _to_invoice(invoice)


def action_permitted(request, action: str, invoice: Invoice) -> None:
    """403 when the workflow does not let this user take the action at all (a clerk's Issue, say)."""
    if action_forbidden(action, invoice, actor_for(request.user, invoice)):
        raise PermissionDenied(INVOICE_ACTIONS[action].role_refusal)


def _refused(request, invoice: Invoice, error: BillingError, *, form=None, key: str = ""):
    """A refused action: a status that no longer allows it (or a stale page) is a message on the invoice page,
    unless the workflow names a field for it; the guards' refusals go on the form's fields, and the page comes
    back with that form open."""
    if form is None or (isinstance(error, InvalidTransition) and error.field is None):
        messages.error(request, error.message)
        return _to_invoice(invoice)
    for refusal in refusals_of(error):
        form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)
    return render_invoice_page(request, invoice, bound={key: form})


def _money(units, invoice: Invoice) -> str:
    return format_units(units, invoice.currency)


# --- issue, void, delete --------------------------------------------------------------------------------------


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_issue(request, pk):
    invoice = invoice_for_page(request, pk)
    action_permitted(request, "issue", invoice)
    expected = expected_status_posted(request)
    if expected is None:
        return form_incomplete(request, invoice)
    try:
        invoice = lifecycle.invoice_issue(invoice=invoice, user=request.user, expected_status=expected)
    except BillingError as error:
        invoice.refresh_from_db(fields=["number", "status"])
        if invoice.number and expected == Status.DRAFT:  # a double submit: the first one issued it
            messages.info(request, f"This invoice was already issued as {invoice.number}; nothing was changed.")
            return _to_invoice(invoice)
        return _refused(request, invoice, error)
    due = f", due {formats.format_date(invoice.due_date)}" if invoice.due_date else ""
    messages.success(request, f"Issued as {invoice.number}{due}.")
    return _to_invoice(invoice)


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_void(request, pk):
    invoice = invoice_for_page(request, pk)
    action_permitted(request, "void", invoice)
    expected = expected_status_posted(request)
    if expected is None:
        return form_incomplete(request, invoice)
    form = VoidForm(request.POST, invoice=invoice)
    if not form.is_valid():
        return render_invoice_page(request, invoice, bound={"void": form})
    try:
        lifecycle.invoice_void(
            invoice=invoice, user=request.user, reason=form.cleaned_data["reason"], expected_status=expected
        )
    except BillingError as error:
        return _refused(request, invoice, error, form=form, key="void")
    messages.success(request, f"{invoice} is void. Its number is kept; its proformas can be invoiced again.")
    return _to_invoice(invoice)


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_delete(request, pk):
    invoice = invoice_for_page(request, pk)
    action_permitted(request, "delete_draft", invoice)
    expected = expected_status_posted(request)
    if expected is None:
        return form_incomplete(request, invoice)
    try:
        lifecycle.invoice_delete_draft(invoice=invoice, user=request.user, expected_status=expected)
    except BillingError as error:
        return _refused(request, invoice, error)
    messages.success(request, f"{invoice} was deleted.")
    list_name = "office:ar_invoice_list" if invoice.kind == Invoice.Kind.AR else "office:ap_invoice_list"
    return redirect(maybe_reverse(list_name) or reverse("office:dashboard"))


# --- payments and adjustments ---------------------------------------------------------------------------------


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_payment(request, pk):
    invoice = invoice_for_page(request, pk)
    action_permitted(request, "record_payment", invoice)
    expected = expected_status_posted(request)
    if expected is None:
        return form_incomplete(request, invoice)
    form = PaymentForm(request.POST, invoice=invoice)
    if not form.is_valid():
        return render_invoice_page(request, invoice, bound={"payment": form})
    data = form.cleaned_data
    try:
        payment = payment_record(
            invoice=invoice,
            amount_units=data["amount"],
            method=data["method"],
            reference=data["reference"],
            received_on=data["received_on"],
            user=request.user,
            idempotency_key=data["idempotency_key"],
            expected_status=expected,
        )
    except BillingError as error:
        return _refused(request, invoice, error, form=form, key="payment")
    amount = _money(payment.amount_units, invoice)
    if getattr(payment, "replayed", False):  # a double submit: the first one recorded it
        messages.info(request, f"This payment of {amount} was already recorded; nothing was added.")
        return _to_invoice(payment.invoice_id)
    invoice.refresh_from_db()
    messages.success(
        request,
        f"Recorded a {payment.get_method_display().lower()} payment of {amount}. "
        f"Outstanding: {_money(invoice.outstanding_units, invoice)}.",
    )
    return _to_invoice(invoice)


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_adjust(request, pk):
    invoice = invoice_for_page(request, pk)
    action_permitted(request, "adjust", invoice)
    expected = expected_status_posted(request)
    if expected is None:
        return form_incomplete(request, invoice)
    form = InvoiceAdjustmentForm(request.POST, invoice=invoice)
    if not form.is_valid():
        return render_invoice_page(request, invoice, bound={"adjust": form})
    data = form.cleaned_data
    ap = invoice.kind == Invoice.Kind.AP
    try:
        slip_add_adjustment(
            kind=data["kind"],
            description=data["description"],
            amount_units=data["amount"],
            pay_amount_units=data["amount"] if ap else 0,  # an AP invoice pays the provider's side
            tax_rate=data.get("tax_rate") or 0,
            invoice=invoice,
            user=request.user,
            expected_status=expected,
        )
    except BillingError as error:
        return _refused(request, invoice, error, form=form, key="adjust")
    messages.success(request, "Adjustment added.")
    return _to_invoice(invoice)


# --- child AR invoices (seed 003) -----------------------------------------------------------------------------


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_attach_child(request, pk):
    parent = invoice_for_page(request, pk)
    action_permitted(request, "attach_child", parent)
    expected = expected_status_posted(request)
    if expected is None:
        return form_incomplete(request, parent)
    form = AttachChildForm(request.POST, invoice=parent)
    if not form.is_valid():
        return render_invoice_page(request, parent, bound={"attach": form})
    child = form.child
    try:
        parent = lifecycle.invoice_attach_child(parent=parent, child=child, user=request.user, expected_status=expected)
    except BillingError as error:
        return _refused(request, parent, error, form=form, key="attach")
    messages.success(
        request,
        f"Attached {child} ({_money(child.total_units, parent)}). "
        f"{parent} now has {_money(parent.outstanding_units, parent)} outstanding.",
    )
    return _to_invoice(parent)


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_detach_child(request, pk):
    child = partner_object(request, Invoice, pk=pk)
    action_permitted(request, "detach_child", child)
    form = DetachChildForm(request.POST)
    if not form.is_valid():
        return form_incomplete(request, child)
    seen_parent = form.cleaned_data["parent"]
    back = seen_parent if form.cleaned_data["back"] == "parent" else child.pk
    try:
        parent = lifecycle.invoice_detach_child(child=child, user=request.user, expected_parent_id=seen_parent)
    except BillingError as error:
        return _refused(request, back, error)
    messages.success(
        request,
        f"Detached {child} from {parent}; {parent} has {_money(parent.outstanding_units, parent)} outstanding again.",
    )
    return _to_invoice(back)


# --- proformas, quotes, services ------------------------------------------------------------------------------


@staff_required
@post_only("office:proforma_detail", Proforma)
def proforma_adjust(request, pk):
    proforma = proforma_for_page(request, pk)
    form = ProformaAdjustmentForm(request.POST, currency=proforma.partner.currency)
    if not form.is_valid():
        return render_proforma_page(request, proforma, adjust_form=form)
    data = form.cleaned_data
    try:
        slip_add_adjustment(
            kind=data["kind"],
            description=data["description"],
            amount_units=data["amount"],
            pay_amount_units=data["pay_amount"],
            tax_rate=data["tax_rate"],
            proforma=proforma,
            user=request.user,
        )
    except InvalidTransition as error:
        messages.error(request, error.message)
        return redirect("office:proforma_detail", pk=proforma.pk)
    except BillingError as error:
        form.add_error(error.field, error.message)
        return render_proforma_page(request, proforma, adjust_form=form)
    messages.success(request, "Adjustment added to the proforma.")
    return redirect("office:proforma_detail", pk=proforma.pk)


@staff_required
@post_only("office:request_detail", ServiceRequest)
def request_quote_convert(request, pk):
    """Seed 002: "Generate invoice" from a booking's quote: a draft AR invoice to review and issue."""
    service_request = partner_object(request, ServiceRequest, pk=pk)
    quote = Quote.objects.filter(request=service_request).first()
    if quote is None:
        raise Http404("This request has no quote.")
    if quote.status == Quote.Status.CONVERTED and quote.invoice_id:
        messages.info(request, "This quote was already turned into an invoice; nothing was changed.")
        return _to_invoice(quote.invoice_id)
    try:
        invoice = quote_convert(quote=quote, user=request.user)
    except BillingError as error:
        messages.error(request, error.message)
        return redirect("office:request_detail", pk=service_request.pk)
    messages.success(request, "Draft invoice generated from the quote. Review it, then issue it.")
    return _to_invoice(invoice)


@staff_required
@post_only("office:service_detail", Service)
def service_publish(request, pk):
    """Publish a service's outcome: it is completed and its proforma made (seed 003)."""
    service = partner_object(request, Service.objects.select_related("partner"), pk=pk)
    back = (
        redirect("office:request_detail", pk=service.request_id)
        if request.POST.get("back") == "request"
        else redirect("office:service_detail", pk=service.pk)
    )
    had_proforma = Proforma.objects.filter(service=service).first()
    if had_proforma is not None:
        messages.info(request, f"This service already has its proforma {had_proforma}; nothing was changed.")
        return back
    try:
        proforma = service_publish_outcome(service=service, user=request.user)
    except PricingError as error:
        messages.error(
            request,
            f"The outcome is published, but the service could not be priced: {error.message} "
            "Add the missing rate, then publish again (or the next sweep will make the proforma).",
        )
        return back
    except BillingError as error:
        messages.error(request, error.message)
        return back
    messages.success(request, f"Outcome published: proforma {proforma} created.")
    return back
