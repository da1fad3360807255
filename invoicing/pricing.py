"""Line and document arithmetic. Every amount is integer minor units; every step rounds half-up once.

Line total = quantity x unit price - discounts + tax, where tax is charged on the discounted amount.
A document's totals are the exact sums of its lines; an invoice-level discount is spread over the
lines before tax (largest remainder) so that the parts add up to the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Q, Sum

from octoo_billing.money import allocate, format_units, percent_of, round_half_up, to_decimal

from .errors import BillingRuleError
from .fast_writes import ids_array
from .models import Invoice, InvoiceProforma, Proforma, Slip


@dataclass(frozen=True)
class LineAmounts:
    amount_units: int
    discount_units: int
    tax_units: int
    total_units: int


def line_amounts(*, quantity, unit_price_units, tax_rate=0, discount_units: int = 0) -> LineAmounts:
    """quantity x unit price (minor units, Decimal) - discount + tax on the discounted amount."""
    amount = round_half_up(to_decimal(quantity) * to_decimal(unit_price_units))
    taxable = amount - discount_units
    tax = percent_of(taxable, tax_rate)
    return LineAmounts(amount, discount_units, tax, taxable + tax)


SLIP_COMPUTED_FIELDS = [
    "bill_amount_units",
    "line_discount_units",
    "invoice_discount_units",
    "bill_tax_units",
    "bill_total_units",
    "pay_total_units",
]
# What a priced slip is written with: what it is priced from, and what ``slip_price`` computes.
PRICED_SLIP_FIELDS = (
    "partner_id",
    "position",
    "slip_type",
    "pay_schedule",
    "description",
    "quantity",
    "pay_quantity",
    "bill_rate_units",
    "pay_rate_units",
    "tax_rate",
    *SLIP_COMPUTED_FIELDS,
)


class PricedSlip:
    """A slip priced in memory to be written as a plain row (the proforma sweep, ``invoicing.proformas``): the
    attributes ``service_slips`` and ``slip_price`` set on a ``Slip``, under the same names and with the same values,
    without building a model instance per line (issue 15: ``Model.__init__`` was a sixth of the sweep)."""

    __slots__ = (*PRICED_SLIP_FIELDS, "source")

    def __init__(
        self,
        *,
        partner_id: int,
        slip_type: str,
        description: str,
        quantity,
        bill_rate_units,
        pay_rate_units,
        tax_rate,
        position: int,
        pay_schedule: str = "",
        pay_quantity=None,
    ):
        self.partner_id = partner_id
        self.slip_type = slip_type
        self.pay_schedule = pay_schedule
        self.description = description
        self.quantity = quantity
        self.pay_quantity = pay_quantity
        self.bill_rate_units = bill_rate_units
        self.pay_rate_units = pay_rate_units
        self.tax_rate = tax_rate
        self.position = position
        self.line_discount_units = 0  # Slip's defaults
        self.invoice_discount_units = 0


def slip_price(slip: Slip) -> Slip:
    """Fill a slip's computed amounts from its quantity, rates, tax rate and discounts (no save)."""
    slip.quantity = to_decimal(slip.quantity)
    slip.bill_amount_units = round_half_up(slip.quantity * to_decimal(slip.bill_rate_units))
    taxable = slip.bill_amount_units - slip.line_discount_units - slip.invoice_discount_units
    slip.bill_tax_units = percent_of(taxable, slip.tax_rate)
    slip.bill_total_units = taxable + slip.bill_tax_units
    pay_quantity = slip.quantity if slip.pay_quantity is None else to_decimal(slip.pay_quantity)
    slip.pay_total_units = round_half_up(pay_quantity * to_decimal(slip.pay_rate_units))
    return slip


def discount_spread(slips: list[Slip], discount_units: int) -> list[Slip]:
    """Spread an invoice-level discount over lines, before tax, in proportion to their discounted amounts."""
    weights = [max(s.bill_amount_units - s.line_discount_units, 0) for s in slips]
    if discount_units > sum(weights):
        raise BillingRuleError("The invoice discount is larger than the invoice's lines.")
    for slip, share in zip(slips, allocate(discount_units, weights), strict=True):
        slip.invoice_discount_units = share
        slip_price(slip)
    return slips


def _slip_sums(qs) -> dict:
    return qs.aggregate(
        amount=Sum("bill_amount_units", default=0),
        line_discount=Sum("line_discount_units", default=0),
        invoice_discount=Sum("invoice_discount_units", default=0),
        tax=Sum("bill_tax_units", default=0),
        total=Sum("bill_total_units", default=0),
        pay=Sum("pay_total_units", default=0),
        lines=Count("id"),
    )


def proforma_totals_refresh(proforma: Proforma) -> Proforma:
    sums = _slip_sums(Slip.objects.filter(proforma=proforma))
    proforma.bill_subtotal_units = sums["amount"]
    proforma.bill_discount_units = sums["line_discount"] + sums["invoice_discount"]
    proforma.bill_tax_units = sums["tax"]
    proforma.bill_total_units = sums["total"]
    proforma.pay_total_units = sums["pay"]
    proforma.save(
        update_fields=[
            "bill_subtotal_units",
            "bill_discount_units",
            "bill_tax_units",
            "bill_total_units",
            "pay_total_units",
        ]
    )
    return proforma


def invoice_slips(invoice: Invoice):
    """Every line of an invoice: its direct slips and the slips of its live (or, once void, former) proformas."""
    links = InvoiceProforma.objects.filter(invoice=invoice)
    if invoice.status != Invoice.Status.VOID:
        links = links.filter(is_active=True)
    return Slip.objects.filter(Q(invoice=invoice) | Q(proforma__in=links.values("proforma_id")))


_SUM_COLUMNS = (
    ("amount", "bill_amount_units"),
    ("line_discount", "line_discount_units"),
    ("invoice_discount", "invoice_discount_units"),
    ("tax", "bill_tax_units"),
    ("total", "bill_total_units"),
    ("pay", "pay_total_units"),
)


NO_LINES = {**{name: 0 for name, _ in _SUM_COLUMNS}, "lines": 0}


def invoices_lines_sums(ids: list[int], *, live_only: bool = True) -> dict[int, dict]:
    """The sums of each invoice's lines in one grouped plain query (a hot path: every issue runs it), by invoice id;
    an invoice without lines is left out (``NO_LINES``).

    Same rows as ``invoice_slips``: direct slips plus the slips of its live proformas (all its former ones too with
    ``live_only=False``, as a void invoice shows them); a UNION ALL lets each half use its own index."""
    if not ids:
        return {}
    slip, link = Slip._meta.db_table, InvoiceProforma._meta.db_table
    cols = ", ".join(f"s.{column}" for _, column in _SUM_COLUMNS)
    sums = ", ".join(f"COALESCE(SUM({column}), 0)" for _, column in _SUM_COLUMNS)
    if connection.vendor == "postgresql":  # the ids as one array parameter: nothing to bind per id
        within, params = "= ANY(%s::bigint[])", [ids_array(ids)]
    else:
        within, params = f"IN ({', '.join(['%s'] * len(ids))})", list(ids)
    only_live = " AND l.is_active" if live_only else ""
    sql = (
        f"SELECT invoice_id, {sums}, COUNT(*) FROM ("  # noqa: S608 (table and column names only)
        f"SELECT s.invoice_id AS invoice_id, {cols} FROM {slip} s WHERE s.invoice_id {within} "
        f"UNION ALL SELECT l.invoice_id, {cols} FROM {slip} s JOIN {link} l ON l.proforma_id = s.proforma_id "
        f"WHERE l.invoice_id {within}{only_live}) lines GROUP BY invoice_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params * 2)
        rows = cursor.fetchall()
    result = {}
    for pk, *values in rows:
        row = {name: int(value) for (name, _), value in zip(_SUM_COLUMNS, values, strict=False)}
        row["lines"] = int(values[-1])
        result[pk] = row
    return result


def _invoice_sums(invoice: Invoice) -> dict:
    """The sums of one invoice's lines (a void invoice's former proformas included)."""
    sums = invoices_lines_sums([invoice.pk], live_only=invoice.status != Invoice.Status.VOID)
    return sums.get(invoice.pk, NO_LINES)


INVOICE_TOTAL_FIELDS = ["subtotal_units", "discount_total_units", "tax_units", "total_units", "updated_at"]


def invoice_totals_refresh(invoice: Invoice, *, save: bool = True) -> Invoice:
    """Recompute an invoice's totals from its lines. AR uses the bill side, AP the pay side."""
    invoice_totals_apply(invoice, _invoice_sums(invoice))
    if save:
        invoice.save(update_fields=INVOICE_TOTAL_FIELDS)
    return invoice


def invoice_totals_apply(invoice: Invoice, sums: dict) -> Invoice:
    """Set an invoice's totals and ``line_count`` from the sums of its lines (``_invoice_sums``' keys; the bulk
    issue reads them for many invoices in one grouped query). No save."""
    if invoice.kind == Invoice.Kind.AR:
        invoice.subtotal_units = sums["amount"]
        invoice.discount_total_units = sums["line_discount"] + sums["invoice_discount"]
        invoice.tax_units = sums["tax"]
        invoice.total_units = sums["total"]
    else:
        invoice.subtotal_units = sums["pay"]
        invoice.discount_total_units = 0
        invoice.tax_units = 0
        invoice.total_units = sums["pay"]
    invoice.line_count = sums["lines"]
    return invoice


@dataclass(frozen=True)
class TaxBand:
    """The tax of one rate on a document: its taxable base (amounts after discounts) and the tax on it."""

    rate: Decimal
    base_units: int
    tax_units: int


def tax_bands(slips) -> list[TaxBand]:
    """The tax per rate of these (bill-side) lines, highest rate first: what a document prints under its totals
    and e-invoicing needs. The bases and taxes add up to the lines' taxable amounts and tax exactly."""
    bases: dict[Decimal, list[int]] = {}
    for slip in slips:
        band = bases.setdefault(to_decimal(slip.tax_rate).normalize(), [0, 0])
        band[0] += slip.bill_amount_units - slip.line_discount_units - slip.invoice_discount_units
        band[1] += slip.bill_tax_units
    return [TaxBand(rate, base, tax) for rate, (base, tax) in sorted(bases.items(), reverse=True) if base or tax]


def invoice_tax_bands(invoice: Invoice) -> list[TaxBand]:
    """The tax per rate of an AR invoice, from its lines in one grouped query (none for an AP bill)."""
    if invoice.kind != Invoice.Kind.AR:
        return []
    rows = (
        invoice_slips(invoice)
        .order_by()
        .values("tax_rate")
        .annotate(
            base=Sum(F("bill_amount_units") - F("line_discount_units") - F("invoice_discount_units")),
            tax=Sum("bill_tax_units"),
        )
    )
    merged: dict[Decimal, list[int]] = {}
    for row in rows:  # 7.000 and 7.0 are one rate
        band = merged.setdefault(to_decimal(row["tax_rate"]).normalize(), [0, 0])
        band[0] += int(row["base"] or 0)
        band[1] += int(row["tax"] or 0)
    return [TaxBand(rate, base, tax) for rate, (base, tax) in sorted(merged.items(), reverse=True) if base or tax]


def tax_band_lines(bands: list[TaxBand], currency: str) -> list[str]:
    """The tax per rate as the invoice page, the portal and the PDF print it under the totals, a line per rate:
    "Tax 8.875% on $200.00 — $17.75". None when nothing is taxed (every rate is 0%)."""
    if not any(band.rate for band in bands):
        return []
    return [
        f"Tax {band.rate:f}% on {format_units(band.base_units, currency)} — {format_units(band.tax_units, currency)}"
        for band in bands
    ]


def invoice_discount_apply(invoice: Invoice, discount_units: int) -> Invoice:
    """Set an AR draft's invoice-level discount and spread it over all its bill-side lines."""
    slips = list(invoice_slips(invoice).order_by("proforma_id", "position", "id"))
    discount_spread(slips, discount_units)
    Slip.objects.bulk_update(slips, SLIP_COMPUTED_FIELDS)
    for proforma_id in {s.proforma_id for s in slips if s.proforma_id}:
        proforma_totals_refresh(Proforma.objects.get(pk=proforma_id))
    invoice.discount_units = discount_units
    invoice.save(update_fields=["discount_units"])
    return invoice_totals_refresh(invoice)
