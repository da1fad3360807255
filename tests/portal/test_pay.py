"""Customer portal: paying an invoice's balance by card (the card on file, or one typed in)."""

import re

import pytest
from django.urls import reverse

from audit.recording import audit_trail
from customers.models import Customer
from invoicing.charging import customer_card_save
from invoicing.lifecycle import invoice_issue, invoice_void
from invoicing.models import Invoice, Payment
from invoicing.payments import payment_record
from tests.factories import CustomerFactory, CustomerMembershipFactory, PartnerFactory, draft_invoice, issued_invoice

pytestmark = pytest.mark.django_db

GOOD, DECLINED = "4242 4242 4242 4242", "4000 0000 0000 0002"


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    return client


@pytest.fixture
def invoice(customer):
    return issued_invoice(customer, [12000])


def pay_url(invoice):
    return reverse("portal:invoice_pay", args=[invoice.pk])


def detail(portal, invoice):
    return portal.get(reverse("portal:invoice_detail", args=[invoice.pk]))


def pay_key(response):
    return re.search(r'name="pay_key" value="([^"]+)"', response.content.decode()).group(1)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def test_paying_with_a_typed_card_pays_the_balance_and_keeps_no_card(portal, invoice, customer_user):
    key = pay_key(detail(portal, invoice))

    response = portal.post(pay_url(invoice), {"pay_key": key, "number": GOOD, "expiry": "12/39"}, follow=True)

    invoice = fresh(invoice)
    assert invoice.status == Invoice.Status.PAID and invoice.outstanding_units == 0
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount_units, payment.method, payment.created_by) == (invoice.total_units, "card", customer_user)
    assert "Thank you: $120.00 was paid" in response.content.decode()
    assert fresh(invoice.customer).card_last4 == ""
    assert "charge" in [e.action for e in audit_trail(invoice)]


def test_keeping_the_card_on_file_puts_it_there_after_the_payment(portal, invoice):
    key = pay_key(detail(portal, invoice))

    portal.post(pay_url(invoice), {"pay_key": key, "number": GOOD, "expiry": "12/39", "keep_on_file": "on"})

    customer = fresh(invoice.customer)
    assert (customer.card_brand, customer.card_last4) == ("Visa", "4242")
    assert fresh(invoice).status == Invoice.Status.PAID


def test_paying_with_the_card_on_file(portal, customer):
    customer_card_save(customer=customer, number=GOOD, exp_month=12, exp_year=2039)
    invoice = issued_invoice(customer, [5000])
    page = detail(portal, invoice).content.decode()
    assert "Pay with Visa ending 4242" in page

    portal.post(pay_url(invoice), {"pay_key": pay_key(detail(portal, invoice))})

    assert fresh(invoice).status == Invoice.Status.PAID


def test_a_partly_paid_invoice_is_charged_only_its_balance(portal, invoice):
    payment_record(invoice=invoice, amount_units=2000, method="check", reference="1001")

    portal.post(pay_url(invoice), {"pay_key": pay_key(detail(portal, invoice)), "number": GOOD, "expiry": "12/39"})

    assert list(Payment.objects.filter(invoice=invoice).order_by("id").values_list("amount_units", flat=True)) == [
        2000,
        10000,
    ]
    assert fresh(invoice).status == Invoice.Status.PAID


def test_a_double_submitted_payment_charges_once(portal, invoice):
    data = {"pay_key": pay_key(detail(portal, invoice)), "number": GOOD, "expiry": "12/39"}

    portal.post(pay_url(invoice), data)
    response = portal.post(pay_url(invoice), data, follow=True)

    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert fresh(invoice).paid_units == invoice.total_units
    assert "There is nothing to pay by card" in response.content.decode()


def test_a_declined_card_changes_nothing_says_why_and_is_not_kept(portal, invoice):
    key = pay_key(detail(portal, invoice))

    response = portal.post(
        pay_url(invoice), {"pay_key": key, "number": DECLINED, "expiry": "12/39", "keep_on_file": "on"}, follow=True
    )

    invoice = fresh(invoice)
    assert invoice.status == Invoice.Status.PENDING and not Payment.objects.filter(invoice=invoice).exists()
    assert "Card ending 0002 not charged: The card was declined." in response.content.decode()
    assert fresh(invoice.customer).card_last4 == ""
    assert "charge_failed" in [e.action for e in audit_trail(invoice)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"number": "4242 4242 4242 4241", "expiry": "12/39"}, "That card number is not valid"),
        ({"number": GOOD, "expiry": "01/20"}, "That card has expired."),
        ({"number": "", "expiry": "12/39"}, "Enter the card number."),
        ({"number": "4111 1111 1111 1111", "expiry": "12/39"}, "only accepts its test cards"),
    ],
)
def test_bad_card_input_is_shown_on_the_form_and_charges_nothing(portal, invoice, data, message):
    response = portal.post(pay_url(invoice), {"pay_key": pay_key(detail(portal, invoice)), **data})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Payment.objects.filter(invoice=invoice).exists()
    if data["number"]:
        assert f'value="{data["number"]}' not in response.content.decode()


def test_a_forged_pay_key_is_refused(portal, invoice):
    response = portal.post(pay_url(invoice), {"pay_key": "x", "number": GOOD, "expiry": "12/39"})

    assert response.status_code == 400
    assert "This payment form has expired" in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.parametrize("state", ["paid", "void"])
def test_nothing_to_pay_means_no_pay_form_and_no_charge(portal, customer, state):
    customer_card_save(customer=customer, number=GOOD, exp_month=12, exp_year=2039)
    invoice = issued_invoice(customer, [5000])
    if state == "paid":
        payment_record(invoice=invoice, amount_units=5000, method="check", reference="7")
    elif state == "void":
        invoice_void(invoice=invoice, reason="Billed twice")

    assert 'id="pay"' not in detail(portal, invoice).content.decode()
    portal.post(pay_url(invoice), {"pay_key": "k" * 22})

    assert Payment.objects.filter(invoice=invoice, method="card").count() == 0


def test_no_payment_terms_mean_no_due_date_not_nothing_owed(portal, customer):
    """On "no payment" terms an invoice has no due date and is not charged on issue, but its balance is owed: the
    portal offers to pay it, and no page says that nothing is due next to a balance."""
    Customer.objects.filter(pk=customer.pk).update(payment_method="card", auto_charge=True)
    customer_card_save(customer=customer, number=GOOD, exp_month=12, exp_year=2039)
    draft = draft_invoice(customer, [5000])
    Invoice.objects.filter(pk=draft.pk).update(no_payment=True)
    invoice = invoice_issue(invoice=draft)
    assert invoice.due_date is None and not invoice.charged_on_issue
    assert not invoice.outbox_jobs.filter(kind="charge").exists()

    page = detail(portal, invoice).content.decode()
    assert 'id="pay"' in page and "no payment is due" not in page.lower()
    response = portal.post(pay_url(invoice), {"pay_key": pay_key(detail(portal, invoice))}, follow=True)
    assert fresh(invoice).status == Invoice.Status.PAID
    assert "Thank you" in response.content.decode()


def test_the_manual_gateway_offers_no_card_payment(portal, invoice, settings):
    settings.PAYMENT_GATEWAY = "manual"

    assert 'id="pay"' not in detail(portal, invoice).content.decode()
    portal.post(pay_url(invoice), {"pay_key": "k" * 22, "number": GOOD, "expiry": "12/39"})
    assert not Payment.objects.exists()


def test_another_customers_invoice_is_404(portal, partner):
    neighbour = issued_invoice(CustomerFactory(partner=partner), [5000])
    stranger = issued_invoice(CustomerFactory(partner=PartnerFactory()), [5000])

    for other in (neighbour, stranger):
        assert portal.post(pay_url(other), {"pay_key": "k" * 22, "number": GOOD, "expiry": "12/39"}).status_code == 404
    assert not Payment.objects.exists()


def test_staff_cannot_use_the_portal_payment(client, staff_user, invoice):
    client.force_login(staff_user)

    response = client.post(pay_url(invoice), {"pay_key": "k" * 22, "number": GOOD, "expiry": "12/39"})

    assert response.status_code in (302, 403)
    assert not Payment.objects.exists()


def test_paying_is_post_only(portal, invoice):
    assert portal.get(pay_url(invoice)).status_code == 405


def test_any_user_of_the_customer_may_pay(client, customer, invoice):
    other_user = CustomerMembershipFactory(customer=customer).user
    client.force_login(other_user)

    client.post(pay_url(invoice), {"pay_key": pay_key(detail(client, invoice)), "number": GOOD, "expiry": "12/39"})

    assert fresh(invoice).status == Invoice.Status.PAID
    assert Customer.objects.get(pk=customer.pk).card_last4 == ""
