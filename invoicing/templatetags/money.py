"""Template helpers for money and statuses.

{% load money %}
{{ invoice.total_units|money:invoice.currency }}      -> $1,082.50
{{ slip.bill_rate_units|rate:invoice.currency }}      -> $0.655   (Decimal minor units, kept exact)
{% status_badge invoice %}                            -> <span class="badge text-bg-success">Paid</span>
{% status_badge "overdue" %}                          -> works with a bare status value too

Dates in the active locale and time zone (octoo_billing.locale; the partner's on its pages, PDFs and e-mails):
{{ invoice.due_date|localdate }}                      -> Nov 24, 2026 (en_US), 24 nov. 2026 (fr_FR)
{{ invoice.period_start|localdaymonth }}              -> Nov 1 (en_US), 1 nov. (fr_FR)
{{ month|localmonth }}                                -> November 2026
{{ event.at|localdatetime }}                          -> Nov 24, 2026, 09:30 EST (labelled with its zone)
{{ start|localdatetime:"nozone" }}–{{ end|localclock }} -> Nov 24, 2026, 09:30–11:00 EST (a range: one label)
"""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html

from invoicing.models import Invoice
from octoo_billing import locale as formats
from octoo_billing.money import format_units, safe_decimal

register = template.Library()

DEFAULT_CURRENCY = "USD"

# Bootstrap colour per status. Invoice statuses first; proforma, quote, request and service
# statuses share the same words where they mean the same thing.
STATUS_COLOURS = {
    "draft": "secondary",
    "pending": "primary",
    "partially_paid": "info",
    "paid": "success",
    "overdue": "danger",
    "void": "dark",
    "credited": "warning",  # settled by credit notes
    "succeeded": "success",  # a refund made
    "failed": "danger",  # a refund the gateway refused
    "confirmed": "success",
    "cancelled": "dark",
    "submitted": "primary",
    "open": "primary",
    "accepted": "info",
    "converted": "success",
    "declined": "dark",
    "scheduled": "secondary",
    "in_progress": "info",
    "completed": "success",
}


@register.filter
def money(units, currency=DEFAULT_CURRENCY):
    """Minor units -> '$1,234.50' (octoo_billing.money.format_units). Empty for None; never raises on odd input."""
    return format_units(units if type(units) is int else safe_decimal(units), currency or DEFAULT_CURRENCY)


@register.filter
def qty(value):
    """A quantity as written by hand: 1.5000 -> '1.5', 2.0000 -> '2', 12.25 -> '12.25'. Empty on odd input."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not number.is_finite():
        return ""
    return f"{number.normalize():f}" if number != number.to_integral_value() else f"{number.to_integral_value():f}"


@register.filter
def rate(units, currency=DEFAULT_CURRENCY):
    """A Decimal rate in minor units per unit -> money, keeping extra decimals (65.5 -> '$0.655').

    The same text as ``money``, which also keeps a fraction of a minor unit; the name says what a template
    shows."""
    return money(units, currency)


def _safe(formatter, value) -> str:
    """A date filter never raises on odd input (a string, a number): it shows nothing, as ``date`` does."""
    try:
        return formatter(value)
    except (TypeError, AttributeError, ValueError):
        return ""


@register.filter
def localdate(value):
    """A date (or an aware datetime's day) in the active locale: 'Nov 24, 2026'; empty for None."""
    return _safe(formats.format_date, value)


@register.filter
def localdaymonth(value):
    """Day and month without the year: 'Nov 24'."""
    return _safe(formats.format_day_month, value)


@register.filter
def localmonth(value):
    """A month and year: 'November 2026'."""
    return _safe(formats.format_month, value)


@register.filter
def localdatetime(value, option=""):
    """A moment in the active time zone and locale, labelled with the zone: 'Nov 24, 2026, 09:30 EST';
    ``"nozone"``: without the label, for the start of a range whose end carries it."""
    zone = option != "nozone"
    return _safe(lambda moment: formats.format_datetime(moment, zone=zone), value)


@register.filter
def localclock(value, option=""):
    """The time of a moment in the active zone, 24 hours, labelled with the zone: '11:00 EST'; ``"nozone"``:
    without the label ('11:00'), where the page says the zone once (the footer's "Times in ...")."""
    zone = option != "nozone"
    return _safe(lambda moment: formats.format_time(moment, zone=zone), value)


@register.filter
def localweekday(value, option=""):
    """A date with its weekday in the active locale: 'Mon, Nov 2, 2026' (en_US), 'Mo., 2. Nov. 2026' (de_DE);
    ``"noyear"``: 'Mon, Nov 2'."""
    return _safe(lambda day: formats.format_weekday(day, year=option != "noyear"), value)


@register.filter
def localtimeofday(value):
    """The time of a moment in the active zone as the locale's readers write it, no zone label: '2:30 PM' (en_US),
    '14:30' (de_DE, fr_FR). Pages keep the app's 24-hour clock (``localclock``) for now; this is for a page that
    wants the locale's own clock."""
    return _safe(formats.format_time_of_day, value)


def _status_label(status: str) -> str:
    try:
        return Invoice.Status(status).label
    except ValueError:
        return status.replace("_", " ").capitalize()


@register.simple_tag
def status_badge(obj_or_status, label=None):
    """A Bootstrap badge for a document (anything with ``status``/``get_status_display``) or a status value."""
    if obj_or_status is None or obj_or_status == "":
        return ""
    status = getattr(obj_or_status, "status", obj_or_status)
    status = str(status)
    if label is None:
        get_display = getattr(obj_or_status, "get_status_display", None)
        label = get_display() if callable(get_display) else _status_label(status)
    colour = STATUS_COLOURS.get(status, "secondary")
    return format_html('<span class="badge text-bg-{} status-badge status-{}">{}</span>', colour, status, label)
