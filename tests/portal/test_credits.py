"""Credit notes and refunds in the portal: a customer sees its invoice's credit notes (with their PDF), its
refunds and the balance after credits; another customer sees none of them."""

import re

import pytest
from django.urls import reverse

from invoicing.credits import credit_apply, credit_note_issue, payment_refund
from invoicing.models import Invoice
from invoicing.payments import payment_record
from tests.factories import CustomerFactory, CustomerMembershipFactory, StaffMembershipFactory, issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def detail(portal, invoice):
    response = portal.get(reverse("portal:invoice_detail", args=[invoice.pk]))
    assert response.status_code == 200
    return text(response)


def test_the_invoice_page_shows_its_credit_note_and_the_balance_after_it(portal, customer, admin):
    invoice = issued_invoice(customer, [30000])
    payment_record(invoice=invoice, amount_units=10000, method="check", reference="101")
    note = credit_note_issue(invoice=invoice, amount_units=5000, reason="Late start", user=admin)
    body = detail(portal, invoice)
    assert note.number in body and "Late start" in body and "−$50.00" in body
    assert reverse("portal:credit_note_pdf", args=[note.pk]) in body
    assert f"Credit note {note.number}" in body
    assert re.search(r"To pay</dt><dd[^>]*>\$150\.00</dd>", body)


def test_a_refund_shows_and_reopens_the_balance(portal, customer, admin):
    invoice = issued_invoice(customer, [10000])
    payment = payment_record(invoice=invoice, amount_units=10000, method="check", reference="55")
    payment_refund(payment=payment, amount_units=4000, reference="Check 900", user=admin)
    body = detail(portal, invoice)
    assert "Refunds" in body and "$40.00 back on your check payment" in body and "Check 900" in body
    assert "+$40.00" in body
    assert re.search(r"To pay</dt><dd[^>]*>\$40\.00</dd>", body)


def test_credit_applied_from_another_invoice_shows_on_the_invoice_it_lowered(portal, customer, admin):
    first = issued_invoice(customer, [30000])
    payment_record(invoice=first, amount_units=30000, method="check", reference="7")
    note = credit_note_issue(invoice=first, whole=True, reason="Overbilled", user=admin)
    assert "of credit left" in detail(portal, first)
    second = issued_invoice(customer, [12000])
    credit_apply(credit_note=note, invoice=second, amount_units=12000, user=admin)
    body = detail(portal, second)
    assert f"Credit note {note.number}" in body and "Settled by credit notes" in body


def test_the_invoice_list_shows_and_filters_the_credited_status(portal, customer, admin):
    credited = issued_invoice(customer, [5000])
    credit_note_issue(invoice=credited, whole=True, reason="Wrong customer", user=admin)
    other = issued_invoice(customer, [7000])
    response = portal.get(reverse("portal:invoice_list"))
    body = text(response)
    assert "Credited" in body and "$50.00 credited" in body
    listed = portal.get(reverse("portal:invoice_list"), {"status": "credited"}).context["invoices"]
    assert [invoice.pk for invoice in listed] == [credited.pk]
    assert Invoice.objects.get(pk=credited.pk).status == Invoice.Status.CREDITED
    assert other.pk not in [invoice.pk for invoice in listed]


def test_the_open_balance_counts_credit_notes(portal, customer, admin):
    invoice = issued_invoice(customer, [30000])
    credit_note_issue(invoice=invoice, amount_units=10000, reason="Partly", user=admin)
    response = portal.get(reverse("portal:invoice_list"))
    assert "$200.00 still to pay" in text(response)


def test_another_customer_sees_no_credit_note(client, customer, admin, partner):
    invoice = issued_invoice(customer, [30000])
    note = credit_note_issue(invoice=invoice, amount_units=5000, reason="Victim credit", user=admin)
    neighbour = CustomerMembershipFactory(customer=CustomerFactory(partner=partner)).user
    client.force_login(neighbour)
    assert client.get(reverse("portal:invoice_detail", args=[invoice.pk])).status_code == 404
    assert client.get(reverse("portal:credit_note_pdf", args=[note.pk])).status_code == 404
    assert note.number not in text(client.get(reverse("portal:invoice_list")))
