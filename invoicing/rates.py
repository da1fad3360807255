"""Pricing a service with its partner's rates: the rates, time policies and holidays loaded once (``RateBook``)
and a service priced into unsaved slips with them (``service_slips``).

Proforma generation (``invoicing.proformas``) saves those slips; a quote (``invoicing.booking``) only shows
them.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import holidays

from octoo_billing.money import percent_of

from .coupons import CouponScope, coupon_applies, coupon_scope, coupon_slips
from .errors import PricingError
from .models import Coupon, Holiday, Rate, Service, Slip, TimePolicy
from .pricing import slip_price
from .schedules import apply_time_policy, hours, split_by_pay_schedule

RATE_STEP = Decimal("0.0001")
WORKED_KEPT = 10_000  # distinct (start, end) splits a RateBook keeps
FOUND_KEPT = 50_000  # distinct rate look-ups a RateBook keeps


class HolidayCalendar:
    """The days priced at the holiday rate: the partner's own holidays and, unless it turned them off, the public
    holidays of its country and region (the ``holidays`` package). ``day in calendar`` is a set lookup once a
    day has been asked about."""

    def __init__(self, partner, own: dict[datetime.date, str]):
        self.own = own
        self.public = None
        if partner.public_holidays and partner.country:
            try:
                self.public = holidays.country_holidays(partner.country, subdiv=partner.region or None)
            except NotImplementedError:  # a country or region the package does not know: own dates only
                self.public = None
        self._seen: dict[datetime.date, bool] = {}

    def __contains__(self, day: datetime.date) -> bool:
        known = self._seen.get(day)
        if known is None:
            known = self._seen[day] = day in self.own or (self.public is not None and day in self.public)
        return known

    def name(self, day: datetime.date) -> str:
        if day in self.own:
            return self.own[day]
        return (self.public.get(day) if self.public is not None else None) or ""


def public_holidays_supported(country: str, region: str = "") -> str:
    """Why the ``holidays`` package cannot give this country's (and region's) public holidays; empty when it can."""
    try:
        holidays.country_holidays(country, subdiv=region or None)
    except NotImplementedError:
        if region:
            return f"No public holidays are known for region {region} of {country}: check its code."
        return f"No public holidays are known for country {country}: use its two-letter ISO code."
    return ""


class RateBook:
    """A partner's rates, time policies, holidays and coupons, loaded once and looked up in memory.

    Bill side precedence: customer + service type, customer, service type, default.
    Pay side precedence: provider + service type, provider, service type, default.
    Time policies: the customer's prices the bill side, the provider's the pay side, the default either side
    that has none (seed 003: policies apply to the service, provider and customer).
    """

    PRECEDENCE = {
        "bill": ("customer + service type", "customer", "service type", "default"),
        "pay": ("provider + service type", "provider", "service type", "default"),
    }

    def __init__(self, partner):
        self.partner = partner
        self.rates: dict[tuple, Rate] = {}
        for rate in Rate.objects.filter(partner=partner):
            key = (rate.slip_type, rate.pay_schedule, rate.service_type_id, rate.customer_id, rate.provider_id)
            self.rates[key] = rate
        self.policies = {(p.customer_id, p.provider_id): p for p in TimePolicy.objects.filter(partner=partner)}
        own = dict(Holiday.objects.filter(partner=partner).values_list("date", "name"))
        self.holidays = HolidayCalendar(partner, own)
        self._coupons: dict[int, tuple[Coupon, CouponScope]] = {}
        self._worked: dict[tuple, OrderedDict[str, int]] = {}
        self._found: dict[tuple, tuple[Rate | None, str]] = {}

    def worked(self, starts_at: datetime.datetime, ends_at: datetime.datetime) -> OrderedDict[str, int]:
        """The minutes worked under each pay schedule (``schedules.split_by_pay_schedule``), split once per distinct
        start and end: a sweep prices many services of the same hours. Shared: read it, never change it."""
        key = (starts_at, ends_at)
        found = self._worked.get(key)
        if found is None:
            if len(self._worked) >= WORKED_KEPT:  # a bound on memory over a long sweep
                self._worked.clear()
            found = self._worked[key] = split_by_pay_schedule(
                starts_at, ends_at, partner=self.partner, holidays=self.holidays
            )
        return found

    def find(self, side: str, slip_type: str, schedule: str, service_type_id, party_id) -> tuple[Rate | None, str]:
        """The rate row that prices ``side`` ("bill" or "pay") and which precedence level it matched at (looked up
        once per distinct question: a sweep asks the same ones for every service of a customer)."""
        key = (side, slip_type, schedule, service_type_id, party_id)
        found = self._found.get(key)
        if found is None:
            if len(self._found) >= FOUND_KEPT:  # a bound on memory over a long sweep
                self._found.clear()
            found = self._found[key] = self._lookup(side, slip_type, schedule, service_type_id, party_id)
        return found

    def _lookup(self, side: str, slip_type: str, schedule: str, service_type_id, party_id) -> tuple[Rate | None, str]:
        attr = "bill_rate_units" if side == "bill" else "pay_rate_units"
        own, of_party, of_type, default = self.PRECEDENCE[side]
        candidates = []
        if party_id is not None:
            if service_type_id is not None:
                candidates.append((service_type_id, party_id, own))
            candidates.append((None, party_id, of_party))
        if service_type_id is not None:
            candidates.append((service_type_id, None, of_type))
        candidates.append((None, None, default))
        for st, party, level in candidates:
            key = (slip_type, schedule, st, party if side == "bill" else None, party if side == "pay" else None)
            rate = self.rates.get(key)
            if rate is not None and getattr(rate, attr) is not None:
                return rate, level
        return None, ""

    def _find(self, side: str, slip_type: str, schedule: str, service_type_id, party_id):
        rate, _ = self.find(side, slip_type, schedule, service_type_id, party_id)
        if rate is None:
            return None
        return rate.bill_rate_units if side == "bill" else rate.pay_rate_units

    def rate(self, slip_type: str, schedule: str, *, service_type_id, customer_id, provider_id) -> tuple:
        bill = self._find("bill", slip_type, schedule, service_type_id, customer_id)
        pay = self._find("pay", slip_type, schedule, service_type_id, provider_id)
        return bill, pay

    def policies_for(self, customer_id, provider_id) -> tuple[TimePolicy | None, TimePolicy | None]:
        """The bill side's policy (the customer's, else the default) and the pay side's (the provider's, else
        the default)."""
        default = self.policies.get((None, None))
        bill = self.policies.get((customer_id, None)) or default
        pay = (self.policies.get((None, provider_id)) if provider_id else None) or default
        return bill, pay

    def coupon(self, coupon_id: int) -> tuple[Coupon, CouponScope]:
        """The coupon and its scope, loaded once per coupon however many services use it."""
        found = self._coupons.get(coupon_id)
        if found is None:
            coupon = Coupon.objects.get(pk=coupon_id)
            found = self._coupons[coupon_id] = (coupon, coupon_scope(coupon))
        return found


def _times(rate, multiplier) -> Decimal:
    """A rate times a multiplier, at the four decimal places a rate is stored with."""
    if multiplier == 1:
        return rate
    return (rate * multiplier).quantize(RATE_STEP, rounding=ROUND_HALF_UP)


@dataclass
class SlipSource:
    """How a slip was priced, for the "price this service" preview: the rate rows and precedence levels of each
    side, the time policy of each side and the actual hours."""

    bill_rate: Rate | None = None
    bill_level: str = ""
    pay_rate: Rate | None = None
    pay_level: str = ""
    bill_policy: TimePolicy | None = None
    pay_policy: TimePolicy | None = None
    worked_hours: Decimal | None = None
    note: str = ""


def service_slips(
    service: Service, book: RateBook, *, explain: bool = False, extras=None, customer=None, line=Slip
) -> list[Slip]:
    """Price a service into slips (not saved). Raises PricingError when a needed rate is missing.

    Seed 001's order: the lines from the service and its cart, the zone's price rule (multiplier on the service
    rate, surcharge line), discounts (the customer's subscription discount on each line, then the coupon's own
    line), and tax from the zone of the service address on what is left. Each time side follows its own policy.
    With ``explain`` each slip carries ``source`` (a ``SlipSource``). ``extras`` replaces the service's own (a
    service built in memory for a preview has none to query).

    The sweep (``invoicing.proformas``) prices plain rows instead of model instances: ``service`` is then any
    object with the attributes read here (``SweptService``), ``customer`` its customer (instead of
    ``service.request.customer``) and ``line`` ``pricing.PricedSlip`` (instead of ``Slip``): the same values."""
    customer = service.request.customer if customer is None else customer
    zone = service.zone or customer.zone
    tax_rate = zone.tax_rate if zone else Decimal(0)
    multiplier = zone.price_multiplier if zone else Decimal(1)
    ids = {"service_type_id": service.service_type_id, "customer_id": customer.pk, "provider_id": service.provider_id}
    discount_percent = customer.discount_percent or Decimal(0)
    coupon, scope = book.coupon(service.coupon_id) if service.coupon_id else (None, None)
    slips: list[Slip] = []
    eligible: list[Slip] = []

    def add(slip_type, description, quantity, bill, pay, *, schedule="", taxed=True, discounted=True, **extra):
        slip = line(
            partner_id=service.partner_id,
            slip_type=slip_type,
            pay_schedule=schedule,
            description=description,
            quantity=quantity,
            pay_quantity=extra.get("pay_quantity"),
            bill_rate_units=bill,
            pay_rate_units=pay,
            tax_rate=tax_rate if taxed else 0,
            position=len(slips) + 1,
        )
        slip_price(slip)
        if discounted and discount_percent:
            slip.line_discount_units = percent_of(slip.bill_amount_units, discount_percent)
            slip_price(slip)
        if explain:
            slip.source = extra.get("source") or SlipSource()
        key = extra.get("coupon_key", {})  # None: never discounted by a coupon (the zone surcharge)
        if coupon is not None and key is not None and coupon_applies(scope, slip, **key):
            eligible.append(slip)
        slips.append(slip)

    def priced(slip_type, schedule, what):
        bill, bill_level = book.find("bill", slip_type, schedule, service.service_type_id, customer.pk)
        if bill is None:
            raise PricingError(
                f"No {schedule + ' ' if schedule else ''}{what} bill rate for {customer} ({service.service_type})."
            )
        pay, pay_level = book.find("pay", slip_type, schedule, service.service_type_id, service.provider_id)
        if pay is None and service.provider_id is not None:
            raise PricingError(f"No {schedule + ' ' if schedule else ''}{what} pay rate for {service.provider}.")
        source = SlipSource(bill, bill_level, pay, pay_level) if explain else None
        return bill.bill_rate_units, pay.pay_rate_units if pay is not None else Decimal(0), source

    worked = book.worked(service.starts_at, service.ends_at)
    bill_policy, pay_policy = book.policies_for(customer.pk, service.provider_id)
    bill_minutes = apply_time_policy(worked, bill_policy)
    pay_minutes = apply_time_policy(worked, pay_policy)
    time_key = {"coupon_key": {"service_type_id": service.service_type_id}}
    for schedule, mins in bill_minutes.items():
        if mins <= 0:
            continue
        bill, pay, source = priced("service", schedule, "service")
        if bill_policy is not None:
            bill = _times(bill, bill_policy.multiplier(schedule))
        if pay_policy is not None:
            pay = _times(pay, pay_policy.multiplier(schedule))
        quantity, pay_quantity = hours(mins), hours(pay_minutes[schedule])
        if source is not None:
            source.bill_policy, source.pay_policy = bill_policy, pay_policy
            source.worked_hours = hours(worked[schedule])
        add(
            Slip.Type.SERVICE,
            f"{service.service_type} – {schedule} ({quantity.normalize():f} h)",
            quantity,
            _times(bill, multiplier),
            pay,
            schedule=schedule,
            pay_quantity=None if pay_quantity == quantity else pay_quantity,
            source=source,
            **time_key,
        )
    if service.prep_minutes:
        schedule = next(iter(worked), "weekday")
        bill, pay, source = priced("prep_time", schedule, "prep time")
        add(
            Slip.Type.PREP_TIME,
            f"Prep time ({service.prep_minutes} min)",
            hours(service.prep_minutes),
            bill,
            pay,
            schedule=schedule,
            source=source,
            **time_key,
        )
    if service.mileage:
        bill, pay, source = priced("mileage", "", "mileage")
        add(
            Slip.Type.MILEAGE,
            f"Mileage ({service.mileage.normalize():f} mi)",
            service.mileage,
            bill,
            pay,
            discounted=False,
            source=source,
        )
    if service.tolls_units:
        tolls = Decimal(service.tolls_units)
        add(Slip.Type.TOLLS, "Tolls", Decimal(1), tolls, tolls, taxed=False, discounted=False)
    fee_bill, fee_pay = book.rate("booking_fee", "", **ids)
    if fee_bill is not None:
        add(Slip.Type.BOOKING_FEE, "Booking fee", Decimal(1), fee_bill, fee_pay or Decimal(0), discounted=False)
    if zone is not None and zone.surcharge_units:
        surcharge = Decimal(zone.surcharge_units)
        add(Slip.Type.GENERAL, f"Zone surcharge ({zone.name})", Decimal(1), surcharge, Decimal(0), coupon_key=None)
    for extra in service.extras.all() if extras is None else extras:
        slip_type = Slip.Type.REIMBURSEMENT if extra.kind == "reimbursement" else Slip.Type.GENERAL
        add(
            slip_type,
            extra.description,
            extra.quantity,
            extra.bill_rate_units,
            extra.pay_rate_units,
            taxed=slip_type != Slip.Type.REIMBURSEMENT,
            discounted=False,
            coupon_key={"offer_id": extra.offer_id},
        )
    if coupon is not None:
        discounts = coupon_slips(
            coupon,
            eligible,
            partner_id=service.partner_id,
            currency=book.partner.currency,
            position=len(slips) + 1,
            line=line,
        )
        if explain:
            for slip in discounts:
                slip.source = SlipSource(note=f"Coupon {coupon.code}, before tax")
        slips.extend(discounts)
    return slips
