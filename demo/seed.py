"""Loading the demo data set: ``seed_demo()``, in one transaction, once.

Everything billing-related is made through the domain functions (``invoicing.booking``, ``proformas``,
``invoices_from_proformas``, ``lifecycle``, ``payments``, ``manual``), exactly as the office and the worker would
make it: no invoice, proforma or slip is ever written by hand here. The steps, in order: partners with their
price lists and parties; users; three months of requests; the proformas of past services; AR, AP and manual
invoices issued day by day; payments; credit notes and a refund; today's bookings invoiced at once; the history
shown as delivered.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from customers.models import Partner
from invoicing.lifecycle import invoices_mark_overdue

from .bluefin import BLUEFIN
from .bookings import bookings_invoiced_at_once, quotes_create
from .catalogue import (
    coupons_create,
    holidays_create,
    offers_create,
    partner_create,
    rates_create,
    service_types_create,
    time_policies_create,
    zones_create,
)
from .context import DemoSeed, PartnerData
from .credits import credits_create
from .delivery import invoices_mark_sent, seeded_deliveries_discard
from .manual_invoices import manual_plan
from .northwind import NORTHWIND
from .parties import customers_create, providers_create
from .payables import ap_plan
from .people import DEMO_PASSWORD, users_create
from .receivables import ar_plan
from .requests import (
    cancelled_create,
    future_create,
    history_create,
    holiday_shift_create,
    outcomes_publish,
    requests_finish,
    service_codes_apply,
)
from .specs import PartnerSpec
from .timeline import events_run, payments_run

PARTNERS = (NORTHWIND, BLUEFIN)
DEMO_MARKER_SLUG = NORTHWIND.slug  # the first partner: its presence means the demo data is loaded


def demo_loaded() -> bool:
    return Partner.objects.filter(slug=DEMO_MARKER_SLUG).exists()


def demo_today() -> datetime.date:
    """Today where it is earliest among the demo partners: nothing is dated after a partner's own today."""
    return min(timezone.localdate(timezone=zoneinfo.ZoneInfo(spec.company["time_zone"])) for spec in PARTNERS)


def seed_demo(*, today: datetime.date | None = None) -> DemoSeed | None:
    """Load the demo data set in one transaction. Returns None (and changes nothing) if it is already loaded."""
    with transaction.atomic():
        if demo_loaded():
            return None
        seed = DemoSeed(today=today or demo_today())
        seed_run(seed)
    return seed


def seed_run(seed: DemoSeed) -> None:
    """Every step of the demo, in order (the random draws, and so the data, depend on it)."""
    seed.password_hash = make_password(DEMO_PASSWORD)  # hashed once: the same password for every demo user
    for spec in PARTNERS:
        seed.partners[spec.slug] = partner_build(seed, spec)
    users_create(seed)
    partners = list(seed.partners.values())
    for data in partners:
        with data.partner_time():
            requests_create(seed, data)
    for data in partners:
        outcomes_publish(data)
    for data in partners:
        ar_plan(seed, data)
        ap_plan(seed, data)
        manual_plan(seed, data)
    events_run(seed)
    payments_run(seed)
    invoices_mark_overdue(today=seed.today)
    for data in partners:
        with data.partner_time():
            credits_create(data)
            bookings_invoiced_at_once(seed, data)
    invoices_mark_sent(seed)
    seeded_deliveries_discard(partners=[data.partner for data in partners])


def partner_build(seed: DemoSeed, spec: PartnerSpec) -> PartnerData:
    """A partner with its zones, service types, providers, customers, rates, policies, holidays, coupons, extras."""
    data = PartnerData(spec=spec, partner=partner_create(spec))
    zones_create(data)
    service_types_create(data)
    providers_create(seed, data)
    customers_create(seed, data)
    rates_create(data)
    time_policies_create(data)
    holidays_create(seed, data)
    coupons_create(seed, data)
    offers_create(data)
    return data


def requests_create(seed: DemoSeed, data: PartnerData) -> None:
    """The partner's requests: history, bookings to come, a holiday shift, a cancellation, codes, quotes."""
    history_create(seed, data)
    future_create(seed, data)
    holiday_shift_create(seed, data)
    cancelled_create(seed, data)
    service_codes_apply(data)
    quotes_create(seed, data)
    requests_finish(seed, data)
