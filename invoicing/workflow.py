"""The declared workflow of invoices: each action, who may take it, from which statuses, its guards, the status it
leads to and the after-commit work it leaves in the outbox.

One table, ``INVOICE_ACTIONS``, answers two questions:

- which actions a page offers: ``invoice_offers(invoice, actor)`` (the office's invoice page, the portal's Pay);
- whether an action may run now: every domain function that changes an invoice calls ``action_begin`` (row lock,
  stale-status check, then role, kind, status and guards, in that order) and ends with ``action_done`` (the audit
  row and the outbox rows of its after-commit work). Views, admin actions, tasks and commands call those domain
  functions, so no rule is written twice.

A refusal is a ``Refusal``: a plain message and the form field it belongs to (None: the form as a whole).
``action_check`` raises every refusal at once as ``ActionRefused`` (a ``BillingRuleError``), or, when the status
does not allow the action or moved meanwhile, as ``TransitionRefused`` (an ``InvalidTransition``); views put
each refusal on its field with ``refusals_of(error)``.

A new action (a credit note, a refund) is a new ``Action`` row here plus the domain function that runs it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from django.db.models import F, Sum
from django.utils import timezone

from audit.recording import audit_record
from customers.access import customer_membership, staff_membership
from octoo_billing.money import format_units

from .errors import BillingRuleError, InvalidTransition
from .gateways import payment_gateway
from .models import CreditNote, Invoice, InvoiceProforma, OutboxJob, Payment, Proforma, Refund
from .outbox import outbox_add
from .recipients import invoice_recipients

Status, Kind, JobKind = Invoice.Status, Invoice.Kind, OutboxJob.Kind


# --- who acts -----------------------------------------------------------------------------------------------


class Role(StrEnum):
    CLERK = "clerk"  # partner staff without billing-admin rights
    BILLING_ADMIN = "billing_admin"
    PLATFORM_ADMIN = "platform_admin"  # Django admin
    CUSTOMER = "customer"  # the invoice's customer, in the portal
    SYSTEM = "system"  # the worker, management commands, the demo seed
    NOBODY = "nobody"  # a user with no say over this invoice


STAFF = frozenset({Role.CLERK, Role.BILLING_ADMIN, Role.PLATFORM_ADMIN, Role.SYSTEM})
ADMINS = frozenset({Role.BILLING_ADMIN, Role.PLATFORM_ADMIN, Role.SYSTEM})


@dataclass(frozen=True)
class Actor:
    role: Role
    user: object | None = None


def actor_for(user, invoice: Invoice) -> Actor:
    """The role ``user`` has over ``invoice``: no user is the system; staff of another partner, a customer user of
    another customer or an anonymous visitor is nobody."""
    if user is None:
        return Actor(Role.SYSTEM)
    if not user.is_authenticated:
        return Actor(Role.NOBODY, user)
    membership = staff_membership(user)
    if membership is not None and membership.partner_id == invoice.partner_id:
        return Actor(Role.BILLING_ADMIN if membership.is_billing_admin else Role.CLERK, user)
    customer = customer_membership(user)
    if customer is not None and invoice.kind == Kind.AR and customer.customer_id == invoice.customer_id:
        return Actor(Role.CUSTOMER, user)
    if user.is_staff and membership is None and customer is None:
        return Actor(Role.PLATFORM_ADMIN, user)
    return Actor(Role.NOBODY, user)


# --- what is known about the invoice ------------------------------------------------------------------------


class InvoiceFacts:
    """What the guards read beyond the invoice's own row, each fetched once when first needed. A page that has
    already loaded them passes them in (``InvoiceFacts(invoice, has_payments=...)``)."""

    def __init__(self, invoice: Invoice, **known: bool):
        self.invoice = invoice
        self.__dict__.update(known)

    @cached_property
    def has_payments(self) -> bool:
        return Payment.objects.filter(invoice_id=self.invoice.pk).exists()

    @cached_property
    def has_children(self) -> bool:
        return Invoice.objects.filter(parent_id=self.invoice.pk).exists()

    @cached_property
    def has_proformas(self) -> bool:
        return InvoiceProforma.objects.filter(invoice_id=self.invoice.pk, is_active=True).exists()

    @cached_property
    def creditable_units(self) -> int:
        """What credit notes may still take back: the total less the credit notes already issued on it."""
        credited = CreditNote.objects.filter(invoice_id=self.invoice.pk).aggregate(s=Sum("total_units", default=0))
        return self.invoice.total_units - credited["s"]

    @cached_property
    def refundable_units(self) -> int:
        """What its payments may still pay back (refunds made or under way counted)."""
        paid = Payment.objects.filter(invoice_id=self.invoice.pk).aggregate(s=Sum("amount_units", default=0))["s"]
        back = (
            Refund.objects.filter(invoice_id=self.invoice.pk)
            .exclude(status=Refund.Status.FAILED)
            .aggregate(s=Sum("amount_units", default=0))["s"]
        )
        return paid - back

    @cached_property
    def customer_credit_units(self) -> int:
        """The customer's credit from credit notes, not yet applied or refunded."""
        if not self.invoice.customer_id:
            return 0
        left = F("total_units") - F("applied_units") - F("refunded_units")
        notes = CreditNote.objects.filter(partner_id=self.invoice.partner_id, customer_id=self.invoice.customer_id)
        return notes.aggregate(s=Sum(left, default=0))["s"]


@dataclass(frozen=True)
class Refusal:
    message: str
    field: str | None = None
    forbidden: bool = False  # not this user's to do at all (a page answers 403), rather than not now


@dataclass(frozen=True)
class Check:
    """What a guard looks at: the invoice, who acts, the facts, and (running only) what they typed."""

    invoice: Invoice
    actor: Actor
    facts: InvoiceFacts
    params: dict


Guard = Callable[[Check], Refusal | None]


class ActionRefused(BillingRuleError):
    """A guard refused the action; ``refusals`` holds every reason, each with its field."""

    def __init__(self, refusals: list[Refusal]):
        super().__init__(refusals[0].message, field=refusals[0].field)
        self.refusals = refusals


class TransitionRefused(InvalidTransition, BillingRuleError):
    """The invoice's status (or kind, or who acts) does not allow the action, or it moved meanwhile. Both kinds
    of domain error, so callers that catch either (a status move, a broken rule) see it."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message, field=refusal.field)
        self.refusals = [refusal]


def refusals_of(error) -> list[Refusal]:
    """The refusals a domain error carries (one for a plain ``BillingError``)."""
    return list(getattr(error, "refusals", None) or [Refusal(error.message, error.field)])


# --- guards -------------------------------------------------------------------------------------------------


def _status_word(invoice: Invoice) -> str:
    return invoice.get_status_display().lower()


def own_draft_unless_admin(check: Check) -> Refusal | None:
    invoice, actor = check.invoice, check.actor
    if actor.role != Role.CLERK or (invoice.created_by_id is not None and invoice.created_by_id == actor.user.pk):
        return None
    return Refusal("Only a billing admin can delete a draft someone else made.", forbidden=True)


def no_children(message: str) -> Guard:
    def guard(check: Check) -> Refusal | None:
        return Refusal(message) if check.facts.has_children else None

    return guard


def no_payments(check: Check) -> Refusal | None:
    if check.facts.has_payments:
        return Refusal(
            "This invoice has payments recorded; it cannot be voided while they exist. "
            "Issue a credit note instead: it takes back what was billed, and what was paid becomes the "
            "customer's credit to refund or apply."
        )
    return None


def credit_left(check: Check) -> Refusal | None:
    if check.facts.creditable_units > 0:
        return None
    return Refusal("Everything on this invoice has been credited already.")


def credit_amount_fits(check: Check) -> Refusal | None:
    amount = check.params.get("amount_units")
    if amount is None or amount <= 0:
        return Refusal("A credit note must be for more than zero.", "amount")
    left = check.facts.creditable_units
    if amount > left:
        return Refusal(
            f"That is more than is left to credit on this invoice ({format_units(left, check.invoice.currency)}).",
            "amount",
        )
    return None


def credit_reason_given(check: Check) -> Refusal | None:
    return None if (check.params.get("reason") or "").strip() else Refusal("Say why it is credited.", "reason")


def refund_left(check: Check) -> Refusal | None:
    return None if check.facts.refundable_units > 0 else Refusal("Nothing paid on this invoice is left to refund.")


def refund_fits(check: Check) -> Refusal | None:
    """The payment is this invoice's, and the amount fits what it may still pay back (and the credit it
    comes out of)."""
    payment, amount, note = (check.params.get(key) for key in ("payment", "amount_units", "credit_note"))
    if payment is None or payment.invoice_id != check.invoice.pk:
        return Refusal("Choose one of this invoice's payments to refund.", "payment")
    if amount is None or amount <= 0:
        return Refusal("A refund must be more than zero.", "amount")
    left = check.params.get("payment_refundable_units", payment.amount_units - payment.refunded_units)
    if amount > left:
        money = format_units(left, check.invoice.currency)
        return Refusal(f"That is more than is left to refund on this payment ({money}).", "amount")
    if note is not None and amount > note.credit_left_units:
        money = format_units(note.credit_left_units, note.currency)
        return Refusal(f"That is more than the credit left on {note} ({money}).", "amount")
    return None


def customer_has_credit(check: Check) -> Refusal | None:
    if check.facts.customer_credit_units > 0:
        return None
    return Refusal(f"{check.invoice.customer} has no credit to apply.")


def credit_application_fits(check: Check) -> Refusal | None:
    note, amount = check.params.get("credit_note"), check.params.get("amount_units")
    if note is None or note.customer_id != check.invoice.customer_id or note.partner_id != check.invoice.partner_id:
        return Refusal("Choose one of this customer's credit notes.", "credit_note")
    if amount is None or amount <= 0:
        return Refusal("Apply more than zero.", "amount")
    most = min(note.credit_left_units, check.invoice.outstanding_units)
    if amount > most:
        return Refusal(
            f"That is more than {note}'s credit left or this invoice's balance ({format_units(most, note.currency)}).",
            "amount",
        )
    return None


def not_a_child(message: str) -> Guard:
    def guard(check: Check) -> Refusal | None:
        invoice = check.invoice
        return Refusal(message.format(parent=invoice.parent)) if invoice.parent_id else None

    return guard


def child_fits(check: Check) -> Refusal | None:
    """The invoice chosen as a child (``params["child"]``, locked with its parent) may contribute to it."""
    parent, child = check.invoice, check.params.get("child")
    refusal = next((message for broken, message in _child_rules(parent, child) if broken()), None)
    return Refusal(refusal, "number") if refusal else None


def _child_rules(parent: Invoice, child: Invoice | None):
    """(broken?, message) in the order they are asked: the first broken one is the refusal."""
    yield (lambda: child is None, "Enter the number of the invoice to attach.")
    yield (lambda: child.pk == parent.pk, "An invoice cannot be attached to itself.")
    yield (lambda: child.partner_id != parent.partner_id, "Both invoices must belong to the same partner.")
    yield (lambda: child.kind != Kind.AR, "Only AR invoices can be parent and child.")
    yield (lambda: child.status in (Status.VOID, Status.DRAFT), "Issue the child invoice before attaching it.")
    yield (lambda: bool(child.parent_id), f"{child} is already attached to {child and child.parent}.")
    yield (
        lambda: InvoiceProforma.objects.filter(invoice=child, is_active=True).exists(),
        "A child invoice cannot carry proformas: use a general slip for the shared amount.",
    )
    yield (
        lambda: Invoice.objects.filter(parent=child).exists(),
        f"{child} has children of its own and cannot become a child.",
    )
    yield (lambda: child.total_units <= 0, "The child invoice has nothing to contribute.")
    yield (
        lambda: child.total_units > parent.outstanding_units,
        f"The child's total is larger than {parent}'s outstanding balance; it cannot contribute more than is owed.",
    )


def is_a_child(check: Check) -> Refusal | None:
    return None if check.invoice.parent_id else Refusal(f"{check.invoice} is not attached to any invoice.")


def no_proformas(check: Check) -> Refusal | None:
    if check.facts.has_proformas:
        return Refusal("This draft carries proformas; add adjustments instead of retyping its lines.")
    return None


def balance_due(check: Check) -> Refusal | None:
    return None if check.invoice.outstanding_units > 0 else Refusal("Nothing is left to pay.")


def card_on_file(check: Check) -> Refusal | None:
    customer = check.invoice.customer
    if customer is None or customer.payment_method != customer.PaymentMethod.CARD or not customer.card_token:
        return Refusal(f"{customer} has no card on file.")
    return None


def gateway_takes_cards(check: Check) -> Refusal | None:
    return None if payment_gateway().charges_cards else Refusal("There is nothing to pay by card on this invoice.")


def has_recipient(check: Check) -> Refusal | None:
    to, _cc = invoice_recipients(check.invoice)
    if to:
        return None
    return Refusal(f"{check.invoice.customer} has no billing contact with an e-mail address; add one first.")


def reason_given(check: Check) -> Refusal | None:
    return None if (check.params.get("reason") or "").strip() else Refusal("Say why the invoice is voided.", "reason")


def payment_amount_fits(check: Check) -> Refusal | None:
    amount = check.params.get("amount_units")
    if amount is None or amount <= 0:
        return Refusal("A payment must be more than zero.", "amount")
    if amount > check.invoice.outstanding_units:
        balance = format_units(check.invoice.outstanding_units, check.invoice.currency)
        return Refusal(f"That is more than the outstanding balance of {balance}.", "amount")
    return None


def payment_method_known(check: Check) -> Refusal | None:
    method = check.params.get("method")
    if method not in Payment.Method.values:
        return Refusal("Choose how the payment was made: check, card or transfer.", "method")
    if method == Payment.Method.CHECK and not (check.params.get("reference") or "").strip():
        return Refusal("Enter the check number.", "reference")
    return None


def payment_not_in_future(check: Check) -> Refusal | None:
    received_on = check.params.get("received_on")
    if received_on is not None and received_on > timezone.localdate():
        return Refusal("A payment cannot be received in the future.", "received_on")
    return None


# --- after-commit work --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """A job the action leaves in the outbox (``invoicing.outbox``), when ``applies`` says so."""

    kind: str
    applies: Callable[[Invoice], bool] = lambda invoice: True
    when: str = ""  # ``applies`` in words

    def __str__(self) -> str:
        label = OutboxJob.Kind(self.kind).label
        return f"{label} {self.when}" if self.when else label


def _auto_send(invoice: Invoice) -> bool:
    return invoice.kind == Kind.AR and invoice.customer is not None and invoice.customer.auto_send


def _ar(invoice: Invoice) -> bool:
    return invoice.kind == Kind.AR


def _charged_on_issue(invoice: Invoice) -> bool:
    return invoice.kind == Kind.AR and invoice.customer is not None and invoice.charged_on_issue


def _void_status_refusal(invoice: Invoice) -> str:
    if invoice.status == Status.DRAFT:
        return "A draft has no number to keep: delete it instead of voiding it."
    if invoice.status in (Status.PARTIALLY_PAID, Status.PAID):
        return f"A {_status_word(invoice)} invoice cannot be voided: issue a credit note instead."
    return f"A {_status_word(invoice)} invoice cannot be voided."


# --- the table ----------------------------------------------------------------------------------------------

BOTH = frozenset({Kind.AR, Kind.AP})
AR_ONLY = frozenset({Kind.AR})
OPEN = frozenset(Invoice.OPEN_STATUSES)
ISSUED_LIVE = frozenset({Status.PENDING, Status.PARTIALLY_PAID, Status.PAID, Status.OVERDUE, Status.CREDITED})
PAID_SOME = frozenset({Status.PARTIALLY_PAID, Status.PAID, Status.OVERDUE})
ANY_STATUS = frozenset(Status.values)


def _cannot(verb: str) -> Callable[[Invoice], str]:
    return lambda invoice: f"A {_status_word(invoice)} invoice cannot be {verb}."


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    roles: frozenset
    statuses: frozenset  # the statuses it may start from
    target: str  # the status it leads to, in words when it depends on the amounts
    kinds: frozenset = BOTH
    guards: tuple[Guard, ...] = ()  # on the invoice as it is: decide whether the action is offered
    input_guards: tuple[Guard, ...] = ()  # on what the user typed: checked when it runs
    effects: tuple[Effect, ...] = ()
    status_refusal: Callable[[Invoice], str] = field(default=lambda invoice: "Not possible now.")
    status_field: str | None = None  # the form field a status refusal belongs to (None: a message on the page)
    kind_refusal: str = ""
    role_refusal: str = "Only a billing admin can do this."


INVOICE_ACTIONS: dict[str, Action] = {
    action.name: action
    for action in [
        Action(
            "edit",
            "Edit draft",
            roles=STAFF,
            statuses=frozenset({Status.DRAFT}),
            target=Status.DRAFT,
            kinds=AR_ONLY,
            guards=(no_proformas,),
            status_refusal=lambda invoice: (
                f"{invoice} is issued and can no longer be edited: void it and make a new one, "
                "or add an adjustment to a new invoice."
            ),
            kind_refusal="AP invoices are made by the AP run; they are not edited by hand.",
            role_refusal="Only partner staff edit drafts.",
        ),
        Action(
            "adjust",
            "Add adjustment",
            roles=STAFF,
            statuses=frozenset({Status.DRAFT}),
            target=Status.DRAFT,
            status_refusal=lambda invoice: "Adjustments go on drafts only: an issued invoice is never edited.",
            role_refusal="Only partner staff add adjustments.",
        ),
        Action(
            "delete_draft",
            "Delete draft",
            roles=STAFF,
            statuses=frozenset({Status.DRAFT}),
            target="deleted",
            guards=(own_draft_unless_admin, no_children("Detach the child invoices first.")),
            status_refusal=lambda invoice: "Only a draft can be deleted; void an issued invoice instead.",
            role_refusal="Only partner staff delete drafts.",
        ),
        Action(
            "issue",
            "Issue",
            roles=ADMINS,
            statuses=frozenset({Status.DRAFT}),
            target=f"{Status.PENDING} (or {Status.PAID} when nothing is left to pay)",
            effects=(
                Effect(JobKind.PDF),
                Effect(JobKind.EMAIL, _auto_send, "(customer with auto-send)"),
                Effect(JobKind.CHARGE, _charged_on_issue, "(card customer with auto-charge)"),
            ),
            status_refusal=_cannot("issued"),
        ),
        Action(
            "void",
            "Void",
            roles=ADMINS,
            statuses=frozenset({Status.PENDING, Status.OVERDUE}),
            target=Status.VOID,
            guards=(
                no_payments,
                no_children("Detach the child invoices attached to this invoice before voiding it."),
                not_a_child("This invoice is attached to {parent}; detach it before voiding it."),
            ),
            input_guards=(reason_given,),
            status_refusal=_void_status_refusal,
        ),
        Action(
            "record_payment",
            "Record payment",
            roles=STAFF,
            statuses=OPEN,
            target="partly paid or paid, by the amount",
            guards=(balance_due,),
            input_guards=(payment_amount_fits, payment_method_known, payment_not_in_future),
            effects=(Effect(JobKind.RECEIPT, _ar, "(AR: to the billing contact)"),),
            status_refusal=lambda invoice: (
                "Issue the invoice before recording a payment on it."
                if invoice.status == Status.DRAFT
                else f"A {_status_word(invoice)} invoice takes no payment."
            ),
            role_refusal="Only partner staff record payments.",
        ),
        Action(
            "attach_child",
            "Attach child invoice",
            roles=ADMINS,
            statuses=frozenset({Status.DRAFT, *OPEN}),
            target="its status, with the child's total taken off its balance",
            kinds=AR_ONLY,
            guards=(not_a_child("This invoice is attached to {parent}; a child invoice takes no children."),),
            input_guards=(child_fits,),
            status_refusal=lambda invoice: f"{invoice} is {_status_word(invoice)}: nothing can be attached to it.",
            status_field="number",
            kind_refusal="Only AR invoices can be parent and child.",
        ),
        Action(
            "detach_child",
            "Detach from parent",
            roles=ADMINS,
            statuses=ANY_STATUS,
            target="its parent's balance restored",
            kinds=AR_ONLY,
            guards=(is_a_child,),
            kind_refusal="Only AR invoices can be parent and child.",
        ),
        Action(
            "send",
            "Send",
            roles=STAFF,
            statuses=ISSUED_LIVE,
            target="unchanged (sent)",
            kinds=AR_ONLY,
            guards=(has_recipient,),
            effects=(Effect(JobKind.RESEND),),
            status_refusal=lambda invoice: (
                "Issue the invoice before sending it."
                if invoice.status == Status.DRAFT
                else "A void invoice is not sent."
            ),
            kind_refusal="Only AR invoices are e-mailed; AP invoices come from providers.",
            role_refusal="Only partner staff send invoices.",
        ),
        Action(
            "charge",
            "Charge card on file",
            roles=ADMINS,
            statuses=OPEN,
            target="partly paid or paid, by the charge (its payment's receipt follows)",
            kinds=AR_ONLY,
            guards=(balance_due, card_on_file),
            status_refusal=lambda invoice: f"A {_status_word(invoice)} invoice is not charged.",
            kind_refusal="Only AR invoices are charged to a customer's card.",
        ),
        Action(
            "pay_by_card",
            "Pay by card",
            roles=frozenset({Role.CUSTOMER}),
            statuses=OPEN,
            target="paid, by the card payment (its receipt follows)",
            kinds=AR_ONLY,
            guards=(balance_due, gateway_takes_cards),
            status_refusal=lambda invoice: "There is nothing to pay by card on this invoice.",
            kind_refusal="There is nothing to pay by card on this invoice.",
            role_refusal="Only the invoice's customer pays it in the portal.",
        ),
        Action(
            "credit",
            "Issue credit note",
            roles=STAFF,
            statuses=frozenset({Status.PENDING, Status.PARTIALLY_PAID, Status.PAID, Status.OVERDUE}),
            target="its balance lowered by the credit (Credited when nothing was paid); any excess is credit",
            kinds=AR_ONLY,
            guards=(credit_left, not_a_child("This invoice is attached to {parent}; detach it before crediting it.")),
            input_guards=(credit_amount_fits, credit_reason_given),
            effects=(Effect(JobKind.CREDIT_NOTE),),
            status_refusal=lambda invoice: f"A {_status_word(invoice)} invoice is not credited.",
            kind_refusal="Only AR invoices are credited; an AP invoice is adjusted on the next one.",
        ),
        Action(
            "refund",
            "Refund a payment",
            roles=ADMINS,
            statuses=PAID_SOME,
            target="owes the refund again, unless it comes out of a credit note",
            kinds=AR_ONLY,
            guards=(refund_left,),
            input_guards=(refund_fits,),
            effects=(Effect(JobKind.REFUND, lambda invoice: True, "(card payments: through the gateway)"),),
            status_refusal=lambda invoice: f"A {_status_word(invoice)} invoice has no payment to refund.",
            kind_refusal="Only AR payments are refunded.",
        ),
        Action(
            "apply_credit",
            "Apply customer credit",
            roles=STAFF,
            statuses=OPEN,
            target="partly paid or paid, by the credit",
            kinds=AR_ONLY,
            guards=(balance_due, customer_has_credit),
            input_guards=(credit_application_fits,),
            status_refusal=lambda invoice: f"A {_status_word(invoice)} invoice takes no credit.",
            kind_refusal="Only AR invoices take a customer's credit.",
        ),
    ]
}


# --- asking and running -------------------------------------------------------------------------------------


def action_refusals(
    name: str,
    invoice: Invoice,
    actor: Actor,
    *,
    facts: InvoiceFacts | None = None,
    params: dict | None = None,
) -> list[Refusal]:
    """Why ``actor`` may not take action ``name`` on ``invoice`` now (empty: allowed). Role, kind and status each
    stop the check; then every guard is asked, and with ``params`` (what was typed) every input guard too."""
    action = INVOICE_ACTIONS[name]
    if actor.role not in action.roles:
        return [Refusal(action.role_refusal, forbidden=True)]
    if invoice.kind not in action.kinds:
        return [Refusal(action.kind_refusal)]
    if invoice.status not in action.statuses:
        return [Refusal(action.status_refusal(invoice), action.status_field)]
    check = Check(invoice, actor, facts or InvoiceFacts(invoice), params or {})
    guards = action.guards + (action.input_guards if params is not None else ())
    return [refusal for guard in guards if (refusal := guard(check)) is not None]


def action_forbidden(name: str, invoice: Invoice, actor: Actor) -> bool:
    """Whether ``actor`` may never take this action on this invoice (its role, or a guard about who acts)."""
    return any(refusal.forbidden for refusal in action_refusals(name, invoice, actor))


def _opening_refused(action: Action, invoice: Invoice, actor: Actor) -> bool:
    return actor.role not in action.roles or invoice.kind not in action.kinds or invoice.status not in action.statuses


def action_check(
    name: str,
    invoice: Invoice,
    *,
    user=None,
    actor: Actor | None = None,
    facts: InvoiceFacts | None = None,
    params: dict | None = None,
) -> Actor:
    """Raise the refusals of action ``name`` (``TransitionRefused`` for role, kind or status; ``ActionRefused``
    for guards, every one with its field); return who acts when it may run. ``actor`` overrides the role
    ``user`` has (the system acting on a user's behalf, e.g. a booking's automatic invoice)."""
    actor = actor or actor_for(user, invoice)
    refusals = action_refusals(name, invoice, actor, facts=facts, params=params if params is not None else {})
    if refusals:
        if _opening_refused(INVOICE_ACTIONS[name], invoice, actor):
            raise TransitionRefused(refusals[0])
        raise ActionRefused(refusals)
    return actor


def stale_refusal(invoice: Invoice, expected_status: str | None) -> Refusal | None:
    """The page the action came from showed another status: the invoice moved meanwhile."""
    if expected_status is None or invoice.status == expected_status:
        return None
    return Refusal(
        f"{invoice} changed meanwhile: it is now {invoice.get_status_display()}. Reload the page and try again."
    )


def invoice_lock(invoice_id: int, *, expected_status: str | None = None) -> Invoice:
    """Re-read an invoice under a row lock; refuse if it moved since the caller looked at it."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("partner", "customer", "billing_contact")
        .get(pk=invoice_id)
    )
    stale = stale_refusal(invoice, expected_status)
    if stale is not None:
        raise TransitionRefused(stale)
    return invoice


def action_begin(
    name: str,
    invoice_id: int,
    *,
    user=None,
    actor: Actor | None = None,
    expected_status: str | None = None,
    params: dict | None = None,
    facts: dict | None = None,
) -> Invoice:
    """The start of every invoice action, inside its transaction: lock the row, refuse a stale page, then check
    role, kind, status, guards and what was typed. Returns the locked invoice."""
    invoice = invoice_lock(invoice_id, expected_status=expected_status)
    action_check(name, invoice, user=user, actor=actor, params=params, facts=InvoiceFacts(invoice, **(facts or {})))
    return invoice


def action_done(
    name: str,
    invoice: Invoice,
    *,
    user=None,
    from_status: str,
    audit_action: str | None = None,
    reason: str = "",
    data: dict | None = None,
    to_status: str | None = None,
    deliver: bool = True,
    subject=None,
) -> list[OutboxJob]:
    """The end of every invoice action, in the same transaction: its audit row, and the outbox rows of the
    after-commit work it causes (``deliver=False``: none, for history seeded as already delivered); ``subject``
    is the document the work is about (a payment's receipt, a credit note, a refund)."""
    audit_record(
        target=invoice,
        action=audit_action or name,
        actor=user,
        from_status=from_status,
        to_status=invoice.status if to_status is None else to_status,
        reason=reason,
        data=data,
    )
    return action_outbox_add(name, invoice, deliver=deliver, subject=subject)


def action_effect_kinds(name: str, invoice: Invoice, *, deliver: bool = True) -> list[str]:
    """The outbox job kinds action ``name`` leaves for ``invoice`` (its effects that apply), in their order."""
    return [effect.kind for effect in INVOICE_ACTIONS[name].effects if effect.applies(invoice)] if deliver else []


def action_outbox_add(name: str, invoice: Invoice, *, deliver: bool = True, subject=None) -> list[OutboxJob]:
    """The outbox half of ``action_done``, for an action that writes it before its other changes (the issue
    adds its delivery work before it takes its number, so the counter stays locked for as little as possible)."""
    kinds = action_effect_kinds(name, invoice, deliver=deliver)
    return outbox_add(invoice=invoice, kinds=kinds, subject=subject) if kinds else []


def settled_status(invoice: Invoice, *, today: datetime.date | None = None) -> str:
    """The status an issued, non-void invoice should have given what has been paid or contributed."""
    today = today or timezone.localdate()
    if invoice.outstanding_units <= 0:
        return Status.CREDITED if invoice.paid_units == 0 and invoice.credited_units > 0 else Status.PAID
    if invoice.due_date and invoice.due_date < today:
        return Status.OVERDUE
    return Status.PARTIALLY_PAID if invoice.paid_units > 0 else Status.PENDING


# --- proformas ---------------------------------------------------------------------------------------------


def proforma_adjust_refusal(proforma: Proforma, live_invoices) -> Refusal | None:
    """The one action on a proforma, an adjustment: refused once it is cancelled or on an issued invoice
    (``live_invoices``: the invoices it is on now). Asked by its page and by ``manual.slip_add_adjustment``."""
    if proforma.status == Proforma.Status.CANCELLED:
        return Refusal("A cancelled proforma takes no adjustments.")
    if any(invoice.status != Status.DRAFT for invoice in live_invoices):
        return Refusal("This proforma is on an issued invoice; adjust it on a new invoice instead.")
    return None


# --- what a page offers -------------------------------------------------------------------------------------


class Offers(dict):
    """The actions a page offers, by name: ``offers.issue``, ``offers["record_payment"]``; ``any`` when one is."""

    def __getattr__(self, name: str) -> bool:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    @property
    def any(self) -> bool:
        return any(self.values())


def invoice_offers(invoice: Invoice, actor: Actor, *, facts: InvoiceFacts | None = None) -> Offers:
    """Every action of the table, True exactly when ``actor`` may take it on ``invoice`` now (before typing)."""
    facts = facts or InvoiceFacts(invoice)
    return Offers({name: not action_refusals(name, invoice, actor, facts=facts) for name in INVOICE_ACTIONS})
