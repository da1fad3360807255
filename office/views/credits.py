"""Credit notes, customer credit and refunds in the office: the actions on an invoice's page (Issue credit note,
Refund a payment, Apply credit), and a credit note's own page with its Apply and Refund forms.

The same pattern as office.views.actions: every action is a POST with CSRF and the status its page showed; who
may take it is the workflow's (a billing clerk gets a 403, and the pages offer clerks no form); the domain
functions (invoicing.credits) check the rest, and each refusal goes on the form field it names.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from audit.recording import audit_trail
from customers.access import staff_required
from invoicing import credit_selectors
from invoicing.credits import credit_apply, credit_note_issue, invoice_lines, payment_refund
from invoicing.errors import BillingError, InvalidTransition
from invoicing.models import CreditNote, Invoice, Payment, Refund
from invoicing.workflow import (
    InvoiceFacts,
    action_forbidden,
    action_refusals,
    actor_for,
    refusals_of,
    stale_refusal,
)
from octoo_billing.money import format_units
from office.forms.credits import (
    ApplyCreditForm,
    CreditNoteApplyForm,
    CreditNoteForm,
    CreditNoteRefundForm,
    RefundForm,
)
from office.scoping import partner_object

from .actions import action_permitted, expected_status_posted, form_incomplete, post_only
from .customers import optional_url
from .documents import audit_labelled, invoice_for_page, render_invoice_page


def _money(units: int, currency: str) -> str:
    return format_units(units, currency)


def _to_invoice(invoice: Invoice, anchor: str = ""):
    return redirect(reverse("office:invoice_detail", args=[invoice.pk]) + (f"#{anchor}" if anchor else ""))


def _refused(request, invoice: Invoice, error: BillingError, *, form, key: str):
    """As office.views.actions: a status that no longer allows the action (or a stale page) is a message; every
    guard's refusal goes on the field the form says it belongs to, and the page comes back with the form open."""
    if isinstance(error, InvalidTransition) and error.field is None:
        messages.error(request, error.message)
        return _to_invoice(invoice)
    for refusal in refusals_of(error):
        form.add_error(form.error_field(refusal.field), refusal.message)
    return render_invoice_page(request, invoice, bound={key: form})


# --- on the invoice page ---------------------------------------------------------------------------------------


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_credit(request, pk):
    """Issue a credit note: the whole invoice, chosen lines or an amount."""
    invoice = invoice_for_page(request, pk)
    action_permitted(request, "credit", invoice)
    if expected_status_posted(request) is None:
        return form_incomplete(request, invoice)
    creditable = InvoiceFacts(invoice).creditable_units
    form = CreditNoteForm(request.POST, invoice=invoice, lines=invoice_lines(invoice), creditable_units=creditable)
    if not form.is_valid():
        return render_invoice_page(request, invoice, bound={"credit": form})
    if form.seen_changed(creditable):  # a double submit: the first one issued it
        messages.info(request, f"{invoice} was credited meanwhile; nothing was changed. Check it and try again.")
        return _to_invoice(invoice, "credit-notes")
    try:
        note = credit_note_issue(
            invoice=invoice,
            user=request.user,
            expected_status=form.cleaned_data["expected_status"],
            expected_creditable_units=form.cleaned_data["seen_units"],
            **form.issue_kwargs(),
        )
    except BillingError as error:
        return _refused(request, invoice, error, form=form, key="credit")
    messages.success(request, issued_message(note, invoice))
    return _to_invoice(invoice, "credit-notes")


def issued_message(note: CreditNote, invoice: Invoice) -> str:
    """What a new credit note did: lowered the balance by X, left Y as the customer's credit (or both)."""
    currency = note.currency
    done = []
    if note.applied_units:
        done.append(f"lowered the balance of {invoice} by {_money(note.applied_units, currency)}")
    if note.credit_left_units:
        done.append(f"left {_money(note.credit_left_units, currency)} as {invoice.customer}'s credit")
    return f"Issued credit note {note.number} for {_money(note.total_units, currency)}: it {' and '.join(done)}."


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_refund(request, pk):
    """Refund (part of) one of the invoice's payments."""
    invoice = invoice_for_page(request, pk)
    action_permitted(request, "refund", invoice)
    expected = expected_status_posted(request)
    payment = _posted_payment(request, invoice)
    if expected is None or payment is None:
        return form_incomplete(request, invoice)
    credits = credit_selectors.invoice_credits(invoice=invoice, payments=[payment])
    ending = credit_selectors.card_endings(_charges(invoice)).get(payment.pk, "")
    form = RefundForm(
        request.POST,
        invoice=invoice,
        payment=payment,
        refundable_units=credits.refundable_of(payment),
        notes=credits.customer_notes,
        ending=ending,
    )
    if not form.is_valid():
        return render_invoice_page(request, invoice, bound={"refund": form})
    data = form.cleaned_data
    stale = stale_refusal(invoice, expected)
    if stale is not None:
        messages.error(request, stale.message)
        return _to_invoice(invoice)
    if Refund.objects.filter(partner_id=invoice.partner_id, idempotency_key=data["idempotency_key"]).exists():
        messages.info(request, "This refund was already recorded; nothing was added.")
        return _to_invoice(invoice, "payments")
    try:
        refund = payment_refund(
            payment=payment,
            amount_units=data["amount"],
            credit_note=data.get("credit_note"),
            reason=data["reason"],
            reference=data.get("reference") or "",
            user=request.user,
            idempotency_key=data["idempotency_key"],
        )
    except BillingError as error:
        return _refused(request, invoice, error, form=form, key="refund")
    invoice.refresh_from_db()
    messages.success(request, refund_message(refund, invoice, ending))
    return _to_invoice(invoice, "payments")


def _posted_payment(request, invoice: Invoice) -> Payment | None:
    raw = request.POST.get("payment", "")
    if not raw.isdecimal() or len(raw) > 18:
        return None
    return Payment.objects.filter(invoice=invoice, pk=int(raw)).first()


def _charges(invoice: Invoice):
    """The invoice's card charges in its audit trail (which card each payment went to)."""
    return audit_trail(invoice).filter(action="charge")


def refund_message(refund: Refund, invoice: Invoice, ending: str = "") -> str:
    amount = _money(refund.amount_units, invoice.currency)
    if refund.status == Refund.Status.PENDING:
        card = f"the card ending {ending}" if ending else "the card that paid it"
        return f"The refund of {amount} to {card} is under way: the card gateway is asked now, and retried if it fails."
    sent = f"by check {refund.reference}" if refund.method == Payment.Method.CHECK else "by bank transfer"
    if refund.credit_note_id:
        return f"Refunded {amount} {sent}, out of {refund.credit_note}'s credit."
    return f"Refunded {amount} {sent}. {invoice} owes {_money(invoice.outstanding_units, invoice.currency)} again."


@staff_required
@post_only("office:invoice_detail", Invoice)
def invoice_apply_credit(request, pk):
    """Apply the customer's credit (one credit note's credit left) to this invoice."""
    invoice = invoice_for_page(request, pk)
    action_permitted(request, "apply_credit", invoice)
    if expected_status_posted(request) is None:
        return form_incomplete(request, invoice)
    credits = credit_selectors.invoice_credits(invoice=invoice, payments=[])
    form = ApplyCreditForm(request.POST, invoice=invoice, notes=credits.customer_notes)
    if not form.is_valid():
        return render_invoice_page(request, invoice, bound={"apply_credit": form})
    if form.seen_changed(invoice.outstanding_units):  # a double submit: the first one applied it
        messages.info(request, f"{invoice}'s balance changed meanwhile; nothing was changed. Check it and try again.")
        return _to_invoice(invoice)
    note = form.cleaned_data["credit_note"]
    amount = form.apply_amount()
    try:
        credit_apply(
            credit_note=note,
            invoice=invoice,
            amount_units=amount,
            user=request.user,
            expected_status=form.cleaned_data["expected_status"],
            expected_outstanding_units=form.cleaned_data["seen_units"],
        )
    except BillingError as error:
        return _refused(request, invoice, error, form=form, key="apply_credit")
    invoice.refresh_from_db()
    messages.success(
        request,
        f"Applied {_money(amount, invoice.currency)} of {note}'s credit. "
        f"Outstanding: {_money(invoice.outstanding_units, invoice.currency)}.",
    )
    return _to_invoice(invoice)


# --- the credit note's page ------------------------------------------------------------------------------------


def credit_note_for_page(request, pk) -> CreditNote:
    return partner_object(request, credit_selectors.credit_note_queryset(partner=request.partner), pk=pk)


def render_credit_note_page(request, note: CreditNote, *, bound: dict | None = None, status: int = 200):
    """A credit note's page; ``bound`` holds its Apply or Refund form come back with errors."""
    bound = bound or {}
    parts = credit_selectors.credit_note_parts(note=note)
    actor = actor_for(request.user, note.invoice)
    left = note.credit_left_units
    apply_form = refund_form = None
    if left > 0 and parts.open_invoices and not action_forbidden("apply_credit", note.invoice, actor):
        apply_form = bound.get("apply") or CreditNoteApplyForm(note=note, invoices=parts.open_invoices)
    refundable = [payment for payment in parts.payments if payment.refundable_units > 0]
    if left > 0 and refundable and not action_refusals("refund", note.invoice, actor):
        refund_form = bound.get("refund") or CreditNoteRefundForm(
            note=note, payments=refundable, endings=parts.card_endings
        )
    context = {
        "note": note,
        "invoice": note.invoice,
        "currency": note.currency,
        **parts.context(),
        "audit": audit_labelled(parts.audit),
        "is_admin": not action_forbidden("refund", note.invoice, actor),  # refunds move money out: admins
        "apply_form": apply_form,
        "refund_form": refund_form,
        "open_form": next(iter(bound), None),
        "pdf_url": optional_url("office:credit_note_pdf", note.pk),
        "customer_url": optional_url("office:customer_detail", note.customer_id),
        "list_url": optional_url("office:credit_note_list"),
    }
    return render(request, "office/credit_notes/detail.html", context, status=status)


@staff_required
def credit_note_detail(request, pk):
    return render_credit_note_page(request, credit_note_for_page(request, pk))


def _to_note(note: CreditNote):
    return redirect("office:credit_note_detail", pk=note.pk)


def _note_refused(request, note: CreditNote, error: BillingError, *, form, key: str):
    if isinstance(error, InvalidTransition) and error.field is None:
        messages.error(request, error.message)
        return _to_note(note)
    for refusal in refusals_of(error):
        form.add_error(form.error_field(refusal.field), refusal.message)
    return render_credit_note_page(request, note, bound={key: form})


@staff_required
@post_only("office:credit_note_detail", CreditNote)
def credit_note_apply(request, pk):
    """Apply what the credit note has left to another of its customer's open invoices."""
    note = credit_note_for_page(request, pk)
    action_permitted(request, "apply_credit", note.invoice)  # a clerk: 403
    parts = credit_selectors.credit_note_parts(note=note)
    form = CreditNoteApplyForm(request.POST, note=note, invoices=parts.open_invoices)
    if not form.is_valid():
        return render_credit_note_page(request, note, bound={"apply": form})
    if form.seen_changed(note.credit_left_units):  # a double submit: the first one applied it
        messages.info(request, f"{note}'s credit changed meanwhile; nothing was changed. Check it and try again.")
        return _to_note(note)
    target, amount = form.cleaned_data["invoice"], form.apply_amount()
    try:
        credit_apply(
            credit_note=note,
            invoice=target,
            amount_units=amount,
            user=request.user,
            expected_credit_left_units=form.cleaned_data["seen_units"],
        )
    except BillingError as error:
        return _note_refused(request, note, error, form=form, key="apply")
    target.refresh_from_db()
    messages.success(
        request,
        f"Applied {_money(amount, note.currency)} of {note}'s credit to {target}, "
        f"which has {_money(target.outstanding_units, target.currency)} outstanding.",
    )
    return _to_note(note)


@staff_required
@post_only("office:credit_note_detail", CreditNote)
def credit_note_refund(request, pk):
    """Pay the credit note's credit back on one of its invoice's payments (a card one through the gateway)."""
    note = credit_note_for_page(request, pk)
    action_permitted(request, "refund", note.invoice)  # a clerk: 403
    parts = credit_selectors.credit_note_parts(note=note)
    refundable = [payment for payment in parts.payments if payment.refundable_units > 0]
    form = CreditNoteRefundForm(request.POST, note=note, payments=refundable, endings=parts.card_endings)
    if not form.is_valid():
        return render_credit_note_page(request, note, bound={"refund": form})
    data = form.cleaned_data
    if Refund.objects.filter(partner_id=note.partner_id, idempotency_key=data["idempotency_key"]).exists():
        messages.info(request, "This refund was already recorded; nothing was added.")
        return _to_note(note)
    payment = data["payment"]
    try:
        refund = payment_refund(
            payment=payment,
            amount_units=data["amount"],
            credit_note=note,
            reason=data["reason"],
            reference=data.get("reference") or "",
            user=request.user,
            idempotency_key=data["idempotency_key"],
        )
    except BillingError as error:
        return _note_refused(request, note, error, form=form, key="refund")
    messages.success(request, refund_message(refund, note.invoice, parts.card_endings.get(payment.pk, "")))
    return _to_note(note)
