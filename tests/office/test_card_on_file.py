"""Office: a billing admin puts a card on file for auto-charge, replaces or removes it (seed 001)."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from customers.models import Customer
from invoicing.charging import customer_card_save
from tests.factories import CustomerFactory, PartnerFactory

pytestmark = pytest.mark.django_db

GOOD = "4242 4242 4242 4242"


def card_url(customer):
    return reverse("office:customer_card", args=[customer.pk])


def remove_url(customer):
    return reverse("office:customer_card_remove", args=[customer.pk])


def fresh(customer):
    return Customer.objects.get(pk=customer.pk)


@pytest.fixture
def office(client, staff_user):
    client.force_login(staff_user)
    return client


def test_admin_puts_a_card_on_file_and_only_the_token_and_last_four_are_kept(office, customer, staff_user):
    response = office.post(card_url(customer), {"number": GOOD, "expiry": "12/39"})

    assert response.status_code == 302
    customer = fresh(customer)
    assert (customer.card_brand, customer.card_last4) == ("Visa", "4242")
    assert customer.card_token and "4242424242424242" not in customer.card_token
    event = AuditEvent.objects.get(action="card_saved")
    assert event.actor == staff_user
    detail = office.get(reverse("office:customer_detail", args=[customer.pk])).content.decode()
    assert "Visa ending 4242" in detail
    assert "4242424242424242" not in detail and GOOD not in detail


def test_the_detail_page_warns_when_auto_charge_has_no_card(office, partner):
    customer = CustomerFactory(partner=partner, payment_method="card", auto_charge=True)

    page = office.get(reverse("office:customer_detail", args=[customer.pk])).content.decode()

    assert "No card on file." in page
    assert "Auto-charge is on but there is no card to charge" in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"number": "", "expiry": "12/39"}, "number", "Enter the card number."),
        ({"number": "4242 4242 4242 4241", "expiry": "12/39"}, "number", "That card number is not valid"),
        ({"number": "4242-abcd", "expiry": "12/39"}, "number", "12 to 19 digits"),
        ({"number": "4111 1111 1111 1111", "expiry": "12/39"}, "number", "only accepts its test cards"),
        ({"number": GOOD, "expiry": ""}, "expiry", "Enter the month and year the card expires"),
        ({"number": GOOD, "expiry": "13/39"}, "expiry", "between 01 and 12"),
        ({"number": GOOD, "expiry": "1239"}, "expiry", "MM/YY"),
        ({"number": GOOD, "expiry": "01/20"}, "expiry", "That card has expired."),
    ],
)
def test_bad_card_input_is_shown_on_its_field_and_keeps_nothing(office, customer, data, field, message):
    response = office.post(card_url(customer), data)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert fresh(customer).card_last4 == ""
    assert not AuditEvent.objects.filter(action="card_saved").exists()
    # The typed number is never written back into the page.
    if data["number"]:
        assert f'value="{data["number"]}' not in response.content.decode()


def test_replacing_a_card_keeps_only_the_new_one(office, customer):
    customer_card_save(customer=customer, number="4000000000000002", exp_month=1, exp_year=2039)

    office.post(card_url(customer), {"number": "5555 5555 5555 4444", "expiry": "06/2040"})

    customer = fresh(customer)
    assert (customer.card_brand, customer.card_last4) == ("Mastercard", "4444")


def test_removing_the_card_clears_it_and_is_audited(office, customer):
    customer_card_save(customer=customer, number="4242424242424242", exp_month=1, exp_year=2039)

    response = office.post(remove_url(customer))

    assert response.status_code == 302
    customer = fresh(customer)
    assert (customer.card_token, customer.card_brand, customer.card_last4) == ("", "", "")
    assert AuditEvent.objects.filter(action="card_removed").exists()


def test_a_clerk_cannot_put_on_or_remove_a_card(client, clerk_user, customer):
    customer_card_save(customer=customer, number="4242424242424242", exp_month=1, exp_year=2039)
    client.force_login(clerk_user)

    assert client.get(card_url(customer)).status_code == 403
    assert client.post(card_url(customer), {"number": "5555 5555 5555 4444", "expiry": "12/39"}).status_code == 403
    assert client.post(remove_url(customer)).status_code == 403
    assert fresh(customer).card_last4 == "4242"
    page = client.get(reverse("office:customer_detail", args=[customer.pk])).content.decode()
    assert "Visa ending 4242" in page and remove_url(customer) not in page


def test_another_partners_customer_is_404(office):
    other = CustomerFactory(partner=PartnerFactory())

    assert office.get(card_url(other)).status_code == 404
    assert office.post(card_url(other), {"number": GOOD, "expiry": "12/39"}).status_code == 404
    assert office.post(remove_url(other)).status_code == 404
    assert fresh(other).card_last4 == ""


def test_removing_is_post_only(office, customer):
    assert office.get(remove_url(customer)).status_code == 405


def test_with_the_manual_gateway_the_page_explains_and_keeps_nothing(office, customer, settings):
    settings.PAYMENT_GATEWAY = "manual"

    page = office.get(card_url(customer)).content.decode()
    assert "set to <strong>manual</strong>" in page
    response = office.post(card_url(customer), {"number": GOOD, "expiry": "12/39"})

    assert response.status_code == 200
    assert fresh(customer).card_last4 == ""
