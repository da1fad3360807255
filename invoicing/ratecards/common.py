"""What every rate card write shares: who may change them, reading a row again under its lock, the audit row's
values, and a save that turns the database's refusal of a duplicate into words."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction

from audit.recording import audit_record
from customers.access import staff_membership
from customers.models import Partner
from octoo_billing.money import MAX_RATE_UNITS, format_units

from ..errors import BillingRuleError

ADMIN_ONLY = "Only a billing admin can change the rate cards."
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
REGION_RE = re.compile(r"^[A-Z0-9-]{1,10}$")


def ratecards_admin_check(user, partner: Partner) -> None:
    """Only the partner's billing admins change its rate cards (``user=None``: the system itself)."""
    if user is None:
        return
    membership = staff_membership(user)
    if membership is None or membership.partner_id != partner.pk or not membership.is_billing_admin:
        raise PermissionDenied(ADMIN_ONLY)


def plain_value(value):
    """A value as the audit row's JSON holds it."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple | set):
        return sorted(plain_value(item) for item in value)
    return value


def snapshot(obj, fields: tuple[str, ...], **more) -> dict:
    return {
        **{field: plain_value(getattr(obj, field)) for field in fields},
        **{k: plain_value(v) for k, v in more.items()},
    }


def changes(before: dict, after: dict) -> dict:
    return {field: [before.get(field), value] for field, value in after.items() if before.get(field) != value}


def locked(model, obj, **scope):
    """``obj`` read again under its row lock, within ``scope`` (its partner): someone else's row is refused."""
    try:
        return model.objects.select_for_update().get(pk=obj.pk, **scope)
    except model.DoesNotExist:
        raise BillingRuleError("This row no longer exists: reload the page.") from None


def save_unique(obj, constraints: dict[str, dict]) -> None:
    """Save, turning the database's refusal of a duplicate (the named unique constraints) into the same
    ``ValidationError`` the check before it raises, for two admins saving the same scope at once."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as error:
        for name, errors in constraints.items():
            if name in str(error):
                raise ValidationError(errors) from None
        raise


def record(target, action: str, user, *, partner_id: int, data: dict) -> None:
    audit_record(target=target, action=action, actor=user, data=data, partner_id=partner_id)


def check_mine(obj, partner: Partner, what: str, field: str, errors: dict) -> None:
    if obj is not None and obj.partner_id != partner.pk:
        errors[field] = f"Choose one of your {what}."


def check_rate(value, field: str, errors: dict, currency: str) -> None:
    if value is None:
        return
    if value < 0:
        errors[field] = "A rate cannot be negative."
    elif value > MAX_RATE_UNITS:
        errors[field] = f"A rate is at most {format_units(MAX_RATE_UNITS, currency)}."
