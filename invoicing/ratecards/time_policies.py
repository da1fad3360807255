"""Time policies: a customer's (the bill side), a provider's (the pay side) or the default (either side with none
of its own); one per scope."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from customers.models import Customer, Partner, Provider

from ..models import TimePolicy
from .common import changes, check_mine, locked, ratecards_admin_check, record, save_unique, snapshot

POLICY_DUPLICATE = "A time policy for this scope already exists"
MAX_MULTIPLIER = Decimal("99.999")  # TimePolicy's multipliers: 5 digits, 3 decimals
MAX_MINIMUM_HOURS = Decimal("999.99")
MAX_ROUNDING_MINUTES = 24 * 60

POLICY_FIELDS = (
    "customer_id",
    "provider_id",
    "minimum_hours",
    "rounding_minutes",
    "after_hours_multiplier",
    "weekend_multiplier",
    "holiday_multiplier",
)
MULTIPLIERS = ("after_hours_multiplier", "weekend_multiplier", "holiday_multiplier")


def policy_scope_words(policy: TimePolicy) -> str:
    if policy.customer_id:
        return f"{policy.customer}'s policy (bill side)"
    if policy.provider_id:
        return f"{policy.provider}'s policy (pay side)"
    return "the default policy"


def _policy_check(policy: TimePolicy, partner: Partner) -> None:
    errors: dict[str, str] = {}
    check_mine(policy.customer, partner, "customers", "customer", errors)
    check_mine(policy.provider, partner, "providers", "provider", errors)
    if policy.customer_id and policy.provider_id:
        errors["provider"] = "A policy is a customer's, a provider's or the default: choose one customer or provider."
    if policy.minimum_hours is None or not 0 <= policy.minimum_hours <= MAX_MINIMUM_HOURS:
        errors["minimum_hours"] = f"Enter a minimum from 0 to {MAX_MINIMUM_HOURS} hours; 0 means no minimum."
    if policy.rounding_minutes is None or not 0 <= policy.rounding_minutes <= MAX_ROUNDING_MINUTES:
        errors["rounding_minutes"] = f"Enter a step from 0 to {MAX_ROUNDING_MINUTES} minutes; 0 means no rounding."
    for field in MULTIPLIERS:
        value = getattr(policy, field)
        if value is None or not 0 < value <= MAX_MULTIPLIER:
            errors[field] = f"Enter a multiplier above 0 and at most {MAX_MULTIPLIER}; 1 keeps the rate."
    if errors:
        raise ValidationError(errors)
    twin = (
        TimePolicy.objects.filter(partner=partner, customer_id=policy.customer_id, provider_id=policy.provider_id)
        .exclude(pk=policy.pk)
        .exists()
    )
    if twin:
        raise ValidationError(
            {NON_FIELD_ERRORS: f"{POLICY_DUPLICATE}: {policy_scope_words(policy)}. Edit that one instead."}
        )


@transaction.atomic
def policy_save(
    *,
    partner: Partner,
    user,
    policy: TimePolicy | None = None,
    customer: Customer | None = None,
    provider: Provider | None = None,
    minimum_hours: Decimal = Decimal(0),
    rounding_minutes: int = 0,
    after_hours_multiplier: Decimal = Decimal(1),
    weekend_multiplier: Decimal = Decimal(1),
    holiday_multiplier: Decimal = Decimal(1),
) -> TimePolicy:
    """Add a time policy (``policy=None``) or change one: a customer's (it prices the bill side of their services),
    a provider's (the pay side of theirs) or, with neither, the default for either side that has none of its own."""
    ratecards_admin_check(user, partner)
    before = None
    if policy is None:
        policy = TimePolicy(partner=partner)
    else:
        policy = locked(TimePolicy, policy, partner=partner)
        before = snapshot(policy, POLICY_FIELDS)
    policy.customer, policy.provider = customer, provider
    policy.minimum_hours, policy.rounding_minutes = minimum_hours, rounding_minutes
    policy.after_hours_multiplier = after_hours_multiplier
    policy.weekend_multiplier, policy.holiday_multiplier = weekend_multiplier, holiday_multiplier
    _policy_check(policy, partner)
    after = snapshot(policy, POLICY_FIELDS)
    if before is not None and before == after:
        return policy
    message = f"{POLICY_DUPLICATE}: {policy_scope_words(policy)}."
    save_unique(policy, {"time_policy_unique_per_scope": {NON_FIELD_ERRORS: message}})
    data = after if before is None else changes(before, after)
    record(policy, "policy_create" if before is None else "policy_update", user, partner_id=partner.pk, data=data)
    return policy


@transaction.atomic
def policy_delete(*, policy: TimePolicy, user) -> None:
    ratecards_admin_check(user, policy.partner)
    policy = locked(TimePolicy, policy, partner_id=policy.partner_id)
    record(policy, "policy_delete", user, partner_id=policy.partner_id, data=snapshot(policy, POLICY_FIELDS))
    policy.delete()
