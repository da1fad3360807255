"""A demo partner and what it sells: company settings, zones, service types, rates, time policies, holidays,
coupons and the extras customers may add when they book."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from customers.company import company_settings_update
from customers.models import Partner
from invoicing.models import Coupon, ExtraOffer, Holiday, Rate, ServiceType, TimePolicy, Zone
from invoicing.numbering import counters_ensure

from .context import HISTORY_DAYS, DemoSeed, PartnerData
from .dates import us_holidays_between
from .specs import PartnerSpec


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


def partner_create(spec: PartnerSpec) -> Partner:
    """The partner, its number counters, and its company settings saved through the office settings page's checks."""
    ar, ap, pf = spec.prefixes
    partner = Partner.objects.create(
        name=spec.name,
        slug=spec.slug,
        currency="USD",
        legal_name=spec.legal_name,
        address=spec.address,
        tax_id=spec.tax_id,
        email=spec.email,
        phone=spec.phone,
        ar_prefix=ar,
        ap_prefix=ap,
        proforma_prefix=pf,
        default_payment_terms_days=30,
        issue_generated_invoices=spec.issue_generated_invoices,
    )
    counters_ensure(partner=partner)
    logo_name, initials, color = spec.logo
    logo = SimpleUploadedFile(logo_name, demo_logo_svg(initials, color), content_type="image/svg+xml")
    return company_settings_update(partner=partner, user=None, logo=logo, **spec.company)


def zones_create(data: PartnerData) -> None:
    data.zones = {
        name: Zone.objects.create(
            partner=data.partner,
            name=name,
            tax_rate=Decimal(rate),
            price_multiplier=Decimal(multiplier),
            surcharge_units=surcharge,
        )
        for name, rate, multiplier, surcharge in data.spec.zones
    }


def service_types_create(data: PartnerData) -> None:
    data.types = {
        code: ServiceType.objects.create(partner=data.partner, code=code, name=name)
        for code, name in data.spec.service_types
    }


def rates_create(data: PartnerData) -> None:
    """Rates: the defaults, per service type, customers' bill overrides, providers' pay overrides."""
    partner, spec = data.partner, data.spec
    rates = [
        Rate(
            partner=partner,
            service_type=data.types[type_code] if type_code else None,
            slip_type=slip_type,
            pay_schedule=schedule,
            bill_rate_units=Decimal(bill),
            pay_rate_units=Decimal(pay),
        )
        for slip_type, type_code, table in spec.rates
        for schedule, (bill, pay) in table.items()
    ]
    rates += [
        Rate(
            partner=partner,
            service_type=data.types[type_code] if type_code else None,
            slip_type="service",
            pay_schedule=schedule,
            customer=data.customers[name],
            bill_rate_units=Decimal(bill),
        )
        for name, type_code, schedule, bill in spec.customer_rates
    ]
    rates += [
        Rate(
            partner=partner,
            service_type=data.types[type_code] if type_code else None,
            slip_type="service",
            pay_schedule=schedule,
            provider=data.providers[name],
            pay_rate_units=Decimal(pay),
        )
        for name, type_code, schedule, pay in spec.provider_rates
    ]
    Rate.objects.bulk_create(rates)


def time_policies_create(data: PartnerData) -> None:
    """An hour's minimum in quarter hours for everyone; some customers have their own."""
    TimePolicy.objects.create(partner=data.partner, minimum_hours=Decimal("1"), rounding_minutes=15)
    for name, minimum, rounding in data.spec.customer_policies:
        TimePolicy.objects.create(
            partner=data.partner,
            customer=data.customers[name],
            minimum_hours=Decimal(minimum),
            rounding_minutes=rounding,
        )


def holidays_create(seed: DemoSeed, data: PartnerData) -> None:
    """The US holidays from before the history starts to two months ahead (holiday rates apply on them)."""
    holidays = us_holidays_between(seed.days_ago(HISTORY_DAYS + 5), seed.today + datetime.timedelta(days=60))
    Holiday.objects.bulk_create([Holiday(partner=data.partner, date=day, name=name) for day, name in holidays])
    data.holidays = [day for day, _ in holidays]


def coupons_create(seed: DemoSeed, data: PartnerData) -> None:
    Coupon.objects.bulk_create(
        [
            Coupon(
                partner=data.partner,
                code=code,
                percent_off=Decimal(percent) if percent else None,
                amount_off_units=amount,
                valid_from=seed.days_ago(HISTORY_DAYS),
                valid_until=seed.today + datetime.timedelta(days=90),
            )
            for code, percent, amount in data.spec.coupons
        ]
    )


def offers_create(data: PartnerData) -> None:
    """The extras customers may add when they book (the same ones staff record on services)."""
    data.offers = {
        description: ExtraOffer.objects.create(
            partner=data.partner,
            name=description,
            kind=kind,
            bill_rate_units=Decimal(bill),
            pay_rate_units=Decimal(pay),
            max_quantity=5,
        )
        for kind, description, _quantity, bill, pay in data.spec.extras
    }
