"""Line and document arithmetic: every step rounds half-up once, and documents add up exactly."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing.errors import BillingRuleError
from invoicing.lifecycle import invoice_attach_child, invoice_issue
from invoicing.manual import LineInput, invoice_create_manual
from invoicing.models import Invoice, Slip
from invoicing.payments import payment_record
from invoicing.pricing import invoice_discount_apply, line_amounts, slip_price
from tests.factories import CustomerFactory, draft_invoice, draft_with_proformas, issued_invoice, proforma_with_slips


def half_up(value: Decimal) -> int:
    """The oracle: Decimal's own ROUND_HALF_UP to a whole minor unit."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    ("quantity", "price", "tax_rate", "discount", "expected"),
    [
        # 3 x 33.335 = 100.005 -> 100; no tax
        ("3", "33.335", "0", 0, (100, 0, 0, 100)),
        # 3 x 33.5 = 100.5 -> 101 (half-up, where banker's rounding would give 100)
        ("3", "33.5", "0", 0, (101, 0, 0, 101)),
        # 250 at 6.6% = 16.5 tax -> 17
        ("1", "250", "6.6", 0, (250, 0, 17, 267)),
        # 2.5 h x $41.99 = 10497.5 -> 10498; minus 498 discount = 10000; 8.25% tax = 825
        ("2.5", "4199", "8.25", 498, (10498, 498, 825, 10825)),
        # 65.5 cents a mile x 12.3 miles = 805.65 -> 806; 7.125% of 806 = 57.4275 -> 57
        ("12.3", "65.5", "7.125", 0, (806, 0, 57, 863)),
        # tax on the discounted amount: 1000 - 1000 = 0 -> no tax
        ("1", "1000", "20", 1000, (1000, 1000, 0, 0)),
    ],
)
def test_line_total_is_quantity_times_price_minus_discount_plus_tax_each_rounded_half_up(
    quantity, price, tax_rate, discount, expected
):
    amounts = line_amounts(
        quantity=Decimal(quantity), unit_price_units=Decimal(price), tax_rate=Decimal(tax_rate), discount_units=discount
    )
    assert (amounts.amount_units, amounts.discount_units, amounts.tax_units, amounts.total_units) == expected


def test_negative_line_rounds_away_from_zero():
    amounts = line_amounts(quantity=Decimal(1), unit_price_units=Decimal("-100.5"), tax_rate=Decimal(0))
    assert amounts.total_units == -101


quantities = st.integers(min_value=1, max_value=100_000).map(lambda n: Decimal(n) / 100)  # 0.01 .. 1000.00
rates = st.integers(min_value=0, max_value=10_000_000).map(lambda n: Decimal(n) / 10000)  # up to $10.00, 4 places
tax_rates = st.integers(min_value=0, max_value=25_000).map(lambda n: Decimal(n) / 1000)  # 0 .. 25.000 %


@given(quantity=quantities, rate=rates, tax_rate=tax_rates, discount_share=st.fractions(min_value=0, max_value=1))
def test_line_amounts_match_the_decimal_oracle(quantity, rate, tax_rate, discount_share):
    amount = half_up(quantity * rate)
    discount = int(amount * discount_share)
    got = line_amounts(quantity=quantity, unit_price_units=rate, tax_rate=tax_rate, discount_units=discount)
    tax = half_up((amount - discount) * tax_rate / 100)
    assert (got.amount_units, got.tax_units, got.total_units) == (amount, tax, amount - discount + tax)


@given(quantity=quantities, rate=rates, tax_rate=tax_rates)
def test_slip_price_agrees_with_line_amounts(quantity, rate, tax_rate):
    slip = slip_price(Slip(quantity=quantity, bill_rate_units=rate, pay_rate_units=rate, tax_rate=tax_rate))
    line = line_amounts(quantity=quantity, unit_price_units=rate, tax_rate=tax_rate)
    assert (slip.bill_amount_units, slip.bill_tax_units, slip.bill_total_units) == (
        line.amount_units,
        line.tax_units,
        line.total_units,
    )
    assert slip.pay_total_units == half_up(quantity * rate)


@st.composite
def manual_invoices(draw):
    """Random typed lines (discount <= line amount) and an invoice discount <= the discounted sum."""
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        quantity, rate = draw(quantities), draw(rates)
        amount = half_up(quantity * rate)
        lines.append(
            LineInput(
                description="Line",
                quantity=quantity,
                unit_price_units=rate,
                tax_rate=draw(tax_rates),
                discount_units=draw(st.integers(min_value=0, max_value=amount)),
            )
        )
    room = sum(half_up(line.quantity * line.unit_price_units) - line.discount_units for line in lines)
    return lines, draw(st.integers(min_value=0, max_value=room))


@pytest.mark.django_db
@given(invoice_input=manual_invoices())
def test_invoice_adds_up_exactly_and_allocates_its_whole_discount(customer, invoice_input):
    lines, discount = invoice_input
    invoice = invoice_create_manual(partner=customer.partner, customer=customer, lines=lines, discount_units=discount)
    invoice.refresh_from_db()
    slips = list(Slip.objects.filter(invoice=invoice))

    assert len(slips) == len(lines)
    assert invoice.total_units == sum(s.bill_total_units for s in slips)
    assert invoice.subtotal_units - invoice.discount_total_units + invoice.tax_units == invoice.total_units
    assert sum(s.invoice_discount_units for s in slips) == discount == invoice.discount_units
    assert invoice.discount_total_units == discount + sum(line.discount_units for line in lines)
    for slip, line in zip(slips, lines, strict=True):
        taxable = half_up(line.quantity * line.unit_price_units) - line.discount_units - slip.invoice_discount_units
        assert taxable >= 0
        assert slip.bill_tax_units == half_up(taxable * line.tax_rate / 100)
        assert slip.bill_total_units == taxable + slip.bill_tax_units

    issued = invoice_issue(invoice=invoice)
    assert issued.total_units == invoice.total_units  # issuing freezes the same totals


@st.composite
def amounts_and_discount(draw):
    amounts = draw(st.lists(st.integers(min_value=1, max_value=1_000_000), min_size=1, max_size=5))
    return amounts, draw(st.integers(min_value=0, max_value=sum(amounts)))


@pytest.mark.django_db
@given(data=amounts_and_discount())
def test_invoice_discount_on_proformas_is_spread_over_their_slips(customer, data):
    amounts, discount = data
    proforma = proforma_with_slips(customer=customer, amounts=amounts)
    invoice = invoice_discount_apply(draft_with_proformas(customer=customer, proformas=[proforma]), discount)
    proforma.refresh_from_db()
    slips = list(proforma.slips.all())
    assert sum(s.invoice_discount_units for s in slips) == discount
    assert proforma.bill_discount_units == discount
    assert invoice.total_units == proforma.bill_total_units == sum(s.bill_total_units for s in slips)
    assert invoice.total_units == sum(amounts) - discount


@pytest.mark.django_db
def test_invoice_discount_larger_than_the_lines_is_refused(customer):
    with pytest.raises(BillingRuleError):
        draft_invoice(customer, [1000, 2000], discount_units=3001)
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_line_discount_larger_than_the_line_is_refused(customer):
    lines = [LineInput(description="x", quantity=Decimal(1), unit_price_units=Decimal(100), discount_units=101)]
    with pytest.raises(BillingRuleError):
        invoice_create_manual(partner=customer.partner, customer=customer, lines=lines)
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_an_odd_discount_is_split_so_the_parts_add_up(customer):
    invoice = draft_invoice(customer, [1000, 1000, 1000], discount_units=100)
    shares = sorted(Slip.objects.filter(invoice=invoice).values_list("invoice_discount_units", flat=True))
    assert shares == [33, 33, 34]
    assert invoice.total_units == 2900


@pytest.mark.django_db
@given(
    parent_total=st.integers(min_value=2, max_value=10_000_000),
    child_share=st.fractions(min_value=0, max_value=1),
    payment_shares=st.lists(st.fractions(min_value=0, max_value=1), max_size=4),
)
def test_outstanding_is_total_minus_payments_minus_attached_children(
    customer, parent_total, child_share, payment_shares
):
    parent = issued_invoice(customer, [parent_total])
    child_total = max(1, int(parent_total * child_share))
    child = issued_invoice(CustomerFactory(partner=customer.partner), [child_total])
    parent = invoice_attach_child(parent=parent, child=child)

    paid = 0
    for share in payment_shares:
        amount = int((parent_total - child_total - paid) * share)
        if amount <= 0:
            continue
        payment_record(invoice=parent, amount_units=amount, method="card")
        paid += amount

    parent.refresh_from_db()
    assert parent.paid_units == paid
    assert parent.children_units == child_total
    assert parent.outstanding_units == parent_total - paid - child_total
    expected = Invoice.Status.PAID if paid + child_total == parent_total else None
    if expected:
        assert parent.status == expected
    else:
        assert parent.status in (Invoice.Status.PENDING, Invoice.Status.PARTIALLY_PAID)
        assert (parent.status == Invoice.Status.PARTIALLY_PAID) == (paid > 0)
