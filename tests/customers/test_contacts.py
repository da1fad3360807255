"""customers.contacts: one default contact per customer, kept true through adds, switches and removals."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from customers.contacts import contact_create, contact_delete, contact_set_default, contact_update
from customers.models import BillingContact
from tests.factories import (
    BillingContactFactory,
    CustomerFactory,
    CustomerMembershipFactory,
    StaffMembershipFactory,
)

pytestmark = pytest.mark.django_db


def defaults(customer):
    return list(customer.contacts.filter(is_default=True).values_list("pk", flat=True))


def test_create_adds_a_non_default_contact(customer, staff_user):
    old_default = defaults(customer)
    contact = contact_create(customer=customer, user=staff_user, name="Ann Lee", email="ann@example.com")
    assert not contact.is_default
    assert defaults(customer) == old_default


def test_create_with_make_default_switches_the_default(customer, staff_user):
    contact = contact_create(
        customer=customer, user=staff_user, name="Ann Lee", email="ann@example.com", make_default=True
    )
    assert defaults(customer) == [contact.pk]


def test_first_contact_of_a_customer_becomes_the_default(partner, staff_user):
    customer = CustomerFactory(partner=partner, default_contact=False)
    contact = contact_create(customer=customer, user=staff_user, name="Ann Lee", email="ann@example.com")
    assert contact.is_default


def test_create_refuses_an_invalid_email_and_saves_nothing(customer, staff_user):
    before = customer.contacts.count()
    with pytest.raises(ValidationError) as exc:
        contact_create(customer=customer, user=staff_user, name="Ann", email="not-an-email")
    assert "email" in exc.value.message_dict
    assert customer.contacts.count() == before


def test_create_refuses_a_blank_name(customer, staff_user):
    with pytest.raises(ValidationError) as exc:
        contact_create(customer=customer, user=staff_user, name="   ", email="ann@example.com")
    assert exc.value.message_dict["name"] == ["Enter the contact's name."]


def test_set_default_keeps_exactly_one_default(customer, staff_user):
    other = BillingContactFactory(customer=customer)
    contact_set_default(contact=other, user=staff_user)
    assert defaults(customer) == [other.pk]
    first = customer.contacts.exclude(pk=other.pk).get()
    contact_set_default(contact=first, user=staff_user)
    assert defaults(customer) == [first.pk]


def test_set_default_on_the_default_changes_nothing(customer, staff_user):
    current = customer.contacts.get(is_default=True)
    contact_set_default(contact=current, user=staff_user)
    assert defaults(customer) == [current.pk]


def test_deleting_the_default_is_refused(customer, staff_user):
    current = customer.contacts.get(is_default=True)
    with pytest.raises(ValidationError):
        contact_delete(contact=current, user=staff_user)
    assert BillingContact.objects.filter(pk=current.pk, is_default=True).exists()


def test_deleting_another_contact_works(customer, staff_user):
    other = BillingContactFactory(customer=customer)
    contact_delete(contact=other, user=staff_user)
    assert not BillingContact.objects.filter(pk=other.pk).exists()


def test_update_changes_the_fields_and_keeps_the_default(customer, staff_user):
    current = customer.contacts.get(is_default=True)
    contact_update(contact=current, user=staff_user, name="New Name", email="new@example.com")
    current.refresh_from_db()
    assert (current.name, current.email, current.is_default) == ("New Name", "new@example.com", True)


def test_update_refuses_an_invalid_email(customer, staff_user):
    current = customer.contacts.get(is_default=True)
    with pytest.raises(ValidationError):
        contact_update(contact=current, user=staff_user, email="nope")
    assert BillingContact.objects.get(pk=current.pk).email == current.email


def test_staff_of_another_partner_cannot_manage_contacts(customer):
    outsider = StaffMembershipFactory().user
    with pytest.raises(PermissionDenied):
        contact_create(customer=customer, user=outsider, name="X", email="x@example.com")


def test_a_customer_user_manages_only_their_own_customers_contacts(customer, partner):
    own = CustomerMembershipFactory(customer=customer).user
    contact_create(customer=customer, user=own, name="Own", email="own@example.com")
    other_customer = CustomerFactory(partner=partner)
    with pytest.raises(PermissionDenied):
        contact_create(customer=other_customer, user=own, name="X", email="x@example.com")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_default_switches_leave_exactly_one_default():
    from tests.invoicing.test_concurrency import run_at_once

    customer = CustomerFactory()
    others = [BillingContactFactory(customer=customer) for _ in range(6)]
    results, errors = run_at_once([lambda contact=contact: contact_set_default(contact=contact) for contact in others])
    assert errors == [None] * len(others)
    assert customer.contacts.filter(is_default=True).count() == 1
