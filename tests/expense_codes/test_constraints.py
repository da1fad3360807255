"""Database constraints on expense-code labels and applied codes."""

import pytest
from django.db import IntegrityError, transaction

from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from tests.factories import CustomerFactory, ExpenseCodeLabelFactory, ServiceRequestFactory

pytestmark = pytest.mark.django_db


def refused(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_label_name_is_unique_per_customer(customer):
    label = ExpenseCodeLabelFactory(customer=customer, name="Purchase order")
    refused(lambda: ExpenseCodeLabel.objects.create(customer=customer, name=label.name))
    other = CustomerFactory(partner=customer.partner)
    assert ExpenseCodeLabel.objects.create(customer=other, name=label.name).pk


def test_empty_label_name_is_refused(customer):
    refused(lambda: ExpenseCodeLabel.objects.create(customer=customer, name=""))


def test_code_on_no_carrier_is_refused():
    refused(lambda: AppliedExpenseCode.objects.create(label_name="PO", value="123"))


def test_code_on_two_carriers_is_refused(customer):
    request = ServiceRequestFactory(customer=customer)
    refused(
        lambda: AppliedExpenseCode.objects.create(label_name="PO", value="1", default_for=customer, request=request)
    )
    refused(
        lambda: AppliedExpenseCode.objects.bulk_create(
            [AppliedExpenseCode(label_name="PO", value="2", request=request, default_for=customer)]
        )
    )


@pytest.mark.parametrize("carrier", ["default_for", "request"])
def test_code_on_exactly_one_carrier_is_allowed(customer, carrier):
    owner = customer if carrier == "default_for" else ServiceRequestFactory(customer=customer)
    code = AppliedExpenseCode.objects.create(label_name="PO", value="ABC123", **{carrier: owner})
    assert code.pk


def test_moving_a_code_onto_a_second_carrier_is_refused(customer):
    request = ServiceRequestFactory(customer=customer)
    code = AppliedExpenseCode.objects.create(label_name="PO", value="ABC123", request=request)
    refused(lambda: AppliedExpenseCode.objects.filter(pk=code.pk).update(default_for=customer))


@pytest.mark.parametrize(("label_name", "value"), [("", "ABC"), ("PO", "")])
def test_empty_code_label_or_value_is_refused(customer, label_name, value):
    refused(lambda: AppliedExpenseCode.objects.create(label_name=label_name, value=value, default_for=customer))
