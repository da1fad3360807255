"""Portal bookings (``invoicing.booking.request_book``) and quotes (seed 002).

A customer whose "generate invoices automatically" flag is off gets a quote for its booking; one customer's
flat-fee quote is typed by staff and later invoiced (``demo.manual_invoices``). Customers whose flag is on are
invoiced, numbered and issued the moment they book: their bookings are made today, after the history's invoices
(``bookings_invoiced_at_once``).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from invoicing.booking import ServiceInput, request_book
from invoicing.models import Quote, QuoteLine, ServiceRequest

from .context import DemoSeed, PartnerData
from .dates import at
from .people import portal_users
from .requests import address_parts, request_codes, request_make
from .specs import QUOTE_CONVERTED_CUSTOMER, TOPICS, CustomerSpec


def book(
    seed: DemoSeed, data: PartnerData, c: CustomerSpec, *, codes: list[tuple[str, str]], coupon_code: str = ""
) -> ServiceRequest:
    """A portal booking through the one way in (``request_book``): a weekday morning one to three weeks ahead,
    with the partner's first coupon when ``coupon_code`` says so."""
    rng = seed.rng
    customer = data.customers[c.name]
    day = seed.today + datetime.timedelta(days=rng.randint(5, 18))
    day += datetime.timedelta(days=max(0, 7 - day.weekday()) if day.weekday() >= 5 else 0)
    starts_at = at(day, rng.choice((9, 10, 13)), 0)
    minutes = rng.choice((60, 90, 120))
    title = rng.choice(TOPICS[rng.choice(c.topics)]).capitalize()
    region, postal_code = address_parts(customer.address)
    service = ServiceInput(
        service_type=data.types[rng.choice(c.types)],
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=minutes),
        address=customer.address,
        region=region,
        postal_code=postal_code,
    )
    user = portal_users(seed).get(customer.name)
    return request_book(
        customer=customer, user=user, title=title, services=[service], codes=codes, coupon_code=coupon_code
    )


def quotes_create(seed: DemoSeed, data: PartnerData) -> None:
    """Portal bookings answered with a quote, for the customers whose auto-invoice flag is off."""
    for c in [c for c in data.spec.customers if not c.auto_invoice]:
        codes = request_codes(seed, c, always=True)
        if c.name == QUOTE_CONVERTED_CUSTOMER:
            data.quotes.append((c, _flat_fee_quote(seed, data, c, codes)))
        else:  # a booking made in the portal: priced into a quote by the partner's own rates
            data.quotes.append((c, book(seed, data, c, codes=codes).quote))


def _flat_fee_quote(seed: DemoSeed, data: PartnerData, c: CustomerSpec, codes: list[tuple[str, str]]) -> Quote:
    """A flat-fee job with no provider visit: the quote becomes the invoice, nothing else bills it."""
    tax = data.customers[c.name].zone.tax_rate
    request, _ = request_make(seed, data, c, [], title="Translation of claim documents", source="portal", codes=codes)
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
            QuoteLine(quote=quote, description="Notarized certificate of accuracy", unit_price_units=Decimal(2500)),
        ]
    )
    return quote


def bookings_invoiced_at_once(seed: DemoSeed, data: PartnerData) -> None:
    """Today's portal bookings by the demo's customer users whose flag is on: each is invoiced and numbered the
    moment it is confirmed (seed 002), so they come last, after the history's invoices. Their invoices are issued
    by ``request_book`` with their delivery work, which ``demo.delivery`` then discards."""
    users = portal_users(seed)
    coupon = next((code for code, percent, _ in data.spec.coupons if percent), "")  # the first percentage coupon
    for c in [c for c in data.spec.customers if c.name in users]:
        customer = data.customers[c.name]
        if customer.auto_invoice_on_booking and not customer.allow_recurring_bookings:
            book(seed, data, c, codes=request_codes(seed, c, always=True), coupon_code=coupon)
            coupon = ""  # once: the first booking shows a coupon's discount line
