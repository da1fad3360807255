"""customers.billing: creating customers, and the billing settings with seed 002's booking-flag rules."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AuditEvent
from customers.billing import customer_billing_settings_update, customer_create, customer_update
from customers.models import BillingContact, Customer
from tests.factories import CustomerFactory, ZoneFactory

pytestmark = pytest.mark.django_db

NET = Customer.PaymentTerms.NET
NO_PAYMENT = Customer.PaymentTerms.NO_PAYMENT


def fresh(customer):
    return Customer.objects.get(pk=customer.pk)


# --- creating ---------------------------------------------------------------------------------------------


def test_create_makes_the_first_contact_the_default(partner, staff_user):
    customer = customer_create(
        partner=partner, user=staff_user, name="Acme", contact_name="Ann", contact_email="ann@acme.example"
    )
    contact = customer.contacts.get()
    assert contact.is_default and contact.email == "ann@acme.example"
    assert customer.payment_terms_days == partner.default_payment_terms_days


def test_create_without_a_contact_email_saves_nothing(partner, staff_user):
    with pytest.raises(ValidationError) as exc:
        customer_create(partner=partner, user=staff_user, name="Acme", contact_name="Ann", contact_email="")
    assert "contact_email" in exc.value.message_dict
    assert not Customer.objects.filter(name="Acme").exists()


def test_create_refuses_a_duplicate_name_whatever_the_case(partner, staff_user, customer):
    with pytest.raises(ValidationError) as exc:
        customer_create(
            partner=partner,
            user=staff_user,
            name=customer.name.upper(),
            contact_name="Ann",
            contact_email="ann@x.example",
        )
    assert "name" in exc.value.message_dict
    assert Customer.objects.filter(partner=partner).count() == 1


def test_the_same_name_is_fine_at_another_partner(partner, staff_user):
    CustomerFactory(name="Acme")  # another partner's
    customer_create(partner=partner, user=staff_user, name="Acme", contact_name="A", contact_email="a@x.example")
    assert Customer.objects.filter(name="Acme").count() == 2


def test_update_details_leaves_billing_settings_alone(customer, staff_user):
    customer_update(customer=customer, user=staff_user, name="Renamed", phone="555")
    customer = fresh(customer)
    assert (customer.name, customer.phone, customer.payment_terms) == ("Renamed", "555", NET)


# --- seed 002 rules ---------------------------------------------------------------------------------------


def test_auto_invoice_cannot_be_turned_off_on_net_terms(customer, staff_user):
    with pytest.raises(ValidationError) as exc:
        customer_billing_settings_update(customer=customer, user=staff_user, auto_invoice_on_booking=False)
    assert "auto_invoice_on_booking" in exc.value.message_dict
    assert fresh(customer).auto_invoice_on_booking is True


def test_auto_invoice_can_be_turned_off_on_no_payment_terms(customer, staff_user):
    customer_billing_settings_update(
        customer=customer, user=staff_user, payment_terms=NO_PAYMENT, auto_invoice_on_booking=False
    )
    customer = fresh(customer)
    assert (customer.payment_terms, customer.auto_invoice_on_booking) == (NO_PAYMENT, False)


def test_switching_back_to_net_terms_with_auto_invoice_off_is_refused(customer, staff_user):
    customer_billing_settings_update(
        customer=customer, user=staff_user, payment_terms=NO_PAYMENT, auto_invoice_on_booking=False
    )
    with pytest.raises(ValidationError) as exc:
        customer_billing_settings_update(customer=customer, user=staff_user, payment_terms=NET)
    assert "auto_invoice_on_booking" in exc.value.message_dict
    assert fresh(customer).payment_terms == NO_PAYMENT


def test_auto_invoice_flag_is_ignored_while_recurring_bookings_are_on(customer, staff_user):
    customer_billing_settings_update(
        customer=customer, user=staff_user, allow_recurring_bookings=True, auto_invoice_on_booking=False
    )
    customer = fresh(customer)
    assert customer.allow_recurring_bookings is True
    assert customer.auto_invoice_on_booking is True  # kept: the hidden flag does not matter now


def test_turning_recurring_off_needs_the_auto_invoice_flag_on_net_terms(partner, staff_user):
    customer = CustomerFactory(partner=partner, allow_recurring_bookings=True, auto_invoice_on_booking=False)
    with pytest.raises(ValidationError) as exc:
        customer_billing_settings_update(customer=customer, user=staff_user, allow_recurring_bookings=False)
    assert "auto_invoice_on_booking" in exc.value.message_dict
    customer_billing_settings_update(
        customer=customer, user=staff_user, allow_recurring_bookings=False, auto_invoice_on_booking=True
    )
    assert fresh(customer).allow_recurring_bookings is False


def test_auto_charge_needs_the_card_payment_method(customer, staff_user):
    with pytest.raises(ValidationError) as exc:
        customer_billing_settings_update(customer=customer, user=staff_user, auto_charge=True)
    assert "auto_charge" in exc.value.message_dict
    customer_billing_settings_update(customer=customer, user=staff_user, auto_charge=True, payment_method="card")
    assert fresh(customer).auto_charge is True


def test_terms_days_out_of_range_are_refused(customer, staff_user):
    with pytest.raises(ValidationError) as exc:
        customer_billing_settings_update(customer=customer, user=staff_user, payment_terms_days=400)
    assert "payment_terms_days" in exc.value.message_dict


def test_another_partners_zone_is_refused(customer, staff_user):
    with pytest.raises(ValidationError) as exc:
        customer_billing_settings_update(customer=customer, user=staff_user, zone=ZoneFactory())
    assert "zone" in exc.value.message_dict
    assert fresh(customer).zone_id is None


def test_a_change_is_audited_with_what_changed(customer, staff_user):
    customer_billing_settings_update(
        customer=customer, user=staff_user, invoicing_schedule="weekly", discount_percent=Decimal("5")
    )
    event = AuditEvent.objects.get(action="billing_settings", target_id=customer.pk)
    assert event.actor == staff_user
    assert event.data == {"invoicing_schedule": ["monthly", "weekly"], "discount_percent": ["0.00", "5"]}


def test_a_billing_clerk_cannot_change_billing_settings(customer, clerk_user):
    with pytest.raises(PermissionDenied):
        customer_billing_settings_update(customer=customer, user=clerk_user, invoicing_schedule="weekly")
    assert fresh(customer).invoicing_schedule == "monthly"


def test_unknown_settings_are_a_programming_error(customer, staff_user):
    with pytest.raises(TypeError):
        customer_billing_settings_update(customer=customer, user=staff_user, name="nope")


def test_creating_a_customer_keeps_exactly_one_default_contact(partner, staff_user):
    customer = customer_create(
        partner=partner, user=staff_user, name="B", contact_name="B", contact_email="b@x.example"
    )
    assert BillingContact.objects.filter(customer=customer, is_default=True).count() == 1
