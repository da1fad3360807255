"""Money helpers: integer minor units, Decimal arithmetic, half-up rounding, formatting and parsing.

Amounts are stored as integers of the currency's minor unit (cents), in fields named ``*_units``.
Quantities, rates and percentages are ``Decimal`` built from strings; no float ever touches money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision, get_decimal_symbol, get_group_symbol

from .locale import get_locale

HUNDRED = Decimal(100)

# --- bounds -------------------------------------------------------------------------------------------------------
# What one typed number may be: more than any real invoice needs, and small enough that every value fits its column
# and no sum overflows. The form fields (octoo_billing.forms) refuse anything outside with a plain message; the
# domain (invoicing.manual: the line builder, adjustments) refuses it again for callers without a form.
#
# MAX_AMOUNT_UNITS  one amount of money (a payment, a discount, an adjustment, a line's amount) and one document's
#                   total, in minor units: 99,999,999.99 in a currency of cents. An adjustment is stored as one unit
#                   at a rate of its amount, so an amount must fit the rate columns: NUMERIC(14, 4) holds less than
#                   10**10 minor units. Sums stay far inside the BIGINT totals (9.2 * 10**18): 500 lines, each at
#                   most doubled by a 100 % tax, come to 10**13.
# MAX_RATE_UNITS    a unit price (or pay rate), in minor units, with RATE_PLACES decimals of a minor unit: the same
#                   ceiling, the most the *_rate_units / unit_price_units NUMERIC(14, 4) columns hold in whole units
#                   (a price above the largest document means nothing; quantity x price is bounded by the line).
# MAX_QUANTITY      hours, miles or items on one line: a million, with QUANTITY_PLACES decimals; the quantity
#                   columns are NUMERIC(12, 4) (up to 99,999,999.9999).
# MAX_PERCENT       a tax or discount rate: 0 to 100 %, PERCENT_PLACES decimals (tax_rate is NUMERIC(6, 3)).
MAX_AMOUNT_UNITS = 10**10 - 1
MAX_RATE_UNITS = MAX_AMOUNT_UNITS
RATE_PLACES = 4
MAX_QUANTITY = Decimal(1_000_000)
QUANTITY_PLACES = 4
MAX_PERCENT = HUNDRED
PERCENT_PLACES = 3

_AMOUNT_RE = re.compile(r"^(?P<sign>-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?$")


class AmountError(ValueError):
    """A typed amount that cannot be read as money."""


def to_decimal(value) -> Decimal:
    """Coerce an int, str or Decimal to Decimal; refuse floats so they never sneak in."""
    if isinstance(value, float):
        raise TypeError("floats are not accepted for money, use Decimal or str")
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def round_half_up(value) -> int:
    """Round a Decimal amount of minor units to a whole minor unit, halves away from zero."""
    return int(to_decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def minor_exponent(currency: str) -> int:
    """Number of decimal places of a currency's minor unit (USD 2, JPY 0, BHD 3)."""
    return get_currency_precision(currency)


def units_to_decimal(units: int, currency: str = "USD") -> Decimal:
    """12345 cents -> Decimal('123.45')."""
    exp = minor_exponent(currency)
    return Decimal(units).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def decimal_to_units(amount, currency: str = "USD") -> int:
    """Decimal('123.455') USD -> 12346 (half-up to the minor unit)."""
    return round_half_up(to_decimal(amount).scaleb(minor_exponent(currency)))


@dataclass(frozen=True)
class _Pattern:
    """How babel writes an amount of a currency in a locale, read once from babel itself."""

    exp: int  # decimal places of the minor unit
    scale: int  # 10 ** exp
    prefix: str  # "$"
    suffix: str
    negative_prefix: str  # "-$"
    negative_suffix: str
    group: str  # "," ("" when it is "," already: nothing to replace)
    decimal: str  # "."
    grouped_by_three: bool  # False for locales such as en_IN: format_units then asks babel


@lru_cache(maxsize=64)
def _pattern(currency: str, locale: str) -> _Pattern:
    exp = minor_exponent(currency)
    decimal = get_decimal_symbol(locale)
    tail = decimal + "0" * exp if exp else ""
    prefix, _, suffix = format_currency(Decimal(0), currency, locale=locale).partition("0" + tail)
    negative_prefix, _, negative_suffix = format_currency(Decimal(-1), currency, locale=locale).partition("1" + tail)
    group = get_group_symbol(locale)
    return _Pattern(
        exp=exp,
        scale=10**exp,
        prefix=prefix,
        suffix=suffix,
        negative_prefix=negative_prefix,
        negative_suffix=negative_suffix,
        group="" if group == "," else group,
        decimal=decimal,
        grouped_by_three=Locale.parse(locale).currency_formats["standard"].grouping == (3, 3),
    )


def format_units(
    units: int | Decimal | None, currency: str = "USD", locale: str | None = None, *, plain: bool = False
) -> str:
    """The one money formatter: minor units -> text, as babel writes it, in integer arithmetic.

    12345 -> '$123.45'; negative amounts keep their sign ('-$5.00'); None -> ''. A ``Decimal`` with a fraction
    of a minor unit (a rate: 65.5 cents) keeps its extra decimals ('$0.655') and is never rounded.
    ``plain=True`` writes what a CSV export holds: no symbol, no grouping ('-1234.50', JPY '1000').
    The pattern is read from babel once per currency and locale: pages format hundreds of amounts.
    ``locale`` None: the active one (octoo_billing.locale: the partner's on its pages, PDFs, e-mails and CSV),
    en_US when none is ('12.345,67 €' for 1234567 EUR cents in de_DE)."""
    if units is None:
        return ""
    if plain:
        locale = "en_US"  # machine-read: the same text in every locale
    pattern = _pattern(currency, locale or get_locale())
    if type(units) is not int:
        units = to_decimal(units)
        if units == units.to_integral_value():
            units = int(units)
    negative = units < 0
    if type(units) is int:
        whole, frac = divmod(-units if negative else units, pattern.scale)
        fraction = f"{frac:0{pattern.exp}d}" if pattern.exp else ""
    else:  # a fraction of a minor unit: every decimal it has, at least the currency's
        major = abs(units).scaleb(-pattern.exp)
        places = max(pattern.exp, -major.normalize().as_tuple().exponent)
        whole_text, _, fraction = f"{major:.{places}f}".partition(".")
        whole = int(whole_text)
    if plain:
        text = f"{whole}.{fraction}" if fraction else str(whole)
        return f"-{text}" if negative else text
    if not pattern.grouped_by_three:
        return format_currency(
            Decimal(units).scaleb(-pattern.exp), currency, locale=locale or get_locale(), decimal_quantization=False
        )
    digits = f"{whole:,}"
    if pattern.group:
        digits = digits.replace(",", pattern.group)
    if fraction:
        digits = f"{digits}{pattern.decimal}{fraction}"
    if negative:
        return f"{pattern.negative_prefix}{digits}{pattern.negative_suffix}"
    return f"{pattern.prefix}{digits}{pattern.suffix}"


def parse_amount(
    text: str, currency: str = "USD", *, allow_negative: bool = False, max_units: int = MAX_AMOUNT_UNITS
) -> int:
    """Read a typed amount ('1,234.50', '12', '-3.5') into minor units, at most ``max_units`` either way.

    Refuses anything ambiguous: empty text, exponents ('1e9'), several dots ('12.3.4'),
    misplaced thousands separators ('1,23'), more decimals than the currency has.
    """
    if text is None:
        raise AmountError("Enter an amount.")
    cleaned = re.sub(r"^(-?)[$€£]+", r"\1", str(text).strip().replace(" ", ""))
    if not cleaned:
        raise AmountError("Enter an amount.")
    match = _AMOUNT_RE.match(cleaned)
    if not match or len(cleaned) > 40:
        raise AmountError(f"“{text}” is not an amount. Use digits with an optional decimal point, like 1,234.50.")
    exp = minor_exponent(currency)
    frac = match.group("frac") or ""
    if len(frac) > exp:
        if exp == 0:
            raise AmountError(f"{currency} amounts have no decimal places.")
        raise AmountError(f"Use at most {exp} decimal places.")
    if match.group("sign") and not allow_negative:
        raise AmountError("The amount cannot be negative.")
    whole = match.group("int").replace(",", "")
    units = int(whole) * 10**exp + (int(frac.ljust(exp, "0")) if exp else 0)
    if units > max_units:
        raise AmountError(f"The amount is too large: at most {format_units(max_units, currency)}.")
    return -units if match.group("sign") else units


def percent_of(amount_units, rate_percent) -> int:
    """Tax or discount of ``rate_percent`` % on an amount, rounded half-up to the minor unit."""
    return round_half_up(to_decimal(amount_units) * to_decimal(rate_percent) / HUNDRED)


def allocate(total_units: int, weights: list[int]) -> list[int]:
    """Split ``total_units`` over lines in proportion to ``weights`` so the parts add up exactly.

    Largest-remainder method: each line gets the floor of its share, the leftover minor units
    go to the lines with the largest remainders (earliest first on ties).
    """
    if not weights:
        return []
    base = sum(weights)
    if base == 0:
        shares = [0] * len(weights)
        shares[0] = total_units
        return shares
    raw = [Decimal(total_units) * w / base for w in weights]
    floors = [int(r.to_integral_value(rounding="ROUND_FLOOR")) for r in raw]
    leftover = total_units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:leftover]:
        floors[i] += 1
    return floors


def safe_decimal(text) -> Decimal | None:
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None
