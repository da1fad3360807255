"""Customer portal settings: billing terms (read-only), expense codes (managers change them, others read them)
and billing contacts (every user of the customer manages their own), all scoped to the signed-in customer."""

import pytest
from django.urls import reverse

from customers.models import BillingContact
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from tests.factories import (
    BillingContactFactory,
    CustomerFactory,
    CustomerMembershipFactory,
    ExpenseCodeLabelFactory,
    ServiceRequestFactory,
    UserFactory,
    draft_invoice,
)

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"portal:{name}", args=args)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


CODES = "settings_expense_codes"


@pytest.fixture
def manager(customer):
    user = UserFactory(first_name="Mia", last_name="Manager")
    return CustomerMembershipFactory(customer=customer, user=user, can_manage_expense_codes=True).user


@pytest.fixture
def portal(client, customer_user):
    """Signed in as a plain (read-only for expense codes) user of the customer."""
    client.force_login(customer_user)
    return client


@pytest.fixture
def managing(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def label(customer):
    return ExpenseCodeLabelFactory(customer=customer, name="Purchase order")


def default_code(customer, label, value="PO-1"):
    return AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name=label.name, value=value)


def snapshot(customer):
    """Everything the expense-codes page can change, to check that a refused POST changed nothing."""
    return (
        list(ExpenseCodeLabel.objects.filter(customer=customer).values_list("pk", "name", "is_active", "is_required")),
        list(AppliedExpenseCode.objects.filter(default_for=customer).values_list("pk", "label_name", "value")),
    )


# --- access -----------------------------------------------------------------------------------------------


def all_urls(contact):
    return [
        ("get", url("settings")),
        ("get", url(CODES)),
        ("post", url(CODES)),
        ("get", url("contact_list")),
        ("get", url("contact_create")),
        ("post", url("contact_create")),
        ("get", url("contact_edit", contact.pk)),
        ("post", url("contact_edit", contact.pk)),
        ("post", url("contact_set_default", contact.pk)),
        ("post", url("contact_delete", contact.pk)),
    ]


def test_signed_out_users_are_sent_to_sign_in_everywhere(client, customer):
    for method, address in all_urls(customer.contacts.get()):
        response = getattr(client, method)(address)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], (method, address)


def test_partner_staff_get_403_in_the_portal_settings(client, staff_user, customer):
    client.force_login(staff_user)
    for method, address in all_urls(customer.contacts.get()):
        assert getattr(client, method)(address).status_code == 403, (method, address)


def test_state_changes_refuse_get(portal, customer):
    contact = BillingContactFactory(customer=customer)
    assert portal.get(url("contact_set_default", contact.pk)).status_code == 405
    assert portal.get(url("contact_delete", contact.pk)).status_code == 405
    assert BillingContact.objects.filter(pk=contact.pk, is_default=False).exists()


def test_the_nav_links_to_settings(portal):
    body = portal.get(url("contact_list")).content.decode()
    assert f'href="{url("settings")}" aria-current="page">Settings<' in body


# --- index ------------------------------------------------------------------------------------------------


def test_index_links_the_settings_and_shows_the_billing_terms_read_only(portal, customer):
    customer.payment_method = "card"
    customer.payment_terms_days = 15
    customer.invoicing_schedule = "monthly"
    customer.save()
    response = portal.get(url("settings"))
    assert response.status_code == 200
    body = response.content.decode()
    assert url(CODES) in body and url("contact_list") in body
    assert "Credit card" in body and "Net 15" in body and customer.get_invoicing_schedule_display() in body
    assert f"set by {customer.partner.name}" in body
    assert "<form" not in body.split('id="billing-terms"')[1]


# --- expense codes: who may change them -------------------------------------------------------------------


def test_a_manager_sees_the_forms(managing, label):
    response = managing.get(url(CODES))
    assert response.status_code == 200 and response.context["can_manage"]
    body = response.content.decode()
    assert 'value="label_create"' in body and 'value="code_add"' in body and 'value="label_require"' in body


def test_a_read_only_user_sees_labels_required_marks_and_auto_applied_codes_without_forms(
    portal, customer, label, manager
):
    label.is_required = True
    label.save()
    default_code(customer, label, "PO-77")
    removed = ExpenseCodeLabelFactory(customer=customer, name="Old project", is_active=False)
    response = portal.get(url(CODES))
    assert response.status_code == 200 and not response.context["can_manage"]
    body = response.content.decode()
    assert "Purchase order" in body and "Required" in body and "PO-77" in body
    assert removed.name not in body
    assert 'name="action"' not in body
    assert f"Ask your account lead at {customer.partner.name}" in body
    assert "Mia Manager" in body


@pytest.mark.parametrize(
    "data",
    [
        {"action": "label_create", "new-name": "Cost center"},
        {"action": "label_rename", "label_id": "LABEL", "lLABEL-name": "Renamed"},
        {"action": "label_deactivate", "label_id": "LABEL"},
        {"action": "label_require", "label_id": "LABEL"},
        {"action": "code_add", "code-label": "LABEL", "code-value": "X9"},
        {"action": "code_remove", "code_id": "CODE"},
        {"action": "nonsense"},
    ],
)
def test_a_post_from_a_read_only_user_is_403_and_changes_nothing(portal, customer, label, data):
    code = default_code(customer, label)
    data = {
        key.replace("LABEL", str(label.pk)): value.replace("LABEL", str(label.pk)).replace("CODE", str(code.pk))
        for key, value in data.items()
    }
    before = snapshot(customer)
    assert portal.post(url(CODES), data).status_code == 403
    assert snapshot(customer) == before


# --- expense codes: a manager's changes -------------------------------------------------------------------


def test_a_manager_adds_renames_removes_and_adds_back_a_label(managing, customer):
    response = managing.post(url(CODES), {"action": "label_create", "new-name": "  Cost   center "})
    assert response.status_code == 302 and response["Location"] == url(CODES)
    label = ExpenseCodeLabel.objects.get(customer=customer)
    assert label.name == "Cost center" and label.is_active

    managing.post(url(CODES), {"action": "label_rename", "label_id": label.pk, f"l{label.pk}-name": "Department"})
    assert fresh(label).name == "Department"

    response = managing.post(url(CODES), {"action": "label_deactivate", "label_id": label.pk}, follow=True)
    assert not fresh(label).is_active
    assert "Codes already on requests and invoices stay as they are" in response.content.decode()
    assert "Add back" in response.content.decode()

    managing.post(url(CODES), {"action": "label_activate", "label_id": label.pk})
    assert fresh(label).is_active


def test_a_duplicate_label_shows_the_error_on_its_form_and_saves_nothing(managing, customer, label):
    response = managing.post(url(CODES), {"action": "label_create", "new-name": "purchase ORDER"})
    assert response.status_code == 200
    assert "already has a label" in response.context["new_label"].errors["name"][0]
    assert "already has a label" in response.content.decode()
    assert ExpenseCodeLabel.objects.filter(customer=customer).count() == 1


def test_a_blank_rename_shows_the_error_on_that_row(managing, label):
    response = managing.post(url(CODES), {"action": "label_rename", "label_id": label.pk, f"l{label.pk}-name": " "})
    row = next(row for row in response.context["labels"] if row.pk == label.pk)
    assert row.rename_form.errors["name"]
    assert fresh(label).name == "Purchase order"


def test_a_manager_marks_a_label_required_and_not(managing, label):
    managing.post(url(CODES), {"action": "label_require", "label_id": label.pk})
    assert fresh(label).is_required
    body = managing.get(url(CODES)).content.decode()
    assert 'value="label_unrequire"' in body and "Required" in body
    managing.post(url(CODES), {"action": "label_unrequire", "label_id": label.pk})
    assert not fresh(label).is_required


def test_a_removed_label_cannot_be_required_and_the_message_says_why(managing, customer):
    removed = ExpenseCodeLabelFactory(customer=customer, name="Old project", is_active=False)
    response = managing.post(url(CODES), {"action": "label_require", "label_id": removed.pk}, follow=True)
    assert not fresh(removed).is_required
    assert "add it back before requiring it" in response.content.decode()


def test_removing_a_required_label_stops_requiring_it(managing, label):
    label.is_required = True
    label.save()
    managing.post(url(CODES), {"action": "label_deactivate", "label_id": label.pk})
    assert not fresh(label).is_active and not fresh(label).is_required


def test_removing_a_label_keeps_the_codes_on_requests_and_invoices(managing, customer, label):
    request = ServiceRequestFactory(customer=customer)
    invoice = draft_invoice(customer, [1000])
    on_request = AppliedExpenseCode.objects.create(request=request, label=label, label_name=label.name, value="R-1")
    on_invoice = AppliedExpenseCode.objects.create(invoice=invoice, label=label, label_name=label.name, value="I-1")
    default_code(customer, label)
    managing.post(url(CODES), {"action": "label_deactivate", "label_id": label.pk})
    assert not AppliedExpenseCode.objects.filter(default_for=customer).exists()
    for code in (on_request, on_invoice):
        kept = fresh(code)
        assert (kept.label_id, kept.label_name, kept.value) == (label.pk, "Purchase order", code.value)
    assert list(request.expense_codes.values_list("value", flat=True)) == ["R-1"]
    assert list(invoice.expense_codes.values_list("value", flat=True)) == ["I-1"]


def test_a_manager_adds_and_removes_an_auto_applied_code(managing, customer, label):
    response = managing.post(url(CODES), {"action": "code_add", "code-label": label.pk, "code-value": " PO-9 "})
    assert response.status_code == 302
    code = AppliedExpenseCode.objects.get(default_for=customer)
    assert (code.label_name, code.value) == ("Purchase order", "PO-9")
    managing.post(url(CODES), {"action": "code_remove", "code_id": code.pk})
    assert not AppliedExpenseCode.objects.filter(default_for=customer).exists()


def test_an_auto_applied_code_without_a_value_shows_the_error_and_saves_nothing(managing, customer, label):
    response = managing.post(url(CODES), {"action": "code_add", "code-label": label.pk, "code-value": ""})
    assert response.status_code == 200
    assert "Enter the code" in response.context["new_code"].errors["value"][0]
    assert not AppliedExpenseCode.objects.filter(default_for=customer).exists()


def test_another_customers_labels_and_codes_are_404s(managing, customer):
    neighbour = CustomerFactory(partner=customer.partner)
    theirs = ExpenseCodeLabelFactory(customer=neighbour, name="Theirs")
    their_code = default_code(neighbour, theirs)
    for data in (
        {"action": "label_rename", "label_id": theirs.pk, f"l{theirs.pk}-name": "Mine now"},
        {"action": "label_deactivate", "label_id": theirs.pk},
        {"action": "label_activate", "label_id": theirs.pk},
        {"action": "label_require", "label_id": theirs.pk},
        {"action": "code_remove", "code_id": their_code.pk},
    ):
        assert managing.post(url(CODES), data).status_code == 404, data
    kept = fresh(theirs)
    assert (kept.name, kept.is_active, kept.is_required) == ("Theirs", True, False)
    assert AppliedExpenseCode.objects.filter(pk=their_code.pk).exists()
    response = managing.post(url(CODES), {"action": "code_add", "code-label": theirs.pk, "code-value": "X"})
    assert "label" in response.context["new_code"].errors
    assert not AppliedExpenseCode.objects.filter(default_for=customer).exists()
    assert "Theirs" not in managing.get(url(CODES)).content.decode()


@pytest.mark.parametrize("value", ["", "abc", "²", "99999999999999999999999", "-1"])
def test_a_label_id_that_is_no_number_is_a_404(managing, value):
    assert managing.post(url(CODES), {"action": "label_deactivate", "label_id": value}).status_code == 404


def test_an_unknown_action_changes_nothing(managing, customer, label):
    before = snapshot(customer)
    response = managing.post(url(CODES), {"action": "drop_table", "label_id": label.pk}, follow=True)
    assert "Unknown action" in response.content.decode()
    assert snapshot(customer) == before


# --- billing contacts -------------------------------------------------------------------------------------


def test_the_list_marks_the_default_and_who_is_copied_on_invoices(portal, customer):
    default = customer.contacts.get()
    copied = BillingContactFactory(customer=customer, name="Cora Copied", receives_invoices=True)
    CustomerFactory(partner=customer.partner).contacts.update(name="Nosy Neighbour")
    response = portal.get(url("contact_list"))
    body = response.content.decode()
    assert default.email in body and "Default" in body
    assert copied.email in body and "Copied on invoices" in body
    assert "Nosy Neighbour" not in body
    assert url("contact_delete", copied.pk) in body and url("contact_delete", default.pk) not in body
    assert "data-confirm=" in body


def test_every_user_of_the_customer_adds_a_contact(portal, customer):
    response = portal.post(
        url("contact_create"), {"name": "Bo Payer", "email": "bo@acme.example", "receives_invoices": "on"}
    )
    assert response.status_code == 302 and response["Location"] == url("contact_list")
    contact = customer.contacts.get(email="bo@acme.example")
    assert contact.receives_invoices and not contact.is_default


def test_a_new_contact_can_be_made_the_default_at_once(portal, customer):
    old = customer.contacts.get()
    portal.post(url("contact_create"), {"name": "Bo", "email": "bo@acme.example", "make_default": "on"})
    assert list(customer.contacts.filter(is_default=True).values_list("email", flat=True)) == ["bo@acme.example"]
    assert not fresh(old).is_default


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": "Bo", "email": "bo@"}, "email"),
        ({"name": "Bo", "email": ""}, "email"),
        ({"name": "", "email": "bo@acme.example"}, "name"),
        ({}, "name"),
    ],
)
def test_a_bad_contact_shows_the_error_on_its_form_and_saves_nothing(portal, customer, data, field):
    response = portal.post(url("contact_create"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert customer.contacts.count() == 1


def test_editing_a_contact(portal, customer):
    contact = customer.contacts.get()
    assert portal.get(url("contact_edit", contact.pk)).context["form"]["email"].value() == contact.email
    data = {"name": "Ann Payable", "email": "ann@acme.example", "phone": "555-0100", "address": "1 Main St"}
    assert portal.post(url("contact_edit", contact.pk), data).status_code == 302
    saved = fresh(contact)
    assert (saved.name, saved.email, saved.phone, saved.is_default) == (
        "Ann Payable",
        "ann@acme.example",
        "555-0100",
        True,
    )


def test_editing_a_contact_with_a_bad_email_changes_nothing(portal, customer):
    contact = customer.contacts.get()
    response = portal.post(url("contact_edit", contact.pk), {"name": "Z", "email": "nope"})
    assert "email" in response.context["form"].errors
    assert (fresh(contact).name, fresh(contact).email) == (contact.name, contact.email)


def test_make_default_keeps_exactly_one_default(portal, customer):
    old = customer.contacts.get()
    other = BillingContactFactory(customer=customer)
    response = portal.post(url("contact_set_default", other.pk), follow=True)
    assert list(customer.contacts.filter(is_default=True).values_list("pk", flat=True)) == [other.pk]
    assert not fresh(old).is_default
    assert "is now the default billing contact" in response.content.decode()


def test_removing_the_default_contact_is_refused_with_the_reason(portal, customer):
    default = customer.contacts.get()
    response = portal.post(url("contact_delete", default.pk), follow=True)
    assert BillingContact.objects.filter(pk=default.pk, is_default=True).exists()
    assert "Make another contact the default before removing it" in response.content.decode()


def test_removing_another_contact(portal, customer):
    other = BillingContactFactory(customer=customer)
    response = portal.post(url("contact_delete", other.pk))
    assert response.status_code == 302 and response["Location"] == url("contact_list")
    assert not BillingContact.objects.filter(pk=other.pk).exists()


def test_another_customers_contact_is_a_404_everywhere(portal, customer):
    neighbour = CustomerFactory(partner=customer.partner)
    theirs = neighbour.contacts.get()
    spare = BillingContactFactory(customer=neighbour, name="Spare")
    for contact in (theirs, spare):
        assert portal.get(url("contact_edit", contact.pk)).status_code == 404
        assert portal.post(url("contact_edit", contact.pk), {"name": "X", "email": "x@x.example"}).status_code == 404
        assert portal.post(url("contact_set_default", contact.pk)).status_code == 404
        assert portal.post(url("contact_delete", contact.pk)).status_code == 404
    assert BillingContact.objects.filter(pk=theirs.pk, is_default=True, name=theirs.name).exists()
    assert BillingContact.objects.filter(pk=spare.pk, is_default=False).exists()


def test_a_contact_is_added_to_the_signed_in_users_customer_whatever_is_posted(portal, customer):
    neighbour = CustomerFactory(partner=customer.partner)
    portal.post(url("contact_create"), {"name": "Bo", "email": "bo@acme.example", "customer": neighbour.pk})
    assert customer.contacts.filter(email="bo@acme.example").exists()
    assert not neighbour.contacts.filter(email="bo@acme.example").exists()
