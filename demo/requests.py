"""Requests and their services, through the one way in (``invoicing.booking.request_submit``), as the office and
the portal make them: three months of history, a few still to come, a holiday shift and a cancelled booking.

Each past service's outcome (miles, tolls, preparation, extras) is recorded as the crew would report it; publishing
it makes the service's proforma (``outcomes_publish``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from expense_codes.applying import codes_apply
from invoicing.booking import ServiceInput, request_submit
from invoicing.models import Service, ServiceExtra, ServiceRequest
from invoicing.proformas import service_publish_outcome

from .context import HISTORY_DAYS, DemoSeed, PartnerData
from .dates import at
from .people import portal_users
from .specs import TOPICS, CustomerSpec


@dataclass(frozen=True)
class PlannedService:
    """A service to submit, and the outcome the crew will report for it."""

    given: ServiceInput
    mileage: Decimal
    tolls_units: int
    prep_minutes: int
    remote: bool
    future: bool


def request_codes(seed: DemoSeed, c: CustomerSpec, *, always: bool = False) -> list[tuple[str, str]]:
    """The (label, value) codes a request of this customer carries: most requests have some, if it has pools."""
    if not c.codes or not (always or c.require or seed.rng.random() < 0.8):
        return []
    pairs = []
    for label_name, pool in c.codes.items():
        if isinstance(pool, str):
            seed.code_counter += seed.rng.randint(1, 9)
            pairs.append((label_name, pool.format(n=seed.code_counter)))
        else:
            pairs.append((label_name, seed.rng.choice(pool)))
    return pairs


def service_times(seed: DemoSeed, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """Mostly a weekday daytime slot near ``day``; some evenings and weekends; an hour to four."""
    rng = seed.rng
    slot = rng.choice(("day", "day", "day", "day", "evening", "weekend"))
    if slot == "weekend":
        day -= datetime.timedelta(days=(day.weekday() - 5) % 7)  # the Saturday on or before
        day += datetime.timedelta(days=rng.choice((0, 1)))
    elif day.weekday() >= 5:
        day -= datetime.timedelta(days=day.weekday() - 4)  # the Friday before
    if slot == "evening":
        start = at(day, rng.choice((18, 18, 19)), rng.choice((0, 30)))
    else:
        start = at(day, rng.choice((8, 9, 10, 11, 13, 14)), rng.choice((0, 15, 30)))
    minutes = rng.choice((60, 60, 75, 90, 120, 120, 135, 150, 180, 210, 240))
    minutes = min(240, minutes + rng.choice((0, 0, 0, 7, 12)))
    return start, start + datetime.timedelta(minutes=minutes)


def address_parts(address: str) -> tuple[str, str]:
    """(state, postal code) of a demo address whose last line reads "City, ST 12345"."""
    last = (address or "").strip().splitlines()[-1] if (address or "").strip() else ""
    parts = last.rsplit(",", 1)[-1].split()
    return (parts[0], parts[1]) if len(parts) == 2 else ("", "")


def _service_zone(seed: DemoSeed, data: PartnerData, customer) -> tuple[object, bool]:
    """The customer's own zone, sometimes remote (video) or another zone; and whether it is remote."""
    remote_zone = data.spec.remote_zone
    roll = seed.rng.random()
    if remote_zone and roll < 0.15:
        return data.zones[remote_zone], True
    if roll > 0.9:
        zone = seed.rng.choice(list(data.zones.values()))
        return zone, zone.name == remote_zone
    return customer.zone, False


def _service_plan(seed: DemoSeed, data: PartnerData, customer, day: datetime.date, type_code: str) -> PlannedService:
    rng, spec = seed.rng, data.spec
    starts_at, ends_at = service_times(seed, day)
    future = starts_at.date() >= seed.today
    if future and starts_at.date() == seed.today:
        starts_at += datetime.timedelta(days=1)
        ends_at += datetime.timedelta(days=1)
    zone, remote = _service_zone(seed, data, customer)
    region, postal_code = ("", "") if remote else address_parts(customer.address)
    given = ServiceInput(
        service_type=data.types[type_code],
        starts_at=starts_at,
        ends_at=ends_at,
        address="Video remote interpreting (secure link)" if remote else customer.address,
        region=region,
        postal_code=postal_code,
        zone=None if zone == customer.zone else zone,  # the customer's own: found from the address
        provider=rng.choice(list(data.providers.values())),
    )
    low, high = spec.mileage
    toll_units, toll_share = spec.tolls
    mileage = Decimal(0) if remote else Decimal(rng.randint(low, high))
    tolls_units = toll_units if not remote and rng.random() < toll_share else 0
    prep = rng.choice((15, 30, 30, 45)) if type_code == "legal" or rng.random() < 0.15 else 0
    return PlannedService(given, mileage, tolls_units, prep, remote, future)


def _outcome_record(seed: DemoSeed, data: PartnerData, service: Service, planned: PlannedService) -> None:
    """What the crew reported for the service: miles, tolls, preparation and, sometimes, an extra."""
    service.mileage = planned.mileage
    service.tolls_units = planned.tolls_units
    service.prep_minutes = planned.prep_minutes
    service.save(update_fields=["mileage", "tolls_units", "prep_minutes"])
    if not planned.remote and seed.rng.random() < data.spec.extras_share:
        kind, description, quantity, bill, pay = seed.rng.choice(data.spec.extras)
        data.extras.append(
            ServiceExtra(
                service=service,
                offer=data.offers.get(description),
                kind=kind,
                description=description,
                quantity=Decimal(quantity),
                bill_rate_units=Decimal(bill),
                pay_rate_units=Decimal(pay),
            )
        )
    if not planned.future:
        data.services.append(service)


def _title(seed: DemoSeed, data: PartnerData, c: CustomerSpec, title: str | None) -> tuple[str, str]:
    """(service type code, title): a topic of the customer's, in a language for interpreting partners."""
    rng = seed.rng
    type_code = rng.choice(c.types)
    topic = rng.choice(TOPICS[rng.choice(c.topics)])  # drawn even when the title is given
    if title is None:
        title = f"{rng.choice(data.spec.languages)} interpreting – {topic}" if data.spec.languages else topic
    return type_code, title


def request_make(
    seed: DemoSeed,
    data: PartnerData,
    c: CustomerSpec,
    days: list[datetime.date],
    *,
    title: str | None = None,
    source: str = "office",
    status: str = "confirmed",
    codes: list[tuple[str, str]] | None = None,
) -> tuple[ServiceRequest, list[Service]]:
    """A request with a service on each of ``days``, submitted as the office or the portal would."""
    customer = data.customers[c.name]
    type_code, title = _title(seed, data, c, title)
    recurring = len(days) > 2 and days[1] - days[0] == datetime.timedelta(days=7)
    pairs = request_codes(seed, c) if codes is None else codes
    first = min(days, default=seed.today)
    planned = [_service_plan(seed, data, customer, day, type_code) for day in days]
    request = request_submit(
        customer=customer,
        user=portal_users(seed).get(customer.name) if source == "portal" else data.clerk,
        source=source,
        title=title,
        description=f"{title} at {customer.name}.",
        services=[p.given for p in planned],
        codes=pairs,
        is_recurring=recurring,
        status=status,
        book=False,
    )
    days_before = seed.rng.randint(3, 12)
    data.requests_created_at[request.pk] = at(first - datetime.timedelta(days=days_before), 10, 5)
    services = list(request.services.order_by("pk"))
    for service, plan in zip(services, planned, strict=True):
        _outcome_record(seed, data, service, plan)
    return request, services


def history_create(seed: DemoSeed, data: PartnerData) -> None:
    """Each customer's requests of the last three months: single visits, pairs, weekly series."""
    users = portal_users(seed)
    for c in data.spec.customers:
        customer = data.customers[c.name]
        for _ in range(c.requests):
            first = seed.days_ago(seed.rng.randint(1, HISTORY_DAYS - 3))
            shape = seed.rng.random()
            if shape < 0.25:  # recurring weekly sessions; the last ones may still be ahead
                days = [first + datetime.timedelta(weeks=w) for w in range(3)]
            elif shape < 0.6:
                days = [first + datetime.timedelta(days=d) for d in sorted(seed.rng.sample(range(0, 9), 2))]
            else:
                days = [first]
            source = "portal" if c.name in users and seed.rng.random() < 0.5 else "office"
            request, _ = request_make(seed, data, c, days, source=source)
            data.requests_by_customer[customer.pk].append(request)


def future_create(seed: DemoSeed, data: PartnerData) -> None:
    """A few bookings still to come, and a weekly recurring booking (seed 002) for each customer allowed them."""
    for c in seed.rng.sample(data.spec.customers, 4):
        request_make(seed, data, c, [seed.today + datetime.timedelta(days=seed.rng.randint(2, 21))])
    for c in [c for c in data.spec.customers if c.recurring]:
        customer = data.customers[c.name]
        type_code, title = _title(seed, data, c, None)
        plan = _service_plan(seed, data, customer, seed.today + datetime.timedelta(days=3), type_code)
        request_submit(
            customer=customer,
            user=data.clerk,
            title=f"Weekly: {title}",
            services=[plan.given],
            codes=request_codes(seed, c, always=True),
            status="confirmed",
            book=False,
            repeat=ServiceRequest.Repeat.WEEKLY,
            repeat_count=8,
            recurring_invoicing=ServiceRequest.RecurringInvoicing.EACH,
        )


def holiday_shift_create(seed: DemoSeed, data: PartnerData) -> None:
    """A holiday shift, the most recent past holiday's: holiday rates apply."""
    past_holidays = [d for d in data.holidays if d < seed.today - datetime.timedelta(days=1)]
    if not past_holidays:
        return
    day = past_holidays[-1]
    request, services = request_make(seed, data, data.spec.customers[0], [day])
    for service in services:  # pin it to the holiday (daytime), whatever slot was drawn
        service.starts_at, service.ends_at = at(day, 9, 0), at(day, 12, 30)
        service.save(update_fields=["starts_at", "ends_at"])
        if service not in data.services:
            data.services.append(service)
    request.title = f"{request.title} (holiday coverage)"
    request.save(update_fields=["title"])


def cancelled_create(seed: DemoSeed, data: PartnerData) -> None:
    """A cancelled booking: no proforma, nothing to bill."""
    _, services = request_make(seed, data, data.spec.customers[1], [seed.days_ago(20)], status="cancelled")
    for service in services:
        service.status = "cancelled"
        service.notes = data.spec.cancel_reason
        service.save(update_fields=["status", "notes"])
        if service in data.services:
            data.services.remove(service)


def service_codes_apply(data: PartnerData) -> None:
    """Seed 000: "you can also add a separate expense code for every service": one service of each customer with
    auto-applied codes, grouped invoices and several labels gets its own cost center."""
    for c in data.spec.customers:
        if not (c.defaults and c.mode == "grouped" and len(c.labels) > 1):
            continue
        customer = data.customers[c.name]
        label = data.labels[customer.pk].get("Cost center")
        request = data.requests_by_customer[customer.pk][0]
        for service in [s for s in data.services if s.request_id == request.pk][:1]:
            codes_apply(
                pairs=[("Cost center", data.spec.service_code)],
                label_ids={"Cost center": label.pk} if label else {},
                service=service,
            )


def requests_finish(seed: DemoSeed, data: PartnerData) -> None:
    """The extras the crews reported, and each request's creation date (days before its first service)."""
    ServiceExtra.objects.bulk_create(data.extras)
    for pk, when in data.requests_created_at.items():
        ServiceRequest.objects.filter(pk=pk).update(created_at=min(when, at(seed.today, 0, 0)))


def outcomes_publish(data: PartnerData) -> None:
    """The crew checked out: publishing each past service's outcome makes its proforma (seed 003)."""
    for service in sorted(data.services, key=lambda s: s.starts_at):
        proforma = service_publish_outcome(service=service, user=data.clerk, checked_out_at=service.ends_at)
        data.proformas.append(proforma)
