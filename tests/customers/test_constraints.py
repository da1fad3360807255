"""Database constraints on partners, customers, contacts, providers and memberships.

Rows are written with ``objects.create`` / ``queryset.update`` so no form or service stands in the way:
the database itself must refuse them.
"""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from customers.models import BillingContact, Customer, Provider, StaffMembership
from tests.factories import BillingContactFactory, CustomerFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def refused(fn):
    """Assert the database refuses what ``fn`` writes (inside a savepoint so the test can go on)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_customer_has_one_default_contact_from_its_factory(customer):
    assert customer.contacts.filter(is_default=True).count() == 1


def test_second_default_contact_is_refused(customer):
    refused(lambda: BillingContact.objects.create(customer=customer, name="B", email="b@x.example", is_default=True))
    assert customer.contacts.filter(is_default=True).count() == 1


def test_making_a_second_contact_default_by_update_is_refused(customer):
    other = BillingContactFactory(customer=customer, is_default=False)
    refused(lambda: BillingContact.objects.filter(pk=other.pk).update(is_default=True))


def test_many_non_default_contacts_and_defaults_on_other_customers_are_allowed(customer):
    BillingContactFactory.create_batch(3, customer=customer, is_default=False)
    other_customer = CustomerFactory(partner=customer.partner)
    assert other_customer.contacts.filter(is_default=True).count() == 1
    assert customer.contacts.count() == 4


def _customer_kwargs(partner, **overrides):
    return {"partner": partner, "name": f"Rule {sorted(overrides.items())}", **overrides}


def test_auto_invoice_off_without_recurring_on_net_terms_is_refused(partner):
    refused(
        lambda: Customer.objects.create(
            **_customer_kwargs(
                partner, allow_recurring_bookings=False, payment_terms="net", auto_invoice_on_booking=False
            )
        )
    )


@pytest.mark.parametrize(
    "flags",
    [
        {"allow_recurring_bookings": False, "payment_terms": "no_payment", "auto_invoice_on_booking": False},
        {"allow_recurring_bookings": True, "payment_terms": "net", "auto_invoice_on_booking": False},
        {"allow_recurring_bookings": False, "payment_terms": "net", "auto_invoice_on_booking": True},
    ],
)
def test_auto_invoice_may_be_off_on_no_payment_terms_or_with_recurring_bookings(partner, flags):
    customer = Customer.objects.create(**_customer_kwargs(partner, **flags))
    assert customer.pk


def test_switching_an_existing_customer_to_the_forbidden_combination_is_refused(customer):
    refused(
        lambda: Customer.objects.filter(pk=customer.pk).update(
            allow_recurring_bookings=False, payment_terms="net", auto_invoice_on_booking=False
        )
    )


@pytest.mark.parametrize("percent", [Decimal("-0.01"), Decimal("100.01")])
def test_customer_discount_percent_outside_0_to_100_is_refused(partner, percent):
    refused(lambda: Customer.objects.create(partner=partner, name="Discounted", discount_percent=percent))


def test_unknown_payment_terms_are_refused(partner):
    refused(lambda: Customer.objects.create(partner=partner, name="Odd terms", payment_terms="net60"))


def test_customer_name_is_unique_per_partner_only(customer):
    refused(lambda: Customer.objects.create(partner=customer.partner, name=customer.name))
    assert Customer.objects.create(partner=PartnerFactory(), name=customer.name).pk


def test_provider_name_is_unique_per_partner_only(provider):
    refused(lambda: Provider.objects.create(partner=provider.partner, name=provider.name))
    assert Provider.objects.create(partner=PartnerFactory(), name=provider.name).pk


@pytest.mark.parametrize("field", ["ar_prefix", "ap_prefix", "proforma_prefix"])
def test_empty_numbering_prefix_is_refused(partner, field):
    refused(lambda: type(partner).objects.filter(pk=partner.pk).update(**{field: ""}))


def test_unknown_staff_role_is_refused(partner):
    refused(lambda: StaffMembership.objects.create(user=UserFactory(), partner=partner, role="owner"))


def test_a_user_has_one_staff_membership(staff_user, partner):
    refused(lambda: StaffMembership.objects.create(user=staff_user, partner=PartnerFactory()))
