"""Coupons on manual invoices (invoicing.manual): an open coupon typed on a draft is checked, its use counted once on
the invoice, and its discount line (before tax) recomputed from the typed lines whenever they change. Worked figures:
a $100.00 line taxed 10 % with a 20 % coupon is a -$20.00 discount line, $8.00 of tax and $88.00 in all."""

import datetime
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from pypdf import PdfReader

from invoicing.coupons import coupon_release
from invoicing.credits import credit_note_issue
from invoicing.errors import BillingRuleError
from invoicing.lifecycle import invoice_delete_draft, invoice_issue
from invoicing.manual import LineInput, invoice_create_manual, invoice_update_draft
from invoicing.models import Coupon, CouponRedemption, Invoice, Slip
from invoicing.pdf import documents
from tests.factories import (
    CouponFactory,
    CustomerFactory,
    ServiceTypeFactory,
    StaffMembershipFactory,
    lines_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


@pytest.fixture
def spring(partner):
    return CouponFactory(partner=partner, code="SPRING20", percent_off=Decimal(20))


def create(customer, amounts=(10000,), *, tax="10", **kwargs) -> Invoice:
    return invoice_create_manual(
        partner=customer.partner,
        customer=customer,
        lines=lines_for(amounts, tax_rate=Decimal(tax)),
        **kwargs,
    )


def update(invoice, amounts, *, tax="10", **kwargs) -> Invoice:
    return invoice_update_draft(invoice=invoice, lines=lines_for(amounts, tax_rate=Decimal(tax)), **kwargs)


def coupon_slips(invoice) -> list[Slip]:
    return list(Slip.objects.filter(invoice=invoice, slip_type=Slip.Type.COUPON).order_by("position"))


def used(coupon) -> tuple[int, int]:
    """(its count, its redemption rows)."""
    coupon.refresh_from_db()
    return coupon.redeemed_count, CouponRedemption.objects.filter(coupon=coupon).count()


def test_a_coupon_on_a_manual_invoice_is_its_own_discount_line_before_tax(customer, spring):
    invoice = create(customer, coupon_code=" spring20 ")  # any case, spaces ignored
    [discount] = coupon_slips(invoice)
    assert discount.description == "Coupon SPRING20 (20% off)"
    assert (discount.bill_amount_units, discount.tax_rate, discount.bill_tax_units) == (-2000, 10, -200)
    assert (invoice.subtotal_units, invoice.tax_units, invoice.total_units) == (8000, 800, 8800)
    assert invoice.coupon == spring
    assert used(spring) == (1, 1)
    assert CouponRedemption.objects.get(coupon=spring).invoice == invoice


def test_changing_the_lines_recomputes_the_discount_and_counts_the_use_once(customer, spring):
    invoice = create(customer, coupon_code="SPRING20")
    invoice = update(invoice, [20000, 5000])  # the coupon is kept when no code is given
    [discount] = coupon_slips(invoice)
    assert discount.bill_amount_units == -5000 and invoice.total_units == 22000  # 250 - 50, plus 10 % tax
    invoice = update(invoice, [10000], coupon_code="spring20")  # the same coupon again
    # A coupon line handed back with the lines (a script, a form that kept it) is dropped and recomputed.
    stale = LineInput("Coupon SPRING20 (20% off)", Decimal(1), Decimal(-9999), Decimal(10), slip_type="coupon")
    invoice = invoice_update_draft(invoice=invoice, lines=[*lines_for([10000], tax_rate=Decimal(10)), stale])
    [discount] = coupon_slips(invoice)
    assert discount.bill_amount_units == -2000 and invoice.total_units == 8800
    assert used(spring) == (1, 1)


def test_a_coupon_spreads_over_two_tax_rates(customer, spring):
    invoice = invoice_create_manual(
        partner=customer.partner,
        customer=customer,
        lines=[*lines_for([10000], tax_rate=Decimal(10)), *lines_for([5000])],
        coupon_code="SPRING20",
    )
    discounts = coupon_slips(invoice)
    assert [(s.tax_rate, s.bill_amount_units, s.bill_tax_units) for s in discounts] == [
        (10, -2000, -200),
        (0, -1000, 0),
    ]
    assert invoice.total_units == 8800 + 4000


def test_taking_the_coupon_off_or_changing_it_gives_its_use_back(customer, spring):
    other = CouponFactory(partner=customer.partner, code="TENOFF", percent_off=None, amount_off_units=1000)
    invoice = create(customer, coupon_code="SPRING20")
    invoice = update(invoice, [10000], coupon_code="TENOFF")
    [discount] = coupon_slips(invoice)
    assert discount.description == "Coupon TENOFF ($10.00 off)" and discount.bill_amount_units == -1000
    assert used(spring) == (0, 0) and used(other) == (1, 1)
    invoice = update(invoice, [10000], coupon_code="")
    assert not coupon_slips(invoice) and invoice.coupon is None and invoice.total_units == 11000
    assert used(other) == (0, 0)


def test_deleting_the_draft_gives_the_use_back(customer, spring, admin):
    invoice = create(customer, coupon_code="SPRING20")
    invoice_delete_draft(invoice=invoice, user=admin)
    assert used(spring) == (0, 0)
    coupon_release(coupon=spring, invoice=invoice)  # nothing counted there any more: nothing to give back
    assert used(spring) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"valid_until": -1}, "Coupon SPRING20 expired on"),
        ({"valid_from": 3}, "Coupon SPRING20 can be used from"),
        ({"max_redemptions": 1, "redeemed_count": 1}, "Coupon SPRING20 has been used up."),
        ({"is_active": False}, "There is no coupon “SPRING20”."),
    ],
)
def test_a_coupon_that_cannot_be_used_is_refused_on_its_field_and_nothing_is_saved(customer, spring, fields, message):
    today = timezone.localdate(timezone=customer.partner.tzinfo)
    for name, value in fields.items():
        if name.startswith("valid_"):
            value = today + datetime.timedelta(days=value)
        setattr(spring, name, value)
    spring.save()
    with pytest.raises(BillingRuleError) as refused:
        create(customer, coupon_code="SPRING20")
    assert refused.value.field == "coupon" and refused.value.message.startswith(message)
    assert not Invoice.objects.exists()


def test_the_per_customer_limit_and_a_coupon_for_particular_services_are_refused(customer, spring):
    spring.max_per_customer = 1
    spring.save()
    create(customer, coupon_code="SPRING20")
    with pytest.raises(BillingRuleError) as refused:
        create(customer, coupon_code="SPRING20")
    assert refused.value.field == "coupon" and "once per customer" in refused.value.message
    create(CustomerFactory(partner=customer.partner), coupon_code="SPRING20")  # another customer may
    narrow = CouponFactory(partner=customer.partner, code="INTERP")
    narrow.service_types.add(ServiceTypeFactory(partner=customer.partner))
    with pytest.raises(BillingRuleError) as refused:
        create(customer, coupon_code="INTERP")
    assert refused.value.field == "coupon" and "cannot be used on typed lines" in refused.value.message
    assert Invoice.objects.count() == 2 and used(spring) == (2, 2)


def test_an_unknown_code_on_a_draft_changes_nothing(customer, spring):
    invoice = create(customer, coupon_code="SPRING20")
    with pytest.raises(BillingRuleError) as refused:
        update(invoice, [50000], coupon_code="NOPE")
    assert (
        refused.value.field == "coupon"
        and refused.value.message == "There is no coupon “NOPE”. Check the code and try again."
    )
    invoice.refresh_from_db()
    assert invoice.coupon == spring and invoice.total_units == 8800 and used(spring) == (1, 1)


def test_an_invoice_discount_cannot_take_the_total_below_zero_with_the_coupon(customer, spring):
    with pytest.raises(BillingRuleError) as refused:
        create(customer, coupon_code="SPRING20", discount_units=9000)
    assert refused.value.field == "discount" and "at most $80.00" in refused.value.message
    invoice = create(customer, coupon_code="SPRING20", discount_units=8000)
    assert invoice.total_units == 0


def test_an_issued_invoice_with_a_coupon_is_credited_whole_without_a_negative_line(customer, spring, admin):
    invoice = invoice_issue(invoice=create(customer, coupon_code="SPRING20"), user=admin)
    [discount] = coupon_slips(invoice)
    with pytest.raises(BillingRuleError) as refused:
        credit_note_issue(invoice=invoice, slip_ids=[discount.pk], reason="No", user=admin)
    assert refused.value.field == "lines" and "lowers the invoice" in refused.value.message
    note = credit_note_issue(invoice=invoice, whole=True, reason="Cancelled", user=admin)
    assert (note.subtotal_units, note.tax_units, note.total_units) == (8000, 800, 8800)
    assert [(line.amount_units, line.tax_units) for line in note.lines.all()] == [(8000, 800)]
    assert Coupon.objects.get(pk=spring.pk).redeemed_count == 1  # an issued invoice keeps its use


def test_the_pdf_prints_the_coupon_line_with_its_code_and_the_tax_after_the_discount(customer, spring):
    invoice = invoice_issue(invoice=create(customer, coupon_code="SPRING20"), deliver=False)
    reader = PdfReader(io.BytesIO(documents.invoice_pdf_bytes(invoice=invoice)))
    text = " ".join(reader.pages[0].extract_text().split())
    assert len(reader.pages) == 1
    assert "Coupon SPRING20 (20% off)" in text and "1 × -$20.00" in text
    assert "Tax 10% on $80.00 — $8.00" in text and "$88.00" in text
