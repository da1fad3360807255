"""Manual invoices (seed 001): create a draft AR invoice of typed lines, edit it while it is a draft, and
(billing admins only) save and issue at once. The server computes every amount; the page's JS only previews.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render

from customers.access import staff_required
from customers.models import Customer
from invoicing.errors import BillingError
from invoicing.forms import CustomerPickForm, ManualInvoiceForm, invoice_line_formset
from invoicing.lifecycle import invoice_issue
from invoicing.manual import LineInput, invoice_create_manual, invoice_update_draft
from invoicing.models import Invoice, Slip
from invoicing.workflow import INVOICE_ACTIONS, action_refusals, actor_for
from octoo_billing.money import format_units
from office.scoping import partner_object

from .documents import maybe_reverse

LINES_PREFIX = "lines"
KEPT_TYPES = (Slip.Type.ADJUSTMENT, Slip.Type.CREDIT)  # added with the adjustment form, kept as they are


def _customer(request, value) -> Customer | None:
    """The partner's customer with this id, or None (another partner's id is simply not found)."""
    if not value or not str(value).isdecimal() or len(str(value)) > 18:
        return None
    return Customer.objects.filter(partner=request.partner, pk=int(value)).select_related("zone").first()


def _plain(number: Decimal) -> Decimal:
    """2.0000 -> 2, 2.5000 -> 2.5 (never 1E+1)."""
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def _line_kwargs(partner, customer) -> dict:
    zone = customer.zone if customer is not None and customer.zone_id else None
    return {"currency": partner.currency, "tax_rate": _plain(zone.tax_rate) if zone else None}


def _discount_fits(form, formset, currency) -> bool:
    """An invoice discount larger than the lines is an error on the discount field."""
    room = formset.lines_amount_units()
    if form.cleaned_data["discount"] > room:
        form.add_error("discount", f"The invoice discount is larger than the lines ({format_units(room, currency)}).")
        return False
    return True


ISSUE = INVOICE_ACTIONS["issue"]


def _may_issue(request) -> bool:
    """Whether the workflow lets this user issue the partner's AR drafts (invoicing.workflow)."""
    return actor_for(request.user, Invoice(partner=request.partner, kind=Invoice.Kind.AR)).role in ISSUE.roles


def _wants_issue(request) -> bool:
    if "issue" not in request.POST:
        return False
    if not _may_issue(request):
        raise PermissionDenied(ISSUE.role_refusal)
    return True


def _render(request, *, form, formset, customer, invoice=None, kept=(), coupon_lines=(), status=200):
    picker = None
    if invoice is None:
        picker = CustomerPickForm(partner=request.partner, initial={"customer": customer.pk if customer else None})
    context = {
        "form": form,
        "formset": formset,
        "picker": picker,
        "customer": customer,
        "invoice": invoice,
        "kept": kept,
        "coupon_lines": coupon_lines if invoice is not None and invoice.coupon_id else (),
        "currency": request.partner.currency,
        "can_issue": _may_issue(request),
        "list_url": maybe_reverse("office:ar_invoice_list"),
    }
    return render(request, "office/invoices/form.html", context, status=status)


@staff_required
def invoice_create(request):
    partner = request.partner
    LineFormSet = invoice_line_formset(extra=3)
    if request.method == "POST":
        issue = _wants_issue(request)
        customer = _customer(request, request.POST.get("customer"))
        form = ManualInvoiceForm(request.POST, partner=partner, customer=customer)
        formset = LineFormSet(request.POST, prefix=LINES_PREFIX, form_kwargs=_line_kwargs(partner, customer))
        if form.is_valid() and formset.is_valid() and _discount_fits(form, formset, partner.currency):
            data = form.cleaned_data
            try:
                invoice = invoice_create_manual(
                    partner=partner,
                    customer=data["customer"],
                    lines=formset.lines(),
                    discount_units=data["discount"],
                    billing_contact=data["billing_contact"],
                    payment_terms_days=data["payment_terms_days"],
                    due_date=data["due_date"],
                    notes=data["notes"],
                    user=request.user,
                    issue=issue,
                    coupon_code=data["coupon"],
                )
            except BillingError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                if issue:
                    messages.success(request, f"Invoice issued as {invoice.number}.")
                else:
                    messages.success(request, "Draft saved. Review it, then issue it when it is ready.")
                return redirect("office:invoice_detail", pk=invoice.pk)
        return _render(request, form=form, formset=formset, customer=customer)
    customer = _customer(request, request.GET.get("customer"))
    form = ManualInvoiceForm(partner=partner, customer=customer)
    formset = LineFormSet(prefix=LINES_PREFIX, form_kwargs=_line_kwargs(partner, customer))
    return _render(request, form=form, formset=formset, customer=customer)


@staff_required
def invoice_edit(request, pk):
    """Edit a draft with the same form, prefilled. Issued invoices are never edited (GET and POST refused)."""
    invoice = partner_object(request, Invoice.objects.select_related("customer__zone", "partner", "coupon"), pk=pk)
    refusals = action_refusals("edit", invoice, actor_for(request.user, invoice))
    if refusals:  # invoicing.workflow: a draft typed by hand, never an issued invoice or one made of proformas
        messages.error(request, f"{refusals[0].message} Nothing was changed.")
        return redirect("office:invoice_detail", pk=invoice.pk)
    slips = list(Slip.objects.filter(invoice=invoice).order_by("position", "id"))
    # The discount lines of the draft's coupon are recomputed from the lines on save (invoicing.manual); those of a
    # booking's coupon (an invoice made from its quote) are kept as they are.
    coupon_lines = [slip for slip in slips if slip.slip_type == Slip.Type.COUPON]
    kept_types = KEPT_TYPES if invoice.coupon_id else (*KEPT_TYPES, Slip.Type.COUPON)
    kept = [slip for slip in slips if slip.slip_type in kept_types]
    initial = [
        {
            "description": slip.description,
            "quantity": _plain(slip.quantity),
            "unit_price": slip.bill_rate_units,
            "tax_rate": _plain(slip.tax_rate),
            "discount": slip.line_discount_units or None,
        }
        for slip in slips
        if slip.slip_type not in KEPT_TYPES and slip.slip_type != Slip.Type.COUPON
    ]
    partner = invoice.partner
    LineFormSet = invoice_line_formset(extra=2)
    line_kwargs = _line_kwargs(partner, invoice.customer)
    if request.method == "POST":
        issue = _wants_issue(request)
        form = ManualInvoiceForm(request.POST, partner=partner, invoice=invoice)
        formset = LineFormSet(request.POST, prefix=LINES_PREFIX, initial=initial, form_kwargs=line_kwargs)
        dropped = set(request.POST.getlist("drop_slip"))
        if form.is_valid() and formset.is_valid() and _discount_fits(form, formset, partner.currency):
            data = form.cleaned_data
            lines = formset.lines() + [
                LineInput(
                    description=slip.description,
                    quantity=slip.quantity,
                    unit_price_units=slip.bill_rate_units,
                    tax_rate=slip.tax_rate,
                    slip_type=slip.slip_type,
                    pay_rate_units=slip.pay_rate_units,
                )
                for slip in kept
                if str(slip.pk) not in dropped
            ]
            try:
                with transaction.atomic():
                    invoice = invoice_update_draft(
                        invoice=invoice,
                        lines=lines,
                        discount_units=data["discount"],
                        billing_contact=data["billing_contact"],
                        payment_terms_days=data["payment_terms_days"],
                        due_date=data["due_date"],
                        notes=data["notes"],
                        user=request.user,
                        coupon_code=data["coupon"],
                    )
                    if issue:
                        invoice = invoice_issue(
                            invoice=invoice, user=request.user, expected_status=Invoice.Status.DRAFT
                        )
            except BillingError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, f"Issued as {invoice.number}." if issue else "Draft saved.")
                return redirect("office:invoice_detail", pk=invoice.pk)
        return _render(
            request,
            form=form,
            formset=formset,
            customer=invoice.customer,
            invoice=invoice,
            kept=kept,
            coupon_lines=coupon_lines,
        )
    form = ManualInvoiceForm(partner=partner, invoice=invoice)
    formset = LineFormSet(prefix=LINES_PREFIX, initial=initial, form_kwargs=line_kwargs)
    return _render(
        request,
        form=form,
        formset=formset,
        customer=invoice.customer,
        invoice=invoice,
        kept=kept,
        coupon_lines=coupon_lines,
    )
