"""Every money, quantity, rate and percent input has bounds the database holds and an invoice makes sense with
(octoo_billing.money: MAX_AMOUNT_UNITS, MAX_RATE_UNITS, MAX_QUANTITY, MAX_PERCENT). Out of bounds is a form error
on its field in plain words, never a 500, and nothing out of bounds is stored.

The property tests post arbitrary text (and huge integers, long decimals, exponents, NaN/Infinity, unicode digits)
into each number field of the office and portal forms through the real views."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Max, Min
from django.urls import reverse
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from customers.billing import MAX_TERMS_DAYS
from customers.models import Customer, Provider
from invoicing.errors import BillingRuleError
from invoicing.manual import LineInput, invoice_create_manual
from invoicing.models import Invoice, Payment, Proforma, Slip
from octoo_billing.forms import AmountField, PercentField, QuantityField, RateField
from octoo_billing.money import (
    MAX_AMOUNT_UNITS,
    MAX_PERCENT,
    MAX_QUANTITY,
    MAX_RATE_UNITS,
    QUANTITY_PLACES,
    RATE_PLACES,
)
from portal.forms.pay import new_pay_key
from tests.factories import (
    CustomerFactory,
    ProviderFactory,
    ZoneFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

EXAMPLES = 40

# --- what gets typed --------------------------------------------------------------------------------------------

SPECIAL = st.sampled_from(
    [
        "NaN", "-NaN", "sNaN", "nan", "Infinity", "-Infinity", "inf", "1e999999", "-1E-999999", "1e9", "-0", "-0.00",
        "0", "0.0001", "0.00001", "00000000000000000000001", "9" * 40, "9" * 5000, "99999999999", "99999999",
        "99,999,999.99", "100,000,000.00", "99999999.99", "100000000", "10000000", "1000000", "1000000.0001",
        "999999.9999", "100", "100.001", "100.0001", "-5", "1,000", "1,00", "1 000", " 12 ", "\t7\n", "12.3.4",
        "１２", "١٢٣", "²", "½", "٣٠", "1_000", "0x10", "+5", "$1,234.50", "€5", "",
    ]
)  # fmt: skip
HUGE_INTS = st.integers(min_value=-(10**45), max_value=10**45).map(str)
MANY_PLACES = st.integers(min_value=0, max_value=14).flatmap(
    lambda places: st.decimals(min_value=-(10**14), max_value=10**14, places=places).map(str)
)
EXPONENTS = st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 999), st.integers(-(10**7), 10**7))
ANY_DECIMAL = st.decimals(allow_nan=True, allow_infinity=True).map(str)  # "sNaN", "-Infinity", "1E+999999"
PLAUSIBLE = st.decimals(min_value=0, max_value=1000, places=2).map(str)
NEAR_THE_BOUNDS = st.one_of(  # valid-looking numbers around the columns' and the bounds' edges
    st.integers(min_value=10**5, max_value=10**13).map(str),
    st.integers(min_value=10**5, max_value=10**13).map("{:,}".format),
    st.decimals(min_value=10**6, max_value=10**12, places=2).map(str),
)
DIGITISH = st.text(alphabet="0123456789²³¹⁹½٣٤١٢０１ /-.,", max_size=25)  # other scripts' digits and digit-like signs
NUMBERISH = st.one_of(
    st.text(max_size=40), SPECIAL, HUGE_INTS, MANY_PLACES, EXPONENTS, ANY_DECIMAL, PLAUSIBLE, NEAR_THE_BOUNDS, DIGITISH
)
DATEISH = st.one_of(
    st.text(max_size=12),
    st.dates().map(datetime.date.isoformat),  # 0001-01-01 .. 9999-12-31
    st.sampled_from(["0001-01-01", "0001-01-05", "9999-12-31", "9999-01-01", "2026-02-30", "-1-01-01"]),
)


# --- who posts it -----------------------------------------------------------------------------------------------


@pytest.fixture
def office(client, staff_user):
    client.force_login(staff_user)
    client.raise_request_exception = False  # a crash is a 500 response to assert on, not an exception
    return client


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    client.raise_request_exception = False
    return client


def assert_no_server_error(response, *allowed):
    allowed = allowed or (200, 302)
    assert response.status_code in allowed, f"{response.status_code} from {response.request['PATH_INFO']}"


def assert_stored_values_within_bounds():
    """Nothing out of bounds reached the database: every line fits its columns and every money amount its max."""
    slips = Slip.objects.aggregate(
        quantity_max=Max("quantity"),
        quantity_min=Min("quantity"),
        bill_rate_max=Max("bill_rate_units"),
        bill_rate_min=Min("bill_rate_units"),
        pay_rate_max=Max("pay_rate_units"),
        pay_rate_min=Min("pay_rate_units"),
        amount_max=Max("bill_amount_units"),
        amount_min=Min("bill_amount_units"),
        discount_max=Max("line_discount_units"),
        discount_min=Min("line_discount_units"),
        tax_max=Max("tax_rate"),
        tax_min=Min("tax_rate"),
    )
    if slips["quantity_max"] is not None:
        assert 0 < slips["quantity_min"] <= slips["quantity_max"] <= MAX_QUANTITY
        assert -MAX_RATE_UNITS <= slips["bill_rate_min"] <= slips["bill_rate_max"] <= MAX_RATE_UNITS
        assert -MAX_RATE_UNITS <= slips["pay_rate_min"] <= slips["pay_rate_max"] <= MAX_RATE_UNITS
        assert -MAX_AMOUNT_UNITS <= slips["amount_min"] <= slips["amount_max"] <= MAX_AMOUNT_UNITS
        assert 0 <= slips["discount_min"] <= slips["discount_max"] <= MAX_AMOUNT_UNITS
        assert 0 <= slips["tax_min"] <= slips["tax_max"] <= MAX_PERCENT
    payments = Payment.objects.aggregate(low=Min("amount_units"), high=Max("amount_units"))
    if payments["high"] is not None:
        assert 0 < payments["low"] <= payments["high"] <= MAX_AMOUNT_UNITS
    for invoice in Invoice.objects.all():
        assert 0 <= invoice.paid_units <= max(invoice.total_units, 0)
    for percent in Customer.objects.values_list("discount_percent", flat=True):
        assert 0 <= percent <= MAX_PERCENT
    for days in [
        *Customer.objects.values_list("payment_terms_days", flat=True),
        *Provider.objects.values_list("payment_terms_days", flat=True),
    ]:
        assert 0 <= days <= MAX_TERMS_DAYS


def assert_document_totals_within_bounds():
    for total in [
        *Invoice.objects.values_list("total_units", flat=True),
        *Proforma.objects.values_list("bill_total_units", flat=True),
    ]:
        assert -MAX_AMOUNT_UNITS <= total <= MAX_AMOUNT_UNITS


# --- the findings, one by one ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["invoice", "proforma"])
def test_an_adjustment_larger_than_the_rate_column_is_an_error_on_its_amount(office, customer, target):
    """99,999,999,999 overflowed Slip.bill_rate_units (a 500 on PostgreSQL, stored as is on SQLite)."""
    data = {"kind": "additional_work", "description": "More work", "amount": "99999999999", "tax_rate": "0"}
    if target == "invoice":
        document = draft_invoice(customer, [10000])
        response = office.post(
            reverse("office:invoice_adjust", args=[document.pk]), {**data, "expected_status": "draft"}
        )
        form = response.context["forms"]["adjust"]
        slips = Slip.objects.filter(invoice=document)
    else:
        document = proforma_with_slips(customer=customer, amounts=[10000])
        data["pay_amount"] = "99999999999"
        response = office.post(reverse("office:proforma_adjust", args=[document.pk]), data)
        form = response.context["adjust_form"]
        assert form.errors["pay_amount"] == ["The amount is too large: at most $99,999,999.99."]
        slips = Slip.objects.filter(proforma=document)
    assert response.status_code == 200
    assert form.errors["amount"] == ["The amount is too large: at most $99,999,999.99."]
    assert slips.count() == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (LineInput("Hours", Decimal("1000000.0001"), Decimal(100)), "Line 1: the quantity is at most 1,000,000."),
        (LineInput("Hours", Decimal("1.00001"), Decimal(100)), "Line 1: use at most 4 decimal places in the quantity."),
        (
            LineInput("Fee", Decimal(1), Decimal(MAX_RATE_UNITS + 1)),
            "Line 1: the unit price is at most $99,999,999.99.",
        ),
        (LineInput("Fee", Decimal(1), Decimal("100.00001")), "Line 1: the unit price has too many decimal places."),
        (
            LineInput("Fee", Decimal(1), Decimal(100), tax_rate=Decimal("100.001")),
            "Line 1: the tax rate is 0 to 100 %.",
        ),
        (LineInput("Fee", Decimal(1), Decimal(100), tax_rate=Decimal(-1)), "Line 1: the tax rate is 0 to 100 %."),
        (LineInput("Fee", Decimal(2), Decimal(MAX_RATE_UNITS)), "Line 1: the line comes to more than $99,999,999.99."),
        (LineInput("Fee", Decimal("NaN"), Decimal(100)), "Line 1: the quantity must be more than zero."),
        (LineInput("Fee", Decimal(1), Decimal("Infinity")), "Line 1: the unit price is at most $99,999,999.99."),
    ],
)
def test_the_manual_line_builder_refuses_out_of_bounds_lines(customer, line, message):
    with pytest.raises(BillingRuleError) as caught:
        invoice_create_manual(partner=customer.partner, customer=customer, lines=[line])
    assert caught.value.message == message
    assert not Invoice.objects.exists()


def test_the_manual_line_builder_refuses_a_total_above_the_max(customer):
    lines = [LineInput(f"Fee {i}", Decimal(1), Decimal(MAX_RATE_UNITS), tax_rate=Decimal(100)) for i in range(5)]
    with pytest.raises(BillingRuleError) as caught:
        invoice_create_manual(partner=customer.partner, customer=customer, lines=lines)
    assert caught.value.message == "The invoice would come to more than $99,999,999.99: split it into several."
    assert not Invoice.objects.exists()


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31"])  # the first ran off the calendar: a 500
def test_an_aging_date_out_of_range_is_an_error_on_it(office, as_of):
    response = office.get(reverse("office:report_aging"), {"as_of": as_of})
    assert response.status_code == 200
    assert response.context["form"].errors["as_of"] == ["Enter a date between 2000-01-01 and 2099-12-31."]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "x", "date_to": "0001-01-05"}, "date_to"),  # year 0 for the default start: a 500
        ({"date_from": "9999-01-01", "date_to": "9999-12-31"}, "date_to"),  # one day past the end: a 500
        ({"date_from": "0001-01-01", "date_to": "0001-01-05"}, "date_from"),
    ],
)
def test_a_revenue_date_out_of_range_is_an_error_on_it(office, params, field):
    response = office.get(reverse("office:report_revenue"), params)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == ["Enter a date between 2000-01-01 and 2099-12-31."]


def test_a_card_number_with_other_digit_signs_is_an_error_on_it(office, customer):
    data = {"number": "4242 4242 4242 ²²²²", "expiry": "12/39"}  # superscripts: isdigit() but not int()-able
    response = office.post(reverse("office:customer_card", args=[customer.pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors["number"] == ["Enter the card number: 12 to 19 digits, spaces allowed."]
    assert Customer.objects.get(pk=customer.pk).card_last4 == ""


def test_a_card_typed_in_arabic_indic_digits_is_read_as_its_digits(office, customer):
    data = {"number": "٤٢٤٢ ٤٢٤٢ ٤٢٤٢ ٤٢٤٢", "expiry": "١٢/٣٩"}
    response = office.post(reverse("office:customer_card", args=[customer.pk]), data)
    assert response.status_code == 302
    assert Customer.objects.get(pk=customer.pk).card_last4 == "4242"


@pytest.mark.parametrize(
    ("expiry", "error"),
    [
        ("²/²⁹", "Enter the expiry as MM/YY, for example 08/29."),
        ("12/2999", "That expiry year is too far ahead: check the card."),
    ],
)
def test_a_card_expiry_out_of_range_is_an_error_on_it(office, customer, expiry, error):
    data = {"number": "4242 4242 4242 4242", "expiry": expiry}
    response = office.post(reverse("office:customer_card", args=[customer.pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors["expiry"] == [error]
    assert Customer.objects.get(pk=customer.pk).card_last4 == ""


@pytest.mark.parametrize("parent", ["-5", str(10**30)])
def test_a_detach_from_an_impossible_parent_id_changes_nothing(office, customer, parent):
    """A negative id made a URL the page could not reverse (a 500)."""
    child = issued_invoice(customer, [1000])
    url = reverse("office:invoice_detach_child", args=[child.pk])
    response = office.post(url, {"parent": parent, "back": "parent"}, follow=True)
    assert response.redirect_chain[0] == (reverse("office:invoice_detail", args=[child.pk]), 302)
    assert "nothing was changed" in " ".join(str(m) for m in response.context["messages"])


# --- every number field, with arbitrary text -------------------------------------------------------------------


@settings(max_examples=200)
@given(text=NUMBERISH, currency=st.sampled_from(["USD", "JPY", "BHD"]))
@example(text="9" * 40, currency="USD")  # InvalidOperation scaling to minor units
def test_the_number_fields_clean_to_a_bounded_value_or_a_form_error(text, currency):
    fields = {
        "amount": AmountField(currency=currency, allow_negative=True),
        "quantity": QuantityField(),
        "price": RateField(currency=currency, allow_negative=True),
        "percent": PercentField(),
    }
    values = {}
    for name, field in fields.items():
        try:
            values[name] = field.clean(text)
        except ValidationError as error:
            assert error.messages and all(message.strip() for message in error.messages)
    if "amount" in values:
        assert abs(values["amount"]) <= MAX_AMOUNT_UNITS
    if "quantity" in values:
        assert 0 < values["quantity"] <= MAX_QUANTITY
        assert values["quantity"] == values["quantity"].quantize(Decimal(1).scaleb(-QUANTITY_PLACES))
    if "price" in values:
        assert abs(values["price"]) <= MAX_RATE_UNITS
        assert values["price"] == values["price"].quantize(Decimal(1).scaleb(-RATE_PLACES))
    if "percent" in values:
        assert 0 <= values["percent"] <= MAX_PERCENT


@settings(max_examples=EXAMPLES)
@given(amount=NUMBERISH)
def test_payment_amounts_never_crash_and_store_only_bounded_payments(office, customer, amount):
    invoice = issued_invoice(customer, [MAX_AMOUNT_UNITS])
    data = {
        "expected_status": "pending",
        "amount": amount,
        "method": "transfer",
        "reference": "",
        "received_on": timezone.localdate().isoformat(),
        "idempotency_key": uuid.uuid4().hex,
    }
    assert_no_server_error(office.post(reverse("office:invoice_payment", args=[invoice.pk]), data))
    assert_stored_values_within_bounds()


@settings(max_examples=EXAMPLES)
@given(kind=st.sampled_from(["additional_work", "reduced_scope", "credit"]), amount=NUMBERISH, tax_rate=NUMBERISH)
@example(kind="additional_work", amount="99999999999", tax_rate="0")  # overflowed the rate column
def test_invoice_adjustments_never_crash_and_store_only_bounded_lines(office, customer, kind, amount, tax_rate):
    invoice = draft_invoice(customer, [10000])
    data = {"expected_status": "draft", "kind": kind, "description": "Change", "amount": amount, "tax_rate": tax_rate}
    assert_no_server_error(office.post(reverse("office:invoice_adjust", args=[invoice.pk]), data))
    assert_stored_values_within_bounds()  # the draft's total against MAX_AMOUNT_UNITS is slip_add_adjustment's check


@settings(max_examples=EXAMPLES)
@given(amount=NUMBERISH, pay_amount=NUMBERISH, tax_rate=NUMBERISH)
@example(amount="99999999999", pay_amount="", tax_rate="0")  # overflowed the rate column
def test_proforma_adjustments_never_crash_and_store_only_bounded_lines(office, customer, amount, pay_amount, tax_rate):
    proforma = proforma_with_slips(customer=customer, amounts=[10000])
    draft_with_proformas(proformas=[proforma], customer=customer)
    data = {"kind": "additional_work", "description": "Change", "amount": amount, "pay_amount": pay_amount}
    data["tax_rate"] = tax_rate
    assert_no_server_error(office.post(reverse("office:proforma_adjust", args=[proforma.pk]), data))
    assert_stored_values_within_bounds()


def _manual_line(description, quantity, unit_price, tax_rate, discount):
    return {"description": description, "quantity": quantity, "unit_price": unit_price, "tax_rate": tax_rate} | {
        "discount": discount
    }


LINE = st.tuples(
    st.sampled_from(["Hours", "Supplies", ""]),
    st.one_of(NUMBERISH, st.sampled_from(["1", "2.5", "99999999", "1000000"])),
    st.one_of(NUMBERISH, st.sampled_from(["45.50", "99999999.00", "99,999,999.99", "10000000"])),
    st.one_of(NUMBERISH, st.sampled_from(["8.25", "100", "0"])),
    st.one_of(st.just(""), NUMBERISH),
)


@settings(max_examples=EXAMPLES)
@given(lines=st.lists(LINE, min_size=1, max_size=5), discount=st.one_of(st.just(""), NUMBERISH), terms=NUMBERISH)
@example(lines=[("Fee", "1", "9" * 40, "0", "")], discount="", terms="")  # InvalidOperation in RateField
@example(lines=[("Fee", "99999999", "99999999.00", "100", "")] * 5, discount="", terms="")  # bigint overflow
def test_manual_invoices_never_crash_and_store_only_bounded_documents(office, partner, lines, discount, terms):
    customer = CustomerFactory(partner=partner, zone=ZoneFactory(partner=partner))
    rows = [_manual_line(*line) for line in lines]
    data = {
        "customer": customer.pk,
        "billing_contact": "",
        "discount": discount,
        "payment_terms_days": terms,
        "due_date": "",
        "notes": "",
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "500",
    }
    for index, row in enumerate(rows):
        data.update({f"lines-{index}-{key}": value for key, value in row.items()})
    assert_no_server_error(office.post(reverse("office:invoice_create"), data))
    assert_stored_values_within_bounds()
    assert_document_totals_within_bounds()
    for invoice in Invoice.objects.all():
        assert 0 <= (invoice.payment_terms_days or 0) <= MAX_TERMS_DAYS


@settings(max_examples=EXAMPLES)
@given(days=NUMBERISH, percent=NUMBERISH)
def test_billing_settings_never_crash_and_store_only_bounded_numbers(office, customer, days, percent):
    data = {
        "invoicing_schedule": Customer.Schedule.MONTHLY,
        "payment_method": Customer.PaymentMethod.CHECK,
        "payment_terms": Customer.PaymentTerms.NET,
        "payment_terms_days": days,
        "discount_percent": percent,
        "expense_code_mode": Customer.ExpenseCodeMode.choices[0][0],
        "auto_invoice_on_booking": "on",
        "is_active": "on",
    }
    assert_no_server_error(office.post(reverse("office:customer_billing_settings", args=[customer.pk]), data))
    assert_stored_values_within_bounds()


@settings(max_examples=EXAMPLES)
@given(days=NUMBERISH)
def test_provider_terms_never_crash_and_store_only_bounded_days(office, partner, days):
    provider = ProviderFactory(partner=partner)
    data = {"name": provider.name, "email": "", "phone": "", "address": "", "payment_terms_days": days}
    assert_no_server_error(office.post(reverse("office:provider_edit", args=[provider.pk]), data))
    assert_stored_values_within_bounds()


CARD_NUMBER = st.one_of(NUMBERISH, st.sampled_from(["4242 4242 4242 4242", "4242-4242-4242-4242", "4000000000000002"]))
EXPIRY = st.one_of(NUMBERISH, st.sampled_from(["12/39", "08/2029", "13/30", "00/30", "12/99", "1/30"]))


@settings(max_examples=EXAMPLES)
@given(number=CARD_NUMBER, expiry=EXPIRY)
@example(number="4242 4242 4242 ²²²²", expiry="12/39")  # superscripts: isdigit() but not int()
def test_the_office_card_form_never_crashes(office, customer, number, expiry):
    response = office.post(reverse("office:customer_card", args=[customer.pk]), {"number": number, "expiry": expiry})
    assert_no_server_error(response)


@settings(max_examples=EXAMPLES)
@given(number=CARD_NUMBER, expiry=EXPIRY)
@example(number="4242 4242 4242 4242", expiry="²/²⁹")
def test_the_portal_card_payment_never_crashes_and_pays_at_most_the_balance(portal, customer, number, expiry):
    invoice = issued_invoice(customer, [12000])
    data = {"pay_key": new_pay_key(), "number": number, "expiry": expiry}
    assert_no_server_error(portal.post(reverse("portal:invoice_pay", args=[invoice.pk]), data), 200, 302, 400)
    assert_stored_values_within_bounds()


@settings(max_examples=EXAMPLES)
@given(
    page=st.sampled_from(
        [("office:ar_invoice_list", "total"), ("office:proforma_list", "total"), ("office:payment_list", "amount")]
    ),
    low=NUMBERISH,
    high=NUMBERISH,
)
def test_amount_filters_never_crash(office, customer, page, low, high):
    name, field = page
    assert_no_server_error(office.get(reverse(name), {f"{field}_min": low, f"{field}_max": high}))


@settings(max_examples=EXAMPLES)
@given(as_of=DATEISH, date_from=DATEISH, date_to=DATEISH)
@example(as_of="0001-01-01", date_from="x", date_to="0001-01-05")  # ran off the calendar
def test_report_dates_never_crash(office, customer, as_of, date_from, date_to):
    assert_no_server_error(office.get(reverse("office:report_aging"), {"as_of": as_of}))
    assert_no_server_error(office.get(reverse("office:report_revenue"), {"date_from": date_from, "date_to": date_to}))
