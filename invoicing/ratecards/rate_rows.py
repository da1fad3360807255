"""Rates: what a slip type (and pay schedule) is billed and paid at, by default, per service type, per customer
(the bill side) or per provider (the pay side); one row per scope."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from customers.models import Customer, Partner, Provider

from ..models import PaySchedule, Rate, ServiceType, Slip
from .common import changes, check_mine, check_rate, locked, ratecards_admin_check, record, save_unique, snapshot

# What a rate prices, in the order the office lists them; the first two are priced per pay schedule.
RATE_SLIP_TYPES = (Slip.Type.SERVICE, Slip.Type.PREP_TIME, Slip.Type.MILEAGE, Slip.Type.BOOKING_FEE)
SCHEDULED_SLIP_TYPES = tuple(Slip.TYPES_REQUIRING_PAY_SCHEDULE)
RATE_DUPLICATE = "A rate for this scope already exists"

RATE_FIELDS = (
    "slip_type",
    "pay_schedule",
    "service_type_id",
    "customer_id",
    "provider_id",
    "bill_rate_units",
    "pay_rate_units",
)


def rate_scope_words(rate: Rate) -> str:
    """The scope of a rate in words: "Weekday service time of Interpreting for Acme Inc"."""
    what = {
        Slip.Type.SERVICE: "service time",
        Slip.Type.PREP_TIME: "prep time",
        Slip.Type.MILEAGE: "mileage",
        Slip.Type.BOOKING_FEE: "booking fee",
    }.get(rate.slip_type, rate.slip_type)
    words = f"{PaySchedule(rate.pay_schedule).label} {what}" if rate.pay_schedule else what.capitalize()
    if rate.service_type_id:
        words += f" of {rate.service_type}"
    party = rate.customer or rate.provider
    return f"{words} for {party}" if party else f"{words} (default)"


def _rate_check(rate: Rate, partner: Partner) -> None:
    errors: dict[str, str] = {}
    if rate.slip_type not in RATE_SLIP_TYPES:
        errors["slip_type"] = "Choose what the rate prices: service time, prep time, mileage or the booking fee."
    elif rate.slip_type in SCHEDULED_SLIP_TYPES:
        if rate.pay_schedule not in PaySchedule.values:
            errors["pay_schedule"] = "Choose the pay schedule: service and prep time are priced per schedule."
    elif rate.pay_schedule:
        errors["pay_schedule"] = "Mileage and the booking fee have no pay schedule: leave it empty."
    check_mine(rate.service_type, partner, "service types", "service_type", errors)
    check_mine(rate.customer, partner, "customers", "customer", errors)
    check_mine(rate.provider, partner, "providers", "provider", errors)
    bill, pay = rate.bill_rate_units, rate.pay_rate_units
    if rate.customer_id and rate.provider_id:
        errors["provider"] = "A rate is for a customer or for a provider, not both."
    elif rate.customer_id:
        if bill is None:
            errors["bill_rate_units"] = "Enter the bill rate: a customer's rate prices what that customer is billed."
        if pay is not None:
            errors["pay_rate_units"] = (
                "A customer's rate prices the bill side only: leave the pay rate empty (a provider's rate sets pay)."
            )
    elif rate.provider_id:
        if pay is None:
            errors["pay_rate_units"] = "Enter the pay rate: a provider's rate prices what that provider is paid."
        if bill is not None:
            errors["bill_rate_units"] = (
                "A provider's rate prices the pay side only: leave the bill rate empty (a customer's rate sets bills)."
            )
    elif bill is None and pay is None:
        errors["bill_rate_units"] = "Enter a bill rate, a pay rate or both."
    check_rate(bill, "bill_rate_units", errors, partner.currency)
    check_rate(pay, "pay_rate_units", errors, partner.currency)
    if errors:
        raise ValidationError(errors)
    twin = (
        Rate.objects.filter(
            partner=partner,
            slip_type=rate.slip_type,
            pay_schedule=rate.pay_schedule,
            service_type_id=rate.service_type_id,
            customer_id=rate.customer_id,
            provider_id=rate.provider_id,
        )
        .exclude(pk=rate.pk)
        .first()
    )
    if twin is not None:
        raise ValidationError({NON_FIELD_ERRORS: f"{RATE_DUPLICATE}: {rate_scope_words(twin)}. Edit that one instead."})


@transaction.atomic
def rate_save(
    *,
    partner: Partner,
    user,
    rate: Rate | None = None,
    slip_type: str,
    pay_schedule: str = "",
    service_type: ServiceType | None = None,
    customer: Customer | None = None,
    provider: Provider | None = None,
    bill_rate_units: Decimal | None = None,
    pay_rate_units: Decimal | None = None,
) -> Rate:
    """Add a rate (``rate=None``) or change one: what it prices (slip type and pay schedule), its scope (service
    type; a customer for the bill side or a provider for the pay side) and its rates in minor units per unit."""
    ratecards_admin_check(user, partner)
    before = None
    if rate is None:
        rate = Rate(partner=partner)
    else:
        rate = locked(Rate, rate, partner=partner)
        before = snapshot(rate, RATE_FIELDS)
    rate.slip_type, rate.pay_schedule = slip_type, pay_schedule or ""
    rate.service_type, rate.customer, rate.provider = service_type, customer, provider
    rate.bill_rate_units, rate.pay_rate_units = bill_rate_units, pay_rate_units
    _rate_check(rate, partner)
    after = snapshot(rate, RATE_FIELDS)
    if before is not None and before == after:
        return rate
    save_unique(rate, {"rate_unique_per_scope": {NON_FIELD_ERRORS: f"{RATE_DUPLICATE}: {rate_scope_words(rate)}."}})
    data = after if before is None else changes(before, after)
    record(rate, "rate_create" if before is None else "rate_update", user, partner_id=partner.pk, data=data)
    return rate


@transaction.atomic
def rate_delete(*, rate: Rate, user) -> None:
    ratecards_admin_check(user, rate.partner)
    rate = locked(Rate, rate, partner_id=rate.partner_id)
    record(rate, "rate_delete", user, partner_id=rate.partner_id, data=snapshot(rate, RATE_FIELDS))
    rate.delete()
