"""The navbar's search finds the partner's invoices, customers, providers and requests, and nobody else's."""

import pytest
from django.urls import reverse

from customers.models import Customer
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(client, staff_user):
    client.force_login(staff_user)
    return client


def search(office, q):
    return office.get(reverse("office:search"), {"q": q})


def test_an_exact_invoice_number_opens_the_invoice(office, customer):
    invoice = factories.issued_invoice(customer, [5000])
    response = search(office, invoice.number.lower())
    assert response.status_code == 302 and response["Location"] == reverse("office:invoice_detail", args=[invoice.pk])


def test_a_name_finds_customers_providers_and_their_invoices(office, partner):
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical")
    factories.CustomerFactory(partner=partner, name="Harborview Dental")
    factories.ProviderFactory(partner=partner, name="Harbor Interpreters")
    factories.issued_invoice(customer, [5000])

    page = search(office, "harbor").content.decode()

    assert "Harborview Medical" in page and "Harborview Dental" in page and "Harbor Interpreters" in page
    assert 'id="found-invoices"' in page and 'id="found-providers"' in page


def test_a_request_is_found_by_its_number_and_by_an_expense_code(office, customer):
    request = factories.ServiceRequestFactory(customer=customer, partner=customer.partner, title="Deposition")
    request.expense_codes.create(label_name="PO", value="PO-4711")
    assert search(office, f"R-{request.pk}")["Location"] == reverse("office:request_detail", args=[request.pk])
    assert search(office, "po-4711")["Location"] == reverse("office:request_detail", args=[request.pk])


def test_another_partners_records_are_never_found(office):
    other = factories.CustomerFactory(name="Elsewhere Clinic")
    invoice = factories.issued_invoice(other, [5000])
    for q in ("Elsewhere", invoice.number):
        response = search(office, q)
        page = response.content.decode()
        assert response.status_code == 200 and "Elsewhere Clinic" not in page and 'id="found-' not in page


def test_an_empty_or_unmatched_search_says_so(office):
    assert "Invoices by number" in search(office, "").content.decode()
    assert "Nothing matches" in search(office, "zzz-nothing").content.decode()


def test_customer_and_provider_lists_have_a_new_button(office):
    assert reverse("office:customer_create") in office.get(reverse("office:customer_list")).content.decode()
    assert reverse("office:provider_create") in office.get(reverse("office:provider_list")).content.decode()


def test_removing_a_card_or_a_contact_asks_first(office, customer):
    Customer.objects.filter(pk=customer.pk).update(payment_method="card", card_token="tok", card_last4="4242")
    factories.BillingContactFactory(customer=customer, name="Second Person")
    page = office.get(reverse("office:customer_detail", args=[customer.pk])).content.decode()
    assert "Remove the card ending 4242 from file?" in page
    assert "Remove Second Person" in page
