"""Reads for the office's rate card pages: rates grouped with the precedence level of each row, zones with what
uses them, time policies by scope, the public holidays the engine will price at the holiday rate, extras and
coupons with their use. Each costs a fixed number of queries, however many rows there are."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field

from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from customers.models import Customer, Partner

from .models import (
    Coupon,
    CouponRedemption,
    ExtraOffer,
    Holiday,
    PaySchedule,
    Rate,
    Service,
    ServiceExtra,
    Slip,
    TimePolicy,
    Zone,
)
from .ratecards import RATE_SLIP_TYPES
from .rates import HolidayCalendar, RateBook, public_holidays_supported

SCHEDULE_ORDER = {value: index for index, value in enumerate([*PaySchedule.values, ""])}


# --- rates ----------------------------------------------------------------------------------------------------------


class Side(enum.StrEnum):
    """The two sides of a line, as ``RateBook.PRECEDENCE`` names them."""

    BILL = "bill"
    PAY = "pay"


@dataclass(frozen=True)
class RateLevel:
    """Where a rate row stands in the engine's precedence (``RateBook.PRECEDENCE``): the side(s) it prices, its
    level's label and rank (1: the most specific, beats the others)."""

    sides: tuple[str, ...]
    label: str
    rank: int

    @property
    def sides_words(self) -> str:
        return " and ".join(self.sides).capitalize()


def rate_level(rate: Rate) -> RateLevel:
    """The level a row is found at: a customer's row prices the bill side (customer + service type, or customer),
    a provider's the pay side (provider + service type, or provider), any other row the side(s) it has a rate for
    (service type, or default)."""
    if rate.customer_id:
        sides, own = (Side.BILL,), True
    elif rate.provider_id:
        sides, own = (Side.PAY,), True
    else:
        sides = tuple(
            side
            for side, value in ((Side.BILL, rate.bill_rate_units), (Side.PAY, rate.pay_rate_units))
            if value is not None
        )
        own = False
    index = (0 if rate.service_type_id else 1) if own else (2 if rate.service_type_id else 3)
    return RateLevel(sides=sides, label=RateBook.PRECEDENCE[sides[0] if sides else Side.BILL][index], rank=index + 1)


def precedence_sentences() -> list[str]:
    """The engine's order of precedence, one sentence per side."""
    names = {Side.BILL: "Bill side", Side.PAY: "Pay side"}
    return [f"{names[side]}: {' beats '.join(levels)}." for side, levels in RateBook.PRECEDENCE.items()]


@dataclass(frozen=True)
class RateRow:
    rate: Rate
    level: RateLevel


@dataclass
class RateGroup:
    """The rates of one slip type for one service type (None: any service type)."""

    slip_type: str
    slip_label: str
    service_type_name: str  # "" for any service type
    rows: list[RateRow] = field(default_factory=list)


def rate_groups(*, partner: Partner) -> list[RateGroup]:
    """The partner's rates by slip type, then service type (any first), each group by pay schedule and level."""
    rates = Rate.objects.filter(partner=partner).select_related("service_type", "customer", "provider")
    groups: dict[tuple, RateGroup] = {}
    for rate in rates:
        type_name = rate.service_type.name if rate.service_type_id else ""
        key = (rate.slip_type, type_name.lower(), rate.service_type_id or 0)
        if key not in groups:
            label = Slip.Type(rate.slip_type).label if rate.slip_type in Slip.Type.values else rate.slip_type
            groups[key] = RateGroup(rate.slip_type, label, type_name)
        groups[key].rows.append(RateRow(rate, rate_level(rate)))
    slip_order = {value: index for index, value in enumerate(RATE_SLIP_TYPES)}
    ordered = sorted(groups.items(), key=lambda item: (slip_order.get(item[0][0], 99), item[0][0], *item[0][1:]))
    for _, group in ordered:
        group.rows.sort(
            key=lambda row: (
                SCHEDULE_ORDER.get(row.rate.pay_schedule, 99),
                row.level.rank,
                str(row.rate.customer or row.rate.provider or "").lower(),
            )
        )
    return [group for _, group in ordered]


# --- zones ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneRow:
    zone: Zone
    areas: list
    services: int
    customers: int

    @property
    def in_use(self) -> bool:
        return bool(self.services or self.customers)


def _count_of(queryset, link: str):
    counted = queryset.filter(**{link: OuterRef("pk")}).order_by().values(link).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def zone_rows(*, partner: Partner) -> list[ZoneRow]:
    zones = (
        Zone.objects.filter(partner=partner)
        .prefetch_related("areas")
        .annotate(
            service_count=_count_of(Service.objects.all(), "zone"),
            customer_count=_count_of(Customer.objects.all(), "zone"),
        )
        .order_by("name")
    )
    return [ZoneRow(zone, list(zone.areas.all()), zone.service_count, zone.customer_count) for zone in zones]


# --- time policies --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    policy: TimePolicy
    scope: str  # "Default", "Customer", "Provider"
    owner: str  # the customer's or provider's name; "" for the default
    prices: str  # which side it prices, in words


def policy_rows(*, partner: Partner) -> list[PolicyRow]:
    """The default policy first, then customers', then providers', each by name."""
    rows = []
    for policy in TimePolicy.objects.filter(partner=partner).select_related("customer", "provider"):
        if policy.customer_id:
            rows.append(
                PolicyRow(policy, "Customer", policy.customer.name, "The bill side of this customer's services")
            )
        elif policy.provider_id:
            rows.append(PolicyRow(policy, "Provider", policy.provider.name, "The pay side of this provider's services"))
        else:
            rows.append(PolicyRow(policy, "Default", "", "Either side that has no policy of its own"))
    order = {"Default": 0, "Customer": 1, "Provider": 2}
    return sorted(rows, key=lambda row: (order[row.scope], row.owner.lower()))


# --- holidays -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicHolidays:
    """The public holidays the engine prices at the holiday rate from ``start`` to ``end``, or why there are none."""

    start: datetime.date
    end: datetime.date
    days: list[tuple[datetime.date, str]]
    note: str = ""


def public_holidays_ahead(*, partner: Partner, today: datetime.date, days: int = 365) -> PublicHolidays:
    """The next twelve months of public holidays, read from the engine's own calendar (``HolidayCalendar``) with
    none of the partner's own dates: what the partner's country, region and switch give."""
    end = today + datetime.timedelta(days=days - 1)
    if not partner.public_holidays:
        return PublicHolidays(today, end, [], "Public holidays are off: only your own holidays below count.")
    if not partner.country:
        return PublicHolidays(today, end, [], "No country is set, so no public holidays count.")
    problem = public_holidays_supported(partner.country, partner.region)
    if problem:
        return PublicHolidays(today, end, [], f"{problem} Only your own holidays count until it is corrected.")
    calendar = HolidayCalendar(partner, {})
    found = []
    for offset in range(days):
        day = today + datetime.timedelta(days=offset)
        if day in calendar:
            found.append((day, calendar.name(day)))
    return PublicHolidays(today, end, found)


def own_holidays(*, partner: Partner) -> list[Holiday]:
    return list(Holiday.objects.filter(partner=partner).order_by("-date"))


# --- extras and coupons ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtraRow:
    offer: ExtraOffer
    used: bool  # booked on a service or named by a coupon: deactivated, never deleted


def extra_rows(*, partner: Partner) -> list[ExtraRow]:
    offers = ExtraOffer.objects.filter(partner=partner).annotate(
        booked=Exists(ServiceExtra.objects.filter(offer=OuterRef("pk"))),
        named=Exists(Coupon.extra_offers.through.objects.filter(extraoffer=OuterRef("pk"))),
    )
    return [ExtraRow(offer, offer.booked or offer.named) for offer in offers.order_by("-is_active", "name")]


@dataclass(frozen=True)
class CouponRow:
    coupon: Coupon
    service_types: list
    extra_offers: list
    used: bool

    @property
    def applies_to(self) -> str:
        names = [str(item) for item in (*self.service_types, *self.extra_offers)]
        return ", ".join(names) if names else "Every discountable line"


def coupon_rows(*, partner: Partner) -> list[CouponRow]:
    coupons = (
        Coupon.objects.filter(partner=partner)
        .prefetch_related("service_types", "extra_offers")
        .annotate(
            redeemed=Exists(CouponRedemption.objects.filter(coupon=OuterRef("pk"))),
            on_service=Exists(Service.objects.filter(coupon=OuterRef("pk"))),
        )
        .order_by("-is_active", "code")
    )
    return [
        CouponRow(c, list(c.service_types.all()), list(c.extra_offers.all()), c.redeemed or c.on_service)
        for c in coupons
    ]


def coupon_redemptions(*, coupon: Coupon) -> list[CouponRedemption]:
    return list(
        CouponRedemption.objects.filter(coupon=coupon)
        .select_related("customer", "request", "invoice")
        .order_by("-redeemed_at", "-pk")
    )
