"""Billing contacts: who receives a customer's invoices. A customer always has exactly one default.

The database backs the rule with a partial unique index (one_default_contact_per_customer); these functions
keep it true while contacts are added, switched and removed. They take the acting user so the office and
the customer portal share them: a partner's staff may manage any of the partner's customers, a portal user
only their own customer. ``user=None`` is the system itself (commands, tasks, demo data).

Every change is audited on the customer (``contact_create``, ``contact_update``, ``contact_set_default``,
``contact_delete``), with the contact's id and what changed.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.recording import audit_record

from .access import customer_membership, staff_membership
from .models import BillingContact, Customer

CONTACT_FIELDS = ("name", "email", "phone", "address", "receives_invoices")


def contacts_can_manage(*, user, customer: Customer) -> bool:
    """May ``user`` add, change or remove ``customer``'s billing contacts? The system may; so may platform support
    in the Django admin (the permission to change billing contacts there)."""
    if user is None or user.has_perm("customers.change_billingcontact"):
        return True
    staff = staff_membership(user)
    if staff is not None:
        return staff.partner_id == customer.partner_id
    member = customer_membership(user)
    return member is not None and member.customer_id == customer.pk


def _check(user, customer: Customer) -> None:
    if not contacts_can_manage(user=user, customer=customer):
        raise PermissionDenied("You cannot change this customer's billing contacts.")


def _validated(contact: BillingContact) -> BillingContact:
    for field in ("name", "phone"):
        setattr(contact, field, (getattr(contact, field) or "").strip())
    contact.email = (contact.email or "").strip()
    contact.address = (contact.address or "").strip()
    errors = {}
    if not contact.name:
        errors["name"] = "Enter the contact's name."
    if not contact.email:
        errors["email"] = "Enter the e-mail address invoices are sent to."
    if errors:
        raise ValidationError(errors)
    contact.full_clean(exclude=["customer", "is_default"])
    return contact


def _contact_data(contact: BillingContact, **extra) -> dict:
    return {"contact_id": contact.pk, "name": contact.name, "email": contact.email, **extra}


def _audit(customer: Customer, action: str, user, data: dict) -> None:
    audit_record(target=customer, action=action, actor=user, data=data)


def _lock_customer(customer: Customer) -> Customer:
    """Serialise default switches per customer (the row lock is a no-op on SQLite, which writes one at a time)."""
    return Customer.objects.select_for_update().get(pk=customer.pk)


@transaction.atomic
def contact_create(
    *,
    customer: Customer,
    user=None,
    name: str,
    email: str,
    phone: str = "",
    address: str = "",
    receives_invoices: bool = False,
    make_default: bool = False,
) -> BillingContact:
    """Add a billing contact. The customer's first contact becomes the default whatever ``make_default`` says."""
    _check(user, customer)
    contact = _validated(
        BillingContact(
            customer=customer,
            name=name,
            email=email,
            phone=phone,
            address=address,
            receives_invoices=receives_invoices,
        )
    )
    _lock_customer(customer)
    previous = BillingContact.objects.filter(customer=customer, is_default=True).first()
    if make_default and previous is not None:
        BillingContact.objects.filter(pk=previous.pk).update(is_default=False)
    contact.is_default = make_default or previous is None
    contact.save()
    data = _contact_data(contact, is_default=contact.is_default)
    if contact.is_default and previous is not None:
        data["previous_default_id"] = previous.pk
    _audit(customer, "contact_create", user, data)
    return contact


@transaction.atomic
def contact_update(*, contact: BillingContact, user=None, **fields) -> BillingContact:
    """Change a contact's name, e-mail, phone, address or ``receives_invoices``. Invoices already issued keep
    the snapshot they were issued with; drafts pick the change up when they are issued."""
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"contact_update() got unexpected fields: {', '.join(sorted(unknown))}")
    _check(user, contact.customer)
    contact = BillingContact.objects.select_for_update().get(pk=contact.pk)
    before = {name: getattr(contact, name) for name in CONTACT_FIELDS}
    for name, value in fields.items():
        setattr(contact, name, value)
    _validated(contact)
    changed = {
        name: [before[name], getattr(contact, name)]
        for name in CONTACT_FIELDS
        if before[name] != getattr(contact, name)
    }
    if changed:
        contact.save(update_fields=list(CONTACT_FIELDS))
        _audit(contact.customer, "contact_update", user, _contact_data(contact, changed=changed))
    return contact


@transaction.atomic
def contact_set_default(*, contact: BillingContact, user=None) -> BillingContact:
    """Make ``contact`` its customer's default: the old default is cleared first, in the same transaction, so
    the one-default index never sees two (and, committed, there is always exactly one)."""
    _check(user, contact.customer)
    customer = _lock_customer(contact.customer)
    contact = BillingContact.objects.get(pk=contact.pk)
    if contact.is_default:
        return contact
    previous = BillingContact.objects.filter(customer_id=contact.customer_id, is_default=True).first()
    BillingContact.objects.filter(customer_id=contact.customer_id, is_default=True).update(is_default=False)
    BillingContact.objects.filter(pk=contact.pk).update(is_default=True)
    contact.is_default = True
    data = _contact_data(contact, previous_default_id=previous.pk if previous else None)
    _audit(customer, "contact_set_default", user, data)
    return contact


@transaction.atomic
def contact_delete(*, contact: BillingContact, user=None) -> None:
    """Remove a contact. The default cannot be removed: make another contact the default first.
    Invoices that named it keep their snapshot (their link is cleared)."""
    _check(user, contact.customer)
    customer = _lock_customer(contact.customer)
    contact = BillingContact.objects.filter(pk=contact.pk).first()
    if contact is None:
        return  # already removed (a double submit)
    if contact.is_default:
        raise ValidationError(
            "This is the default billing contact, which every invoice is sent to. "
            "Make another contact the default before removing it."
        )
    data = _contact_data(contact)
    contact.delete()
    _audit(customer, "contact_delete", user, data)
