"""expense_codes.labels: labels and auto-applied codes, managed by permission (seed 000)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from expense_codes.labels import (
    default_code_add,
    default_code_remove,
    label_activate,
    label_create,
    label_deactivate,
    label_rename,
    label_set_required,
    labels_can_manage,
)
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from tests.factories import (
    CustomerFactory,
    CustomerMembershipFactory,
    ExpenseCodeLabelFactory,
    ServiceRequestFactory,
    StaffMembershipFactory,
    draft_invoice,
)

pytestmark = pytest.mark.django_db


def test_new_customers_have_no_labels(customer):
    assert not ExpenseCodeLabel.objects.filter(customer=customer).exists()


def test_staff_create_a_label(customer, clerk_user):
    label = label_create(customer=customer, user=clerk_user, name="  Purchase   order ")
    assert label.name == "Purchase order" and label.is_active


def test_a_duplicate_label_is_refused_whatever_the_case(customer, staff_user):
    label_create(customer=customer, user=staff_user, name="Cost center")
    with pytest.raises(ValidationError) as exc:
        label_create(customer=customer, user=staff_user, name="cost CENTER")
    assert "name" in exc.value.message_dict
    assert ExpenseCodeLabel.objects.filter(customer=customer).count() == 1


def test_the_same_label_on_another_customer_is_fine(customer, staff_user):
    label_create(customer=customer, user=staff_user, name="PO")
    label_create(customer=CustomerFactory(partner=customer.partner), user=staff_user, name="PO")
    assert ExpenseCodeLabel.objects.filter(name="PO").count() == 2


def test_a_blank_label_is_refused(customer, staff_user):
    with pytest.raises(ValidationError):
        label_create(customer=customer, user=staff_user, name="   ")


def test_rename_moves_the_defaults_but_not_the_codes_on_documents(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    default = default_code_add(customer=customer, user=staff_user, label=label, value="ABC123")
    request = ServiceRequestFactory(customer=customer)
    on_request = AppliedExpenseCode.objects.create(request=request, label=label, label_name="PO", value="X1")
    label_rename(label=label, user=staff_user, name="Purchase order")
    default.refresh_from_db()
    on_request.refresh_from_db()
    assert default.label_name == "Purchase order"
    assert on_request.label_name == "PO"


def test_rename_to_another_labels_name_is_refused(customer, staff_user):
    label_create(customer=customer, user=staff_user, name="PO")
    other = label_create(customer=customer, user=staff_user, name="Cost center")
    with pytest.raises(ValidationError):
        label_rename(label=other, user=staff_user, name="po")
    assert ExpenseCodeLabel.objects.get(pk=other.pk).name == "Cost center"


def test_deactivating_removes_its_defaults_and_keeps_document_codes(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    default_code_add(customer=customer, user=staff_user, label=label, value="ABC123")
    request = ServiceRequestFactory(customer=customer)
    AppliedExpenseCode.objects.create(request=request, label=label, label_name="PO", value="X1")
    assert label_deactivate(label=label, user=staff_user) == 1
    assert not AppliedExpenseCode.objects.filter(default_for=customer).exists()
    assert AppliedExpenseCode.objects.filter(request=request).count() == 1
    assert not ExpenseCodeLabel.objects.get(pk=label.pk).is_active
    label_activate(label=label, user=staff_user)
    assert ExpenseCodeLabel.objects.get(pk=label.pk).is_active


def test_a_default_code_needs_an_active_label_of_the_customer(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    label_deactivate(label=label, user=staff_user)
    label.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        default_code_add(customer=customer, user=staff_user, label=label, value="A")
    assert "label" in exc.value.message_dict
    foreign = ExpenseCodeLabelFactory(customer=CustomerFactory(partner=customer.partner))
    with pytest.raises(ValidationError):
        default_code_add(customer=customer, user=staff_user, label=foreign, value="A")
    assert not AppliedExpenseCode.objects.filter(default_for=customer).exists()


def test_a_duplicate_default_code_is_refused(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    default_code_add(customer=customer, user=staff_user, label=label, value="ABC")
    with pytest.raises(ValidationError) as exc:
        default_code_add(customer=customer, user=staff_user, label=label, value=" ABC ")
    assert "value" in exc.value.message_dict
    assert AppliedExpenseCode.objects.filter(default_for=customer).count() == 1


def test_removing_a_default_code(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    code = default_code_add(customer=customer, user=staff_user, label=label, value="ABC")
    default_code_remove(code=code, user=staff_user)
    assert not AppliedExpenseCode.objects.filter(default_for=customer).exists()


def test_a_customer_user_needs_the_permission(customer):
    plain = CustomerMembershipFactory(customer=customer, can_manage_expense_codes=False).user
    allowed = CustomerMembershipFactory(customer=customer, can_manage_expense_codes=True).user
    with pytest.raises(PermissionDenied):
        label_create(customer=customer, user=plain, name="PO")
    label_create(customer=customer, user=allowed, name="PO")
    assert not labels_can_manage(user=allowed, customer=CustomerFactory(partner=customer.partner))


def test_another_partners_staff_cannot_manage_labels(customer):
    outsider = StaffMembershipFactory().user
    with pytest.raises(PermissionDenied):
        label_create(customer=customer, user=outsider, name="PO")
    assert not ExpenseCodeLabel.objects.filter(customer=customer).exists()


# --- required labels ----------------------------------------------------------------------------------------


def test_a_label_can_be_made_required_and_not(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    assert not label.is_required
    assert label_set_required(label=label, user=staff_user, required=True).is_required
    assert ExpenseCodeLabel.objects.get(pk=label.pk).is_required
    label_set_required(label=label, user=staff_user, required=False)
    assert not ExpenseCodeLabel.objects.get(pk=label.pk).is_required


def test_a_removed_label_cannot_be_made_required(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    label_deactivate(label=label, user=staff_user)
    with pytest.raises(ValidationError) as exc:
        label_set_required(label=label, user=staff_user, required=True)
    assert "add it back" in exc.value.message_dict["is_required"][0]
    assert not ExpenseCodeLabel.objects.get(pk=label.pk).is_required
    label_set_required(label=label, user=staff_user, required=False)  # not requiring it is always fine


def test_deactivating_a_required_label_stops_requiring_it(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    label_set_required(label=label, user=staff_user, required=True)
    label_deactivate(label=label, user=staff_user)
    assert not label.is_required
    stored = ExpenseCodeLabel.objects.get(pk=label.pk)
    assert not stored.is_active and not stored.is_required
    label_activate(label=label, user=staff_user)
    assert not ExpenseCodeLabel.objects.get(pk=label.pk).is_required  # adding it back does not require it again


def test_requiring_a_label_needs_the_permission(customer):
    label = ExpenseCodeLabelFactory(customer=customer)
    plain = CustomerMembershipFactory(customer=customer, can_manage_expense_codes=False).user
    allowed = CustomerMembershipFactory(customer=customer, can_manage_expense_codes=True).user
    outsider = StaffMembershipFactory().user
    for user in (plain, outsider):
        with pytest.raises(PermissionDenied):
            label_set_required(label=label, user=user, required=True)
    assert not ExpenseCodeLabel.objects.get(pk=label.pk).is_required
    label_set_required(label=label, user=allowed, required=True)
    assert ExpenseCodeLabel.objects.get(pk=label.pk).is_required


def test_deactivating_keeps_the_codes_on_invoices(customer, staff_user):
    label = label_create(customer=customer, user=staff_user, name="PO")
    invoice = draft_invoice(customer, [1000])
    code = AppliedExpenseCode.objects.create(invoice=invoice, label=label, label_name="PO", value="ABC")
    label_deactivate(label=label, user=staff_user)
    kept = AppliedExpenseCode.objects.get(pk=code.pk)
    assert (kept.invoice_id, kept.label_id, kept.label_name, kept.value) == (invoice.pk, label.pk, "PO", "ABC")
