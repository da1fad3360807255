"""The shapes of the demo's data tables (``demo.northwind``, ``demo.bluefin``) and the words both partners share.

Amounts are integer cents, quantities and rates strings (made Decimal where they are used), as in the models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# (slip type, service type code or None, {schedule: (bill, pay)}), in cents per hour / per mile / flat;
# schedule "" for slips with no schedule (mileage, booking fee).
RateRow = tuple[str, str | None, Mapping[str, tuple[int, int]]]


@dataclass(frozen=True)
class CustomerSpec:
    """A customer of a demo partner, and the requests it makes."""

    name: str
    domain: str  # of its e-mail addresses
    address: str
    zone: str  # a zone name of its partner
    method: str  # Customer.PaymentMethod value
    terms: int | None  # payment terms in days; None: "no payment" terms
    schedule: str  # Customer.invoicing_schedule value
    requests: int  # how many requests in the history
    topics: tuple[str, ...]  # keys of TOPICS its requests are about
    types: tuple[str, ...]  # service type codes its requests use
    contacts: int  # billing contacts: the first is the default, the first two receive invoices
    mode: str = "grouped"  # expense-code mode
    labels: tuple[str, ...] = ()  # expense-code labels; if ``require``, the first one is required
    codes: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)  # per label: a pool, or "X-{n}"
    defaults: tuple[tuple[str, str], ...] = ()  # (label, value) applied to every new request
    require: bool = False
    recurring: bool = False  # allows recurring bookings
    auto_invoice: bool = True  # a portal booking is invoiced at once (off: it gets a quote)
    discount: str = "0"  # percent


@dataclass(frozen=True)
class ManualInvoiceSpec:
    """A manual invoice of typed lines (description, quantity, unit price), taxed at its customer's zone's rate."""

    customer: str
    lines: tuple[tuple[str, str, int], ...]
    notes: str
    discount_units: int = 0
    days_ago: int = 0  # issued that many days before today


@dataclass(frozen=True)
class AdjustmentSpec:
    """A slip added to a proforma before it is invoiced (``invoicing.manual.slip_add_adjustment``)."""

    kind: str
    description: str
    amount_units: int
    pay_amount_units: int


@dataclass(frozen=True)
class PartnerSpec:
    """A demo partner: its company details, price lists, customers, providers, and the story its invoices tell."""

    slug: str
    name: str
    legal_name: str
    address: str
    tax_id: str
    email: str
    phone: str
    prefixes: tuple[str, str, str]  # AR, AP, proforma
    area: str  # telephone area code
    issue_generated_invoices: bool
    company: Mapping[str, str]  # company settings (customers.company.company_settings_update's keywords)
    logo: tuple[str, str, str]  # file name, initials, colour
    zones: tuple[tuple[str, str, str, int], ...]  # name, tax rate, price multiplier, surcharge
    service_types: tuple[tuple[str, str], ...]  # code, name
    rates: tuple[RateRow, ...]
    customer_rates: tuple[tuple[str, str | None, str, int], ...]  # customer, service type, schedule, bill
    provider_rates: tuple[tuple[str, str | None, str, int], ...]  # provider, service type, schedule, pay
    customer_policies: tuple[tuple[str, str, int], ...]  # customer, minimum hours, rounding minutes
    coupons: tuple[tuple[str, str | None, int | None], ...]  # code, percent off, amount off
    providers: tuple[tuple[str, int, str], ...]  # name, payment terms, address
    languages: tuple[str, ...]  # interpreting languages (request titles); () for field services
    remote_zone: str | None  # the zone of remote (video) services, if any
    tolls: tuple[int, float]  # toll amount, share of services that pay it
    mileage: tuple[int, int]  # miles driven, lowest and highest
    extras: tuple[tuple[str, str, str, int, int], ...]  # kind, description, quantity, bill, pay
    extras_share: float  # share of services with an extra
    cancel_reason: str
    customers: tuple[CustomerSpec, ...]
    proforma_adjustment: AdjustmentSpec
    late_credit_reason: str  # the goodwill credit on a draft under review
    service_code: str  # the one-off cost center put on a single service
    manual_invoice: ManualInvoiceSpec
    manual_invoice_is_deposit: bool  # partly paid (else paid, and a duplicate of it issued and voided)
    manual_draft: ManualInvoiceSpec | None = None  # a manual invoice left as a draft
    void_and_reissue: bool = False  # an invoice sent with the wrong PO is voided and its services re-invoiced
    region: str = ""  # the state whose public holidays apply too (with the country's: Partner.country is US)
    zone_areas: tuple[tuple[str, str, str, str], ...] = ()  # zone, country, region, postal pattern
    provider_policies: tuple[tuple[str, str, int], ...] = ()  # provider, minimum hours, rounding minutes
    own_holiday: tuple[int, int, str] | None = None  # month, day, name: a day off of the partner's own
    coupon_limits: Mapping[str, tuple[int | None, int | None]] = field(
        default_factory=dict
    )  # code: total, per customer
    shared_bill: bool = False  # another customer pays half of an invoice through a child invoice


# The customer whose portal quote staff turn into an invoice (quote_convert); the others' quotes stay open.
QUOTE_CONVERTED_CUSTOMER = "Pacific Crest Insurance"

# Patients' care that Pacific Crest Insurance agrees to pay half of: the child invoice's parent is one of these.
SHARED_BILL_CUSTOMERS = (
    "Redwood Valley Hospital",
    "Harborview Medical Center",
    "Mission Bay Rehabilitation",
    "Summit Orthopedic Group",
    "Fremont Dialysis Partners",
)
SHARED_BILL_PAYER = "Pacific Crest Insurance"

TOPICS = {
    "medical": (
        "cardiology follow-up",
        "pre-operative consultation",
        "discharge instructions",
        "oncology appointment",
        "pediatric well visit",
        "physical therapy session",
        "informed consent review",
        "maternity ward rounds",
        "mental health intake",
        "dialysis care conference",
    ),
    "legal": (
        "deposition",
        "arraignment hearing",
        "attorney-client meeting",
        "mediation session",
        "custody hearing",
        "tenant rights clinic",
        "witness interview",
    ),
    "education": ("IEP meeting", "parent-teacher conference", "kindergarten enrollment night", "school board meeting"),
    "community": ("benefits workshop", "community information session", "job fair", "library story time"),
    "claims": ("claims interview", "recorded statement", "independent medical exam"),
    "inspection": (
        "Quarterly fire suppression inspection",
        "Boiler safety inspection",
        "Backflow preventer test",
        "Forklift safety inspection",
        "Dock crane inspection",
        "Cold storage compliance check",
    ),
    "maintenance": (
        "HVAC preventive maintenance",
        "Refrigeration unit service",
        "Generator load test and service",
        "Pump station maintenance",
        "Rooftop unit filter change",
        "Walk-in freezer defrost service",
    ),
}

FIRST_NAMES = (
    "Alicia", "Brian", "Carmen", "Daniel", "Elena", "Frank", "Gloria", "Henry", "Irene", "James", "Karen", "Luis",
    "Monica", "Nathan", "Olivia", "Patrick", "Rosa", "Steven", "Teresa", "Victor", "Wendy", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Alvarez", "Bennett", "Castillo", "Donovan", "Estrada", "Fischer", "Gallagher", "Hoang", "Ibrahim", "Jensen",
    "Kowalski", "Lindqvist", "Moreno", "Novak", "O'Brien", "Patel", "Quintero", "Russo", "Sullivan", "Tanaka",
)  # fmt: skip
