"""Money helpers: integer minor units, Decimal arithmetic, half-up rounding, formatting and parsing.

Amounts are stored as integers of the currency's minor unit (cents), in fields named ``*_units``.
Quantities, rates and percentages are ``Decimal`` built from strings; no float ever touches money.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision

HUNDRED = Decimal(100)

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


def format_units(units: int | None, currency: str = "USD", locale: str = "en_US") -> str:
    """12345 -> '$123.45'; negative amounts keep their sign ('-$5.00')."""
    if units is None:
        return ""
    return format_currency(units_to_decimal(units, currency), currency, locale=locale)


def parse_amount(text: str, currency: str = "USD", *, allow_negative: bool = False) -> int:
    """Read a typed amount ('1,234.50', '12', '-3.5') into minor units.

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
    if units > 10**13:
        raise AmountError("The amount is too large.")
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
