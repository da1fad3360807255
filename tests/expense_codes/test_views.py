"""expense_codes.views: the one expense-codes page behind the office's customer page and the portal's settings.

Each test runs on both pages: the office (partner staff) and the portal (a customer user allowed to manage codes).
"""

import pytest
from django.urls import reverse

from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from tests.factories import CustomerMembershipFactory, ExpenseCodeLabelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["office", "portal"])
def page(request, client, customer):
    """(client signed in, the page's address) for the office's and the portal's expense-codes page."""
    if request.param == "office":
        client.force_login(request.getfixturevalue("clerk_user"))
        return client, reverse("office:customer_expense_codes", args=[customer.pk])
    user = CustomerMembershipFactory(customer=customer, can_manage_expense_codes=True).user
    client.force_login(user)
    return client, reverse("portal:settings_expense_codes")


def test_both_pages_offer_the_required_toggle_and_apply_it(page, customer):
    client, address = page
    label = ExpenseCodeLabelFactory(customer=customer, name="PO")
    assert 'value="label_require"' in client.get(address).content.decode()
    response = client.post(address, {"action": "label_require", "label_id": label.pk})
    assert response.status_code == 302 and response["Location"] == address
    assert ExpenseCodeLabel.objects.get(pk=label.pk).is_required
    body = client.get(address).content.decode()
    assert 'value="label_unrequire"' in body and "Required" in body
    client.post(address, {"action": "label_unrequire", "label_id": label.pk})
    assert not ExpenseCodeLabel.objects.get(pk=label.pk).is_required


def test_both_pages_remove_a_label_with_a_confirmation_and_keep_document_codes(page, customer):
    client, address = page
    label = ExpenseCodeLabelFactory(customer=customer, name="PO")
    on_default = AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name="PO", value="A")
    body = client.get(address).content.decode()
    assert 'data-confirm="Remove the label' in body
    response = client.post(address, {"action": "label_deactivate", "label_id": label.pk}, follow=True)
    assert "stay as they are" in response.content.decode()
    assert not AppliedExpenseCode.objects.filter(pk=on_default.pk).exists()
    assert not ExpenseCodeLabel.objects.get(pk=label.pk).is_active
