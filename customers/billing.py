"""Customers and their billing settings: creating and editing a customer, and the rules of seed 002.

Seed 002 (portal booking flags): the "generate an invoice when the customer books" flag only matters while
recurring bookings are off (recurring bookings carry their own invoicing), and it can be turned off only on
"no payment" terms. The database backs the rule with ``customer_auto_invoice_required_unless_no_payment``;
``customer_billing_settings_update`` refuses it first with a message next to the field.

Every function raises ``ValidationError`` (a dict keyed by field name) for what the user can fix and saves
nothing then; changing billing settings is for billing admins (``PermissionDenied`` otherwise).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.recording import audit_record

from .access import staff_membership
from .contacts import _validated as _contact_validated
from .models import BillingContact, Customer, Partner

DETAIL_FIELDS = ("name", "email", "phone", "address", "monthly_statement")

BILLING_SETTINGS = (
    "invoicing_schedule",
    "payment_method",
    "payment_terms",
    "payment_terms_days",
    "expense_code_mode",
    "require_expense_code",
    "allow_recurring_bookings",
    "auto_invoice_on_booking",
    "auto_send",
    "sends_reminders",
    "auto_charge",
    "discount_percent",
    "zone",
    "is_active",
)

MAX_TERMS_DAYS = 365

AUTO_INVOICE_REQUIRED = (
    "With payment terms other than “No payment”, an invoice must be generated when the customer books. "
    "Keep this on, switch the terms to “No payment”, or allow recurring bookings."
)


def record_change(target, action: str, user, data: dict) -> None:
    audit_record(target=target, action=action, actor=user, data=data)


def check_staff(user, partner_id: int, *, admin: bool = False) -> None:
    if user is None:
        return  # the system itself (commands, demo data)
    membership = staff_membership(user)
    if membership is None or membership.partner_id != partner_id:
        raise PermissionDenied("Only the partner's staff can do this.")
    if admin and not membership.is_billing_admin:
        raise PermissionDenied("Only a billing admin can change a customer's billing settings.")


def _clean_details(customer: Customer) -> None:
    customer.name = " ".join((customer.name or "").split())
    for field in ("email", "phone", "address"):
        setattr(customer, field, (getattr(customer, field) or "").strip())
    errors: dict[str, str] = {}
    if not customer.name:
        errors["name"] = "Enter the customer's name."
    elif (
        Customer.objects.filter(partner_id=customer.partner_id, name__iexact=customer.name)
        .exclude(pk=customer.pk)
        .exists()
    ):
        errors["name"] = f"There is already a customer called “{customer.name}”."
    if errors:
        raise ValidationError(errors)
    customer.full_clean(exclude=["partner", "zone", *BILLING_SETTINGS], validate_unique=False)


@transaction.atomic
def customer_create(
    *,
    partner: Partner,
    user=None,
    name: str,
    email: str = "",
    phone: str = "",
    address: str = "",
    contact_name: str,
    contact_email: str,
    contact_phone: str = "",
    contact_address: str = "",
) -> Customer:
    """A new customer on the partner's default terms, with its first billing contact as the default
    (seed 000: a customer must have a default billing contact). Billing settings start at their defaults."""
    check_staff(user, partner.pk)
    customer = Customer(
        partner=partner,
        name=name,
        email=email,
        phone=phone,
        address=address,
        payment_terms_days=partner.default_payment_terms_days,
    )
    contact = BillingContact(name=contact_name, email=contact_email, phone=contact_phone, address=contact_address)
    errors: dict[str, list] = {}
    try:
        _clean_details(customer)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        _contact_validated(contact)
    except ValidationError as exc:
        errors.update({f"contact_{field}": messages for field, messages in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    customer.save()
    contact.customer = customer
    contact.is_default = True
    contact.save()
    record_change(customer, "create", user, {"name": customer.name, "default_contact": contact.email})
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, user=None, **fields) -> Customer:
    """Change a customer's name, e-mail, phone, address or monthly statement (not its billing settings)."""
    unknown = set(fields) - set(DETAIL_FIELDS)
    if unknown:
        raise TypeError(f"customer_update() got unexpected fields: {', '.join(sorted(unknown))}")
    check_staff(user, customer.partner_id)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = {field: getattr(customer, field) for field in DETAIL_FIELDS}
    for field, value in fields.items():
        setattr(customer, field, value)
    _clean_details(customer)
    changed = {f: [before[f], getattr(customer, f)] for f in DETAIL_FIELDS if before[f] != getattr(customer, f)}
    if changed:
        customer.save(update_fields=list(DETAIL_FIELDS))
        record_change(customer, "update", user, changed)
    return customer


def _json(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


def billing_settings_errors(customer: Customer) -> dict[str, str]:
    """What is wrong with a customer's billing settings, field by field (empty when they hold together)."""
    errors: dict[str, str] = {}
    if (
        not customer.allow_recurring_bookings
        and customer.payment_terms != Customer.PaymentTerms.NO_PAYMENT
        and not customer.auto_invoice_on_booking
    ):
        errors["auto_invoice_on_booking"] = AUTO_INVOICE_REQUIRED
    if customer.payment_terms == Customer.PaymentTerms.NET and not (
        customer.payment_terms_days is not None and 0 <= customer.payment_terms_days <= MAX_TERMS_DAYS
    ):
        errors["payment_terms_days"] = f"Enter a number of days from 0 (due on receipt) to {MAX_TERMS_DAYS}."
    if customer.auto_charge and customer.payment_method != Customer.PaymentMethod.CARD:
        errors["auto_charge"] = "Only a customer who pays by credit card can be charged automatically."
    discount = customer.discount_percent
    if discount is None or not (0 <= discount <= 100):
        errors["discount_percent"] = "Enter a discount between 0 and 100 %."
    if customer.zone_id is not None and customer.zone.partner_id != customer.partner_id:
        errors["zone"] = "Choose one of your own tax zones."
    return errors


@transaction.atomic
def customer_billing_settings_update(*, customer: Customer, user=None, **values) -> Customer:
    """Change billing settings (any of ``BILLING_SETTINGS``; the others keep their value).

    While recurring bookings are allowed the auto-invoice flag is hidden and does not matter: the value sent
    is ignored and the stored one kept, so that a hidden checkbox never flips it behind the user's back.
    Billing admins only. Writes an audit row listing what changed."""
    unknown = set(values) - set(BILLING_SETTINGS)
    if unknown:
        raise TypeError(f"customer_billing_settings_update() got unexpected fields: {', '.join(sorted(unknown))}")
    check_staff(user, customer.partner_id, admin=True)
    customer = Customer.objects.select_for_update(of=("self",)).select_related("zone").get(pk=customer.pk)
    before = {field: getattr(customer, field) for field in BILLING_SETTINGS}
    recurring = values.get("allow_recurring_bookings", customer.allow_recurring_bookings)
    if recurring:
        values.pop("auto_invoice_on_booking", None)
    if values.get("payment_terms", customer.payment_terms) == Customer.PaymentTerms.NO_PAYMENT:
        values.pop("payment_terms_days", None)  # no due date: the number of days does not apply
    for field, value in values.items():
        setattr(customer, field, value)
    errors = billing_settings_errors(customer)
    if errors:
        raise ValidationError(errors)
    customer.full_clean(exclude=["partner", "zone", *DETAIL_FIELDS], validate_unique=False)
    changed = {
        field: [_json(before[field]), _json(getattr(customer, field))]
        for field in BILLING_SETTINGS
        if before[field] != getattr(customer, field)
    }
    if changed:
        customer.save(update_fields=list(BILLING_SETTINGS))
        record_change(customer, "billing_settings", user, changed)
    return customer
