"""A demo partner and what it sells: company settings, zones, service types, rates, time policies, holidays,
coupons and the extras customers may add when they book."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from customers.company import company_settings_update
from customers.models import Partner
from invoicing.models import Coupon, ExtraOffer, Holiday, Rate, ServiceType, TimePolicy, Zone, ZoneArea
from invoicing.numbering import counters_ensure
from invoicing.rates import RateBook

from .context import HISTORY_DAYS, DemoSeed, PartnerData
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
        country="US",
        region=spec.region,
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
    ZoneArea.objects.bulk_create(
        [
            ZoneArea(zone=data.zones[zone], country=country, region=region, postal_pattern=pattern)
            for zone, country, region, pattern in data.spec.zone_areas
        ]
    )


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
    """An hour's minimum in quarter hours for everyone; some customers (the bill side) and providers (the pay
    side) have their own."""
    TimePolicy.objects.create(partner=data.partner, minimum_hours=Decimal("1"), rounding_minutes=15)
    for name, minimum, rounding in data.spec.customer_policies:
        TimePolicy.objects.create(
            partner=data.partner,
            customer=data.customers[name],
            minimum_hours=Decimal(minimum),
            rounding_minutes=rounding,
        )
    for name, minimum, rounding in data.spec.provider_policies:
        TimePolicy.objects.create(
            partner=data.partner,
            provider=data.providers[name],
            minimum_hours=Decimal(minimum),
            rounding_minutes=rounding,
        )


def holidays_create(seed: DemoSeed, data: PartnerData) -> None:
    """The partner's own day off (the public holidays of its country and state come from the ``holidays``
    package); ``data.holidays`` are all the holidays from before the history starts to two months ahead."""
    partner, first = data.partner, seed.days_ago(HISTORY_DAYS + 5)
    last = seed.today + datetime.timedelta(days=60)
    if data.spec.own_holiday:
        month, day, name = data.spec.own_holiday
        Holiday.objects.bulk_create(
            [
                Holiday(partner=partner, date=datetime.date(year, month, day), name=name)
                for year in (first.year, last.year)
            ],
            ignore_conflicts=True,
        )
    calendar = RateBook(partner).holidays
    days = (first + datetime.timedelta(days=n) for n in range((last - first).days + 1))
    data.holidays = [day for day in days if day in calendar]


def coupons_create(seed: DemoSeed, data: PartnerData) -> None:
    """The partner's coupons, some limited in all or per customer (redeemed on portal bookings: ``bookings``)."""
    limits = data.spec.coupon_limits
    Coupon.objects.bulk_create(
        [
            Coupon(
                partner=data.partner,
                code=code,
                percent_off=Decimal(percent) if percent else None,
                amount_off_units=amount,
                valid_from=seed.days_ago(HISTORY_DAYS),
                valid_until=seed.today + datetime.timedelta(days=90),
                max_redemptions=limits.get(code, (None, None))[0],
                max_per_customer=limits.get(code, (None, None))[1],
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
