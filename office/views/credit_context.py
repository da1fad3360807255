"""What the office invoice page shows about credit: its credit notes, the refunds under its payments, and the
Issue credit note, Refund and Apply credit forms, each offered exactly when the workflow offers the action
(``invoicing.workflow.invoice_offers``). Built from what the page has loaded (``InvoiceDetailParts`` and
``InvoiceCredits``): no query of its own. The actions themselves are POST views in office.views.credits."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse

from invoicing.credit_selectors import InvoiceCredits, card_endings
from invoicing.models import CreditNote, Invoice, OutboxJob, Payment, Refund, Slip
from invoicing.selectors import InvoiceDetailParts
from invoicing.workflow import Offers
from office.forms.credits import ApplyCreditForm, CreditNoteForm, RefundForm

from .customers import optional_url


@dataclass(frozen=True)
class NoteRow:
    note: CreditNote
    url: str
    pdf_url: str  # "" until the credit note PDF's page exists


@dataclass(frozen=True)
class RefundRow:
    refund: Refund
    gave_up: bool  # its gateway job failed for good: staff's "Retry failed work" sends it again


@dataclass(frozen=True)
class PaymentRefunds:
    """A payment's refunds, what it may still pay back, and its Refund form (when refunds are offered)."""

    payment: Payment
    refunds: list[RefundRow]
    refundable_units: int
    form: RefundForm | None
    card_ending: str
    open: bool  # the form came back with errors


@dataclass
class InvoiceCreditCard:
    notes: list[NoteRow] = field(default_factory=list)
    applied_from_others: list[NoteRow] = field(default_factory=list)
    payments: list[PaymentRefunds] = field(default_factory=list)
    credit_form: CreditNoteForm | None = None
    apply_form: ApplyCreditForm | None = None
    customer_credit_units: int = 0


def note_row(note: CreditNote) -> NoteRow:
    return NoteRow(
        note=note,
        url=reverse("office:credit_note_detail", args=[note.pk]),
        pdf_url=optional_url("office:credit_note_pdf", note.pk),
    )


def page_lines(parts: InvoiceDetailParts) -> list[Slip]:
    """The invoice's lines (``invoicing.credits.invoice_lines``) from the slips the page already holds."""
    slips = list(parts.direct_slips)
    for link in parts.proforma_links:
        if link.is_active:
            slips.extend(link.proforma.slips.all())
    return sorted({slip.pk: slip for slip in slips}.values(), key=lambda slip: (slip.position, slip.pk))


def invoice_credit_card(
    invoice: Invoice,
    *,
    parts: InvoiceDetailParts,
    credits: InvoiceCredits,
    actions: Offers,
    bound: dict,
    jobs: list[OutboxJob],
) -> InvoiceCreditCard:
    """The credit notes card, the refunds under each payment and the credit forms of an invoice's page;
    ``bound`` holds a form that came back with errors (``credit``, ``refund`` or ``apply_credit``); ``jobs``
    the invoice's outbox jobs (a card refund's gateway job that gave up)."""
    gave_up = {job.refund_id for job in jobs if job.refund_id and job.status == OutboxJob.Status.FAILED}
    facts = credits.facts(invoice, parts.payments)
    card = InvoiceCreditCard(
        notes=[note_row(note) for note in credits.notes],
        applied_from_others=[note_row(note) for note in credits.applied_from_others],
        customer_credit_units=facts["customer_credit_units"],
    )
    if actions.credit:
        card.credit_form = bound.get("credit") or CreditNoteForm(
            invoice=invoice, lines=page_lines(parts), creditable_units=facts["creditable_units"]
        )
    if actions.apply_credit:
        card.apply_form = bound.get("apply_credit") or ApplyCreditForm(invoice=invoice, notes=credits.customer_notes)
    endings = card_endings(parts.audit)
    bound_refund = bound.get("refund")
    for payment in parts.payments:
        refundable = credits.refundable_of(payment)
        form = None
        is_bound = bound_refund is not None and bound_refund.payment.pk == payment.pk
        if is_bound:
            form = bound_refund
        elif actions.refund and refundable > 0:
            form = RefundForm(
                invoice=invoice,
                payment=payment,
                refundable_units=refundable,
                notes=credits.customer_notes,
                ending=endings.get(payment.pk, ""),
            )
        card.payments.append(
            PaymentRefunds(
                payment=payment,
                refunds=[RefundRow(refund, refund.pk in gave_up) for refund in credits.refunds_of(payment)],
                refundable_units=refundable,
                form=form,
                card_ending=endings.get(payment.pk, ""),
                open=is_bound,
            )
        )
    return card
