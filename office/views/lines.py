"""Document lines for the detail pages, pre-formatted in Python.

An invoice can carry hundreds of lines; a template row per line with a Babel call per amount costs most of
the page's time budget (150 ms at 500 lines). Here each line's numbers are formatted once with
``octoo_billing.money.format_units`` (what the ``money`` and ``rate`` template filters call, in integer
arithmetic), and the invoice's rows are built as escaped strings.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from django.utils.safestring import mark_safe

from invoicing.models import PaySchedule, Slip
from octoo_billing.money import format_units

TYPE_LABELS = dict(Slip.Type.choices)
SCHEDULE_LABELS = dict(PaySchedule.choices)


def plain_number(number: Decimal) -> str:
    """2.0000 -> "2", 2.5000 -> "2.5", 8.250 -> "8.25" (never "1E+1")."""
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return f"{number.normalize():f}"


def slips_for_display(slips, currency: str = "USD") -> list:
    """Pre-format each line's numbers once (quantity, tax rate, the bill and pay amounts)."""
    for slip in slips:
        slip.qty_display = plain_number(slip.quantity)
        # The provider's own time policy may count other hours than the customer's (seed 003).
        slip.pay_qty_display = plain_number(slip.paid_quantity)
        slip.tax_display = plain_number(slip.tax_rate)
        slip.m_rate = format_units(slip.bill_rate_units, currency)
        slip.m_pay_rate = format_units(slip.pay_rate_units, currency)
        slip.m_discount = format_units(slip.discount_units, currency) if slip.discount_units else ""
        slip.m_tax = format_units(slip.bill_tax_units, currency)
        slip.m_total = format_units(slip.bill_total_units, currency)
        slip.m_pay_total = format_units(slip.pay_total_units, currency)
    return slips


_DASH = '<span class="text-body-secondary">—</span>'


# A line without a discount shows "—" in the table; on a phone's card the empty row is left out (.card-blank).
_NO_DISCOUNT = " card-blank"


def line_rows_html(slips, *, currency: str, ar: bool):
    """The <tr> of each line: the bill side (rate, discount, tax, total) for AR, the pay side for AP. Each figure
    carries its column's name (``data-label``) for the phone, where the lines are cards (``.table-cards``).

    Plain f-strings with every text escaped (``html.escape``): ``format_html`` per cell costs as much as
    the rest of a 500-line page."""
    rows = []
    for slip in slips_for_display(slips, currency):
        schedule = escape(SCHEDULE_LABELS.get(slip.pay_schedule, ""))
        head = (
            f'<tr><td>{escape(slip.description)}<span class="line-sub">'
            f"{escape(TYPE_LABELS.get(slip.slip_type, slip.slip_type))}"
            f'<span class="d-md-none">{" · " + schedule if schedule else ""}</span></span></td>'
            f'<td class="d-none d-md-table-cell">{schedule or "—"}</td>'
            f'<td class="num" data-label="Qty">{slip.qty_display if ar else slip.pay_qty_display}</td>'
        )
        if ar:
            discount = f"−{escape(slip.m_discount)}" if slip.m_discount else _DASH
            tail = (
                f'<td class="num" data-label="Rate">{escape(slip.m_rate)}</td>'
                f'<td class="num{_NO_DISCOUNT if not slip.m_discount else ""}" data-label="Discount">{discount}</td>'
                f'<td class="num" data-label="Tax">{escape(slip.m_tax)}'
                f'<span class="line-sub">{slip.tax_display}%</span></td>'
                f'<td class="num fw-semibold" data-label="Total">{escape(slip.m_total)}</td></tr>'
            )
        else:
            tail = (
                f'<td class="num" data-label="Pay rate">{escape(slip.m_pay_rate)}</td>'
                f'<td class="num fw-semibold" data-label="Total">{escape(slip.m_pay_total)}</td></tr>'
            )
        rows.append(head + tail)
    return mark_safe("".join(rows))  # noqa: S308 (every text in it is escaped above)
