"""Manual invoices (seed 001): pick the customer, type lines in a formset, an invoice discount, terms or a due
date; save a draft or (billing admins) save and issue. Drafts are editable with the same form; issued ones not.
The server computes every amount: the totals are the exact sum of the lines and match a hand computation."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from invoicing.forms import invoice_line_formset
from invoicing.manual import slip_add_adjustment
from invoicing.models import Invoice, Slip
from octoo_billing.money import MAX_AMOUNT_UNITS
from tests.factories import (
    BillingContactFactory,
    CustomerFactory,
    PartnerFactory,
    ZoneFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

CREATE = "office:invoice_create"
EXTRA = 3  # the empty rows the page renders


@pytest.fixture
def zoned_customer(partner):
    return CustomerFactory(partner=partner, zone=ZoneFactory(partner=partner, tax_rate=Decimal("8.250")))


def line(description, quantity, unit_price, *, tax_rate="8.25", discount=""):
    return {
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "tax_rate": tax_rate,
        "discount": discount,
    }


def form_data(customer, lines, *, initial=0, extra=EXTRA, **header):
    """What the page posts: the header, the typed lines, and the untouched empty rows as rendered."""
    empty_tax = f"{customer.zone.tax_rate.normalize():f}" if customer is not None and customer.zone_id else "0"
    rows = list(lines) + [line("", "1", "", tax_rate=empty_tax)] * extra
    data = {
        "customer": customer.pk if customer is not None else "",
        "billing_contact": "",
        "discount": "",
        "payment_terms_days": "",
        "due_date": "",
        "notes": "",
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "500",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{index}-{key}"] = value
    data.update({key: str(value) for key, value in header.items()})
    return data


SEED_LINES = [
    line("Deep cleaning", "2", "45.50", discount="1.00"),
    line("Supplies", "3", "12.35"),
    line("Travel fee", "1", "25", tax_rate="0"),
]


def create(client, user, data, **kwargs):
    client.force_login(user)
    return client.post(reverse(CREATE), data, **kwargs)


def line_errors(response, index):
    return response.context["formset"].forms[index].errors


# --- choosing the customer ------------------------------------------------------------------------------------


def test_the_customer_picker_lists_only_the_partners_customers(client, clerk_user, customer):
    stranger = CustomerFactory(partner=PartnerFactory(), name="Stranger Corp")
    client.force_login(clerk_user)
    body = client.get(reverse(CREATE)).content.decode()
    assert customer.name in body and "Stranger Corp" not in body
    assert "Choose the customer first" in body
    assert stranger.pk


def test_choosing_a_customer_preselects_the_default_contact_and_the_zone_tax(client, clerk_user, zoned_customer):
    other_contact = BillingContactFactory(customer=zoned_customer, name="Second Contact")
    elsewhere = BillingContactFactory(customer=CustomerFactory(partner=zoned_customer.partner), name="Not Theirs")
    client.force_login(clerk_user)
    response = client.get(reverse(CREATE), {"customer": zoned_customer.pk})
    form = response.context["form"]
    default = zoned_customer.contacts.get(is_default=True)
    assert form["billing_contact"].value() == default.pk
    assert set(form.fields["billing_contact"].queryset) == {default, other_contact}
    body = response.content.decode()
    assert "Not Theirs" not in body and elsewhere.pk
    assert 'name="lines-0-tax_rate" value="8.25"' in body
    assert response.context["form"]["payment_terms_days"].value() == 30


def test_another_partners_customer_id_is_not_loaded(client, clerk_user):
    stranger = CustomerFactory(partner=PartnerFactory(), name="Stranger Corp")
    client.force_login(clerk_user)
    response = client.get(reverse(CREATE), {"customer": stranger.pk})
    assert response.context["customer"] is None
    assert "Stranger Corp" not in response.content.decode()


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "12a", "-3"])
def test_a_customer_id_that_is_no_number_is_simply_not_found(client, clerk_user, value):
    client.force_login(clerk_user)
    response = client.get(reverse(CREATE), {"customer": value})
    assert response.status_code == 200 and response.context["customer"] is None


def test_posting_another_partners_customer_saves_nothing(client, clerk_user):
    stranger = CustomerFactory(partner=PartnerFactory())
    response = create(client, clerk_user, form_data(stranger, SEED_LINES))
    assert response.status_code == 200
    assert response.context["form"].errors["customer"] == ["Choose one of your customers."]
    assert not Invoice.objects.exists()


# --- saving ---------------------------------------------------------------------------------------------------


def test_three_lines_and_an_invoice_discount_match_a_hand_computation(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, form_data(zoned_customer, SEED_LINES, discount="10.00", notes="Thanks!"))
    invoice = Invoice.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("office:invoice_detail", args=[invoice.pk])
    assert invoice.status == Invoice.Status.DRAFT and invoice.number is None
    slips = list(Slip.objects.filter(invoice=invoice).order_by("position"))
    assert [s.description for s in slips] == ["Deep cleaning", "Supplies", "Travel fee"]
    # amounts 91.00 - 1.00 | 37.05 | 25.00; the 10.00 discount spread 5.92 / 2.44 / 1.64 (largest remainder)
    assert [s.bill_amount_units for s in slips] == [9100, 3705, 2500]
    assert [s.invoice_discount_units for s in slips] == [592, 244, 164]
    # tax 8.25 % of 84.08 = 6.9366 -> 6.94; of 34.61 = 2.855 -> 2.86 (half up); none on travel
    assert [s.bill_tax_units for s in slips] == [694, 286, 0]
    assert [s.bill_total_units for s in slips] == [9102, 3747, 2336]
    assert invoice.subtotal_units == 15305
    assert invoice.discount_total_units == 1100 and invoice.discount_units == 1000
    assert invoice.tax_units == 980
    assert invoice.total_units == 15185 == sum(s.bill_total_units for s in slips)
    assert invoice.billing_contact == zoned_customer.contacts.get(is_default=True)
    assert invoice.notes == "Thanks!" and invoice.created_by == clerk_user


def test_the_draft_page_shows_the_saved_totals(client, clerk_user, zoned_customer):
    create(client, clerk_user, form_data(zoned_customer, SEED_LINES, discount="10.00"), follow=True)
    invoice = Invoice.objects.get()
    body = client.get(reverse("office:invoice_detail", args=[invoice.pk])).content.decode()
    assert 'id="invoice-total">$151.85<' in body


def test_admin_saves_and_issues_at_once(client, staff_user, zoned_customer):
    response = create(client, staff_user, {**form_data(zoned_customer, SEED_LINES), "issue": "1"}, follow=True)
    invoice = Invoice.objects.get()
    assert invoice.status == Invoice.Status.PENDING and invoice.number
    assert f"issued as {invoice.number}" in " ".join(str(m) for m in response.context["messages"])


def test_clerk_save_and_issue_is_403_and_saves_nothing(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, {**form_data(zoned_customer, SEED_LINES), "issue": "1"})
    assert response.status_code == 403
    assert not Invoice.objects.exists()


def test_clerk_does_not_see_save_and_issue(client, clerk_user, staff_user, zoned_customer):
    client.force_login(clerk_user)
    assert "Save and issue" not in client.get(reverse(CREATE), {"customer": zoned_customer.pk}).content.decode()
    client.force_login(staff_user)
    assert "Save and issue" in client.get(reverse(CREATE), {"customer": zoned_customer.pk}).content.decode()


def test_save_and_issue_that_the_domain_refuses_saves_nothing(client, staff_user, partner):
    customer = CustomerFactory(partner=partner, default_contact=False)
    response = create(client, staff_user, {**form_data(customer, SEED_LINES), "issue": "1"})
    assert response.status_code == 200
    assert "no default billing contact" in " ".join(response.context["form"].non_field_errors())
    assert not Invoice.objects.exists()


def test_terms_or_a_due_date_are_kept(client, clerk_user, zoned_customer):
    due = timezone.localdate() + datetime.timedelta(days=10)
    create(client, clerk_user, form_data(zoned_customer, SEED_LINES, payment_terms_days=15, due_date=due.isoformat()))
    invoice = Invoice.objects.get()
    assert invoice.payment_terms_days == 15 and invoice.due_date == due


def test_a_chosen_contact_is_used(client, clerk_user, zoned_customer):
    contact = BillingContactFactory(customer=zoned_customer, name="Accounts Payable")
    create(client, clerk_user, form_data(zoned_customer, SEED_LINES, billing_contact=contact.pk))
    assert Invoice.objects.get().billing_contact == contact


# --- bad input: errors next to their fields, nothing saved -----------------------------------------------------


@pytest.mark.parametrize(
    ("price", "error"),
    [
        ("12.3.4", "is not a price"),
        ("1e9", "is not a price"),
        ("", "Enter a price."),
        ("-5", "cannot be negative"),
    ],
)
def test_bad_unit_prices_are_errors_on_the_field_and_save_nothing(client, clerk_user, zoned_customer, price, error):
    lines = [SEED_LINES[0], line("Supplies", "3", price), SEED_LINES[2]]
    response = create(client, clerk_user, form_data(zoned_customer, lines))
    assert response.status_code == 200
    assert error in " ".join(line_errors(response, 1)["unit_price"])
    assert line_errors(response, 0) == {} and line_errors(response, 2) == {}
    assert error in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(("amount", "error"), [("12.3.4", "is not an amount"), ("1e9", "is not an amount")])
def test_bad_discounts_are_errors_on_their_fields(client, clerk_user, zoned_customer, amount, error):
    lines = [line("Deep cleaning", "2", "45.50", discount=amount)]
    response = create(client, clerk_user, form_data(zoned_customer, lines, discount=amount))
    assert error in line_errors(response, 0)["discount"][0]
    assert error in response.context["form"].errors["discount"][0]
    assert not Invoice.objects.exists()


def test_bad_quantity_is_an_error_on_the_field(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, form_data(zoned_customer, [line("Hours", "0", "10")]))
    assert line_errors(response, 0)["quantity"] == ["The quantity must be more than zero."]
    assert not Invoice.objects.exists()


def test_a_missing_description_is_an_error_on_the_field(client, clerk_user, zoned_customer):
    lines = [SEED_LINES[0], line("", "3", "12.35")]
    response = create(client, clerk_user, form_data(zoned_customer, lines))
    assert line_errors(response, 1) == {"description": ["Enter a description."]}
    assert "Enter a description." in response.content.decode()
    assert not Invoice.objects.exists()


def test_no_lines_at_all_is_an_error(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, form_data(zoned_customer, []))
    assert "Add at least one line" in " ".join(response.context["formset"].non_form_errors())
    assert not Invoice.objects.exists()


def test_a_line_discount_larger_than_the_line_is_an_error_on_it(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, form_data(zoned_customer, [line("Fee", "1", "10", discount="10.01")]))
    assert line_errors(response, 0)["discount"] == ["The discount is larger than the line ($10.00)."]
    assert not Invoice.objects.exists()


def test_an_invoice_discount_larger_than_the_lines_is_an_error_on_it(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, form_data(zoned_customer, [line("Fee", "1", "10")], discount="10.01"))
    assert response.context["form"].errors["discount"] == ["The invoice discount is larger than the lines ($10.00)."]
    assert not Invoice.objects.exists()


def test_another_customers_contact_is_refused(client, clerk_user, zoned_customer):
    elsewhere = BillingContactFactory(customer=CustomerFactory(partner=zoned_customer.partner))
    response = create(client, clerk_user, form_data(zoned_customer, SEED_LINES, billing_contact=elsewhere.pk))
    assert response.context["form"].errors["billing_contact"] == ["Choose one of this customer's billing contacts."]
    assert not Invoice.objects.exists()


def test_a_due_date_in_the_past_is_refused(client, clerk_user, zoned_customer):
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    response = create(client, clerk_user, form_data(zoned_customer, SEED_LINES, due_date=yesterday))
    assert response.context["form"].errors["due_date"] == ["A due date cannot be in the past."]
    assert not Invoice.objects.exists()


def test_bad_terms_are_refused(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, form_data(zoned_customer, SEED_LINES, payment_terms_days="thirty"))
    assert response.context["form"].errors["payment_terms_days"] == ["Enter a whole number of days, like 30."]
    assert not Invoice.objects.exists()


def test_a_removed_row_is_not_saved(client, clerk_user, zoned_customer):
    data = form_data(zoned_customer, [*SEED_LINES, line("", "x", "bad")])
    data["lines-3-DELETE"] = "on"
    assert create(client, clerk_user, data).status_code == 302
    assert Slip.objects.count() == 3


# --- bounds: what the columns hold and what makes sense on an invoice (octoo_billing.money) --------------------


def test_a_unit_price_of_forty_nines_is_an_error_on_the_field(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, form_data(zoned_customer, [line("Fee", "1", "9" * 40)]))
    assert response.status_code == 200
    assert line_errors(response, 0)["unit_price"] == ["The price is too large: at most $99,999,999.99."]
    assert not Invoice.objects.exists()


def test_a_quantity_above_a_million_is_an_error_on_the_field(client, clerk_user, zoned_customer):
    response = create(client, clerk_user, form_data(zoned_customer, [line("Hours", "1000000.5", "1")]))
    assert line_errors(response, 0)["quantity"] == ["The quantity is at most 1,000,000."]
    assert not Invoice.objects.exists()


def test_a_line_above_the_max_amount_is_an_error_on_its_price(client, clerk_user, zoned_customer):
    """One line of 99999999 x 99999999.00 at 100 % was a $19,999,999,600,000,002.00 invoice."""
    lines = [line("Fee", "99999999", "99999999.00", tax_rate="100"), line("Fee", "1000000", "99999999.00")]
    response = create(client, clerk_user, form_data(zoned_customer, lines))
    assert response.status_code == 200
    assert line_errors(response, 0) == {"quantity": ["The quantity is at most 1,000,000."]}
    assert line_errors(response, 1) == {
        "unit_price": ["The line would come to more than $99,999,999.99: lower the quantity or the price."]
    }
    assert not Invoice.objects.exists()


def test_five_huge_lines_are_errors_not_a_500(client, clerk_user, zoned_customer):
    """Five lines of 99999999 x 99999999.00 at 100 % overflowed the invoice's bigint total (a 500)."""
    client.raise_request_exception = False
    lines = [line(f"Fee {i}", "99999999", "99999999.00", tax_rate="100") for i in range(5)]
    response = create(client, clerk_user, form_data(zoned_customer, lines))
    assert response.status_code == 200
    assert all("quantity" in line_errors(response, i) for i in range(5))
    assert not Invoice.objects.exists()


def test_lines_that_together_pass_the_max_total_are_a_formset_error(client, clerk_user, zoned_customer):
    lines = [line(f"Fee {i}", "1", "30,000,000.00", tax_rate="20") for i in range(3)]  # 90,000,000.00 + 20 % tax
    response = create(client, clerk_user, form_data(zoned_customer, lines))
    assert response.status_code == 200
    assert response.context["formset"].non_form_errors() == [
        "These lines come to more than $99,999,999.99: split them over several invoices."
    ]
    assert "split them over several invoices" in response.content.decode()
    assert not Invoice.objects.exists()


def test_editing_a_draft_past_the_max_total_is_refused_and_changes_nothing(client, clerk_user, customer):
    invoice = draft_invoice(customer, [0])
    slip_add_adjustment(kind="additional_work", description="Big", amount_units=MAX_AMOUNT_UNITS, invoice=invoice)
    client.force_login(clerk_user)
    response = client.post(
        edit_url(invoice), form_data(customer, [line("Line 1", "1", "0.01", tax_rate="0")], initial=1)
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "The invoice would come to more than $99,999,999.99: split it into several."
    ]
    invoice.refresh_from_db()
    assert invoice.total_units == MAX_AMOUNT_UNITS
    assert Slip.objects.filter(invoice=invoice).count() == 2


def max_lines():
    return invoice_line_formset(extra=0).absolute_max


def test_the_upload_limit_takes_the_largest_manual_invoice():
    form = invoice_line_formset(extra=1)(prefix="lines").forms[0]  # its fields, DELETE included
    header = len(form_data(None, [], extra=0)) + len(["csrfmiddlewaretoken", "issue"])
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS >= len(form.fields) * max_lines() + header


def test_a_manual_invoice_of_the_most_lines_is_created(client, clerk_user, zoned_customer):
    lines = [line(f"Line {i}", "1", "1.00", tax_rate="0") for i in range(max_lines())]
    response = create(client, clerk_user, form_data(zoned_customer, lines, extra=0))
    invoice = Invoice.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("office:invoice_detail", args=[invoice.pk])
    assert Slip.objects.filter(invoice=invoice).count() == max_lines() == 500
    assert invoice.total_units == 500 * 100


def test_one_line_more_than_the_most_is_a_formset_error(client, clerk_user, zoned_customer):
    lines = [line(f"Line {i}", "1", "1.00", tax_rate="0") for i in range(max_lines() + 1)]
    response = create(client, clerk_user, form_data(zoned_customer, lines, extra=0))
    assert response.status_code == 200
    assert response.context["formset"].non_form_errors() == [
        "An invoice has at most 500 lines: split them over several invoices."
    ]
    assert not Invoice.objects.exists()


# --- editing drafts -------------------------------------------------------------------------------------------


def edit_url(invoice):
    return reverse("office:invoice_edit", args=[invoice.pk])


def test_edit_form_is_prefilled_with_the_draft(client, clerk_user, zoned_customer):
    create(client, clerk_user, form_data(zoned_customer, SEED_LINES, discount="10.00", notes="Keep me"))
    invoice = Invoice.objects.get()
    response = client.get(edit_url(invoice))
    body = response.content.decode()
    assert 'value="Deep cleaning"' in body and 'value="45.50"' in body and 'value="1.00"' in body
    assert response.context["form"]["discount"].value() == "10.00" and "Keep me" in body
    assert response.context["formset"].initial_form_count() == 3


def test_editing_a_draft_replaces_its_lines(client, clerk_user, zoned_customer):
    create(client, clerk_user, form_data(zoned_customer, SEED_LINES))
    invoice = Invoice.objects.get()
    data = form_data(zoned_customer, [*SEED_LINES[:2], line("Travel fee", "2", "25", tax_rate="0")], initial=3)
    data["lines-1-DELETE"] = "on"
    response = client.post(edit_url(invoice), data)
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert [s.description for s in Slip.objects.filter(invoice=invoice)] == ["Deep cleaning", "Travel fee"]
    assert invoice.total_units == 9100 - 100 + 743 + 5000  # 90.00 + tax 7.425 -> 7.43, then 50.00


def test_editing_keeps_adjustments_unless_removed(client, clerk_user, customer):
    invoice = draft_invoice(customer, [10000], user=clerk_user)
    credit = slip_add_adjustment(kind="credit", description="Goodwill", amount_units=500, invoice=invoice)
    client.force_login(clerk_user)
    data = form_data(customer, [line("Line 1", "1", "100", tax_rate="0")], initial=1, extra=2)
    client.post(edit_url(invoice), data)
    invoice.refresh_from_db()
    assert invoice.total_units == 9500
    assert Slip.objects.filter(invoice=invoice, slip_type="credit").count() == 1
    client.post(edit_url(invoice), {**data, "drop_slip": str(Slip.objects.get(slip_type="credit").pk)})
    invoice.refresh_from_db()
    assert invoice.total_units == 10000 and credit.pk


def test_edit_with_errors_changes_nothing(client, clerk_user, customer):
    invoice = draft_invoice(customer, [10000], user=clerk_user)
    client.force_login(clerk_user)
    response = client.post(edit_url(invoice), form_data(customer, [line("Line 1", "1", "1e9")], initial=1))
    assert "is not a price" in line_errors(response, 0)["unit_price"][0]
    invoice.refresh_from_db()
    assert invoice.total_units == 10000


def test_an_issued_invoice_cannot_be_edited(client, clerk_user, customer):
    invoice = issued_invoice(customer, [10000])
    client.force_login(clerk_user)
    response = client.get(edit_url(invoice), follow=True)
    assert response.redirect_chain[-1][0] == reverse("office:invoice_detail", args=[invoice.pk])
    assert "can no longer be edited" in " ".join(str(m) for m in response.context["messages"])
    response = client.post(edit_url(invoice), form_data(customer, [line("Changed", "1", "1")], initial=1))
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.total_units == 10000
    assert list(Slip.objects.filter(invoice=invoice).values_list("description", flat=True)) == ["Line 1"]


def test_a_draft_with_proformas_is_adjusted_not_retyped(client, clerk_user, customer):
    invoice = draft_with_proformas(proformas=[proforma_with_slips(customer=customer)], customer=customer)
    client.force_login(clerk_user)
    response = client.get(edit_url(invoice), follow=True)
    assert "carries proformas" in " ".join(str(m) for m in response.context["messages"])


def test_another_partners_draft_is_404_to_edit(client, clerk_user):
    foreign = draft_invoice(CustomerFactory(partner=PartnerFactory()), [1000])
    client.force_login(clerk_user)
    assert client.get(edit_url(foreign)).status_code == 404
    assert client.post(edit_url(foreign), {}).status_code == 404


def test_admin_saves_and_issues_an_edited_draft(client, staff_user, customer):
    invoice = draft_invoice(customer, [10000])
    client.force_login(staff_user)
    data = {**form_data(customer, [line("Line 1", "1", "120", tax_rate="0")], initial=1), "issue": "1"}
    client.post(edit_url(invoice), data)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and invoice.total_units == 12000


def test_clerk_cannot_issue_from_the_edit_form(client, clerk_user, customer):
    invoice = draft_invoice(customer, [10000], user=clerk_user)
    client.force_login(clerk_user)
    data = {**form_data(customer, [line("Line 1", "1", "120", tax_rate="0")], initial=1), "issue": "1"}
    assert client.post(edit_url(invoice), data).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.DRAFT and invoice.total_units == 10000
