"""Billing contact changes are audited on their customer, from the office functions and from the Django admin
(the customer's contact inline and the contact's own page), with who acted and what changed."""

import pytest
from django.urls import reverse

from audit.recording import audit_trail
from customers.contacts import contact_create, contact_delete, contact_set_default, contact_update
from customers.models import BillingContact
from tests.factories import BillingContactFactory, UserFactory

pytestmark = pytest.mark.django_db


def contact_events(customer):
    return [event for event in audit_trail(customer) if event.action.startswith("contact_")]


def test_creating_a_contact_is_audited(customer, staff_user):
    old_default = customer.contacts.get(is_default=True)
    contact = contact_create(
        customer=customer, user=staff_user, name="Ann Lee", email="ann@example.com", make_default=True
    )
    [event] = contact_events(customer)
    assert (event.action, event.actor_id, event.actor_name) == ("contact_create", staff_user.pk, staff_user.username)
    assert event.data == {
        "contact_id": contact.pk,
        "name": "Ann Lee",
        "email": "ann@example.com",
        "is_default": True,
        "previous_default_id": old_default.pk,
    }


def test_editing_a_contact_is_audited_with_what_changed(customer, staff_user):
    contact = BillingContactFactory(customer=customer, name="Ann Lee", phone="")
    contact_update(contact=contact, user=staff_user, name="Ann Lee-Park", phone="555-0100", email=contact.email)
    [event] = contact_events(customer)
    assert event.action == "contact_update" and event.actor_name == staff_user.username
    assert event.data["contact_id"] == contact.pk
    assert event.data["changed"] == {"name": ["Ann Lee", "Ann Lee-Park"], "phone": ["", "555-0100"]}


def test_an_edit_that_changes_nothing_writes_no_audit_row(customer, staff_user):
    contact = customer.contacts.get()
    contact_update(contact=contact, user=staff_user, name="Renamed")
    contact_update(contact=contact, user=staff_user, name="Renamed", email=contact.email)
    assert [event.action for event in contact_events(customer)] == ["contact_update"]


def test_changing_the_default_is_audited(customer, staff_user):
    old_default = customer.contacts.get(is_default=True)
    other = BillingContactFactory(customer=customer)
    contact_set_default(contact=other, user=staff_user)
    contact_set_default(contact=other, user=staff_user)  # already the default: nothing happens
    [event] = contact_events(customer)
    assert event.action == "contact_set_default"
    assert (event.data["contact_id"], event.data["previous_default_id"]) == (other.pk, old_default.pk)


def test_deleting_a_contact_is_audited(customer, staff_user):
    other = BillingContactFactory(customer=customer, name="Gone Soon")
    contact_delete(contact=other, user=staff_user)
    [event] = contact_events(customer)
    assert event.action == "contact_delete" and event.actor_id == staff_user.pk
    assert event.data == {"contact_id": other.pk, "name": "Gone Soon", "email": other.email}


# --- the Django admin goes through the same functions ---------------------------------------------------------------


@pytest.fixture
def root(client):
    user = UserFactory(username="support", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def posted(page) -> dict:
    """What the admin change page posts back untouched: its form, and each inline's management form and rows."""
    data = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for field in form:
            value = field.value()
            if value is not None and value is not False:
                data[field.html_name] = "on" if value is True else value
    return data


def contact_rows(page):
    [formset] = [i.formset for i in page.context["inline_admin_formsets"] if i.formset.model is BillingContact]
    return formset.prefix, {form.instance.pk: i for i, form in enumerate(formset.forms)}


def test_the_customer_admin_inline_audits_contact_changes(client, root, customer):
    first = customer.contacts.get()
    gone = BillingContactFactory(customer=customer, name="Gone Soon")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    page = client.get(url)
    assert page.status_code == 200
    data, (prefix, row) = posted(page), contact_rows(page)
    data.pop(f"{prefix}-{row[first.pk]}-is_default")
    data[f"{prefix}-{row[first.pk]}-phone"] = "555-0199"
    data[f"{prefix}-{row[gone.pk]}-DELETE"] = "on"
    new_row = data[f"{prefix}-TOTAL_FORMS"]
    data[f"{prefix}-TOTAL_FORMS"] = new_row + 1
    data.update(
        {
            f"{prefix}-{new_row}-name": "New Default",
            f"{prefix}-{new_row}-email": "new@example.com",
            f"{prefix}-{new_row}-is_default": "on",
            f"{prefix}-{new_row}-customer": customer.pk,
        }
    )

    response = client.post(url, data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    new = customer.contacts.get(name="New Default")
    assert list(customer.contacts.filter(is_default=True)) == [new]
    assert not BillingContact.objects.filter(pk=gone.pk).exists()
    events = {event.action: event for event in contact_events(customer)}
    assert set(events) == {"contact_create", "contact_update", "contact_delete"}
    assert all(event.actor_name == "support" for event in events.values())
    assert events["contact_create"].data["contact_id"] == new.pk
    assert events["contact_create"].data["previous_default_id"] == first.pk
    assert events["contact_update"].data["changed"] == {"phone": [first.phone, "555-0199"]}
    assert events["contact_delete"].data["contact_id"] == gone.pk


def test_the_contact_admin_audits_create_edit_and_delete(client, root, customer):
    add = client.post(
        reverse("admin:customers_billingcontact_add"),
        {"customer": customer.pk, "name": "Ann Lee", "email": "ann@example.com", "phone": "", "address": ""},
    )
    assert add.status_code == 302
    contact = customer.contacts.get(name="Ann Lee")
    change = client.post(
        reverse("admin:customers_billingcontact_change", args=[contact.pk]),
        {"name": "Ann Lee", "email": "ann.lee@example.com", "phone": "", "address": ""},
    )
    assert change.status_code == 302
    delete = client.post(reverse("admin:customers_billingcontact_delete", args=[contact.pk]), {"post": "yes"})
    assert delete.status_code == 302
    assert not BillingContact.objects.filter(pk=contact.pk).exists()
    events = contact_events(customer)
    assert [event.action for event in events] == ["contact_create", "contact_update", "contact_delete"]
    assert {event.data["contact_id"] for event in events} == {contact.pk}
    assert events[1].data["changed"] == {"email": ["ann@example.com", "ann.lee@example.com"]}
    assert all(event.actor_name == "support" for event in events)


def test_the_contact_admin_does_not_delete_the_default(client, root, customer):
    default = customer.contacts.get(is_default=True)
    response = client.post(reverse("admin:customers_billingcontact_delete", args=[default.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert BillingContact.objects.filter(pk=default.pk).exists()
    assert contact_events(customer) == []
