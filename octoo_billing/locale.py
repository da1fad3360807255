"""The locale money and dates are written in: a partner's (Partner.locale), active for what is shown for it.

One context variable holds the active locale; ``format_units`` (octoo_billing.money) and the date formatters here
read it, so no call has to pass the locale along. Who sets it:

* a page: ``customers.middleware.PartnerTimeZoneMiddleware`` activates the signed-in user's partner's locale (and
  time zone) for the request; the pay-link page (no signed-in user) activates the invoice's partner's;
* a PDF, an e-mail, a CSV export or a worker's task: ``customers.formats.partner_formats(partner)`` around it.

Nothing active means ``DEFAULT_LOCALE`` (en_US), which writes what the app always wrote: "$1,234.50",
"Nov 24, 2026". Dates are written by babel in the locale's medium format; times in 24 hours as the app always
has, labelled with the zone they are in ("Dec 1, 2026, 09:30 EST", "1 déc. 2026, 09:30 UTC+1").

Machine-read values (CSV amount columns, ISO dates in forms and URLs) never go through here.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import functools
import re

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_skeleton as babel_format_skeleton
from babel.dates import format_time as babel_format_time
from babel.dates import get_datetime_format
from django.core.exceptions import ValidationError
from django.utils import timezone

DEFAULT_LOCALE = "en_US"

# The locales a partner can choose (company settings), with the name the settings page shows.
LOCALE_CHOICES = (
    ("en_US", "English (United States)"),
    ("en_GB", "English (United Kingdom)"),
    ("en_CA", "English (Canada)"),
    ("en_AU", "English (Australia)"),
    ("fr_FR", "Français (France)"),
    ("fr_CA", "Français (Canada)"),
    ("de_DE", "Deutsch (Deutschland)"),
    ("es_ES", "Español (España)"),
    ("es_MX", "Español (México)"),
    ("nl_NL", "Nederlands (Nederland)"),
    ("it_IT", "Italiano (Italia)"),
    ("pt_BR", "Português (Brasil)"),
)
LOCALES = frozenset(code for code, _label in LOCALE_CHOICES)

_active: contextvars.ContextVar[str | None] = contextvars.ContextVar("octoo_locale", default=None)

_ABBREVIATION = re.compile(r"^[A-Z]{2,5}$")


def validate_locale(value: str) -> None:
    """A locale the settings offer and babel knows (``babel.Locale.parse``)."""
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError, TypeError):
        known = False
    else:
        known = value in LOCALES
    if not known:
        raise ValidationError(
            "“%(value)s” is not a locale Octoo offers. Choose one from the list, e.g. en_US or fr_FR.",
            code="invalid_locale",
            params={"value": value},
        )


def get_locale() -> str:
    """The active locale, ``DEFAULT_LOCALE`` when none is."""
    return _active.get() or DEFAULT_LOCALE


def activate(locale: str | None) -> contextvars.Token:
    """Make ``locale`` (None or unknown: the default) the active one; ``deactivate(token)`` undoes it."""
    return _active.set(locale if locale in LOCALES else None)


def deactivate(token: contextvars.Token) -> None:
    _active.reset(token)


@contextlib.contextmanager
def override(locale: str | None):
    """``with override("fr_FR"): ...`` formats in French inside, whatever was active before."""
    token = activate(locale)
    try:
        yield
    finally:
        deactivate(token)


@functools.lru_cache(maxsize=32)
def _datetime_pattern(locale: str) -> str:
    """How the locale joins a date and a time: "{1}, {0}" in en_US, "{1} {0}" in pt_BR."""
    return str(get_datetime_format("medium", locale=locale))


def zone_label(value: datetime.datetime, locale: str | None = None) -> str:
    """The zone an aware datetime is in, as a reader knows it: the locale's abbreviation ("EST", "CET", "UTC") where
    it has one, else the offset from UTC ("UTC+1", "UTC−5", "UTC+5:30")."""
    locale = locale or get_locale()
    abbreviation = babel_format_datetime(value, "z", tzinfo=value.tzinfo, locale=locale)
    if _ABBREVIATION.match(abbreviation):
        return abbreviation
    offset = value.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if not minutes:
        return "UTC"
    sign = "+" if minutes > 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}"


def format_date(value: datetime.date | datetime.datetime | None, locale: str | None = None) -> str:
    """A date as the locale writes it: "Nov 24, 2026" (en_US), "24 Nov 2026" (en_GB), "24 nov. 2026" (fr_FR),
    "24.11.2026" (de_DE); "" for None. An aware datetime is taken on its day in the active time zone."""
    if value is None or value == "":
        return ""
    return _medium_date(_as_date(value), locale or get_locale())


@functools.lru_cache(maxsize=4096)
def _medium_date(value: datetime.date, locale: str) -> str:
    """Cached: a list page shows the same few dates hundreds of times."""
    return babel_format_date(value, "medium", locale=locale)


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def format_day_month(value: datetime.date | None, locale: str | None = None) -> str:
    """A day of a month without the year, as in a period's start: "Nov 4" (en_US), "4 nov." (fr_FR), "" for None."""
    if value is None or value == "":
        return ""
    return babel_format_skeleton("MMMd", _as_date(value), locale=locale or get_locale())


def format_month(value: datetime.date | None, locale: str | None = None) -> str:
    """A month: "November 2026" (en_US), "novembre 2026" (fr_FR); "" for None."""
    if value is None or value == "":
        return ""
    return babel_format_date(_as_date(value), "LLLL y", locale=locale or get_locale())


def format_short_month(value: datetime.date | None, locale: str | None = None) -> str:
    """A month abbreviated, as a chart's axis shows it: "Nov 2026" (en_US), "nov. 2026" (fr_FR), "Nov. 2026"
    (de_DE); "" for None."""
    if value is None or value == "":
        return ""
    return babel_format_skeleton("yMMM", _as_date(value), locale=locale or get_locale())


def format_time(value: datetime.datetime | None, locale: str | None = None, *, zone: bool = True) -> str:
    """The time of an aware datetime in the active time zone, 24 hours, with its zone: "09:30 EST"."""
    if value is None or value == "":
        return ""
    locale = locale or get_locale()
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    text = babel_format_time(value, "HH:mm", locale=locale)
    if zone and timezone.is_aware(value):
        text = f"{text} {zone_label(value, locale)}"
    return text


def format_datetime(value: datetime.datetime | None, locale: str | None = None, *, zone: bool = True) -> str:
    """A moment in the active time zone, labelled with it: "Dec 1, 2026, 09:30 EST" (en_US), "1 déc. 2026, 09:30
    UTC+1" (fr_FR, Paris), "01.12.2026, 09:30 MEZ" (de_DE, Berlin); "" for None."""
    if value is None or value == "":
        return ""
    locale = locale or get_locale()
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    date_text = _medium_date(value.date(), locale)
    return _datetime_pattern(locale).replace("{1}", date_text).replace("{0}", format_time(value, locale, zone=zone))


def format_weekday(
    value: datetime.date | datetime.datetime | None, locale: str | None = None, *, year: bool = True
) -> str:
    """A date with its weekday, as the locale writes it: "Mon, Nov 2, 2026" (en_US), "Mon, 2 Nov 2026" (en_GB),
    "Mo., 2. Nov. 2026" (de_DE), "lun. 2 nov. 2026" (fr_FR); ``year=False``: "Mon, Nov 2", "Mo., 2. Nov.",
    "lun. 2 nov."; "" for None. An aware datetime is taken on its day in the active time zone."""
    if value is None or value == "":
        return ""
    return _weekday_date(_as_date(value), locale or get_locale(), "yMMMEd" if year else "MMMEd")


@functools.lru_cache(maxsize=4096)
def _weekday_date(value: datetime.date, locale: str, skeleton: str) -> str:
    return babel_format_skeleton(skeleton, value, locale=locale)


def format_time_of_day(value: datetime.datetime | datetime.time | None, locale: str | None = None) -> str:
    """A time of day as the locale's readers write it (babel's short time): "2:30 PM" (en_US), "14:30" (en_GB,
    de_DE, fr_FR); an aware datetime is taken in the active time zone, with no zone label (for a range whose
    date or zone is written beside it); "" for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        value = value.time()
    return babel_format_time(value.replace(tzinfo=None), "short", locale=locale or get_locale())
