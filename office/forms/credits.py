"""Office forms for credit notes, customer credit and refunds (office.views.credits).

The forms read what was typed; the rules on it (what is left to credit, what a payment may still pay back, the
credit a note has left, the balance it may lower) are the workflow's guards (invoicing.workflow), whose refusals
the views put back on these fields (``error_field``)."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.db import models

from invoicing.forms import InvoiceActionForm
from invoicing.models import CreditNote, Invoice, Payment, Slip
from octoo_billing import locale as formats
from octoo_billing.forms import AmountField
from octoo_billing.money import MAX_AMOUNT_UNITS, format_units

_KEY_RE = re.compile(r"^[0-9a-f]{32}$")


class CreditWay(models.TextChoices):
    """What a credit note takes back."""

    WHOLE = "whole", "The whole invoice"
    LINES = "lines", "Chosen lines"
    AMOUNT = "amount", "An amount"


def _key_field() -> forms.CharField:
    return forms.CharField(widget=forms.HiddenInput, max_length=64)


def _clean_key(value: str) -> str:
    key = value.strip().lower()
    if not _KEY_RE.match(key):
        raise forms.ValidationError("This form is out of date. Reload the page and try again.")
    return key


def _seen_field() -> forms.IntegerField:
    """What the page showed of the amount an action depends on (left to credit, balance, credit left): a second
    submit of the same form finds it changed and changes nothing (``seen_changed``)."""
    return forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=-MAX_AMOUNT_UNITS,
        max_value=MAX_AMOUNT_UNITS,
        error_messages={"required": "This form is out of date. Reload the page and try again."},
    )


class SeenUnitsMixin:
    """A form that carries ``seen_units``: ``seen_changed(now)`` says whether it moved since the page was shown."""

    def seen_changed(self, now: int) -> bool:
        return self.cleaned_data["seen_units"] != now


def _reason_field(message: str, label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": message},
    )


def _money(units: int, currency: str) -> str:
    return format_units(units, currency)


def card_sentence(ending: str) -> str:
    """Where a card refund goes, in words."""
    ending_words = f"the card ending {ending}" if ending else "the card that paid it"
    return f"It goes back to {ending_words} through the card gateway (pending until the gateway answers)."


# --- the invoice page ----------------------------------------------------------------------------------------


class CreditNoteForm(SeenUnitsMixin, InvoiceActionForm):
    """Issue a credit note against this invoice: the whole of it (what is left to credit), chosen lines, or an
    amount with a description; always with a reason."""

    id_prefix = "credit"

    way = forms.ChoiceField(
        label="Credit",
        choices=CreditWay.choices,
        initial=CreditWay.WHOLE,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what to credit."},
    )
    lines = forms.MultipleChoiceField(
        label="Lines to credit", required=False, widget=forms.CheckboxSelectMultiple, help_text="With their tax."
    )
    amount = AmountField(
        label="Amount", required=False, help_text="Tax included, in the invoice's proportion of tax to total."
    )
    description = forms.CharField(label="Description", max_length=500, required=False)
    reason = _reason_field("Say why it is credited.", "Why is it credited?")
    seen_units = _seen_field()  # what was left to credit

    def __init__(self, *args, invoice: Invoice, lines: list[Slip], creditable_units: int, **kwargs):
        super().__init__(*args, invoice=invoice, **kwargs)
        self.fields["seen_units"].initial = creditable_units
        currency = invoice.currency
        whole = "The whole invoice" if creditable_units >= invoice.total_units else "The rest of the invoice"
        choices = [(CreditWay.WHOLE, f"{whole} ({_money(creditable_units, currency)})")]
        if lines:
            choices.append((CreditWay.LINES, CreditWay.LINES.label))
            self.fields["lines"].choices = [
                (str(slip.pk), f"{slip.description} · {_money(slip.bill_total_units, currency)}") for slip in lines
            ]
        else:
            del self.fields["lines"]
        choices.append((CreditWay.AMOUNT, CreditWay.AMOUNT.label))
        self.fields["way"].choices = choices
        self.fields["amount"].currency = currency
        self.fields["description"].widget.attrs["placeholder"] = "Credit"

    def clean(self):
        cleaned = super().clean()
        way = cleaned.get("way")
        if way == CreditWay.LINES and not cleaned.get("lines"):
            self.add_error("lines", "Tick the lines to credit.")
        if way == CreditWay.AMOUNT and cleaned.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", "Enter the amount to credit.")
        return cleaned

    def error_field(self, field: str | None) -> str | None:
        """The field a refusal goes on: what is left to credit is about the lines or the amount chosen."""
        if field == "amount":
            return {CreditWay.LINES: "lines", CreditWay.AMOUNT: "amount"}.get(self.cleaned_data.get("way"))
        return field if field in self.fields else None

    def issue_kwargs(self) -> dict:
        """The keyword arguments of ``invoicing.credits.credit_note_issue`` for what was chosen."""
        data = self.cleaned_data
        way = data["way"]
        return {
            "reason": data["reason"],
            "whole": way == CreditWay.WHOLE,
            "slip_ids": [int(pk) for pk in data.get("lines") or ()] if way == CreditWay.LINES else (),
            "amount_units": data["amount"] if way == CreditWay.AMOUNT else None,
            "description": data["description"] if way == CreditWay.AMOUNT else "",
        }


class RefundForm(InvoiceActionForm):
    """Refund (part of) one payment of this invoice: a card payment through the gateway, a check or a transfer as
    sent now. Out of a credit note's credit, the invoice stays settled; otherwise it owes the refund again. The
    hidden one-time key makes a double submit refund once."""

    id_prefix = "refund"

    payment = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    amount = AmountField(label="Amount to refund")
    credit_note = forms.ChoiceField(label="Out of the credit of", required=False)
    reference = forms.CharField(label="Check number", max_length=100, required=False)
    reason = _reason_field("Say why it is refunded.", "Why is it refunded?")
    idempotency_key = _key_field()

    def __init__(self, *args, invoice: Invoice, payment: Payment, refundable_units: int, notes=(), ending="", **kw):
        kw.setdefault("auto_id", f"refund{payment.pk}_%s")
        super().__init__(*args, invoice=invoice, **kw)
        self.payment = payment
        self.refundable_units = refundable_units
        self.notes = {str(note.pk): note for note in notes}
        currency = invoice.currency
        self.fields["payment"].initial = payment.pk
        self.fields["amount"].currency = currency
        self.fields["amount"].initial = refundable_units or None
        self.fields["amount"].help_text = f"At most {_money(refundable_units, currency)}."
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        if self.notes:
            left = {pk: _money(note.credit_left_units, note.currency) for pk, note in self.notes.items()}
            self.fields["credit_note"].choices = [
                ("", "No credit note: the invoice owes it again"),
                *((pk, f"{note} ({left[pk]} left)") for pk, note in self.notes.items()),
            ]
            own = next((pk for pk, note in self.notes.items() if note.invoice_id == invoice.pk), "")
            self.fields["credit_note"].initial = own
            if own:  # paid, then credited: what goes back is the credit, at most
                self.fields["amount"].initial = min(refundable_units, self.notes[own].credit_left_units) or None
        else:
            del self.fields["credit_note"]
        if payment.method == Payment.Method.CHECK:
            self.fields["reference"].help_text = "The check sent back."
        elif payment.method == Payment.Method.TRANSFER:
            self.fields["reference"].label = "Transfer reference"
        else:
            del self.fields["reference"]  # the gateway's reference is recorded when it refunds
        self.card_note = card_sentence(ending) if payment.method == Payment.Method.CARD else ""

    def clean_payment(self):
        if self.cleaned_data["payment"] != self.payment.pk:
            raise forms.ValidationError("This form is out of date. Reload the page and try again.")
        return self.payment

    def clean_credit_note(self):
        value = self.cleaned_data.get("credit_note") or ""
        if value and value not in self.notes:
            raise forms.ValidationError("Choose one of this customer's credit notes with credit left.")
        return self.notes.get(value)

    def clean_idempotency_key(self):
        return _clean_key(self.cleaned_data["idempotency_key"])

    def clean(self):
        cleaned = super().clean()
        if self.payment.method == Payment.Method.CHECK and not (cleaned.get("reference") or "").strip():
            self.add_error("reference", "Enter the number of the check sent back.")
        return cleaned

    def error_field(self, field: str | None) -> str | None:
        return field if field in self.fields and field != "payment" else None


class ApplyCreditForm(SeenUnitsMixin, InvoiceActionForm):
    """Apply the customer's credit (what one of its credit notes has left) to this invoice's balance."""

    id_prefix = "apply"

    credit_note = forms.ChoiceField(label="Credit note", error_messages={"required": "Choose a credit note."})
    amount = AmountField(label="Amount", required=False, help_text="Blank: as much as fits.")
    seen_units = _seen_field()  # the invoice's balance

    def __init__(self, *args, invoice: Invoice, notes=(), **kwargs):
        super().__init__(*args, invoice=invoice, **kwargs)
        self.fields["seen_units"].initial = invoice.outstanding_units
        self.notes = {str(note.pk): note for note in notes}
        currency = invoice.currency
        self.fields["credit_note"].choices = [
            (pk, f"{note} · {_money(note.credit_left_units, note.currency)} left") for pk, note in self.notes.items()
        ]
        self.fields["amount"].currency = currency
        first = next(iter(self.notes.values()), None)
        if first is not None:
            self.fields["amount"].initial = min(first.credit_left_units, max(invoice.outstanding_units, 0)) or None

    def clean_credit_note(self):
        note = self.notes.get(self.cleaned_data["credit_note"])
        if note is None:
            raise forms.ValidationError("Choose one of this customer's credit notes with credit left.")
        return note

    def apply_amount(self) -> int:
        """What was typed, or as much as fits: the note's credit left, at most the balance."""
        amount = self.cleaned_data.get("amount")
        if amount is not None:
            return amount
        return min(self.cleaned_data["credit_note"].credit_left_units, max(self.invoice.outstanding_units, 0))

    def error_field(self, field: str | None) -> str | None:
        return field if field in self.fields else None


# --- the credit note page ------------------------------------------------------------------------------------


class CreditNoteApplyForm(SeenUnitsMixin, forms.Form):
    """Apply what a credit note has left to another of its customer's open invoices."""

    invoice = forms.ChoiceField(label="Invoice", error_messages={"required": "Choose the invoice to apply it to."})
    amount = AmountField(label="Amount", required=False, help_text="Blank: as much as fits.")
    seen_units = _seen_field()  # the credit note's credit left

    def __init__(self, *args, note: CreditNote, invoices=(), **kwargs):
        kwargs.setdefault("auto_id", "apply_%s")
        super().__init__(*args, **kwargs)
        self.note = note
        self.fields["seen_units"].initial = note.credit_left_units
        self.invoices = {str(invoice.pk): invoice for invoice in invoices}
        self.fields["invoice"].choices = [
            (pk, _invoice_label(invoice, note.currency)) for pk, invoice in self.invoices.items()
        ]
        self.fields["amount"].currency = note.currency
        first = next(iter(self.invoices.values()), None)
        if first is not None:
            self.fields["amount"].initial = min(note.credit_left_units, first.balance_units) or None

    def clean_invoice(self):
        invoice = self.invoices.get(self.cleaned_data["invoice"])
        if invoice is None:
            raise forms.ValidationError("Choose one of this customer's open invoices.")
        return invoice

    def apply_amount(self) -> int:
        amount = self.cleaned_data.get("amount")
        if amount is not None:
            return amount
        return min(self.note.credit_left_units, self.cleaned_data["invoice"].balance_units)

    def error_field(self, field: str | None) -> str | None:
        return {"amount": "amount", "number": "invoice"}.get(field)


def _invoice_label(invoice: Invoice, currency: str) -> str:
    due = f" · due {formats.format_date(invoice.due_date)}" if invoice.due_date else ""
    return f"{invoice.number}{due} · {_money(invoice.balance_units, currency)} to pay"


class CreditNoteRefundForm(forms.Form):
    """Pay a credit note's credit back on one of its invoice's payments (a card one through the gateway)."""

    payment = forms.ChoiceField(label="Refund on", error_messages={"required": "Choose the payment to refund."})
    amount = AmountField(label="Amount to refund")
    reference = forms.CharField(
        label="Check number or transfer reference", max_length=100, required=False, help_text="Required for checks."
    )
    reason = _reason_field("Say why it is refunded.", "Why is it refunded?")
    idempotency_key = _key_field()

    def __init__(self, *args, note: CreditNote, payments=(), endings: dict | None = None, **kwargs):
        kwargs.setdefault("auto_id", "refund_%s")
        super().__init__(*args, **kwargs)
        self.note = note
        self.payments = {str(payment.pk): payment for payment in payments}
        endings = endings or {}
        self.fields["payment"].choices = [
            (pk, _payment_label(payment, note.currency, endings.get(payment.pk, "")))
            for pk, payment in self.payments.items()
        ]
        self.fields["amount"].currency = note.currency
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        first = next(iter(self.payments.values()), None)
        if first is not None:
            self.fields["amount"].initial = min(note.credit_left_units, first.refundable_units) or None
        self.card_payments = any(p.method == Payment.Method.CARD for p in self.payments.values())

    def clean_payment(self):
        payment = self.payments.get(self.cleaned_data["payment"])
        if payment is None:
            raise forms.ValidationError("Choose one of the invoice's payments with money left to refund.")
        return payment

    def clean_idempotency_key(self):
        return _clean_key(self.cleaned_data["idempotency_key"])

    def clean(self):
        cleaned = super().clean()
        payment = cleaned.get("payment")
        if payment is not None and payment.method == Payment.Method.CHECK and not cleaned.get("reference", "").strip():
            self.add_error("reference", "Enter the number of the check sent back.")
        return cleaned

    def error_field(self, field: str | None) -> str | None:
        return field if field in ("payment", "amount", "reference", "reason") else None


def _payment_label(payment: Payment, currency: str, ending: str) -> str:
    method = payment.get_method_display()
    if payment.method == Payment.Method.CARD:
        method = f"Card ending {ending}" if ending else "Card"
    amount, left = _money(payment.amount_units, currency), _money(payment.refundable_units, currency)
    return f"{method} · {amount} on {formats.format_date(payment.received_on)} · {left} refundable"
