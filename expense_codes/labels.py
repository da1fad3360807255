"""Expense-code labels and a customer's auto-applied default codes (seed 000).

Managing them is permission-based: a partner's staff manage any of the partner's customers ("when a customer
account is managed by the partner directly"), a customer's portal user only their own customer and only with
``CustomerMembership.can_manage_expense_codes``. Every function takes the acting user and refuses with
``PermissionDenied``; what the user can fix is a ``ValidationError`` keyed by field, and nothing is saved.

Codes already applied to requests, services, proformas and invoices copy the label's name, so renaming or
deactivating a label never changes a document. Only the customer's auto-applied defaults follow a rename
and go away with a deactivation (they would otherwise keep stamping new requests with a retired label).

A label can be *required* (``ExpenseCodeLabel.is_required``): a request of the customer cannot be submitted
without a code for it. Only an active label can be required; deactivating a label stops requiring it.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from customers.access import customer_membership, staff_membership

from .models import AppliedExpenseCode, ExpenseCodeLabel

NAME_MAX = ExpenseCodeLabel._meta.get_field("name").max_length
VALUE_MAX = AppliedExpenseCode._meta.get_field("value").max_length


def labels_can_manage(*, user, customer) -> bool:
    """May ``user`` add, rename or remove ``customer``'s expense-code labels and default codes?"""
    if user is None:
        return True  # the system itself
    staff = staff_membership(user)
    if staff is not None:
        return staff.partner_id == customer.partner_id
    member = customer_membership(user)
    return member is not None and member.customer_id == customer.pk and member.can_manage_expense_codes


def _check(user, customer) -> None:
    if not labels_can_manage(user=user, customer=customer):
        raise PermissionDenied("You do not have permission to manage this customer's expense codes.")


def _clean_name(name: str, *, customer, exclude_pk=None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "Enter the label's name, for example “Purchase order”."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"Keep the name to {NAME_MAX} characters or fewer."})
    clash = ExpenseCodeLabel.objects.filter(customer=customer, name__iexact=name).exclude(pk=exclude_pk).first()
    if clash is not None:
        state = "" if clash.is_active else " (removed: add it back instead)"
        raise ValidationError({"name": f"This customer already has a label called “{clash.name}”{state}."})
    return name


@transaction.atomic
def label_create(*, customer, user, name: str) -> ExpenseCodeLabel:
    """A new label ("Purchase order", "Cost center") for the customer's codes."""
    _check(user, customer)
    name = _clean_name(name, customer=customer)
    return ExpenseCodeLabel.objects.create(customer=customer, name=name)


@transaction.atomic
def label_rename(*, label: ExpenseCodeLabel, user, name: str) -> ExpenseCodeLabel:
    """Rename a label. The customer's auto-applied defaults follow; codes on documents keep the old name."""
    _check(user, label.customer)
    label = ExpenseCodeLabel.objects.select_for_update().get(pk=label.pk)
    name = _clean_name(name, customer=label.customer_id, exclude_pk=label.pk)
    if name != label.name:
        label.name = name
        label.save(update_fields=["name"])
        AppliedExpenseCode.objects.filter(label=label, default_for__isnull=False).update(label_name=name)
    return label


@transaction.atomic
def label_deactivate(*, label: ExpenseCodeLabel, user) -> int:
    """Retire a label: it is no longer offered nor required, and the default codes using it are removed (their
    number is returned). Codes already on requests and documents stay as they are."""
    _check(user, label.customer)
    ExpenseCodeLabel.objects.filter(pk=label.pk).update(is_active=False, is_required=False)
    label.is_active = False
    label.is_required = False
    removed, _ = AppliedExpenseCode.objects.filter(label=label, default_for__isnull=False).delete()
    return removed


@transaction.atomic
def label_activate(*, label: ExpenseCodeLabel, user) -> ExpenseCodeLabel:
    """Offer a retired label again."""
    _check(user, label.customer)
    ExpenseCodeLabel.objects.filter(pk=label.pk).update(is_active=True)
    label.is_active = True
    return label


@transaction.atomic
def label_set_required(*, label: ExpenseCodeLabel, user, required: bool) -> ExpenseCodeLabel:
    """Require (or stop requiring) a code for this label on every request the customer submits.
    A removed (inactive) label cannot be required: it is not offered on requests."""
    _check(user, label.customer)
    label = ExpenseCodeLabel.objects.select_for_update().get(pk=label.pk)
    if required and not label.is_active:
        raise ValidationError({"is_required": f"“{label.name}” was removed: add it back before requiring it."})
    if label.is_required != required:
        label.is_required = required
        label.save(update_fields=["is_required"])
    return label


@transaction.atomic
def default_code_add(*, customer, user, label: ExpenseCodeLabel, value: str) -> AppliedExpenseCode:
    """Apply (label, value) to every new request of the customer from now on."""
    _check(user, customer)
    value = (value or "").strip()
    errors = {}
    if label is None or label.customer_id != customer.pk:
        errors["label"] = "Choose one of this customer's labels."
    elif not label.is_active:
        errors["label"] = f"The label “{label.name}” was removed; add it back first."
    if not value:
        errors["value"] = "Enter the code, for example ABC123."
    elif len(value) > VALUE_MAX:
        errors["value"] = f"Keep the code to {VALUE_MAX} characters or fewer."
    if not errors and AppliedExpenseCode.objects.filter(default_for=customer, label=label, value=value).exists():
        errors["value"] = f"“{label.name}: {value}” is already applied automatically."
    if errors:
        raise ValidationError(errors)
    return AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name=label.name, value=value)


@transaction.atomic
def default_code_remove(*, code: AppliedExpenseCode, user) -> None:
    """Stop applying a default code to new requests (requests that already carry it keep it)."""
    if code.default_for_id is None:
        raise ValidationError("Only a customer's auto-applied codes can be removed here.")
    _check(user, code.default_for)
    AppliedExpenseCode.objects.filter(pk=code.pk, default_for__isnull=False).delete()
