"""Django admin carries the product's name and shows money formatted, never as raw cents."""

import pytest
from django.urls import reverse

from invoicing.credits import payment_refund
from invoicing.models import Payment, Refund
from invoicing.payments import payment_record
from tests.factories import UserFactory, issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def payment(customer):
    invoice = issued_invoice(customer, [150000], deliver=False)
    return payment_record(invoice=invoice, amount_units=100000, method=Payment.Method.CHECK, reference="1042")


def test_the_admin_carries_the_products_name(client, root):
    html = client.get(reverse("admin:index")).content.decode()
    assert "Octoo Billing administration" in html
    assert "<title>Platform administration | Octoo Billing admin</title>" in html
    assert "Django administration" not in html


def test_a_payment_is_named_with_its_amount_formatted(payment):
    assert str(payment) == f"Check $1,000.00 on {payment.invoice}"


def test_the_payments_list_shows_formatted_amounts(client, root, payment):
    html = client.get(reverse("admin:invoicing_payment_changelist")).content.decode()
    assert "$1,000.00" in html
    assert ">100000<" not in html


def test_a_payments_page_names_it_with_its_amount(client, root, payment):
    html = client.get(reverse("admin:invoicing_payment_change", args=[payment.pk])).content.decode()
    assert "Check $1,000.00 on" in html and "Check 100000" not in html


def test_a_refund_is_named_with_its_amount_formatted(payment):
    refund = payment_refund(payment=payment, amount_units=2550, reason="Overcharged")
    refund = Refund.objects.get(pk=refund.pk)
    assert str(refund) == f"Refund of $25.50 on {payment.invoice}"
