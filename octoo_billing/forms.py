"""Form fields for typed money, quantities and rates.

Bad input is a form error in plain words, never a server error: "12.3.4", "1e9", "", "abc", "NaN", forty 9s.
Every field has the bounds of octoo_billing.money (MAX_AMOUNT_UNITS, MAX_RATE_UNITS, MAX_QUANTITY, MAX_PERCENT):
what the columns hold and what makes sense on an invoice.

    amount = AmountField(currency="USD")                      # "1,234.50" -> 123450 (int minor units)
    adjustment = AmountField(allow_negative=True)             # "-5" -> -500
    quantity = QuantityField()                                # "2.5" -> Decimal("2.5"), more than zero
    unit_price = RateField(currency="USD")                    # "0.655" -> Decimal("65.5") minor units per unit
    tax_rate = PercentField()                                 # "8.25" -> Decimal("8.25"), 0..100

A form that only learns the currency later sets it: ``self.fields["amount"].currency = invoice.currency``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from .money import (
    MAX_AMOUNT_UNITS,
    MAX_PERCENT,
    MAX_QUANTITY,
    MAX_RATE_UNITS,
    PERCENT_PLACES,
    QUANTITY_PLACES,
    RATE_PLACES,
    AmountError,
    format_units,
    minor_exponent,
    parse_amount,
    units_to_decimal,
)

FILE_NAME_MAX = 255
DOCUMENT_ACCEPT = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"

# Digits, an optional decimal point and an optional leading minus; thousands commas allowed when well placed.
_NUMBER_RE = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^-?\.\d+$")


def _text_widget_attrs(widget, attrs):
    # A text box, not <input type=number>: browsers accept "1e9" there and silently drop "1,000".
    if not widget.is_hidden:
        attrs.setdefault("inputmode", "decimal")
        attrs.setdefault("autocomplete", "off")
        attrs.setdefault("spellcheck", "false")
    return attrs


class AmountField(forms.CharField):
    """A typed amount of money ("1,234.50") cleaned to integer minor units (123450), at most ``max_units``."""

    default_error_messages = {"required": "Enter an amount."}

    def __init__(
        self, *, currency: str = "USD", allow_negative: bool = False, max_units: int = MAX_AMOUNT_UNITS, **kwargs
    ):
        self.currency = currency
        self.allow_negative = allow_negative
        self.max_units = max_units
        kwargs.pop("max_length", None)  # validators on the str would break on the cleaned int
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs["maxlength"] = "24"
        return _text_widget_attrs(widget, attrs)

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return parse_amount(text, self.currency, allow_negative=self.allow_negative, max_units=self.max_units)
        except AmountError as exc:
            raise ValidationError(str(exc), code="invalid") from None

    def prepare_value(self, value):
        # Initial values are minor units; show them as the amount the user would type.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(units_to_decimal(value, self.currency))
        return value


class _PlainDecimalField(forms.DecimalField):
    """A DecimalField that reads only plain numbers: no exponents, no NaN/Infinity, commas allowed."""

    widget = forms.TextInput
    kind = "number"
    example = "2.5"
    default_error_messages = {
        "max_decimal_places": "Use at most %(max)s decimal places.",
        "max_digits": "That number is too large.",
        "max_whole_digits": "That number is too large.",
    }

    def __init__(self, *, allow_negative: bool = False, **kwargs):
        self.allow_negative = allow_negative
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.pop("step", None)
        return _text_widget_attrs(widget, attrs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip().replace(" ", "")
        if not text:
            return None
        if isinstance(value, Decimal):
            number = value
        else:
            if not _NUMBER_RE.match(text):
                raise ValidationError(
                    f"“{value}” is not a {self.kind}. Use digits with an optional decimal point, like {self.example}.",
                    code="invalid",
                )
            try:
                number = Decimal(text.replace(",", ""))
            except InvalidOperation:  # pragma: no cover - the pattern already refused it
                raise ValidationError(f"“{value}” is not a {self.kind}.", code="invalid") from None
        if not number.is_finite():
            raise ValidationError(f"“{value}” is not a {self.kind}.", code="invalid")
        if number < 0 and not self.allow_negative:
            raise ValidationError(f"The {self.kind} cannot be negative.", code="negative")
        return abs(number) if number.is_zero() else number  # "-0" is 0

    def validate(self, value):
        forms.Field.validate(self, value)  # DecimalField.validate would re-check finiteness on our own terms


class QuantityField(_PlainDecimalField):
    """A quantity (hours, miles, items): a plain Decimal, more than zero (slips and lines need that) and at most
    MAX_QUANTITY, with QUANTITY_PLACES decimals."""

    kind = "quantity"
    example = "2.5"
    default_error_messages = {"required": "Enter a quantity."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", QUANTITY_PLACES)
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if value is not None and value <= 0:
            raise ValidationError("The quantity must be more than zero.", code="not_positive")
        if value is not None and value > MAX_QUANTITY:
            raise ValidationError(f"The quantity is at most {MAX_QUANTITY:,}.", code="too_large")


class PercentField(_PlainDecimalField):
    """A percentage such as a tax rate: "8.25" -> Decimal("8.25"), between 0 and 100."""

    kind = "percentage"
    example = "8.25"

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 6)
        kwargs.setdefault("decimal_places", PERCENT_PLACES)
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if value is not None and value > MAX_PERCENT:
            raise ValidationError(f"A percentage cannot be more than {MAX_PERCENT}.", code="too_large")


class RateField(_PlainDecimalField):
    """A price per unit typed in money ("45", "0.655"), cleaned to Decimal minor units (4500, 65.5),
    the way ``*_rate_units`` and ``unit_price_units`` are stored. Up to RATE_PLACES decimals of a minor unit,
    at most MAX_RATE_UNITS either way."""

    kind = "price"
    example = "45.00"
    default_error_messages = {"required": "Enter a price."}

    def __init__(self, *, currency: str = "USD", **kwargs):
        self.currency = currency
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", RATE_PLACES)
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, Decimal):
            return value  # already minor units (an initial value)
        if isinstance(value, str):
            value = value.strip().lstrip("$€£")
        major = super().to_python(value)
        if major is None:
            return None
        # Bounds and decimals on the typed number itself: scaling forty 9s to minor units would leave the
        # Decimal context's 28 digits (InvalidOperation), and rounding there would drop typed digits silently.
        exp = minor_exponent(self.currency)
        if abs(major) > Decimal(MAX_RATE_UNITS).scaleb(-exp):
            largest = format_units(MAX_RATE_UNITS, self.currency)
            raise ValidationError(f"The price is too large: at most {largest}.", code="too_large")
        step = Decimal(1).scaleb(-(exp + self.decimal_places))
        if major != major.quantize(step):
            raise ValidationError(f"Use at most {exp + self.decimal_places} decimal places.", code="invalid")
        return _tidy(major.quantize(step).scaleb(exp))

    def prepare_value(self, value):
        # Initial values are minor units; show them as the price the user would type ("45.00", "0.655").
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            exp = minor_exponent(self.currency)
            major = Decimal(value) / 10**exp
            cents = Decimal(1).scaleb(-exp)
            return str(major.quantize(cents) if major == major.quantize(cents) else _tidy(major))
        return value

    def run_validators(self, value):
        try:
            super().run_validators(value)
        except ValidationError as exc:
            codes = {error.code for error in exc.error_list}
            if "max_decimal_places" in codes:
                places = minor_exponent(self.currency) + self.decimal_places
                raise ValidationError(f"Use at most {places} decimal places.", code="invalid") from None
            raise ValidationError("That price is too large.", code="invalid") from None


def _tidy(number: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (4500, not 4.5E+3)."""
    number = number.normalize()
    return number.quantize(Decimal(1)) if number.as_tuple().exponent > 0 else number


def apply_errors(form: forms.Form, error: ValidationError, *others: forms.Form) -> None:
    """Put a domain ValidationError on the form: next to its field when the form has it (or, for a page of several
    forms, when one of ``others`` has it), on top of ``form`` otherwise."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            target = next((f for f in (form, *others) if field in f.fields), None)
            if target is None:
                form.add_error(None, errors)
            else:
                target.add_error(field, errors)
    else:
        form.add_error(None, error.messages)


# --- Bootstrap-styled forms, and several files in one input (portal and office) ------------------------------


class BootstrapForm(forms.Form):
    """Bootstrap classes on every widget, and ``is-invalid`` on the fields with an error (the domain's too)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            self._style(field)

    @staticmethod
    def _style(field: forms.Field) -> None:
        widget = field.widget
        if isinstance(widget, forms.Select):
            css = "form-select"
        elif isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        else:
            css = "form-control"
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    @property
    def has_field_errors(self) -> bool:
        return any(name != NON_FIELD_ERRORS for name in self.errors)

    def mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
                widget.attrs["aria-invalid"] = "true"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A list of uploaded files (possibly empty). Their content is checked by the domain, which names the file."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": DOCUMENT_ACCEPT}))
        kwargs.setdefault("allow_empty_file", True)  # refused by the domain, with the file's name
        kwargs.setdefault("max_length", FILE_NAME_MAX)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        clean_one = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        return [cleaned for cleaned in (clean_one(item, initial) for item in files if item) if cleaned]
