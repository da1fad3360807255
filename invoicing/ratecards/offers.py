"""What the partner offers besides its rates: extras booked with a service, and coupons. An extra that was used is
deactivated rather than deleted; a coupon that was used is kept with its uses."""

from __future__ import annotations

import datetime
import enum
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from customers.models import Partner
from octoo_billing.money import MAX_AMOUNT_UNITS

from ..errors import BillingRuleError
from ..models import Coupon, CouponRedemption, ExtraOffer, Service, ServiceExtra
from .common import changes, check_rate, locked, ratecards_admin_check, record, save_unique, snapshot

MAX_EXTRA_QUANTITY = 10_000
MAX_COUPON_USES = 1_000_000
_COUPON_CODE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


class ExtraRemoval(enum.Enum):
    """What removing an extra did: never booked nor named by a coupon, it is gone; otherwise it is only no longer
    offered, so the services that booked it and the coupons that name it keep it."""

    DELETED = "deleted"
    DEACTIVATED = "deactivated"
    ALREADY_INACTIVE = "already inactive"


EXTRA_FIELDS = ("name", "kind", "bill_rate_units", "pay_rate_units", "max_quantity", "is_active")


def extra_in_use(offer: ExtraOffer) -> bool:
    """Was the extra booked on a service, or does a coupon name it? Then it is deactivated, never deleted."""
    return ServiceExtra.objects.filter(offer=offer).exists() or offer.coupons.exists()


@transaction.atomic
def extra_save(
    *,
    partner: Partner,
    user,
    offer: ExtraOffer | None = None,
    name: str,
    kind: str = ExtraOffer.Kind.PRODUCT,
    bill_rate_units: Decimal,
    pay_rate_units: Decimal = Decimal(0),
    max_quantity: int = 10,
    is_active: bool = True,
) -> ExtraOffer:
    """Add an extra the partner offers on bookings (``offer=None``) or change one. Services that booked it keep
    the name and rates they were booked with."""
    ratecards_admin_check(user, partner)
    before = None
    if offer is None:
        offer = ExtraOffer(partner=partner)
    else:
        offer = locked(ExtraOffer, offer, partner=partner)
        before = snapshot(offer, EXTRA_FIELDS)
    offer.name, offer.kind = " ".join((name or "").split()), kind
    offer.bill_rate_units, offer.pay_rate_units = bill_rate_units, pay_rate_units
    offer.max_quantity, offer.is_active = max_quantity, bool(is_active)
    errors: dict[str, str] = {}
    if not offer.name:
        errors["name"] = "Name the extra, e.g. “Certified transcript”."
    elif ExtraOffer.objects.filter(partner=partner, name__iexact=offer.name).exclude(pk=offer.pk).exists():
        errors["name"] = f"There is already an extra called “{offer.name}”."
    if offer.kind not in ExtraOffer.Kind.values:
        errors["kind"] = "Choose a product, a reimbursement or other."
    if offer.bill_rate_units is None:
        errors["bill_rate_units"] = "Enter the price charged per unit."
    check_rate(offer.bill_rate_units, "bill_rate_units", errors, partner.currency)
    if offer.pay_rate_units is None:
        offer.pay_rate_units = Decimal(0)
    check_rate(offer.pay_rate_units, "pay_rate_units", errors, partner.currency)
    if offer.max_quantity is None or not 1 <= offer.max_quantity <= MAX_EXTRA_QUANTITY:
        errors["max_quantity"] = f"Enter how many may be booked at once: 1 to {MAX_EXTRA_QUANTITY:,}."
    if errors:
        raise ValidationError(errors)
    after = snapshot(offer, EXTRA_FIELDS)
    if before is not None and before == after:
        return offer
    save_unique(offer, {"extra_offer_name_unique": {"name": f"There is already an extra called “{offer.name}”."}})
    data = after if before is None else changes(before, after)
    record(offer, "extra_create" if before is None else "extra_update", user, partner_id=partner.pk, data=data)
    return offer


@transaction.atomic
def extra_remove(*, offer: ExtraOffer, user) -> ExtraRemoval:
    """Delete an extra nobody booked and no coupon names; deactivate one that was (no longer offered on new
    bookings; its bookings and coupons keep it)."""
    ratecards_admin_check(user, offer.partner)
    offer = locked(ExtraOffer, offer, partner_id=offer.partner_id)
    if not extra_in_use(offer):
        record(offer, "extra_delete", user, partner_id=offer.partner_id, data=snapshot(offer, EXTRA_FIELDS))
        offer.delete()
        return ExtraRemoval.DELETED
    if not offer.is_active:
        return ExtraRemoval.ALREADY_INACTIVE
    offer.is_active = False
    offer.save(update_fields=["is_active"])
    record(offer, "extra_update", user, partner_id=offer.partner_id, data={"is_active": [True, False]})
    return ExtraRemoval.DEACTIVATED


COUPON_FIELDS = (
    "code",
    "description",
    "percent_off",
    "amount_off_units",
    "valid_from",
    "valid_until",
    "is_active",
    "max_redemptions",
    "max_per_customer",
)


def _coupon_check(coupon: Coupon, partner: Partner, service_types, extra_offers) -> None:
    errors: dict[str, str] = {}
    if not coupon.code:
        errors["code"] = "Enter the code customers type, e.g. SPRING10."
    elif len(coupon.code) > Coupon._meta.get_field("code").max_length or not _COUPON_CODE_RE.match(coupon.code):
        errors["code"] = "Use at most 40 letters, digits, - and _ (no spaces)."
    elif Coupon.objects.filter(partner=partner, code__iexact=coupon.code).exclude(pk=coupon.pk).exists():
        errors["code"] = f"There is already a coupon {coupon.code} (codes are the same in any case)."
    percent, amount = coupon.percent_off, coupon.amount_off_units
    if percent is not None and amount is not None:
        errors["percent_off"] = "Give a percentage or an amount off, not both."
    elif percent is None and amount is None:
        errors["percent_off"] = "Enter a percentage or an amount off."
    elif percent is not None and not 0 < percent <= 100:
        errors["percent_off"] = "A percentage off is more than 0 and at most 100."
    elif amount is not None and not 0 < amount <= MAX_AMOUNT_UNITS:
        errors["amount_off_units"] = "The amount off must be more than zero."
    if coupon.valid_from and coupon.valid_until and coupon.valid_until < coupon.valid_from:
        errors["valid_until"] = "The last day comes before the first: the coupon could never be used."
    for field in ("max_redemptions", "max_per_customer"):
        value = getattr(coupon, field)
        if value is not None and not 1 <= value <= MAX_COUPON_USES:
            errors[field] = f"Enter a number from 1 to {MAX_COUPON_USES:,}, or leave it empty for no limit."
    if (
        coupon.max_redemptions is not None
        and coupon.max_redemptions < coupon.redeemed_count
        and not errors.get("max_redemptions")
    ):
        errors["max_redemptions"] = (
            f"It has been used {coupon.redeemed_count} times already: the limit cannot be lower than that."
        )
    if any(item.partner_id != partner.pk for item in service_types):
        errors["service_types"] = "Choose among your service types."
    if any(item.partner_id != partner.pk for item in extra_offers):
        errors["extra_offers"] = "Choose among your extras."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def coupon_save(
    *,
    partner: Partner,
    user,
    coupon: Coupon | None = None,
    code: str,
    description: str = "",
    percent_off: Decimal | None = None,
    amount_off_units: int | None = None,
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | None = None,
    is_active: bool = True,
    service_types=(),
    extra_offers=(),
    max_redemptions: int | None = None,
    max_per_customer: int | None = None,
) -> Coupon:
    """Add a coupon (``coupon=None``) or change one: its code (unique for the partner in any case), a percentage
    or an amount off, when it may be used, what it applies to (no service types and no extras: every discountable
    line) and its limits. Its redemptions are counted by ``coupons.coupon_redeem``, never here."""
    ratecards_admin_check(user, partner)
    service_types, extra_offers = list(service_types or ()), list(extra_offers or ())
    before = None
    if coupon is None:
        coupon = Coupon(partner=partner)
    else:
        coupon = locked(Coupon, coupon, partner=partner)
        before = snapshot(
            coupon,
            COUPON_FIELDS,
            service_types=list(coupon.service_types.values_list("pk", flat=True)),
            extra_offers=list(coupon.extra_offers.values_list("pk", flat=True)),
        )
    coupon.code, coupon.description = (code or "").strip(), " ".join((description or "").split())
    coupon.percent_off, coupon.amount_off_units = percent_off, amount_off_units
    coupon.valid_from, coupon.valid_until, coupon.is_active = valid_from, valid_until, bool(is_active)
    coupon.max_redemptions, coupon.max_per_customer = max_redemptions, max_per_customer
    _coupon_check(coupon, partner, service_types, extra_offers)
    after = snapshot(coupon, COUPON_FIELDS, service_types=service_types, extra_offers=extra_offers)
    if before is not None and before == after:
        return coupon
    code_taken = {"code": f"There is already a coupon {coupon.code} (codes are the same in any case)."}
    save_unique(coupon, {"coupon_code_unique": code_taken})
    coupon.service_types.set(service_types)
    coupon.extra_offers.set(extra_offers)
    data = after if before is None else changes(before, after)
    record(coupon, "coupon_create" if before is None else "coupon_update", user, partner_id=partner.pk, data=data)
    return coupon


def coupon_in_use(coupon: Coupon) -> bool:
    return CouponRedemption.objects.filter(coupon=coupon).exists() or Service.objects.filter(coupon=coupon).exists()


@transaction.atomic
def coupon_delete(*, coupon: Coupon, user) -> None:
    """Delete a coupon nobody used; one that was used is refused (``BillingRuleError``): deactivate it instead."""
    ratecards_admin_check(user, coupon.partner)
    coupon = locked(Coupon, coupon, partner_id=coupon.partner_id)
    if coupon_in_use(coupon):
        raise BillingRuleError(
            f"Coupon {coupon.code} has been used, so it stays with its redemptions: untick “Active” to stop it."
        )
    record(coupon, "coupon_delete", user, partner_id=coupon.partner_id, data=snapshot(coupon, COUPON_FIELDS))
    coupon.delete()
