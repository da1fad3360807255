"""Pricing a service with its partner's rates: the rates, time policies and holidays loaded once (``RateBook``)
and a service priced into unsaved slips with them (``service_slips``).

Proforma generation (``invoicing.proformas``) saves those slips; a quote (``invoicing.booking``) only shows
them.
"""

from __future__ import annotations

from decimal import Decimal

from octoo_billing.money import percent_of

from .errors import PricingError
from .models import Holiday, Rate, Service, Slip, TimePolicy
from .pricing import slip_price
from .schedules import apply_time_policy, hours, split_by_pay_schedule


class RateBook:
    """A partner's rates, time policies and holidays, loaded once and looked up in memory.

    Bill side precedence: customer + service type, customer, service type, default.
    Pay side precedence: provider + service type, provider, service type, default.
    """

    def __init__(self, partner):
        self.partner = partner
        self.rates: dict[tuple, Rate] = {}
        for rate in Rate.objects.filter(partner=partner):
            key = (rate.slip_type, rate.pay_schedule, rate.service_type_id, rate.customer_id, rate.provider_id)
            self.rates[key] = rate
        self.policies = {(p.customer_id, p.provider_id): p for p in TimePolicy.objects.filter(partner=partner)}
        self.holidays = set(Holiday.objects.filter(partner=partner).values_list("date", flat=True))

    def _find(self, side: str, slip_type: str, schedule: str, service_type_id, party_id):
        attr = "bill_rate_units" if side == "bill" else "pay_rate_units"
        for st in (service_type_id, None):
            for party in (party_id, None) if party_id else (None,):
                key = (slip_type, schedule, st, party if side == "bill" else None, party if side == "pay" else None)
                rate = self.rates.get(key)
                if rate is not None and getattr(rate, attr) is not None:
                    return getattr(rate, attr)
        return None

    def rate(self, slip_type: str, schedule: str, *, service_type_id, customer_id, provider_id) -> tuple:
        bill = self._find("bill", slip_type, schedule, service_type_id, customer_id)
        pay = self._find("pay", slip_type, schedule, service_type_id, provider_id)
        return bill, pay

    def policy(self, customer_id, provider_id):
        return (
            self.policies.get((customer_id, None))
            or self.policies.get((None, provider_id))
            or self.policies.get((None, None))
        )


def service_slips(service: Service, book: RateBook) -> list[Slip]:
    """Price a service into slips (not saved). Raises PricingError when a needed rate is missing."""
    customer = service.request.customer
    zone = service.zone or customer.zone
    tax_rate = zone.tax_rate if zone else Decimal(0)
    multiplier = zone.price_multiplier if zone else Decimal(1)
    ids = {"service_type_id": service.service_type_id, "customer_id": customer.pk, "provider_id": service.provider_id}
    discount_percent = customer.discount_percent or Decimal(0)
    slips: list[Slip] = []

    def add(slip_type, description, quantity, bill, pay, schedule="", taxed=True, discounted=True):
        slip = Slip(
            partner_id=service.partner_id,
            slip_type=slip_type,
            pay_schedule=schedule,
            description=description,
            quantity=quantity,
            bill_rate_units=bill,
            pay_rate_units=pay,
            tax_rate=tax_rate if taxed else 0,
            position=len(slips) + 1,
        )
        slip_price(slip)
        if discounted and discount_percent:
            slip.line_discount_units = percent_of(slip.bill_amount_units, discount_percent)
            slip_price(slip)
        slips.append(slip)

    def priced(slip_type, schedule, what):
        bill, pay = book.rate(slip_type, schedule, **ids)
        if bill is None:
            raise PricingError(
                f"No {schedule + ' ' if schedule else ''}{what} bill rate for {customer} ({service.service_type})."
            )
        if pay is None:
            pay = Decimal(0) if service.provider_id is None else None
        if pay is None:
            raise PricingError(f"No {schedule + ' ' if schedule else ''}{what} pay rate for {service.provider}.")
        return bill, pay

    minutes = split_by_pay_schedule(service.starts_at, service.ends_at, partner=book.partner, holidays=book.holidays)
    minutes = apply_time_policy(minutes, book.policy(customer.pk, service.provider_id))
    for schedule, mins in minutes.items():
        if mins <= 0:
            continue
        bill, pay = priced("service", schedule, "service")
        label = f"{service.service_type} – {schedule} ({hours(mins).normalize():f} h)"
        add(Slip.Type.SERVICE, label, hours(mins), bill * multiplier, pay, schedule=schedule)
    if service.prep_minutes:
        schedule = next(iter(minutes), "weekday")
        bill, pay = priced("prep_time", schedule, "prep time")
        add(
            Slip.Type.PREP_TIME,
            f"Prep time ({service.prep_minutes} min)",
            hours(service.prep_minutes),
            bill,
            pay,
            schedule=schedule,
        )
    if service.mileage:
        bill, pay = priced("mileage", "", "mileage")
        add(
            Slip.Type.MILEAGE,
            f"Mileage ({service.mileage.normalize():f} mi)",
            service.mileage,
            bill,
            pay,
            discounted=False,
        )
    if service.tolls_units:
        add(
            Slip.Type.TOLLS,
            "Tolls",
            Decimal(1),
            Decimal(service.tolls_units),
            Decimal(service.tolls_units),
            taxed=False,
            discounted=False,
        )
    fee_bill, fee_pay = book.rate("booking_fee", "", **ids)
    if fee_bill is not None:
        add(Slip.Type.BOOKING_FEE, "Booking fee", Decimal(1), fee_bill, fee_pay or Decimal(0), discounted=False)
    if zone is not None and zone.surcharge_units:
        add(Slip.Type.GENERAL, f"Zone surcharge ({zone.name})", Decimal(1), Decimal(zone.surcharge_units), Decimal(0))
    for extra in service.extras.all():
        slip_type = Slip.Type.REIMBURSEMENT if extra.kind == "reimbursement" else Slip.Type.GENERAL
        add(
            slip_type,
            extra.description,
            extra.quantity,
            extra.bill_rate_units,
            extra.pay_rate_units,
            taxed=slip_type != Slip.Type.REIMBURSEMENT,
            discounted=False,
        )
    return slips
