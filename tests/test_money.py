"""octoo_billing.money: exact rounding, allocation, parsing and formatting of minor units."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from babel.numbers import format_currency, get_currency_precision
from hypothesis import example, given
from hypothesis import strategies as st

from invoicing.models import Slip
from invoicing.templatetags.money import money, rate
from octoo_billing.money import (
    MAX_AMOUNT_UNITS,
    MAX_PERCENT,
    MAX_QUANTITY,
    MAX_RATE_UNITS,
    PERCENT_PLACES,
    QUANTITY_PLACES,
    RATE_PLACES,
    AmountError,
    allocate,
    decimal_to_units,
    format_units,
    parse_amount,
    percent_of,
    round_half_up,
    to_decimal,
    units_to_decimal,
)

MAX_UNITS = MAX_AMOUNT_UNITS  # parse_amount refuses anything larger

decimals = st.decimals(min_value=-(10**12), max_value=10**12, places=4, allow_nan=False, allow_infinity=False)


@given(decimals)
def test_round_half_up_matches_decimal_quantize_half_up(value):
    assert round_half_up(value) == int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(st.integers(min_value=0, max_value=10**12))
def test_round_half_up_sends_halves_away_from_zero(n):
    assert round_half_up(Decimal(n) + Decimal("0.5")) == n + 1
    assert round_half_up(-(Decimal(n) + Decimal("0.5"))) == -(n + 1)


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=1, max_value=4999))
def test_round_half_up_below_a_half_goes_toward_zero(n, ten_thousandths):
    fraction = Decimal(ten_thousandths) / 10000
    assert round_half_up(Decimal(n) + fraction) == n
    assert round_half_up(Decimal(-n) - fraction) == -n


def test_round_half_up_reads_ints_and_strings():
    assert round_half_up(7) == 7
    assert round_half_up("2.5") == 3
    assert round_half_up("-2.5") == -3


@pytest.mark.parametrize("value", [0.5, 1.0, -3.25])
def test_to_decimal_refuses_float(value):
    with pytest.raises(TypeError):
        to_decimal(value)


@pytest.mark.parametrize("value", [0.5, 10.0])
def test_money_helpers_refuse_float(value):
    with pytest.raises(TypeError):
        round_half_up(value)
    with pytest.raises(TypeError):
        percent_of(1000, value)


def test_to_decimal_keeps_strings_exact():
    assert to_decimal("0.1") + to_decimal("0.2") == Decimal("0.3")
    assert to_decimal(12) == Decimal(12)


weights_lists = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=25).filter(
    lambda ws: sum(ws) > 0
)


@given(st.integers(min_value=-(10**12), max_value=10**12), weights_lists)
def test_allocate_parts_add_up_to_the_total(total, weights):
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total


@given(st.integers(min_value=-(10**12), max_value=10**12), weights_lists)
def test_allocate_each_part_is_within_one_unit_of_its_exact_share(total, weights):
    base = sum(weights)
    for part, weight in zip(allocate(total, weights), weights, strict=True):
        exact = Decimal(total) * weight / base
        assert abs(Decimal(part) - exact) < 1


@given(st.integers(min_value=0, max_value=10**12), weights_lists)
def test_allocate_is_never_negative_for_non_negative_input(total, weights):
    assert all(part >= 0 for part in allocate(total, weights))


@given(st.integers(min_value=0, max_value=10**9), weights_lists)
def test_allocate_gives_nothing_to_zero_weight_lines(total, weights):
    for part, weight in zip(allocate(total, weights), weights, strict=True):
        if weight == 0:
            assert part == 0


def test_allocate_gives_leftover_units_to_the_largest_remainders_earliest_first():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [1, 2]) == [3, 7]  # 3.33 / 6.67: the larger remainder takes the unit


def test_allocate_with_all_zero_weights_puts_everything_on_the_first_line():
    assert allocate(500, [0, 0, 0]) == [500, 0, 0]
    assert allocate(0, []) == []


@given(st.integers(min_value=0, max_value=MAX_UNITS))
def test_parse_amount_reads_back_what_format_units_wrote(units):
    text = format_units(units)
    assert parse_amount(text) == units


@given(st.integers(min_value=-MAX_UNITS, max_value=MAX_UNITS))
@example(-500)
def test_parse_amount_reads_back_negative_formatted_amounts_when_allowed(units):
    assert parse_amount(format_units(units), allow_negative=True) == units


@given(st.integers(min_value=0, max_value=MAX_UNITS))
def test_parse_amount_reads_plain_decimal_text(units):
    text = str(units_to_decimal(units))  # e.g. "1234.50"
    assert parse_amount(text) == units
    assert decimal_to_units(text) == units


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("1,234.50", 123450),
        ("12", 1200),
        ("0.5", 50),
        ("$1,234,567.89", 123456789),
        ("  7.05 ", 705),
        ("0", 0),
    ],
)
def test_parse_amount_accepts_usual_amounts(text, units):
    assert parse_amount(text) == units


@pytest.mark.parametrize(
    "text", ["12.3.4", "1e9", "", "   ", "abc", "1,23", "12.345", "1,2345.00", ".5", "5.", "--5", "NaN", "Infinity"]
)
def test_parse_amount_refuses_ambiguous_text(text):
    with pytest.raises(AmountError):
        parse_amount(text)


def test_parse_amount_refuses_none():
    with pytest.raises(AmountError):
        parse_amount(None)


def test_parse_amount_refuses_negative_unless_allowed():
    with pytest.raises(AmountError):
        parse_amount("-3.50")
    assert parse_amount("-3.50", allow_negative=True) == -350


def test_parse_amount_refuses_too_large_amounts():
    assert parse_amount(str(units_to_decimal(MAX_UNITS))) == MAX_UNITS
    with pytest.raises(AmountError):
        parse_amount(str(units_to_decimal(MAX_UNITS + 1)))


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("100,000,000.00", "USD", "The amount is too large: at most $99,999,999.99."),
        ("-100000000", "USD", "The amount is too large: at most $99,999,999.99."),
        ("10000000000", "JPY", "The amount is too large: at most ¥9,999,999,999."),
    ],
)
def test_parse_amount_names_the_largest_amount_it_takes(text, currency, message):
    with pytest.raises(AmountError) as caught:
        parse_amount(text, currency, allow_negative=True)
    assert str(caught.value) == message


def test_the_bounds_fit_the_columns_they_protect():
    """An amount is stored as a rate too (an adjustment is one unit at a rate of its amount); sums stay in BIGINT."""
    rate = Slip._meta.get_field("bill_rate_units")
    quantity = Slip._meta.get_field("quantity")
    tax = Slip._meta.get_field("tax_rate")
    assert MAX_RATE_UNITS < 10 ** (rate.max_digits - rate.decimal_places) and RATE_PLACES == rate.decimal_places
    assert MAX_AMOUNT_UNITS <= MAX_RATE_UNITS
    assert MAX_QUANTITY < 10 ** (quantity.max_digits - quantity.decimal_places)
    assert QUANTITY_PLACES == quantity.decimal_places
    assert MAX_PERCENT < 10 ** (tax.max_digits - tax.decimal_places) and PERCENT_PLACES == tax.decimal_places
    assert 500 * MAX_AMOUNT_UNITS * 2 < 2**63 - 1  # 500 lines, each at most doubled by 100 % tax


def test_parse_amount_refuses_a_huge_run_of_digits_with_amount_error():
    with pytest.raises(AmountError):
        parse_amount("9" * 5000)


def test_parse_amount_respects_the_currency_precision():
    assert parse_amount("1234", "JPY") == 1234
    with pytest.raises(AmountError):
        parse_amount("12.5", "JPY")
    assert parse_amount("1.234", "BHD") == 1234


@given(st.text(max_size=40))
def test_parse_amount_raises_only_amount_error(text):
    try:
        result = parse_amount(text)
    except AmountError:
        return
    assert isinstance(result, int)
    assert 0 <= result <= MAX_UNITS


@given(st.from_regex(r"\A-?[$]?[0-9,]{0,12}(\.[0-9]{0,4})?\Z"))
def test_parse_amount_on_amount_like_text_returns_units_or_amount_error(text):
    try:
        result = parse_amount(text, allow_negative=True)
    except AmountError:
        return
    assert isinstance(result, int)
    digits = text.lstrip("-$").replace(",", "")
    assert abs(result) == decimal_to_units(Decimal(digits))


@given(st.integers(min_value=-(10**12), max_value=10**12), st.decimals(min_value=0, max_value=100, places=3))
def test_percent_of_is_half_up_of_the_exact_product(amount, rate):
    exact = Decimal(amount) * rate / 100
    assert percent_of(amount, rate) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_format_units_shows_currency_and_sign():
    assert format_units(123450) == "$1,234.50"
    assert format_units(-500) == "-$5.00"
    assert format_units(None) == ""


CURRENCIES = ["USD", "EUR", "JPY", "CAD", "BHD", "CHF"]


@pytest.mark.parametrize("currency", CURRENCIES)
@given(units=st.integers(min_value=-(10**13), max_value=10**13))
@example(units=0)
@example(units=-5)
def test_format_units_writes_what_babel_writes(currency, units):
    """format_units works in integer arithmetic for speed; its text is babel's, whatever the currency."""
    assert format_units(units, currency) == format_currency(units_to_decimal(units, currency), currency, locale="en_US")


@pytest.mark.parametrize("currency", CURRENCIES)
@given(rate=st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False))
@example(rate=Decimal("65.5"))
@example(rate=Decimal("4500.0000"))
def test_format_units_keeps_a_rates_extra_decimals_as_babel_does(currency, rate):
    major = rate.scaleb(-get_currency_precision(currency))
    assert format_units(rate, currency) == format_currency(major, currency, locale="en_US", decimal_quantization=False)


def test_format_units_plain_is_a_spreadsheet_number():
    assert format_units(123450, "USD", plain=True) == "1234.50"
    assert format_units(-5, "USD", plain=True) == "-0.05"
    assert format_units(1000, "JPY", plain=True) == "1000"
    assert format_units(None, "USD", plain=True) == ""


@pytest.mark.parametrize("value", [None, "", "x", "NaN", "Infinity", [1]])
def test_money_and_rate_filters_are_empty_on_odd_input(value):
    assert money(value) == "" and rate(value) == ""


@pytest.mark.parametrize(("value", "shown"), [(123450, "$1,234.50"), ("-500", "-$5.00"), (Decimal("65.5"), "$0.655")])
def test_money_and_rate_filters_show_format_units(value, shown):
    assert money(value, "USD") == rate(value, "USD") == shown


def test_units_and_decimals_convert_both_ways():
    assert units_to_decimal(12345) == Decimal("123.45")
    assert decimal_to_units(Decimal("123.455")) == 12346
    assert decimal_to_units("0.005") == 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("1.5000"), "1.5"), (Decimal("2.0000"), "2"), (Decimal("12.25"), "12.25"), ("x", ""), (None, "")],
)
def test_quantities_show_without_trailing_zeros(value, shown):
    from invoicing.templatetags.money import qty

    assert qty(value) == shown
