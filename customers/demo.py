"""The demo data set: two partners with customers, providers, rates, requests, proformas and invoices in every status.

``manage.py seed_demo`` loads it once (it recognises an existing load by the first partner's slug) in one
transaction, and ``manage.py demo_logins`` prints who can sign in. Everything billing-related is made through
the domain functions (invoicing.generation, lifecycle, payments, manual), exactly as the office and the worker
would make it: no invoice, proforma or slip is ever written by hand here.

The data is deterministic (``random.Random(42)``, fixed names) and dated relative to today: three months of
history, a few services still to come.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

DEMO_PASSWORD = "demo12345"
DEMO_CARD_NUMBER = "4242424242424242"  # the simulated gateway's test card that is always charged
DEMO_MARKER_SLUG = "northwind"  # the first partner: its presence means the demo data is loaded
SEED = 42
HISTORY_DAYS = 90


# --------------------------------------------------------------------------------------------------
# Demo users (the one list both commands use)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    lands_on: str
    first_name: str
    last_name: str
    partner_slug: str = ""
    staff_role: str = ""  # StaffMembership.Role value, for partner staff
    customer_name: str = ""  # for customer (portal) users
    can_manage_expense_codes: bool = False
    superuser: bool = False

    @property
    def email(self) -> str:
        return f"{self.username}@demo.octoo.example"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Platform admin (superuser)", "/admin/", "Ada", "Okonkwo", superuser=True),
    DemoUser(
        "northwind.admin",
        "Billing admin – Northwind Interpreting",
        "/office/",
        "Nora",
        "Whitfield",
        partner_slug="northwind",
        staff_role="billing_admin",
    ),
    DemoUser(
        "northwind.clerk",
        "Billing clerk – Northwind Interpreting",
        "/office/",
        "Calvin",
        "Reyes",
        partner_slug="northwind",
        staff_role="billing_clerk",
    ),
    DemoUser(
        "bluefin.admin",
        "Billing admin – Bluefin Field Services",
        "/office/",
        "Beatrice",
        "Lowell",
        partner_slug="bluefin",
        staff_role="billing_admin",
    ),
    DemoUser(
        "bluefin.clerk",
        "Billing clerk – Bluefin Field Services",
        "/office/",
        "Felix",
        "Marchetti",
        partner_slug="bluefin",
        staff_role="billing_clerk",
    ),
    DemoUser(
        "harborview.ap",
        "Customer user – Harborview Medical Center (manages expense codes)",
        "/portal/",
        "Helen",
        "Park",
        partner_slug="northwind",
        customer_name="Harborview Medical Center",
        can_manage_expense_codes=True,
    ),
    DemoUser(
        "summit.frontdesk",
        "Customer user – Summit Orthopedic Group",
        "/portal/",
        "Sam",
        "Ortiz",
        partner_slug="northwind",
        customer_name="Summit Orthopedic Group",
    ),
    DemoUser(
        "lakeshore.office",
        "Customer user – Lakeshore Legal Aid (bookings get a quote)",
        "/portal/",
        "Lena",
        "Brooks",
        partner_slug="northwind",
        customer_name="Lakeshore Legal Aid",
    ),
    DemoUser(
        "cascobay.ap",
        "Customer user – Casco Bay Ferries (manages expense codes)",
        "/portal/",
        "Martha",
        "Quinby",
        partner_slug="bluefin",
        customer_name="Casco Bay Ferries",
        can_manage_expense_codes=True,
    ),
)


def demo_loaded() -> bool:
    from customers.models import Partner

    return Partner.objects.filter(slug=DEMO_MARKER_SLUG).exists()


def demo_logins_rows() -> list[tuple[str, str, str, str]]:
    """(username, password, role, lands on) for the demo users that exist."""
    from django.contrib.auth import get_user_model

    existing = set(
        get_user_model()
        .objects.filter(username__in=[u.username for u in DEMO_USERS])
        .values_list("username", flat=True)
    )
    return [(u.username, DEMO_PASSWORD, u.role, u.lands_on) for u in DEMO_USERS if u.username in existing]


def format_table(headers: tuple[str, ...], rows: list[tuple]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def demo_logins_table() -> str:
    return format_table(("Username", "Password", "Role", "Lands on"), demo_logins_rows())


# --------------------------------------------------------------------------------------------------
# Partners, pricing, customers, providers

SCHEDULES = ("weekday", "weeknight", "weekend", "holiday")


def demo_logo_svg(initials: str, color: str) -> bytes:
    """A small logo for a demo partner: its initials on a rounded square (a plain SVG: nothing runs or loads)."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40" width="120" height="40">'
        f'<rect x="0" y="0" width="40" height="40" rx="8" fill="{color}"/>'
        '<text x="20" y="26" font-family="DejaVu Sans, sans-serif" font-size="16" font-weight="bold" '
        f'fill="#ffffff" text-anchor="middle">{initials}</text>'
        '<path d="M48 28 Q62 8 76 20 T104 14" fill="none" stroke="' + color + '" stroke-width="4" '
        'stroke-linecap="round"/></svg>'
    ).encode()


PARTNERS = (
    {
        "slug": "northwind",
        "name": "Northwind Interpreting",
        "legal_name": "Northwind Interpreting LLC",
        "address": "1200 Harbor Boulevard, Suite 400\nOakland, CA 94607",
        "tax_id": "94-3187265",
        "email": "billing@northwind-interpreting.example",
        "phone": "(510) 555-0142",
        "prefixes": ("INV", "BILL", "PF"),
        "area": "510",
        "issue_generated_invoices": False,
        # Company settings (customers.company), saved through the same checks as the office's settings page.
        "company": {
            "time_zone": "America/Los_Angeles",
            "email_sender_name": "Northwind Billing",
            "remittance": "Pay by check to Northwind Interpreting LLC at the address above, or by ACH transfer to "
            "the account below. Please quote the invoice number with your payment.",
            "bank_name": "Golden Gate Community Bank",
            "bank_account_name": "Northwind Interpreting LLC",
            "bank_account_number": "000418275563",
            "bank_routing": "121000358",
            "logo": ("northwind-logo.svg", "NW", "#1f5f8b"),
        },
        "zones": (
            ("Bay Area", "8.250", "1", 0),
            ("Central Valley", "6.000", "1", 2500),
            ("Remote (video)", "0", "1", 0),
        ),
        "service_types": (("medical", "Medical interpreting"), ("legal", "Legal interpreting")),
        # (slip type, service type code or None, {schedule: (bill, pay)}) in cents per hour / per mile / flat
        "rates": (
            (
                "service",
                None,
                {
                    "weekday": (8500, 5500),
                    "weeknight": (9500, 6200),
                    "weekend": (11000, 7000),
                    "holiday": (12750, 8250),
                },
            ),
            (
                "service",
                "legal",
                {
                    "weekday": (11000, 7000),
                    "weeknight": (12000, 7800),
                    "weekend": (13500, 8500),
                    "holiday": (16500, 10500),
                },
            ),
            (
                "prep_time",
                None,
                {"weekday": (4250, 2750), "weeknight": (4750, 3100), "weekend": (5500, 3500), "holiday": (6375, 4125)},
            ),
            ("mileage", None, {"": (67, 67)}),
            ("booking_fee", None, {"": (2500, 0)}),
        ),
        # (customer name, service type code or None, schedule, bill)
        "customer_rates": (
            ("Harborview Medical Center", None, "weekday", 8000),
            ("Harborview Medical Center", None, "weeknight", 9000),
            ("Alameda County Superior Court", "legal", "weekday", 10500),
        ),
        # (provider name, service type code or None, schedule, pay)
        "provider_rates": (
            ("Maria Delgado", None, "weekday", 6000),
            ("Maria Delgado", None, "weekend", 7500),
            ("Maria Delgado", "legal", "weekday", 7800),
        ),
        "customer_policies": (("Alameda County Superior Court", "2", 15),),
        "coupons": (("WELCOME10", "10", None), ("SCHOOLYEAR50", None, 5000)),
        "providers": (
            ("Maria Delgado", 15, "2231 Fruitvale Avenue\nOakland, CA 94601"),
            ("Tuan Nguyen", 30, "780 Story Road\nSan Jose, CA 95122"),
            ("Olga Petrova", 30, "1515 Clement Street\nSan Francisco, CA 94118"),
            ("Ahmed Hassan", 15, "3900 Mowry Avenue\nFremont, CA 94538"),
            ("Grace Liu", 30, "455 Grand Avenue\nOakland, CA 94610"),
        ),
        "languages": ("Spanish", "Vietnamese", "Cantonese", "Mandarin", "Tagalog", "Russian", "Arabic", "Punjabi"),
        "remote_zone": "Remote (video)",
        "tolls": (700, 0.2),
        "mileage": (3, 38),
        "extras": (
            ("product", "Sight translation of discharge instructions", "1", 4500, 3000),
            ("reimbursement", "Parking – hospital garage", "1", 1800, 1800),
            ("reimbursement", "Parking – courthouse lot", "1", 1200, 1200),
        ),
        "extras_share": 0.15,
        "cancel_reason": "Patient rescheduled; cancelled more than 24 hours ahead, no charge.",
    },
    {
        "slug": "bluefin",
        "name": "Bluefin Field Services",
        "legal_name": "Bluefin Field Services, Inc.",
        "address": "88 Commercial Street\nPortland, ME 04101",
        "tax_id": "01-0562793",
        "email": "accounts@bluefin-field.example",
        "phone": "(207) 555-0176",
        "prefixes": ("BF", "BFAP", "BFPF"),
        "area": "207",
        "issue_generated_invoices": True,
        "company": {
            "time_zone": "America/New_York",
            "email_sender_name": "Bluefin Accounts",
            "remittance": "Pay by check to Bluefin Field Services, Inc., or by bank transfer (ACH or wire) to the "
            "account below. Quote the invoice number as the reference.",
            "bank_name": "Casco Bay Savings",
            "bank_account_name": "Bluefin Field Services, Inc.",
            "bank_account_number": "7730019284",
            "bank_routing": "011201539",
            "logo": ("bluefin-logo.svg", "BF", "#0e7c86"),
        },
        "zones": (
            ("Portland Metro", "5.500", "1", 0),
            ("Midcoast", "5.500", "1.1000", 3500),
            ("Seacoast NH", "0", "1", 0),
        ),
        "service_types": (("inspection", "Site inspection"), ("maintenance", "Preventive maintenance")),
        "rates": (
            (
                "service",
                None,
                {
                    "weekday": (12500, 8000),
                    "weeknight": (14500, 9200),
                    "weekend": (16500, 10500),
                    "holiday": (18750, 12000),
                },
            ),
            (
                "service",
                "inspection",
                {
                    "weekday": (11000, 7000),
                    "weeknight": (13000, 8200),
                    "weekend": (15000, 9500),
                    "holiday": (17500, 11000),
                },
            ),
            (
                "prep_time",
                None,
                {"weekday": (6000, 4000), "weeknight": (6750, 4500), "weekend": (7500, 5000), "holiday": (9000, 6000)},
            ),
            ("mileage", None, {"": (67, 67)}),
            ("booking_fee", None, {"": (3500, 0)}),
        ),
        "customer_rates": (
            ("Casco Bay Ferries", None, "weekday", 11500),
            ("Portland Water District", None, "weekend", 15000),
        ),
        "provider_rates": (
            ("Coastline Technical LLC", None, "weekday", 9000),
            ("Coastline Technical LLC", None, "weeknight", 10000),
        ),
        "customer_policies": (),
        "coupons": (("SPRING15", "15", None), ("LOYALTY50", None, 5000)),
        "providers": (
            ("Coastline Technical LLC", 30, "14 Industrial Way\nWestbrook, ME 04092"),
            ("Jonah Whitcomb", 15, "27 Ocean House Road\nCape Elizabeth, ME 04107"),
            ("Priya Raman", 30, "310 Brighton Avenue\nPortland, ME 04102"),
            ("Eli Thibodeau", 30, "5 Mill Street\nBrunswick, ME 04011"),
            ("Sam Okafor", 15, "92 Main Street\nSaco, ME 04072"),
        ),
        "languages": (),
        "remote_zone": None,
        "tolls": (350, 0.25),
        "mileage": (5, 60),
        "extras": (
            ("product", "Replacement air filter 20x25x4", "4", 2450, 0),
            ("product", "Refrigerant R-410A (lb)", "3.5", 3800, 0),
            ("reimbursement", "Hazardous waste disposal fee", "1", 2500, 2500),
            ("product", "Backflow test kit calibration", "1", 6500, 1500),
        ),
        "extras_share": 0.35,
        "cancel_reason": "Site closed for a holiday event; the customer cancelled and will rebook.",
    },
)

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

# A customer: name, domain, address, zone, payment method, terms (days, or None for "no payment"), invoicing
# schedule, expense-code mode, labels and code pools ("{n}" makes a fresh value per request), auto-applied
# defaults, how many requests, which topics and service types, how many billing contacts.
CUSTOMERS = {
    "northwind": (
        {
            "name": "Harborview Medical Center",
            "domain": "harborviewmed.example",
            "address": "1450 Harbor Way\nOakland, CA 94612",
            "zone": "Bay Area",
            "method": "check",
            "terms": 30,
            "schedule": "monthly",
            "labels": ("Authorization code",),
            # Seed 000: most requests carry "ABC123", a few others: one invoice per code per month.
            "codes": {"Authorization code": ("ABC123", "ABC123", "ABC123", "XYZ789", "DEF456")},
            "require": True,
            "requests": 7,
            "topics": ("medical",),
            "types": ("medical",),
            "contacts": 3,
        },
        {
            "name": "Summit Orthopedic Group",
            "domain": "summitortho.example",
            "address": "300 Summit Drive, Suite 210\nWalnut Creek, CA 94598",
            "zone": "Bay Area",
            "method": "card",
            "terms": 15,
            "schedule": "weekly",
            "labels": ("Purchase order",),
            "defaults": (("Purchase order", "PO-7781"),),
            "requests": 5,
            "topics": ("medical",),
            "types": ("medical",),
            "contacts": 2,
        },
        {
            "name": "Bayside Unified School District",
            "domain": "baysideusd.example",
            "address": "900 Marina Boulevard\nSan Leandro, CA 94577",
            "zone": "Bay Area",
            "method": "check",
            "terms": 45,
            "schedule": "monthly",
            "labels": ("Purchase order", "Cost center"),
            "codes": {"Purchase order": ("PO-24-0187", "PO-24-0219")},
            "defaults": (("Cost center", "CC-210 Special Education"),),
            "require": True,
            "requests": 5,
            "topics": ("education",),
            "types": ("medical",),
            "contacts": 2,
        },
        {
            "name": "Alameda County Superior Court",
            "domain": "alameda-courts.example",
            "address": "1225 Fallon Street\nOakland, CA 94612",
            "zone": "Bay Area",
            "method": "check",
            "terms": 30,
            "schedule": "monthly",
            "mode": "per_proforma",
            "labels": ("Request #",),
            "codes": {"Request #": "REQ-{n}"},
            "require": True,
            "requests": 6,
            "topics": ("legal",),
            "types": ("legal",),
            "contacts": 2,
        },
        {
            "name": "Golden Gate Family Clinic",
            "domain": "ggfamilyclinic.example",
            "address": "2100 Geary Boulevard\nSan Francisco, CA 94115",
            "zone": "Bay Area",
            "method": "card",
            "terms": 15,
            "schedule": "after_service",
            "requests": 4,
            "topics": ("medical",),
            "types": ("medical",),
            "contacts": 1,
        },
        {
            "name": "Lakeshore Legal Aid",
            "domain": "lakeshorelegalaid.example",
            "address": "510 16th Street, 3rd Floor\nOakland, CA 94612",
            "zone": "Bay Area",
            "method": "check",
            "terms": None,
            "schedule": "monthly",
            "auto_invoice": False,
            "requests": 3,
            "topics": ("legal",),
            "types": ("legal",),
            "contacts": 1,
        },
        {
            "name": "Mission Bay Rehabilitation",
            "domain": "missionbayrehab.example",
            "address": "1800 Owens Street\nSan Francisco, CA 94158",
            "zone": "Bay Area",
            "method": "check",
            "terms": 30,
            "schedule": "weekly",
            "labels": ("Cost center",),
            "codes": {"Cost center": ("CC-4100 Outpatient", "CC-4200 Inpatient")},
            "requests": 5,
            "topics": ("medical",),
            "types": ("medical",),
            "contacts": 2,
        },
        {
            "name": "Oakland Public Library",
            "domain": "oaklandlibrary.example",
            "address": "125 14th Street\nOakland, CA 94612",
            "zone": "Bay Area",
            "method": "check",
            "terms": 30,
            "schedule": "monthly",
            "requests": 3,
            "topics": ("community",),
            "types": ("medical",),
            "contacts": 1,
        },
        {
            "name": "Pacific Crest Insurance",
            "domain": "pacificcrest-ins.example",
            "address": "4 Embarcadero Center, 14th Floor\nSan Francisco, CA 94111",
            "zone": "Bay Area",
            "method": "card",
            "terms": 30,
            "schedule": "daily",
            "recurring": True,
            "auto_invoice": False,
            "labels": ("Authorization code",),
            "codes": {"Authorization code": "CLM-{n}"},
            "requests": 4,
            "topics": ("claims",),
            "types": ("medical",),
            "contacts": 2,
        },
        {
            "name": "Redwood Valley Hospital",
            "domain": "redwoodvalleyhospital.example",
            "address": "2200 Hospital Drive\nModesto, CA 95350",
            "zone": "Central Valley",
            "method": "check",
            "terms": 45,
            "schedule": "monthly",
            "discount": "5.00",
            "labels": ("Purchase order",),
            "codes": {"Purchase order": ("PO-RVH-5512",)},
            "requests": 6,
            "topics": ("medical",),
            "types": ("medical",),
            "contacts": 3,
        },
        {
            "name": "St. Brendan's Senior Living",
            "domain": "stbrendans.example",
            "address": "75 Orchard Lane\nTracy, CA 95376",
            "zone": "Central Valley",
            "method": "card",
            "terms": 15,
            "schedule": "after_service",
            "requests": 4,
            "topics": ("medical",),
            "types": ("medical",),
            "contacts": 2,
        },
        {
            "name": "Fremont Dialysis Partners",
            "domain": "fremontdialysis.example",
            "address": "39500 Liberty Street\nFremont, CA 94538",
            "zone": "Bay Area",
            "method": "check",
            "terms": 30,
            "schedule": "weekly",
            "labels": ("Purchase order",),
            "defaults": (("Purchase order", "PO-FDP-0932"),),
            "requests": 4,
            "topics": ("medical",),
            "types": ("medical",),
            "contacts": 1,
        },
        {
            "name": "Contra Costa Workforce Board",
            "domain": "cc-workforce.example",
            "address": "2425 Bisso Lane\nConcord, CA 94520",
            "zone": "Bay Area",
            "method": "check",
            "terms": None,
            "schedule": "monthly",
            "requests": 3,
            "topics": ("community",),
            "types": ("medical",),
            "contacts": 1,
        },
    ),
    "bluefin": (
        {
            "name": "Casco Bay Ferries",
            "domain": "cascobayferries.example",
            "address": "56 Commercial Street\nPortland, ME 04101",
            "zone": "Portland Metro",
            "method": "check",
            "terms": 30,
            "schedule": "monthly",
            "labels": ("Purchase order",),
            "defaults": (("Purchase order", "PO-55120"),),
            "requests": 5,
            "topics": ("inspection", "maintenance"),
            "types": ("inspection", "maintenance"),
            "contacts": 3,
        },
        {
            "name": "Portland Water District",
            "domain": "pwd-maine.example",
            "address": "225 Douglass Street\nPortland, ME 04104",
            "zone": "Portland Metro",
            "method": "check",
            "terms": 45,
            "schedule": "monthly",
            "mode": "per_proforma",
            "labels": ("Work order",),
            "codes": {"Work order": "WO-{n}"},
            "require": True,
            "requests": 5,
            "topics": ("inspection", "maintenance"),
            "types": ("inspection", "maintenance"),
            "contacts": 2,
        },
        {
            "name": "Harbor Fish Market",
            "domain": "harborfish.example",
            "address": "9 Custom House Wharf\nPortland, ME 04101",
            "zone": "Portland Metro",
            "method": "card",
            "terms": 15,
            "schedule": "after_service",
            "requests": 4,
            "topics": ("maintenance",),
            "types": ("maintenance",),
            "contacts": 1,
        },
        {
            "name": "Maine Medical Partners",
            "domain": "mainemedpartners.example",
            "address": "22 Bramhall Street\nPortland, ME 04102",
            "zone": "Portland Metro",
            "method": "check",
            "terms": 30,
            "schedule": "weekly",
            "labels": ("Cost center",),
            "codes": {"Cost center": ("CC-880 Facilities", "CC-885 Imaging")},
            "require": True,
            "requests": 4,
            "topics": ("inspection", "maintenance"),
            "types": ("inspection", "maintenance"),
            "contacts": 2,
        },
        {
            "name": "Seacoast Brewing Co.",
            "domain": "seacoastbrewing.example",
            "address": "1 Bow Street\nPortsmouth, NH 03801",
            "zone": "Seacoast NH",
            "method": "card",
            "terms": 15,
            "schedule": "weekly",
            "requests": 4,
            "topics": ("maintenance",),
            "types": ("maintenance",),
            "contacts": 2,
        },
        {
            "name": "Gulf of Maine Research Institute",
            "domain": "gmri-research.example",
            "address": "350 Commercial Street\nPortland, ME 04101",
            "zone": "Portland Metro",
            "method": "check",
            "terms": 30,
            "schedule": "monthly",
            "labels": ("Purchase order", "Cost center"),
            "codes": {"Purchase order": ("PO-GMRI-2291", "PO-GMRI-2305")},
            "defaults": (("Cost center", "Grant NSF-2231"),),
            "requests": 4,
            "topics": ("inspection", "maintenance"),
            "types": ("inspection", "maintenance"),
            "contacts": 2,
        },
        {
            "name": "Kennebunk Savings Bank",
            "domain": "kennebunksavings.example",
            "address": "104 Main Street\nKennebunk, ME 04043",
            "zone": "Portland Metro",
            "method": "check",
            "terms": 30,
            "schedule": "daily",
            "labels": ("Cost center",),
            "codes": {"Cost center": ("Branch 04 Kennebunk", "Branch 07 Wells")},
            "requests": 3,
            "topics": ("inspection",),
            "types": ("inspection",),
            "contacts": 1,
        },
        {
            "name": "Midcoast Marine Supply",
            "domain": "midcoastmarine.example",
            "address": "40 Atlantic Avenue\nBoothbay Harbor, ME 04538",
            "zone": "Midcoast",
            "method": "card",
            "terms": 15,
            "schedule": "after_service",
            "requests": 3,
            "topics": ("maintenance",),
            "types": ("maintenance",),
            "contacts": 1,
        },
        {
            "name": "Cumberland County Government",
            "domain": "cumberlandcounty-me.example",
            "address": "142 Federal Street\nPortland, ME 04101",
            "zone": "Portland Metro",
            "method": "check",
            "terms": 45,
            "schedule": "monthly",
            "recurring": True,
            "auto_invoice": False,
            "labels": ("Purchase order",),
            "codes": {"Purchase order": ("PO-CC-77410",)},
            "require": True,
            "requests": 4,
            "topics": ("inspection", "maintenance"),
            "types": ("inspection", "maintenance"),
            "contacts": 2,
        },
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

MANUAL_LINES = {
    "northwind": (
        "Redwood Valley Hospital",
        (
            ("Medical terminology workshop for bilingual staff (half day)", "1", 95000),
            ("Translation of patient intake forms (per page)", "24", 3500),
            ("Rush turnaround fee", "1", 15000),
        ),
        10000,
        "Staff training and document translation, as agreed with Dr. Ellen Marsh.",
    ),
    "bluefin": (
        "Casco Bay Ferries",
        (
            ("Emergency call-out (after hours) – bilge pump failure, MV Maquoit II", "1", 45000),
            ("Bilge pump replacement, 24 V, 3700 gph", "1", 38900),
            ("Technician labor (hours)", "3.5", 16500),
        ),
        5000,
        "Emergency repair on the night of the storm; $50 courtesy discount.",
    ),
}


# --------------------------------------------------------------------------------------------------
# Dates


def us_holidays(year: int) -> list[tuple[datetime.date, str]]:
    def nth_weekday(month, weekday, n):
        first = datetime.date(year, month, 1)
        day = first + datetime.timedelta(days=(weekday - first.weekday()) % 7)
        return day + datetime.timedelta(weeks=n - 1)

    def last_weekday(month, weekday):
        last = datetime.date(year, month, calendar.monthrange(year, month)[1])
        return last - datetime.timedelta(days=(last.weekday() - weekday) % 7)

    return [
        (datetime.date(year, 1, 1), "New Year's Day"),
        (nth_weekday(1, 0, 3), "Martin Luther King Jr. Day"),
        (nth_weekday(2, 0, 3), "Presidents' Day"),
        (last_weekday(5, 0), "Memorial Day"),
        (datetime.date(year, 6, 19), "Juneteenth"),
        (datetime.date(year, 7, 4), "Independence Day"),
        (nth_weekday(9, 0, 1), "Labor Day"),
        (nth_weekday(10, 0, 2), "Indigenous Peoples' Day"),
        (datetime.date(year, 11, 11), "Veterans Day"),
        (nth_weekday(11, 3, 4), "Thanksgiving Day"),
        (datetime.date(year, 12, 25), "Christmas Day"),
    ]


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_end(day: datetime.date) -> datetime.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def closed_periods(schedule: str, dates, today: datetime.date) -> list[tuple[datetime.date, datetime.date]]:
    """The billing periods (of an invoicing schedule) that hold these dates and have ended by today."""
    this_monday = today - datetime.timedelta(days=today.weekday())
    periods = set()
    for day in dates:
        if schedule in ("after_service", "daily"):
            if day < today:
                periods.add((day, day))
        elif schedule == "weekly":
            monday = day - datetime.timedelta(days=day.weekday())
            if monday < this_monday:
                periods.add((monday, monday + datetime.timedelta(days=6)))
        elif day < month_start(today):
            periods.add((month_start(day), month_end(day)))
    return sorted(periods)


# --------------------------------------------------------------------------------------------------
# The seed


class DemoSeed:
    """Builds the whole demo data set. Call ``run()`` inside one transaction."""

    def __init__(self, *, today: datetime.date | None = None):
        import zoneinfo

        from django.utils import timezone

        # Today where it is earliest among the demo partners: nothing is dated after a partner's own today.
        zones = [zoneinfo.ZoneInfo(spec["company"]["time_zone"]) for spec in PARTNERS]
        self.today = today or min(timezone.localdate(timezone=zone) for zone in zones)
        self.rng = random.Random(SEED)
        self.code_counter = 10400
        self.users: dict[str, object] = {}
        self.partners: dict[str, object] = {}
        self.ctx: dict[str, dict] = {}  # per partner slug: zones, types, customers, providers, ...
        self.events: list = []  # (date, order, seq, callable): issuing in date order keeps numbers in date order
        self.payments: list = []  # (date, seq, invoice id, amount or None for the balance, method, reference, user)
        self.notes: list[str] = []

    # -- helpers ---------------------------------------------------------------------------------

    def at(self, day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
        """That time of day in the active time zone: the partner's while its steps run (``partner_time``)."""
        from django.utils import timezone

        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))

    def partner_time(self, slug: str):
        """Run a partner's steps in its time zone: its services are at 9:00 and 18:00 where it works."""
        from django.utils import timezone

        return timezone.override(self.partners[slug].tzinfo)

    def days_ago(self, n: int) -> datetime.date:
        return self.today - datetime.timedelta(days=n)

    def issue(self, invoice, *, user, day: datetime.date):
        """Issue ``invoice`` on ``day``, recorded as issued that morning as it would have been: invoice_issue
        stamps issued_at (and its audit row) from the clock, and the database refuses to change an issued
        invoice's issued_at afterwards."""
        from unittest import mock

        from django.utils import timezone

        from invoicing.lifecycle import invoice_issue

        with timezone.override(invoice.partner.tzinfo):
            moment = min(self.at(day, 9, invoice.pk * 37 % 60), timezone.now())
        with mock.patch.object(timezone, "now", return_value=moment):
            return invoice_issue(invoice=invoice, user=user, issue_date=day)

    def event(self, day, order, fn, *args, **kwargs):
        self.events.append((day, order, len(self.events), functools.partial(fn, *args, **kwargs)))

    def payment(self, day, invoice, amount, method, reference, user):
        self.payments.append((min(day, self.today), len(self.payments), invoice.pk, amount, method, reference, user))

    def phone(self, area: str) -> str:
        return f"({area}) 555-01{self.rng.randint(0, 99):02d}"

    def person(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    # -- steps -----------------------------------------------------------------------------------

    def run(self) -> None:
        self.create_users_hash()
        for spec in PARTNERS:
            self.create_partner(spec)
        self.create_users()
        for spec in PARTNERS:
            with self.partner_time(spec["slug"]):
                self.create_requests(spec)
        for spec in PARTNERS:
            self.publish_outcomes(spec["slug"])
        for spec in PARTNERS:
            self.plan_ar_invoices(spec["slug"])
            self.plan_ap_invoices(spec["slug"])
            self.plan_manual_invoices(spec["slug"])
        self.run_events()
        self.run_payments()
        from invoicing.lifecycle import invoices_mark_overdue

        invoices_mark_overdue(today=self.today)
        for spec in PARTNERS:
            with self.partner_time(spec["slug"]):
                self.book_invoiced_at_once(spec)
        self.backdate_issued_invoices()

    def book_invoiced_at_once(self, spec: dict) -> None:
        """Today's portal bookings by customers whose flag is on: each is invoiced and numbered the moment it is
        confirmed (seed 002), so they come last, after the history's invoices."""
        ctx = self.ctx[spec["slug"]]
        users_by_customer = {d.customer_name: self.users[d.username] for d in DEMO_USERS if d.customer_name}
        for c in [c for c in CUSTOMERS[spec["slug"]] if c["name"] in users_by_customer]:
            customer = ctx["customers"][c["name"]]
            if customer.auto_invoice_on_booking and not customer.allow_recurring_bookings:
                self.book(ctx, c, customer, users_by_customer, codes=self.request_codes(c, always=True))

    def cards_on_file(self, customers) -> None:
        """Customers who pay by card get the gateway's test card that succeeds, so issuing one of their invoices
        in the demo charges it (nothing to keep on file with the manual gateway)."""
        from invoicing.charging import customer_card_save, payment_gateway

        if not payment_gateway().charges_cards:
            return
        for customer in customers:
            if customer.payment_method == customer.PaymentMethod.CARD:
                customer_card_save(
                    customer=customer, number=DEMO_CARD_NUMBER, exp_month=12, exp_year=self.today.year + 3
                )

    def backdate_issued_invoices(self) -> None:
        """The seed issues its invoices with the issue hooks off (nothing e-mailed, rendered or charged while it
        runs). Each is issued as of the morning of its issue date (``issue``), and those of auto-send customers
        are recorded as e-mailed then, as they would have been; their PDFs are stored on first download."""
        from django.utils import timezone

        from invoicing.models import Invoice

        now = timezone.now()
        invoices = list(Invoice.objects.filter(kind=Invoice.Kind.AR, customer__auto_send=True, issued_at__isnull=False))
        for invoice in invoices:
            invoice.sent_at = min(invoice.issued_at + datetime.timedelta(minutes=self.rng.randint(1, 5)), now)
        Invoice.objects.bulk_update(invoices, ["sent_at"], batch_size=500)

    def create_users_hash(self) -> None:
        from django.contrib.auth.hashers import make_password

        self.password_hash = make_password(DEMO_PASSWORD)  # hashed once: the same password for every demo user

    def create_partner(self, spec: dict) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile

        from customers.company import company_settings_update
        from customers.models import BillingContact, Customer, Partner, Provider
        from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
        from invoicing.models import Coupon, ExtraOffer, Holiday, Rate, ServiceType, TimePolicy, Zone
        from invoicing.numbering import counters_ensure

        ar, ap, pf = spec["prefixes"]
        partner = Partner.objects.create(
            name=spec["name"],
            slug=spec["slug"],
            currency="USD",
            legal_name=spec["legal_name"],
            address=spec["address"],
            tax_id=spec["tax_id"],
            email=spec["email"],
            phone=spec["phone"],
            ar_prefix=ar,
            ap_prefix=ap,
            proforma_prefix=pf,
            default_payment_terms_days=30,
            issue_generated_invoices=spec["issue_generated_invoices"],
        )
        counters_ensure(partner=partner)
        company = dict(spec["company"])
        logo_name, initials, color = company.pop("logo")
        partner = company_settings_update(
            partner=partner,
            user=None,
            logo=SimpleUploadedFile(logo_name, demo_logo_svg(initials, color), content_type="image/svg+xml"),
            **company,
        )
        self.partners[spec["slug"]] = partner
        ctx = self.ctx[spec["slug"]] = {"spec": spec, "partner": partner}
        ctx["zones"] = {
            name: Zone.objects.create(
                partner=partner,
                name=name,
                tax_rate=Decimal(rate),
                price_multiplier=Decimal(multiplier),
                surcharge_units=surcharge,
            )
            for name, rate, multiplier, surcharge in spec["zones"]
        }
        ctx["types"] = {
            code: ServiceType.objects.create(partner=partner, code=code, name=name)
            for code, name in spec["service_types"]
        }
        ctx["providers"] = {
            name: Provider.objects.create(
                partner=partner,
                name=name,
                email=f"{name.lower().replace(' ', '.').replace('.llc', '')}@providers.example",
                phone=self.phone(spec["area"]),
                address=address,
                payment_terms_days=terms,
            )
            for name, terms, address in spec["providers"]
        }
        # Customers, their contacts, expense-code labels and auto-applied codes.
        customers, labels = {}, {}
        contacts, codes = [], []
        for c in CUSTOMERS[spec["slug"]]:
            terms = c["terms"]
            customer = Customer.objects.create(
                partner=partner,
                name=c["name"],
                email=f"ap@{c['domain']}",
                phone=self.phone(spec["area"]),
                address=c["address"],
                zone=ctx["zones"][c["zone"]],
                payment_method=c["method"],
                payment_terms="no_payment" if terms is None else "net",
                payment_terms_days=0 if terms is None else terms,
                invoicing_schedule=c["schedule"],
                expense_code_mode=c.get("mode", "grouped"),
                require_expense_code=c.get("require", False),
                allow_recurring_bookings=c.get("recurring", False),
                auto_invoice_on_booking=c.get("auto_invoice", True),
                auto_charge=c["method"] == "card" and c["schedule"] == "after_service",
                discount_percent=Decimal(c.get("discount", "0")),
            )
            customers[c["name"]] = customer
            for i in range(c["contacts"]):
                first, last = self.person()
                contacts.append(
                    BillingContact(
                        customer=customer,
                        name=f"{first} {last}",
                        email=f"{first}.{last}@{c['domain']}".lower().replace("'", ""),
                        phone=self.phone(spec["area"]),
                        address=c["address"] if i == 0 else "",
                        is_default=i == 0,
                        receives_invoices=i < 2,
                    )
                )
            labels[customer.pk] = {  # a customer that requires codes requires its first label (seed 000)
                name: ExpenseCodeLabel.objects.create(
                    customer=customer, name=name, is_required=bool(c.get("require")) and i == 0
                )
                for i, name in enumerate(c.get("labels", ()))
            }
            for label_name, value in c.get("defaults", ()):
                label = labels[customer.pk][label_name]
                codes.append(AppliedExpenseCode(label=label, label_name=label_name, value=value, default_for=customer))
        BillingContact.objects.bulk_create(contacts)
        AppliedExpenseCode.objects.bulk_create(codes)
        self.cards_on_file(customers.values())
        ctx["customers"], ctx["labels"] = customers, labels
        # Rates: defaults, per service type, customer bill overrides, provider pay overrides.
        rates = []
        for slip_type, type_code, table in spec["rates"]:
            for schedule, (bill, pay) in table.items():
                rates.append(
                    Rate(
                        partner=partner,
                        service_type=ctx["types"][type_code] if type_code else None,
                        slip_type=slip_type,
                        pay_schedule=schedule,
                        bill_rate_units=Decimal(bill),
                        pay_rate_units=Decimal(pay),
                    )
                )
        for name, type_code, schedule, bill in spec["customer_rates"]:
            rates.append(
                Rate(
                    partner=partner,
                    service_type=ctx["types"][type_code] if type_code else None,
                    slip_type="service",
                    pay_schedule=schedule,
                    customer=customers[name],
                    bill_rate_units=Decimal(bill),
                )
            )
        for name, type_code, schedule, pay in spec["provider_rates"]:
            rates.append(
                Rate(
                    partner=partner,
                    service_type=ctx["types"][type_code] if type_code else None,
                    slip_type="service",
                    pay_schedule=schedule,
                    provider=ctx["providers"][name],
                    pay_rate_units=Decimal(pay),
                )
            )
        Rate.objects.bulk_create(rates)
        TimePolicy.objects.create(partner=partner, minimum_hours=Decimal("1"), rounding_minutes=15)
        for name, minimum, rounding in spec["customer_policies"]:
            TimePolicy.objects.create(
                partner=partner, customer=customers[name], minimum_hours=Decimal(minimum), rounding_minutes=rounding
            )
        window = (self.days_ago(HISTORY_DAYS + 5), self.today + datetime.timedelta(days=60))
        holidays = sorted(
            {
                day: name
                for year in range(window[0].year, window[1].year + 1)
                for day, name in us_holidays(year)
                if window[0] <= day <= window[1]
            }.items()
        )
        Holiday.objects.bulk_create([Holiday(partner=partner, date=day, name=name) for day, name in holidays])
        ctx["holidays"] = [day for day, _ in holidays]
        coupons = []
        for code, percent, amount in spec["coupons"]:
            coupons.append(
                Coupon(
                    partner=partner,
                    code=code,
                    percent_off=Decimal(percent) if percent else None,
                    amount_off_units=amount,
                    valid_from=self.days_ago(HISTORY_DAYS),
                    valid_until=self.today + datetime.timedelta(days=90),
                )
            )
        Coupon.objects.bulk_create(coupons)
        # The extras customers may add when they book (the same ones staff record on services).
        ctx["offers"] = {
            description: ExtraOffer.objects.create(
                partner=partner,
                name=description,
                kind=kind,
                bill_rate_units=Decimal(bill),
                pay_rate_units=Decimal(pay),
                max_quantity=5,
            )
            for kind, description, _quantity, bill, pay in spec["extras"]
        }

    def create_users(self) -> None:
        from django.contrib.auth import get_user_model

        from customers.models import CustomerMembership, StaffMembership

        User = get_user_model()
        existing = {u.username: u for u in User.objects.filter(username__in=[d.username for d in DEMO_USERS])}
        for demo in DEMO_USERS:
            user = existing.get(demo.username)
            if user is not None:
                self.notes.append(f"User {demo.username!r} already existed: left as it was (password unchanged).")
            else:
                extra = {"first_name": demo.first_name, "last_name": demo.last_name}
                if demo.superuser:
                    user = User.objects.create_superuser(demo.username, demo.email, None, **extra)
                else:
                    user = User.objects.create_user(demo.username, demo.email, None, **extra)
                user.password = self.password_hash
                user.save(update_fields=["password"])
            self.users[demo.username] = user
            if demo.staff_role and not StaffMembership.objects.filter(user=user).exists():
                StaffMembership.objects.create(
                    user=user, partner=self.partners[demo.partner_slug], role=demo.staff_role
                )
            if demo.customer_name and not CustomerMembership.objects.filter(user=user).exists():
                CustomerMembership.objects.create(
                    user=user,
                    customer=self.ctx[demo.partner_slug]["customers"][demo.customer_name],
                    can_manage_expense_codes=demo.can_manage_expense_codes,
                )
        for slug in self.partners:
            self.ctx[slug]["admin"] = self.users[f"{slug}.admin"]
            self.ctx[slug]["clerk"] = self.users[f"{slug}.clerk"]

    # -- requests and services ---------------------------------------------------------------------

    def request_codes(self, c: dict, *, always=False) -> list[tuple[str, str]]:
        pools = c.get("codes", {})
        if not pools or not (always or c.get("require") or self.rng.random() < 0.8):
            return []
        pairs = []
        for label_name, pool in pools.items():
            if isinstance(pool, str):
                self.code_counter += self.rng.randint(1, 9)
                pairs.append((label_name, pool.format(n=self.code_counter)))
            else:
                pairs.append((label_name, self.rng.choice(pool)))
        return pairs

    def service_times(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
        slot = self.rng.choice(("day", "day", "day", "day", "evening", "weekend"))
        if slot == "weekend":
            day -= datetime.timedelta(days=(day.weekday() - 5) % 7)  # the Saturday on or before
            day += datetime.timedelta(days=self.rng.choice((0, 1)))
        elif day.weekday() >= 5:
            day -= datetime.timedelta(days=day.weekday() - 4)  # the Friday before
        if slot == "evening":
            start = self.at(day, self.rng.choice((18, 18, 19)), self.rng.choice((0, 30)))
        else:
            start = self.at(day, self.rng.choice((8, 9, 10, 11, 13, 14)), self.rng.choice((0, 15, 30)))
        minutes = self.rng.choice((60, 60, 75, 90, 120, 120, 135, 150, 180, 210, 240))
        minutes = min(240, minutes + self.rng.choice((0, 0, 0, 7, 12)))
        return start, start + datetime.timedelta(minutes=minutes)

    def book(self, ctx: dict, c: dict, customer, users_by_customer: dict, *, codes):
        """A portal booking through the one way in (``request_book``): a weekday morning one to three weeks ahead."""
        from invoicing.booking import ServiceInput, request_book

        day = self.today + datetime.timedelta(days=self.rng.randint(5, 18))
        day += datetime.timedelta(days=max(0, 7 - day.weekday()) if day.weekday() >= 5 else 0)
        starts_at = self.at(day, self.rng.choice((9, 10, 13)), 0)
        minutes = self.rng.choice((60, 90, 120))
        return request_book(
            customer=customer,
            user=users_by_customer.get(customer.name),
            title=self.rng.choice(TOPICS[self.rng.choice(c["topics"])]).capitalize(),
            services=[
                ServiceInput(
                    service_type=ctx["types"][self.rng.choice(c["types"])],
                    starts_at=starts_at,
                    ends_at=starts_at + datetime.timedelta(minutes=minutes),
                    address=customer.address,
                )
            ],
            codes=codes,
        )

    def create_requests(self, spec: dict) -> None:
        from expense_codes.applying import codes_apply
        from invoicing.booking import ServiceInput, request_submit
        from invoicing.models import Quote, QuoteLine, ServiceExtra, ServiceRequest

        ctx = self.ctx[spec["slug"]]
        providers = list(ctx["providers"].values())
        users_by_customer = {d.customer_name: self.users[d.username] for d in DEMO_USERS if d.customer_name}
        ctx["services"] = []  # past services, to publish
        created_at = {}
        extras = []

        def make_request(c, customer, days, *, title=None, source="office", status="confirmed", codes=None):
            type_code = self.rng.choice(c["types"])
            topic = self.rng.choice(TOPICS[self.rng.choice(c["topics"])])
            if title is None:
                if spec["languages"]:
                    title = f"{self.rng.choice(spec['languages'])} interpreting – {topic}"
                else:
                    title = topic
            recurring = len(days) > 2 and days[1] - days[0] == datetime.timedelta(days=7)
            pairs = self.request_codes(c) if codes is None else codes
            first = min(days, default=self.today)
            planned = []  # (input, recorded outcome)
            for day in days:
                starts_at, ends_at = self.service_times(day)
                future = starts_at.date() >= self.today
                if future and starts_at.date() == self.today:
                    starts_at += datetime.timedelta(days=1)
                    ends_at += datetime.timedelta(days=1)
                zone = customer.zone
                remote = False
                roll = self.rng.random()
                if spec["remote_zone"] and roll < 0.15:
                    zone, remote = ctx["zones"][spec["remote_zone"]], True
                elif roll > 0.9:
                    zone = self.rng.choice(list(ctx["zones"].values()))
                    remote = zone.name == spec["remote_zone"]
                low, high = spec["mileage"]
                toll_units, toll_share = spec["tolls"]
                given = ServiceInput(
                    service_type=ctx["types"][type_code],
                    starts_at=starts_at,
                    ends_at=ends_at,
                    address="Video remote interpreting (secure link)" if remote else customer.address,
                    zone=zone,
                    provider=self.rng.choice(providers),
                )
                outcome = {
                    "mileage": Decimal(0) if remote else Decimal(self.rng.randint(low, high)),
                    "tolls_units": toll_units if not remote and self.rng.random() < toll_share else 0,
                    "prep_minutes": self.rng.choice((15, 30, 30, 45))
                    if type_code == "legal" or self.rng.random() < 0.15
                    else 0,
                }
                planned.append((given, outcome, remote, future))
            # The one way in for requests, as in the portal and the office (auto-applied and required codes).
            request = request_submit(
                customer=customer,
                user=users_by_customer.get(customer.name) if source == "portal" else ctx["clerk"],
                source=source,
                title=title,
                description=f"{title} at {customer.name}.",
                services=[given for given, *_ in planned],
                codes=pairs,
                is_recurring=recurring,
                status=status,
                book=False,
            )
            created_at[request.pk] = self.at(first - datetime.timedelta(days=self.rng.randint(3, 12)), 10, 5)
            services = []
            for service, (_given, outcome, remote, future) in zip(
                request.services.order_by("pk"), planned, strict=True
            ):
                for name, value in outcome.items():
                    setattr(service, name, value)
                service.save(update_fields=list(outcome))
                if not remote and self.rng.random() < spec["extras_share"]:
                    kind, description, quantity, bill, pay = self.rng.choice(spec["extras"])
                    extras.append(
                        ServiceExtra(
                            service=service,
                            offer=ctx["offers"].get(description),
                            kind=kind,
                            description=description,
                            quantity=Decimal(quantity),
                            bill_rate_units=Decimal(bill),
                            pay_rate_units=Decimal(pay),
                        )
                    )
                services.append(service)
                if not future:
                    ctx["services"].append(service)
            return request, services

        ctx["requests_by_customer"] = defaultdict(list)
        for c in CUSTOMERS[spec["slug"]]:
            customer = ctx["customers"][c["name"]]
            for _ in range(c["requests"]):
                first = self.days_ago(self.rng.randint(1, HISTORY_DAYS - 3))
                shape = self.rng.random()
                if shape < 0.25:  # recurring weekly sessions; the last ones may still be ahead
                    days = [first + datetime.timedelta(weeks=w) for w in range(3)]
                elif shape < 0.6:
                    days = [first + datetime.timedelta(days=d) for d in sorted(self.rng.sample(range(0, 9), 2))]
                else:
                    days = [first]
                source = "portal" if c["name"] in users_by_customer and self.rng.random() < 0.5 else "office"
                request, _ = make_request(c, customer, days, source=source)
                ctx["requests_by_customer"][customer.pk].append(request)

        # A few bookings still to come.
        future_customers = self.rng.sample(CUSTOMERS[spec["slug"]], 4)
        for c in future_customers:
            days = [self.today + datetime.timedelta(days=self.rng.randint(2, 21))]
            make_request(c, ctx["customers"][c["name"]], days)

        # A holiday shift: holiday rates apply (the most recent past holiday).
        past_holidays = [d for d in ctx["holidays"] if d < self.today - datetime.timedelta(days=1)]
        if past_holidays:
            c = CUSTOMERS[spec["slug"]][0]
            day = past_holidays[-1]
            request, services = make_request(c, ctx["customers"][c["name"]], [day], title=None)
            for service in services:  # pin it to the holiday (daytime), whatever slot was drawn
                service.starts_at = self.at(day, 9, 0)
                service.ends_at = self.at(day, 12, 30)
                service.save(update_fields=["starts_at", "ends_at"])
                if service not in ctx["services"]:
                    ctx["services"].append(service)
            request.title = f"{request.title} (holiday coverage)"
            request.save(update_fields=["title"])

        # A cancelled booking: no proforma, nothing to bill.
        c = CUSTOMERS[spec["slug"]][1]
        request, services = make_request(c, ctx["customers"][c["name"]], [self.days_ago(20)], status="cancelled")
        for service in services:
            service.status = "cancelled"
            service.notes = spec["cancel_reason"]
            service.save(update_fields=["status", "notes"])
            if service in ctx["services"]:
                ctx["services"].remove(service)

        # Service-level codes (seed 000: "you can also add a separate expense code for every service").
        for c in CUSTOMERS[spec["slug"]]:
            if c.get("defaults") and c.get("mode", "grouped") == "grouped" and len(c.get("labels", ())) > 1:
                customer = ctx["customers"][c["name"]]
                label = ctx["labels"][customer.pk].get("Cost center")
                request = ctx["requests_by_customer"][customer.pk][0]
                for service in [s for s in ctx["services"] if s.request_id == request.pk][:1]:
                    codes_apply(
                        pairs=[("Cost center", "Grant NOAA-1187" if spec["slug"] == "bluefin" else "CC-230 Adult Ed")],
                        label_ids={"Cost center": label.pk} if label else {},
                        service=service,
                    )

        # Portal bookings answered with a quote (seed 002: auto-invoice off).
        ctx["quotes"] = []
        for c in [c for c in CUSTOMERS[spec["slug"]] if c.get("auto_invoice") is False]:
            customer = ctx["customers"][c["name"]]
            tax = customer.zone.tax_rate
            codes = self.request_codes(c, always=True)
            if c["name"] == QUOTE_CONVERTED_CUSTOMER:
                # A flat-fee job with no provider visit: the quote becomes the invoice, nothing else bills it.
                request, _ = make_request(
                    c, customer, [], title="Translation of claim documents", source="portal", codes=codes
                )
                quote = Quote.objects.create(request=request)
                QuoteLine.objects.bulk_create(
                    [
                        QuoteLine(
                            quote=quote,
                            description="Certified translation, Spanish to English (per page)",
                            quantity=Decimal(12),
                            unit_price_units=Decimal(3500),
                            tax_rate=tax,
                        ),
                        QuoteLine(
                            quote=quote, description="Notarized certificate of accuracy", unit_price_units=Decimal(2500)
                        ),
                    ]
                )
                ctx["quotes"].append((c, quote))
                continue
            # A booking made in the portal: priced into a quote by the partner's own rates (seed 002).
            ctx["quotes"].append((c, self.book(ctx, c, customer, users_by_customer, codes=codes).quote))

        ServiceExtra.objects.bulk_create(extras)
        for pk, when in created_at.items():
            ServiceRequest.objects.filter(pk=pk).update(created_at=min(when, self.at(self.today, 0, 0)))

    def publish_outcomes(self, slug: str) -> None:
        """The crew checked out: publishing each past service's outcome makes its proforma (seed 003)."""
        from invoicing.generation import service_publish_outcome

        ctx = self.ctx[slug]
        ctx["proformas"] = []
        for service in sorted(ctx["services"], key=lambda s: s.starts_at):
            proforma = service_publish_outcome(service=service, user=ctx["clerk"], checked_out_at=service.ends_at)
            ctx["proformas"].append(proforma)

    # -- AR invoices -----------------------------------------------------------------------------

    def plan_ar_invoices(self, slug: str) -> None:
        """Generate AR drafts for every closed period (as the worker would), then plan each one's fate."""
        from invoicing.generation import ar_invoices_generate
        from invoicing.manual import slip_add_adjustment

        ctx = self.ctx[slug]
        rng = self.rng
        admin, clerk = ctx["admin"], ctx["clerk"]
        proformas = ctx["proformas"]

        # Adjustments on proformas before they are invoiced (seed 001: additional work, reduced scope).
        earlier = [p for p in proformas if p.service_date < month_start(self.today)]
        if earlier:
            target = earlier[len(earlier) // 3]
            tax = target.slips.values_list("tax_rate", flat=True).first() or Decimal(0)
            if slug == "northwind":
                slip_add_adjustment(
                    kind="additional_work",
                    proforma=target,
                    description="interpreter stayed 30 minutes past the booking for discharge teaching",
                    amount_units=4250,
                    pay_amount_units=2750,
                    tax_rate=tax,
                    user=clerk,
                )
            else:
                slip_add_adjustment(
                    kind="reduced_scope",
                    proforma=target,
                    description="one of three rooftop units was inaccessible and not serviced",
                    amount_units=6000,
                    pay_amount_units=3500,
                    tax_rate=tax,
                    user=clerk,
                )

        dates_by_customer = defaultdict(set)
        for p in proformas:
            dates_by_customer[p.customer_id].add(p.service_date)
        drafts = []  # (invoice, customer)
        for customer in ctx["customers"].values():
            for start, end in closed_periods(
                customer.invoicing_schedule, dates_by_customer.get(customer.pk, ()), self.today
            ):
                for invoice in ar_invoices_generate(
                    customer=customer, period_start=start, period_end=end, user=None, issue=False
                ):
                    drafts.append((invoice, customer))
        drafts.sort(key=lambda pair: (pair[0].period_end, pair[0].pk))

        # Drafts: the last few days' invoices wait for review; at least two per partner.
        keep_draft = {inv.pk for inv, _ in drafts if inv.period_end >= self.days_ago(6)}
        for inv, _ in reversed(drafts):
            if len(keep_draft) >= 2:
                break
            keep_draft.add(inv.pk)

        plans = []  # dicts: invoice, customer, issue_on, due, outcome
        for inv, customer in drafts:
            if inv.pk in keep_draft:
                continue
            issue_on = min(inv.period_end + datetime.timedelta(days=1 + rng.randint(0, 2)), self.today)
            no_payment = customer.payment_terms == "no_payment"
            due = None if no_payment else issue_on + datetime.timedelta(days=customer.payment_terms_days)
            roll = rng.random()
            if no_payment:
                outcome = "pending"
            elif due < self.today:
                # Cards are charged on time; checks are sometimes late, or partly paid.
                on_time = 0.95 if customer.payment_method == "card" else 0.72
                outcome = "paid" if roll < on_time else "overdue" if roll < on_time + 0.18 else "overdue_partial"
            else:
                outcome = "paid" if roll < 0.3 else "partial" if roll < 0.65 else "pending"
            plans.append({"invoice": inv, "customer": customer, "issue_on": issue_on, "due": due, "outcome": outcome})

        past_due = [p for p in plans if p["due"] is not None and p["due"] < self.today]
        current = [p for p in plans if p["due"] is not None and p["due"] >= self.today]

        # Northwind: an invoice sent with the wrong PO is voided and its proformas re-invoiced.
        if slug == "northwind":
            candidates = [
                p
                for p in past_due
                if p["customer"].payment_method == "check" and p["customer"].invoicing_schedule in ("monthly", "weekly")
            ]
            candidates.sort(key=lambda p: p["outcome"] != "paid")  # take a would-be paid one first
            if candidates:
                candidates[0]["outcome"] = "void_reissue"
        # Guarantees: at least two overdue and one paid among the past-due, one pending and one partial now.
        overdue = [p for p in past_due if p["outcome"] == "overdue"]
        for p in past_due:
            if len(overdue) >= 2:
                break
            if p["outcome"] == "paid" and sum(q["outcome"] == "paid" for q in past_due) > 1:
                p["outcome"] = "overdue"
                overdue.append(p)
        if not any(p["outcome"] == "paid" for p in past_due):
            spare = [p for p in past_due if p["outcome"] in ("overdue", "overdue_partial")][2:]
            if spare:
                spare[0]["outcome"] = "paid"
        for wanted in ("pending", "partial"):
            if not any(p["outcome"] == wanted for p in current):
                spare = [p for p in current if p["outcome"] == "paid"]
                if spare:
                    spare[-1]["outcome"] = wanted

        # Northwind: the child invoice shares the biggest open invoice's bill (seed 003).
        if slug == "northwind":
            parents = [
                p for p in current if p["customer"].name in SHARED_BILL_CUSTOMERS and p["invoice"].total_units >= 10000
            ]
            parents.sort(key=lambda p: (p["outcome"] == "partial", -p["invoice"].total_units))
            if parents:
                parents[0]["outcome"] = "parent"
            else:  # no generated invoice fits: seed 003's own example, a $2,000 invoice shared $1,000 / $1,000
                self.event(self.days_ago(6), 0, self.manual_parent, ctx)

        for p in plans:
            self.event(p["issue_on"], 0, self.issue_planned, ctx, p)

        # A goodwill credit on a draft still under review.
        draft_invoices = [inv for inv, _ in drafts if inv.pk in keep_draft and inv.total_units > 5000]
        if draft_invoices:
            slip_add_adjustment(
                kind="credit",
                invoice=draft_invoices[-1],
                description="provider arrived 40 minutes late" if slug == "northwind" else "technician arrived late",
                amount_units=2500,
                user=admin,
            )
        ctx["ar_plans"] = plans

    def pay(self, customer, invoice, *, user, part: bool = False, on: datetime.date | None = None) -> None:
        """Plan a payment in the customer's usual way: by card, check, or (big institutions) bank transfer."""
        rng = self.rng
        terms = customer.payment_terms_days or 30
        if on is None:
            on = invoice.issue_date + datetime.timedelta(
                days=rng.randint(2, 12) if part else rng.randint(4, max(5, terms - 2))
            )
        if customer.payment_method == "card":
            method = "card"
            reference = f"Visa ending {rng.randint(1000, 9999)}, auth {rng.randint(100000, 999999)}"
        elif terms >= 45 and rng.random() < 0.5:
            method = "transfer"
            reference = f"ACH trace {rng.randint(10**14, 10**15 - 1)}"
        else:
            method = "check"
            reference = f"{rng.randint(1000, 99999)}"
        amount = None  # the balance at the time
        if part:
            owed = invoice.total_units - invoice.children_units
            amount = invoice.total_units * rng.choice((30, 40, 50)) // 100 // 100 * 100
            if not 0 < amount < owed:
                amount = max(1, owed // 2)
        self.payment(on, invoice, amount, method, reference, user)

    def issue_planned(self, ctx: dict, p: dict) -> None:
        invoice = self.issue(p["invoice"], user=ctx["admin"], day=p["issue_on"])
        p["invoice"] = invoice
        outcome = p["outcome"]
        if outcome == "paid":
            self.pay(p["customer"], invoice, user=ctx["clerk"])
        elif outcome in ("partial", "overdue_partial"):
            self.pay(p["customer"], invoice, user=ctx["clerk"], part=True)
        elif outcome == "void_reissue":
            self.event(p["issue_on"] + datetime.timedelta(days=3), 1, self.void_and_reissue, ctx, p)
        elif outcome == "parent":
            self.event(p["issue_on"] + datetime.timedelta(days=2), 1, self.attach_child, ctx, p)

    def void_and_reissue(self, ctx: dict, p: dict) -> None:
        from invoicing.generation import ar_invoices_generate
        from invoicing.lifecycle import invoice_void

        invoice = p["invoice"]
        day = min(p["issue_on"] + datetime.timedelta(days=3), self.today)
        invoice_void(
            invoice=invoice,
            user=ctx["admin"],
            reason="Sent with the wrong billing contact and PO; its services were re-invoiced on a corrected invoice.",
        )
        for again in ar_invoices_generate(
            customer=p["customer"], period_start=invoice.period_start, period_end=invoice.period_end, issue=False
        ):
            again = self.issue(again, user=ctx["admin"], day=day)
            self.pay(p["customer"], again, user=ctx["clerk"])

    def manual_parent(self, ctx: dict) -> None:
        from invoicing.manual import LineInput, invoice_create_manual

        customer = ctx["customers"]["Harborview Medical Center"]
        day = self.days_ago(6)
        invoice = invoice_create_manual(
            partner=ctx["partner"],
            customer=customer,
            lines=[
                LineInput(
                    "Interpreting – community health fair (4 interpreters, full day)", Decimal(1), Decimal(200000)
                )
            ],
            user=ctx["admin"],
        )
        invoice = self.issue(invoice, user=ctx["admin"], day=day)
        self.attach_child(ctx, {"invoice": invoice, "issue_on": day})

    def attach_child(self, ctx: dict, p: dict) -> None:
        """Seed 003: another customer agrees to pay half; a manual child invoice with one general slip."""
        from invoicing.lifecycle import invoice_attach_child
        from invoicing.manual import LineInput, invoice_create_manual

        parent = p["invoice"]
        day = min(p["issue_on"] + datetime.timedelta(days=2), self.today)
        share = parent.total_units // 2 // 100 * 100
        other = ctx["customers"]["Pacific Crest Insurance"]
        child = invoice_create_manual(
            partner=ctx["partner"],
            customer=other,
            lines=[
                LineInput(
                    description=f"Share of {parent.number} ({parent.customer}) under the cost-sharing agreement",
                    quantity=Decimal(1),
                    unit_price_units=Decimal(share),
                    slip_type="general",
                )
            ],
            notes=f"Pacific Crest covers half of {parent.number}, per claim agreement CLM-SHARE-2231.",
            user=ctx["admin"],
        )
        child = self.issue(child, user=ctx["admin"], day=day)
        invoice_attach_child(parent=parent, child=child, user=ctx["admin"])

    # -- AP invoices -----------------------------------------------------------------------------

    def plan_ap_invoices(self, slug: str) -> None:
        from invoicing.generation import ap_invoices_generate

        ctx = self.ctx[slug]
        months = sorted(
            {month_start(p.service_date) for p in ctx["proformas"] if p.service_date < month_start(self.today)}
        )
        last_month = months[-1] if months else None
        plans = []
        for provider in ctx["providers"].values():
            for first in months:
                for invoice in ap_invoices_generate(
                    provider=provider, period_start=first, period_end=month_end(first), issue=False
                ):
                    plans.append({"invoice": invoice, "provider": provider, "recent": first == last_month})
        recent = [p for p in plans if p["recent"]]
        for i, p in enumerate(recent):
            p["outcome"] = "draft" if i % 2 == 0 else "pending"
        for p in plans:
            if not p["recent"]:
                p["outcome"] = "paid"
        if recent and all(p["outcome"] == "draft" for p in recent):
            recent[-1]["outcome"] = "pending"
        for p in plans:
            if p["outcome"] == "draft":
                continue
            issue_on = min(p["invoice"].period_end + datetime.timedelta(days=3), self.today)
            self.event(issue_on, 0, self.issue_ap, ctx, p, issue_on)

    def issue_ap(self, ctx: dict, p: dict, issue_on: datetime.date) -> None:
        invoice = self.issue(p["invoice"], user=ctx["admin"], day=issue_on)
        if p["outcome"] == "paid":
            on = issue_on + datetime.timedelta(days=self.rng.randint(5, 14))
            reference = f"ACH batch {min(on, self.today):%Y%m%d}-{self.rng.randint(1, 9)}"
            self.payment(on, invoice, None, "transfer", reference, ctx["admin"])

    # -- manual invoices and quotes --------------------------------------------------------------

    def plan_manual_invoices(self, slug: str) -> None:
        ctx = self.ctx[slug]
        self.event(self.days_ago(12 if slug == "northwind" else 26), 0, self.manual_invoice, ctx)
        for c, quote in ctx["quotes"]:
            if c["name"] == QUOTE_CONVERTED_CUSTOMER:
                self.event(self.days_ago(4), 0, self.convert_quote, ctx, quote)
        if slug == "bluefin":
            self.event(self.days_ago(2), 0, self.manual_draft, ctx)

    def manual_lines(self, slug: str):
        from invoicing.manual import LineInput

        name, lines, discount, notes = MANUAL_LINES[slug]
        customer = self.ctx[slug]["customers"][name]
        tax = customer.zone.tax_rate if customer.zone else Decimal(0)
        inputs = [
            LineInput(description=d, quantity=Decimal(q), unit_price_units=Decimal(u), tax_rate=tax)
            for d, q, u in lines
        ]
        return customer, inputs, discount, notes

    def manual_invoice(self, ctx: dict) -> None:
        """Seed 001: a manual invoice with three lines and an invoice-level discount."""
        from invoicing.manual import invoice_create_manual

        slug = ctx["spec"]["slug"]
        customer, lines, discount, notes = self.manual_lines(slug)
        day = self.days_ago(12 if slug == "northwind" else 26)
        invoice = invoice_create_manual(
            partner=ctx["partner"],
            customer=customer,
            lines=lines,
            discount_units=discount,
            notes=notes,
            user=ctx["admin"],
        )
        invoice = self.issue(invoice, user=ctx["admin"], day=day)
        if slug == "northwind":  # a deposit: partially paid
            self.pay(customer, invoice, user=ctx["clerk"], part=True, on=day + datetime.timedelta(days=5))
            return
        self.pay(customer, invoice, user=ctx["clerk"], on=day + datetime.timedelta(days=14))
        self.event(day + datetime.timedelta(days=1), 0, self.duplicate_voided, ctx, invoice)

    def duplicate_voided(self, ctx: dict, original) -> None:
        """The same call-out typed twice by mistake: the duplicate is issued, then voided (it keeps its number)."""
        from invoicing.lifecycle import invoice_void
        from invoicing.manual import invoice_create_manual

        customer, lines, discount, notes = self.manual_lines(ctx["spec"]["slug"])
        duplicate = invoice_create_manual(
            partner=ctx["partner"],
            customer=customer,
            lines=lines,
            discount_units=discount,
            notes=notes,
            user=ctx["clerk"],
        )
        day = min(original.issue_date + datetime.timedelta(days=1), self.today)
        duplicate = self.issue(duplicate, user=ctx["admin"], day=day)
        invoice_void(
            invoice=duplicate,
            user=ctx["admin"],
            reason=f"Duplicate of {original.number}: the emergency call-out was already invoiced.",
        )

    def manual_draft(self, ctx: dict) -> None:
        from invoicing.manual import LineInput, invoice_create_manual

        customer = ctx["customers"]["Gulf of Maine Research Institute"]
        tax = customer.zone.tax_rate
        invoice_create_manual(
            partner=ctx["partner"],
            customer=customer,
            lines=[
                LineInput(
                    "Annual service contract – research vessel cold rooms (Q3)", Decimal(1), Decimal(240000), tax
                ),
                LineInput("Data logger replacement", Decimal(2), Decimal(8900), tax),
            ],
            notes="Quarterly contract billing; awaiting the PO number from the institute.",
            user=ctx["clerk"],
        )

    def convert_quote(self, ctx: dict, quote) -> None:
        from invoicing.manual import quote_convert

        invoice = quote_convert(quote=quote, user=ctx["clerk"])
        self.issue(invoice, user=ctx["admin"], day=self.days_ago(4))

    # -- running the plan ------------------------------------------------------------------------

    def run_events(self) -> None:
        done = 0
        while self.events:  # events may schedule later events (a void a few days after an issue)
            self.events.sort(key=lambda e: (e[0], e[1], e[2]))
            _, _, _, fn = self.events.pop(0)
            fn()
            done += 1

    def run_payments(self) -> None:
        from invoicing.models import Invoice
        from invoicing.payments import payment_record

        for day, _, invoice_id, amount, method, reference, user in sorted(self.payments, key=lambda p: p[:2]):
            invoice = Invoice.objects.get(pk=invoice_id)
            if amount is None:
                amount = invoice.outstanding_units
            if amount <= 0 or invoice.status not in Invoice.OPEN_STATUSES:
                continue
            payment_record(
                invoice=invoice,
                amount_units=amount,
                method=method,
                reference=reference,
                received_on=max(day, invoice.issue_date),
                user=user,
            )


def seed_demo(*, today: datetime.date | None = None) -> DemoSeed | None:
    """Load the demo data set in one transaction. Returns None (and changes nothing) if it is already loaded."""
    from django.db import transaction

    from invoicing.outbox import outbox_paused

    # Historical invoices are issued with the outbox paused: no e-mail, PDF render or card charge is written
    # for them (their PDFs are rendered and stored on first download).
    with outbox_paused(), transaction.atomic():
        if demo_loaded():
            return None
        seed = DemoSeed(today=today)
        seed.run()
    return seed


# --------------------------------------------------------------------------------------------------
# Summary


def demo_counts() -> dict[str, int]:
    """Row counts of every model the seed writes (a second run must leave them all unchanged)."""
    from django.apps import apps

    labels = ("customers", "expense_codes", "invoicing", "auth")
    counts = {}
    for model in apps.get_models():
        if model._meta.app_label in labels and not model._meta.auto_created:
            counts[model._meta.label] = model.objects.count()
    return counts


def demo_summary() -> str:
    from django.db.models import Count

    from invoicing.models import Invoice, InvoiceProforma, Proforma

    counts = demo_counts()
    interesting = (
        "customers.Partner",
        "customers.Customer",
        "customers.BillingContact",
        "customers.Provider",
        "customers.StaffMembership",
        "customers.CustomerMembership",
        "expense_codes.ExpenseCodeLabel",
        "expense_codes.AppliedExpenseCode",
        "invoicing.Zone",
        "invoicing.ServiceType",
        "invoicing.Rate",
        "invoicing.TimePolicy",
        "invoicing.Holiday",
        "invoicing.Coupon",
        "invoicing.ExtraOffer",
        "invoicing.ServiceRequest",
        "invoicing.Service",
        "invoicing.ServiceExtra",
        "invoicing.Quote",
        "invoicing.Proforma",
        "invoicing.Slip",
        "invoicing.Invoice",
        "invoicing.Payment",
        "invoicing.AuditEvent",
    )
    lines = ["Rows:"]
    lines += [f"  {label.split('.')[1]:<20} {counts.get(label, 0):>5}" for label in interesting]
    rows = Invoice.objects.values("partner__name", "kind", "status").annotate(n=Count("id"))
    by = defaultdict(Counter)
    for row in rows:
        by[(row["partner__name"], row["kind"])][row["status"]] += row["n"]
    order = [s for s, _ in Invoice.Status.choices]
    lines.append("Invoices by status:")
    for (partner, kind), statuses in sorted(by.items()):
        parts = ", ".join(f"{statuses[s]} {s}" for s in order if statuses[s])
        lines.append(f"  {partner} {kind.upper()}: {parts}")
    children = Invoice.objects.filter(parent__isnull=False).count()
    uninvoiced = (
        Proforma.objects.filter(status=Proforma.Status.CONFIRMED)
        .exclude(pk__in=InvoiceProforma.objects.filter(is_active=True, kind="ar").values("proforma_id"))
        .count()
    )
    lines.append(
        f"  child AR invoices attached: {children}; confirmed proformas not yet on an AR invoice: {uninvoiced}"
    )
    return "\n".join(lines)
