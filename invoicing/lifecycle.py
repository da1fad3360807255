"""Invoice lifecycle: issue, void, overdue, delete a draft, attach and detach child AR invoices.

Each action runs through the declared workflow (``invoicing.workflow``): ``action_begin`` re-reads the row under
``select_for_update()`` inside ``atomic()`` (in the one lock order of ``invoicing.locking``), refuses a stale page
and checks role, status and guards; the change follows; ``action_done`` writes the audit row and the outbox rows
(``invoicing.outbox``). The issue writes the same in its own order, so the number counter stays locked as briefly as
possible: its delivery work first, then the number, then one statement for the invoice's issue columns and its audit
row (``bulk_issue.issue_write``, shared with the bulk issue), then COMMIT. On PostgreSQL its row lock reads the
customer's default billing contact along (``locking.invoice_lock_issuing``). Many drafts at once:
``invoicing.bulk_issue`` (the same result, a few statements per chunk).
"""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_fields, audit_record
from customers.models import BillingContact, Partner

from .coupons import coupon_release
from .errors import BillingRuleError
from .locking import invoice_lock_issuing, invoices_lock
from .models import Invoice, InvoiceProforma
from .numbering import number_take
from .pricing import invoice_totals_refresh
from .workflow import (
    Actor,
    Refusal,
    TransitionRefused,
    action_begin,
    action_check,
    action_done,
    settled_status,
    stale_refusal,
)

Status = Invoice.Status


def due_date_for(invoice: Invoice, issue_date: datetime.date) -> datetime.date | None:
    if invoice.no_payment:
        return None
    if invoice.due_date and invoice.due_date >= issue_date:
        return invoice.due_date  # set explicitly on the draft
    days = invoice.payment_terms_days
    if days is None:
        party = invoice.party
        days = party.payment_terms_days if party is not None else invoice.partner.default_payment_terms_days
    return issue_date + datetime.timedelta(days=days)


ISSUE_FIELDS = [
    "subtotal_units",
    "discount_total_units",
    "tax_units",
    "total_units",
    "billing_contact",
    "contact_name",
    "contact_email",
    "contact_address",
    "bill_to_name",
    "sequence",
    "number",
    "issue_date",
    "due_date",
    "issued_at",
    "status",
    "updated_at",
]


@transaction.atomic
def invoice_issue(
    *,
    invoice: Invoice,
    user=None,
    issue_date: datetime.date | None = None,
    expected_status: str | None = None,
    deliver: bool = True,
    actor: Actor | None = None,
) -> Invoice:
    """Draft -> Pending: number, issue and due dates, frozen totals and billing-contact snapshot.

    ``deliver=False`` issues it as already delivered (no PDF, e-mail or charge work): the demo seed's history."""
    from .bulk_issue import issue_outbox_add, issue_write  # cycle: bulk_issue -> lifecycle (issue_fill, ...)

    invoice, default = _issue_begin(invoice.pk, user=user, actor=actor, expected_status=expected_status)
    invoice_totals_refresh(invoice, save=False)
    issue_fill(
        invoice,
        issue_date=issue_date or timezone.localdate(timezone=invoice.partner.tzinfo),  # the partner's today
        default_contact=lambda: default or invoice.customer.contacts.filter(is_default=True).first(),
    )
    issue_outbox_add([invoice], deliver=deliver)  # the delivery work (action_outbox_add's), before the number
    # The number last: the counter row stays locked from here to COMMIT, so only one statement comes after it:
    # the invoice's UPDATE (of the issue's columns only) with its audit row.
    series = invoice.kind  # "ar" / "ap" are also the counter series
    on_date = invoice.issue_date
    [(invoice.sequence, invoice.number)] = number_take(partner=invoice.partner, series=series, on_date=on_date)
    issue_write([invoice], user=user)  # the issue's columns and its audit row (one statement on PostgreSQL)
    return invoice


def _issue_begin(invoice_id: int, *, user, actor, expected_status) -> tuple[Invoice, BillingContact | None]:
    """``action_begin("issue", ...)``: the row lock, the stale-page check, then the workflow's checks. On PostgreSQL
    the lock also reads the customer's default billing contact (``locking.invoice_lock_issuing``: one statement for
    what took two); elsewhere that is asked when needed. Returns the locked invoice and that contact (or None)."""
    if connection.vendor != "postgresql":
        return action_begin("issue", invoice_id, user=user, actor=actor, expected_status=expected_status), None
    invoice, default = invoice_lock_issuing(invoice_id)
    if invoice is None:
        raise Invoice.DoesNotExist("Invoice matching query does not exist.")  # as invoice_lock's get() raises
    stale = stale_refusal(invoice, expected_status)
    if stale is not None:
        raise TransitionRefused(stale)
    action_check("issue", invoice, user=user, actor=actor)
    return invoice, default


def issue_fill(
    invoice: Invoice, *, issue_date: datetime.date, default_contact, now: datetime.datetime | None = None
) -> Invoice:
    """Set what an issue sets on a draft with its totals refreshed, all but the number: the billing-contact
    snapshot, issue and due dates, ``issued_at`` and the status; refuse a draft that cannot be issued.
    ``default_contact()`` gives the customer's default billing contact (asked only when the draft names none);
    ``now`` is the moment of the issue (a bulk issue's drafts share it; default: this moment).
    The one-by-one issue and the bulk issue (``invoicing.bulk_issue``) both go through here."""
    if not invoice.line_count:
        raise BillingRuleError("An invoice needs at least one line before it can be issued.")
    if invoice.kind == Invoice.Kind.AR:
        if invoice.total_units < 0:
            raise BillingRuleError("An invoice's total cannot be negative; issue a credit note instead.")
        contact = invoice.billing_contact or default_contact()
        if contact is None:
            raise BillingRuleError(f"{invoice.customer} has no default billing contact; add one before issuing.")
        invoice.billing_contact = contact
        invoice.contact_name = contact.name
        invoice.contact_email = contact.email
        invoice.contact_address = contact.address or invoice.customer.address
        invoice.bill_to_name = invoice.customer.name
    else:
        invoice.bill_to_name = invoice.provider.name
        invoice.contact_name = invoice.contact_name or invoice.provider.name
        invoice.contact_email = invoice.contact_email or invoice.provider.email
        invoice.contact_address = invoice.contact_address or invoice.provider.address
    invoice.issue_date = issue_date
    invoice.due_date = due_date_for(invoice, issue_date)
    invoice.issued_at = now or timezone.now()
    invoice.status = issued_status(invoice)
    return invoice


def issued_status(invoice: Invoice) -> str:
    """Pending, or Paid when nothing is left to pay (a zero invoice, or fully covered by child invoices)."""
    return Status.PAID if invoice.total_units - invoice.children_units <= 0 else Status.PENDING


def issue_audit_data(invoice: Invoice) -> dict:
    return {"number": invoice.number, "total_units": invoice.total_units}


@transaction.atomic
def invoice_void(*, invoice: Invoice, user=None, reason: str, expected_status: str | None = None) -> Invoice:
    """Cancel an issued invoice. It keeps its number; its proformas become invoiceable again."""
    reason = (reason or "").strip()
    params = {"reason": reason}
    invoice = action_begin("void", invoice.pk, user=user, expected_status=expected_status, params=params)
    from_status = invoice.status
    InvoiceProforma.objects.filter(invoice=invoice, is_active=True).update(is_active=False)
    invoice.status = Status.VOID
    invoice.void_reason = reason
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "void_reason", "voided_at", "updated_at"])
    action_done("void", invoice, user=user, from_status=from_status, reason=reason)
    return invoice


@transaction.atomic
def invoice_delete_draft(*, invoice: Invoice, user=None, expected_status: str | None = None) -> None:
    invoice = action_begin("delete_draft", invoice.pk, user=user, expected_status=expected_status)
    data = {"customer_id": invoice.customer_id, "total_units": invoice.total_units}
    action_done("delete_draft", invoice, user=user, from_status=Status.DRAFT, to_status="", data=data)
    if invoice.parent_id:
        _parent_children_units_change(invoice.parent_id, -invoice.total_units)
    InvoiceProforma.objects.filter(invoice=invoice).delete()
    if invoice.coupon_id:  # a coupon typed on the draft: its use is given back
        coupon_release(coupon=invoice.coupon, invoice=invoice)
    invoice.delete()


def invoices_mark_overdue(*, today: datetime.date | None = None, partner=None) -> int:
    """Pending or partially paid invoices past their due date with a balance become Overdue. Without ``today``,
    each partner's own today (Partner.time_zone): an invoice is overdue once its due date has ended there."""
    if today is None and partner is None:
        return sum(invoices_mark_overdue(partner=each) for each in Partner.objects.order_by("pk"))
    today = today or timezone.localdate(timezone=partner.tzinfo)
    qs = Invoice.objects.filter(
        status__in=[Status.PENDING, Status.PARTIALLY_PAID],
        due_date__lt=today,
        total_units__gt=F("paid_units") + F("children_units"),
    )
    if partner is not None:
        qs = qs.filter(partner=partner)
    marked = 0
    with transaction.atomic():
        rows = list(qs.select_for_update(skip_locked=True).only("id", "partner_id", "status"))
        events = []
        for invoice in rows:
            # Compare-and-set: only if nobody moved it meanwhile.
            if Invoice.objects.filter(pk=invoice.pk, status=invoice.status).update(status=Status.OVERDUE):
                marked += 1
                events.append(
                    AuditEvent(
                        **audit_fields(
                            target=invoice,
                            action="mark_overdue",
                            from_status=invoice.status,
                            to_status=Status.OVERDUE,
                            reason=f"past due on {today.isoformat()}",
                        )
                    )
                )
        AuditEvent.objects.bulk_create(events)
    return marked


def _parent_children_units_change(parent_id: int, delta: int) -> Invoice:
    parent = Invoice.objects.select_for_update().get(pk=parent_id)
    parent.children_units += delta
    if parent.status not in (Status.DRAFT, Status.VOID):
        parent.status = settled_status(parent)
    parent.save(update_fields=["children_units", "status", "updated_at"])
    return parent


def _lock_pair(a_id: int, b_id: int) -> dict[int, Invoice]:
    """Lock a parent and a child in the lock order (by id: invoicing.locking), so attachers never deadlock."""
    return invoices_lock([a_id, b_id])


@transaction.atomic
def invoice_attach_child(*, parent: Invoice, child: Invoice, user=None, expected_status: str | None = None) -> Invoice:
    """Attach a child AR invoice: the parent's outstanding balance drops by the child's total (seed 003).

    ``expected_status`` is the parent's status as the caller saw it: refused if it moved meanwhile."""
    locked = _lock_pair(parent.pk, child.pk)
    parent, child = locked[parent.pk], locked[child.pk]
    stale = stale_refusal(parent, expected_status)
    if stale is not None:
        raise TransitionRefused(stale)
    action_check("attach_child", parent, user=user, params={"child": child})
    child.parent = parent
    child.save(update_fields=["parent", "updated_at"])
    from_status = parent.status
    parent = _parent_children_units_change(parent.pk, child.total_units)
    data = {"child": str(child), "child_id": child.pk, "amount_units": child.total_units}
    action_done("attach_child", parent, user=user, from_status=from_status, data=data)
    audit_record(target=child, action="attached_to_parent", actor=user, data={"parent": str(parent)})
    return parent


def attachable_children(parent: Invoice):
    """The partner's invoices ``invoice_attach_child`` would accept as children of ``parent`` right now (issued AR
    invoices of no proformas and no children, not yet attached, contributing no more than the parent owes), for
    the office's picker; the attach re-checks all of it under the lock."""
    return (
        Invoice.objects.filter(partner_id=parent.partner_id, kind=Invoice.Kind.AR, parent__isnull=True)
        .exclude(pk=parent.pk)
        .exclude(status__in=[Status.DRAFT, Status.VOID])
        .exclude(Exists(InvoiceProforma.objects.filter(invoice=OuterRef("pk"), is_active=True)))
        .exclude(Exists(Invoice.objects.filter(parent=OuterRef("pk"))))
        .filter(total_units__gt=0, total_units__lte=parent.outstanding_units)
        .select_related("customer")
        .order_by("-issue_date", "-pk")
    )


@transaction.atomic
def invoice_detach_child(*, child: Invoice, user=None, expected_parent_id: int | None = None) -> Invoice:
    """Detach a child AR invoice: the parent's outstanding balance is restored.

    ``expected_parent_id`` is the parent the caller saw it attached to: refused if that changed meanwhile."""
    moved = Refusal(f"{child} changed meanwhile: it is no longer attached there. Reload the page and try again.")
    if expected_parent_id is not None and child.parent_id != expected_parent_id:
        raise TransitionRefused(moved)
    action_check("detach_child", child, user=user)
    locked = _lock_pair(child.parent_id, child.pk)
    child = locked[child.pk]
    if not child.parent_id or child.parent_id not in locked:
        raise TransitionRefused(moved)
    parent = locked[child.parent_id]
    child.parent = None
    child.save(update_fields=["parent", "updated_at"])
    from_status = parent.status
    parent = _parent_children_units_change(parent.pk, -child.total_units)
    data = {"child": str(child), "child_id": child.pk, "amount_units": child.total_units}
    action_done("detach_child", parent, user=user, from_status=from_status, data=data)
    audit_record(target=child, action="detached_from_parent", actor=user, data={"parent": str(parent)})
    return parent
