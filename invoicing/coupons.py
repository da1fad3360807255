"""Coupons: checked when entered, redeemed once under a row lock, and priced as their own discount lines.

A coupon is entered on a portal booking, an office request or a manual invoice. ``coupon_for_code`` finds it and
refuses it in plain words (unknown, inactive, not yet valid, expired, used up, used up for this customer, not for
these services); ``coupon_redeem`` counts the use while holding the coupon's row lock, so 20 bookings at once of
a coupon limited to 5 redeem it exactly 5 times (and the database refuses a count above the limit anyway).

Priced, a coupon is one discount line per tax rate of the lines it applies to, with a negative amount and that
rate: the discount comes off before tax, exactly as a discount on the lines would (seed 001).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from octoo_billing import locale as formats
from octoo_billing.money import allocate, format_units, percent_of

from .errors import BillingRuleError
from .models import Coupon, CouponRedemption, Slip
from .pricing import slip_price

FIELD = "coupon"

# Lines a coupon without chosen service types or extras applies to: time and products, not pass-through costs
# (mileage, tolls, reimbursements), fees or other discounts.
OPEN_COUPON_TYPES = (Slip.Type.SERVICE, Slip.Type.PREP_TIME, Slip.Type.GENERAL)


def coupon_label(coupon: Coupon, currency: str = "USD") -> str:
    if coupon.percent_off is not None:
        return f"{coupon.percent_off.normalize():f}% off"
    return f"{format_units(coupon.amount_off_units, currency)} off"


def _refuse(message: str):
    raise BillingRuleError(message, field=FIELD)


def coupon_for_code(
    *, partner, code: str, customer, on_date: datetime.date, service_type_ids=(), extra_offer_ids=(), manual=False
) -> Coupon | None:
    """The partner's coupon ``code`` if ``customer`` may use it on ``on_date`` for services of these types and
    these extras (``manual``: on a manual invoice's typed lines); None for an empty code. Raises
    ``BillingRuleError`` on the ``coupon`` field otherwise. Limits are checked again, under lock, on redemption."""
    code = (code or "").strip()
    if not code:
        return None
    coupon = Coupon.objects.filter(partner=partner, code__iexact=code).first()
    if coupon is None or not coupon.is_active:
        _refuse(f"There is no coupon “{code}”. Check the code and try again.")
    if coupon.valid_from and on_date < coupon.valid_from:
        _refuse(f"Coupon {coupon.code} can be used from {formats.format_date(coupon.valid_from)}.")
    if coupon.valid_until and on_date > coupon.valid_until:
        _refuse(f"Coupon {coupon.code} expired on {formats.format_date(coupon.valid_until)}.")
    _limits_check(coupon, customer)
    scope = coupon_scope(coupon)
    if not scope.is_open:
        if manual:
            _refuse(f"Coupon {coupon.code} is for particular services or extras: it cannot be used on typed lines.")
        if not (scope.service_type_ids & set(service_type_ids) or scope.extra_offer_ids & set(extra_offer_ids)):
            wanted = [str(t) for t in coupon.service_types.all()] + [str(e) for e in coupon.extra_offers.all()]
            _refuse(f"Coupon {coupon.code} applies only to {', '.join(wanted)}.")
    return coupon


def _limits_check(coupon: Coupon, customer) -> None:
    if coupon.max_redemptions is not None and coupon.redeemed_count >= coupon.max_redemptions:
        _refuse(f"Coupon {coupon.code} has been used up.")
    if coupon.max_per_customer is not None:
        used = CouponRedemption.objects.filter(coupon=coupon, customer=customer).count()
        if used >= coupon.max_per_customer:
            times = "once" if coupon.max_per_customer == 1 else f"{coupon.max_per_customer} times"
            _refuse(f"Coupon {coupon.code} can be used {times} per customer, and you have used it already.")


def coupon_redeem(*, coupon: Coupon, customer, request=None, invoice=None) -> CouponRedemption:
    """Count one use of ``coupon`` by ``customer`` on a request or an invoice, under the coupon's row lock (inside
    the caller's transaction: the use is undone if the booking is). Raises ``BillingRuleError`` when used up."""
    with transaction.atomic():
        locked = Coupon.objects.select_for_update().get(pk=coupon.pk)
        _limits_check(locked, customer)
        Coupon.objects.filter(pk=locked.pk).update(redeemed_count=F("redeemed_count") + 1)
        return CouponRedemption.objects.create(coupon=locked, customer=customer, request=request, invoice=invoice)


def coupon_release(*, coupon: Coupon, invoice) -> None:
    """Give back the use of ``coupon`` counted on a draft ``invoice`` (taken off or replaced by another), under the
    coupon's row lock, inside the caller's transaction. Nothing happens when no use was counted there."""
    with transaction.atomic():
        locked = Coupon.objects.select_for_update().get(pk=coupon.pk)
        deleted, _ = CouponRedemption.objects.filter(coupon=locked, invoice=invoice).delete()
        if deleted:
            Coupon.objects.filter(pk=locked.pk).update(redeemed_count=F("redeemed_count") - deleted)


@dataclass(frozen=True)
class CouponScope:
    """What a coupon is for: service types and extra offers (by id); neither means any discountable line."""

    service_type_ids: frozenset[int] = frozenset()
    extra_offer_ids: frozenset[int] = frozenset()

    @property
    def is_open(self) -> bool:
        return not self.service_type_ids and not self.extra_offer_ids


def coupon_scope(coupon: Coupon) -> CouponScope:
    return CouponScope(
        frozenset(coupon.service_types.values_list("pk", flat=True)),
        frozenset(coupon.extra_offers.values_list("pk", flat=True)),
    )


def coupon_applies(scope: CouponScope, slip: Slip, *, service_type_id=None, offer_id=None) -> bool:
    """Does a coupon of this scope discount this line? Open coupons discount time and products; others the time
    of their service types and their extras (``service_type_id``: the line is that type's service time;
    ``offer_id``: it is that offer's extra)."""
    if scope.is_open:
        return slip.slip_type in OPEN_COUPON_TYPES and slip.bill_amount_units > 0
    if service_type_id is not None and service_type_id in scope.service_type_ids:
        return slip.slip_type in (Slip.Type.SERVICE, Slip.Type.PREP_TIME)
    return offer_id is not None and offer_id in scope.extra_offer_ids


def coupon_slips(
    coupon: Coupon, eligible: list[Slip], *, partner_id: int, currency: str, position: int, line=Slip
) -> list[Slip]:
    """The discount lines of ``coupon`` on the ``eligible`` lines: one per tax rate, each with a negative amount
    and that rate, so tax is charged on the discounted amount. A fixed amount is spread over the rates in
    proportion to their amounts and never exceeds them. ``line``: the class of the lines made (``Slip``, or the
    sweep's ``pricing.PricedSlip``)."""
    bases: dict[Decimal, int] = defaultdict(int)
    for slip in eligible:
        bases[slip.tax_rate] += max(slip.bill_amount_units - slip.line_discount_units, 0)
    rates = [rate for rate in bases if bases[rate] > 0]
    if not rates:
        return []
    if coupon.percent_off is not None:
        discounts = [percent_of(bases[rate], coupon.percent_off) for rate in rates]
    else:
        total = min(coupon.amount_off_units, sum(bases[rate] for rate in rates))
        discounts = allocate(total, [bases[rate] for rate in rates])
    label = f"Coupon {coupon.code} ({coupon_label(coupon, currency)})"
    slips = []
    for rate, discount in zip(rates, discounts, strict=True):
        if discount <= 0:
            continue
        slips.append(
            slip_price(
                line(
                    partner_id=partner_id,
                    slip_type=Slip.Type.COUPON,
                    description=label if len(rates) == 1 else f"{label}, {rate.normalize():f}% tax",
                    quantity=Decimal(1),
                    bill_rate_units=Decimal(-discount),
                    pay_rate_units=Decimal(0),
                    tax_rate=rate,
                    position=position + len(slips),
                )
            )
        )
    return slips
