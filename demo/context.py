"""What the demo's steps share while it loads: the run (``DemoSeed``) and what each partner has so far.

The data is deterministic: one ``random.Random(SEED)`` draws every choice, in the same order on every run, and
everything is dated relative to ``today``. Invoices are issued through a timeline of dated events (``events``),
run in date order so that numbers follow dates; payments are planned meanwhile and recorded after (``payments``).
"""

from __future__ import annotations

import datetime
import functools
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.utils import timezone

from customers.models import Customer, Partner, Provider
from expense_codes.models import ExpenseCodeLabel
from invoicing.models import ExtraOffer, Invoice, Proforma, Quote, Service, ServiceExtra, ServiceType, Zone

from .specs import FIRST_NAMES, LAST_NAMES, CustomerSpec, PartnerSpec

SEED = 42
HISTORY_DAYS = 90


class Event(NamedTuple):
    """A dated step of the timeline, run in (day, order, seq) order."""

    day: datetime.date
    order: int  # 0: issues; 1: what follows an issue on the same day (a void, a child invoice)
    seq: int
    run: Callable[[], object]


class PlannedPayment(NamedTuple):
    day: datetime.date
    seq: int
    invoice_id: int
    amount_units: int | None  # None: the balance at the time
    method: str
    reference: str
    user: object


@dataclass
class PartnerData:
    """A demo partner and what has been made for it so far, by name where the data tables name it."""

    spec: PartnerSpec
    partner: Partner
    zones: dict[str, Zone] = field(default_factory=dict)
    types: dict[str, ServiceType] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    labels: dict[int, dict[str, ExpenseCodeLabel]] = field(default_factory=dict)  # per customer id, by name
    holidays: list[datetime.date] = field(default_factory=list)
    offers: dict[str, ExtraOffer] = field(default_factory=dict)
    admin: object = None
    clerk: object = None
    services: list[Service] = field(default_factory=list)  # past services, to publish
    requests_by_customer: dict[int, list] = field(default_factory=lambda: defaultdict(list))
    extras: list[ServiceExtra] = field(default_factory=list)  # written when the requests are all made
    requests_created_at: dict[int, datetime.datetime] = field(default_factory=dict)  # idem
    quotes: list[tuple[CustomerSpec, Quote]] = field(default_factory=list)
    proformas: list[Proforma] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.spec.slug

    def partner_time(self):
        """Run the partner's steps in its time zone: its services are at 9:00 and 18:00 where it works."""
        return timezone.override(self.partner.tzinfo)


@dataclass
class DemoSeed:
    """One load of the demo data (``demo.seed.seed_demo`` returns it: ``today`` and ``notes`` are for the user)."""

    today: datetime.date
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    code_counter: int = 10400  # the last number given to a "{n}" expense code
    password_hash: str = ""
    users: dict[str, object] = field(default_factory=dict)  # by username
    partners: dict[str, PartnerData] = field(default_factory=dict)  # by slug
    events: list[Event] = field(default_factory=list)
    payments: list[PlannedPayment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def days_ago(self, n: int) -> datetime.date:
        return self.today - datetime.timedelta(days=n)

    def phone(self, area: str) -> str:
        return f"({area}) 555-01{self.rng.randint(0, 99):02d}"

    def person(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def event(self, day: datetime.date, order: int, fn: Callable, *args, **kwargs) -> None:
        """Plan ``fn(*args, **kwargs)`` on ``day``. Its ``seq`` is the queue's length, as it has always been: the
        order of same-day events, and so the demo's numbers, stay the same from one version to the next."""
        self.events.append(Event(day, order, len(self.events), functools.partial(fn, *args, **kwargs)))

    def payment(
        self, day: datetime.date, invoice: Invoice, amount_units: int | None, method: str, reference: str, user
    ) -> None:
        """Plan a payment (recorded after every issue, in date order); never dated after today.
        ``amount_units`` None: the balance at the time."""
        seq = len(self.payments)
        self.payments.append(
            PlannedPayment(min(day, self.today), seq, invoice.pk, amount_units, method, reference, user)
        )
