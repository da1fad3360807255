""" "Price this service": the slips the engine would produce for a service, with how each was priced, and nothing
saved.

An existing service is priced as it is (``service_preview``). A service typed into the preview form is built in
memory (``typed_preview``): an unsaved ``Service`` of an unsaved ``ServiceRequest``, its zone resolved from the
address as a booking would (``zones.zone_resolve``), its coupon only looked up (``coupons.coupon_for_code``, never
redeemed). Nothing here writes: the slips come from ``rates.service_slips(..., explain=True)``, which never saves.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from customers.models import Customer, Partner, Provider

from .coupons import coupon_for_code
from .errors import PricingError
from .models import Coupon, Rate, Service, ServiceRequest, ServiceType, Slip, TimePolicy, Zone
from .ratecard_selectors import Side
from .rates import RateBook, SlipSource, service_slips
from .zones import ZoneResolution, service_zone_explain, zone_resolve


@dataclass(frozen=True)
class PricedSide:
    """How one side (bill or pay) of a slip was priced: the rate row and its precedence level, and the time policy
    that counted its hours."""

    side: Side
    rate: Rate | None
    level: str
    policy: TimePolicy | None
    policy_owner: str  # "Acme Inc's policy", "The default policy", or "" when no policy counted the hours

    @property
    def row_rate_units(self) -> Decimal | None:
        """The rate as the row states it (the line's rate may carry a policy's or the zone's multiplier)."""
        if self.rate is None:
            return None
        return self.rate.bill_rate_units if self.side == Side.BILL else self.rate.pay_rate_units

    @property
    def policy_words(self) -> str:
        if self.policy is None:
            return "No time policy: the hours worked, unrounded."
        minimum = f"minimum {self.policy.minimum_hours.normalize():f} h" if self.policy.minimum_hours else "no minimum"
        step = self.policy.rounding_minutes
        rounding = f"rounded up to {step} min" if step else "no rounding"
        return f"{self.policy_owner}: {minimum}, {rounding}."


@dataclass(frozen=True)
class PreviewLine:
    slip: Slip
    bill: PricedSide
    pay: PricedSide
    worked_hours: Decimal | None
    note: str

    @property
    def time_based(self) -> bool:
        return self.worked_hours is not None

    @property
    def worked_words(self) -> str:
        """The time actually worked: "2 h", "1 h 5 min"."""
        minutes = int((self.worked_hours or 0) * 60 + Decimal("0.5"))
        whole, rest = divmod(minutes, 60)
        return f"{whole} h {rest} min" if rest else f"{whole} h"


@dataclass(frozen=True)
class PreviewTotals:
    subtotal_units: int
    discount_units: int
    tax_units: int
    total_units: int
    pay_units: int


@dataclass(frozen=True)
class PricePreview:
    """What pricing ``service`` gives now: its lines and totals, or ``error`` (the missing rate) and no lines."""

    service: Service
    zone: ZoneResolution
    lines: list[PreviewLine]
    totals: PreviewTotals | None
    error: str = ""
    coupon: Coupon | None = None


def _policy_owner(policy: TimePolicy | None, customer: Customer, provider: Provider | None) -> str:
    if policy is None:
        return ""
    if policy.customer_id:
        return f"{customer}'s policy"
    if policy.provider_id:
        return f"{provider}'s policy"
    return "The default policy"


# What priced the lines that no rate row did (the engine gives them no source).
UNRATED_NOTES = {
    Slip.Type.TOLLS: "The tolls recorded on the service, passed on as they are and not taxed.",
    Slip.Type.GENERAL: "Its own price: the zone's surcharge, or an extra booked on the service.",
    Slip.Type.REIMBURSEMENT: "An extra booked on the service, reimbursed at its own price and not taxed.",
}


def _source(slip: Slip, service, book: RateBook) -> SlipSource:
    """The slip's source as the engine gave it; the booking fee's rate rows looked up the way the engine finds
    them (it gives the fee no source)."""
    source = getattr(slip, "source", None) or SlipSource()
    if slip.slip_type == Slip.Type.BOOKING_FEE and source.bill_rate is None:
        customer_id = service.request.customer.pk
        bill, bill_level = book.find(Side.BILL, Slip.Type.BOOKING_FEE, "", service.service_type_id, customer_id)
        pay, pay_level = book.find(Side.PAY, Slip.Type.BOOKING_FEE, "", service.service_type_id, service.provider_id)
        source = SlipSource(bill, bill_level, pay, pay_level)
    elif source.bill_rate is None and not source.note:
        source = SlipSource(note=UNRATED_NOTES.get(slip.slip_type, ""))
    return source


def _line(slip: Slip, source: SlipSource, customer: Customer, provider: Provider | None) -> PreviewLine:
    return PreviewLine(
        slip=slip,
        bill=PricedSide(
            Side.BILL,
            source.bill_rate,
            source.bill_level,
            source.bill_policy,
            _policy_owner(source.bill_policy, customer, None),
        ),
        pay=PricedSide(
            Side.PAY,
            source.pay_rate,
            source.pay_level,
            source.pay_policy,
            _policy_owner(source.pay_policy, customer, provider),
        ),
        worked_hours=source.worked_hours,
        note=source.note,
    )


def _totals(slips: list[Slip]) -> PreviewTotals:
    return PreviewTotals(
        subtotal_units=sum(s.bill_amount_units for s in slips),
        discount_units=sum(s.line_discount_units + s.invoice_discount_units for s in slips),
        tax_units=sum(s.bill_tax_units for s in slips),
        total_units=sum(s.bill_total_units for s in slips),
        pay_units=sum(s.pay_total_units for s in slips),
    )


def _price(
    service: Service, *, partner: Partner, customer: Customer, zone: ZoneResolution, coupon=None, unsaved=False
) -> PricePreview:
    book = RateBook(partner)
    try:
        slips = service_slips(service, book, explain=True, extras=[] if unsaved else None)
    except PricingError as error:
        return PricePreview(service, zone, [], None, error=error.message, coupon=coupon)
    provider = service.provider if service.provider_id else None
    lines = [_line(slip, _source(slip, service, book), customer, provider) for slip in slips]
    return PricePreview(service, zone, lines, _totals(slips), coupon=coupon)


def service_preview(*, service: Service) -> PricePreview:
    """Price a saved service as it stands (its zone, coupon and extras included)."""
    service = (
        Service.objects.select_related(
            "partner", "request__customer__zone", "service_type", "provider", "zone", "coupon"
        )
        .prefetch_related("extras")
        .get(pk=service.pk)
    )
    customer = service.request.customer
    if service.zone_id is None and customer.zone_id is not None:  # the engine falls back on the customer's zone
        zone = ZoneResolution(customer.zone, Service.ZoneSource.CUSTOMER)
    else:
        zone = service_zone_explain(service)
    return _price(service, partner=service.partner, customer=customer, zone=zone, coupon=service.coupon)


def typed_preview(
    *,
    partner: Partner,
    service_type: ServiceType,
    customer: Customer,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    provider: Provider | None = None,
    country: str = "",
    region: str = "",
    postal_code: str = "",
    zone: Zone | None = None,
    prep_minutes: int = 0,
    mileage: Decimal = Decimal(0),
    tolls_units: int = 0,
    coupon_code: str = "",
) -> PricePreview:
    """Price a service that is not saved: built in memory from what was typed, never written. A coupon code is
    checked as a booking would check it (``BillingRuleError`` on the ``coupon`` field when it may not be used)
    and not redeemed."""
    request = ServiceRequest(partner=partner, customer=customer, title="Price preview")
    service = Service(
        partner=partner,
        request=request,
        service_type=service_type,
        provider=provider,
        starts_at=starts_at,
        ends_at=ends_at,
        country=(country or "").strip().upper(),
        region=(region or "").strip().upper(),
        postal_code=(postal_code or "").strip(),
        prep_minutes=prep_minutes or 0,
        mileage=mileage or Decimal(0),
        tolls_units=tolls_units or 0,
    )
    resolution = zone_resolve(
        partner=partner,
        country=service.country,
        region=service.region,
        postal_code=service.postal_code,
        customer=customer,
        chosen=zone,
    )
    service.zone, service.zone_source = resolution.zone, resolution.source
    on_date = timezone.localtime(starts_at, partner.tzinfo).date()
    coupon = coupon_for_code(
        partner=partner, code=coupon_code, customer=customer, on_date=on_date, service_type_ids=[service_type.pk]
    )
    service.coupon = coupon
    return _price(service, partner=partner, customer=customer, zone=resolution, coupon=coupon, unsaved=True)
