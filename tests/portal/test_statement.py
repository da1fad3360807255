"""Portal: the signed-in customer's own statement of account (page and PDF)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from invoicing.credits import credit_note_issue
from invoicing.payments import payment_record
from invoicing.statements import LineKind
from tests.factories import CustomerFactory, CustomerMembershipFactory, StaffMembershipFactory, issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(partner, customer):
    """Ours: 300.00 invoiced 30 days ago, 100.00 paid 10 days ago, 20.00 credited 5 days ago.
    Another customer of the same partner: 777.00 invoiced 20 days ago."""
    today = timezone.localdate(timezone=partner.tzinfo)
    d = lambda n: today - datetime.timedelta(days=n)  # noqa: E731
    invoice = issued_invoice(customer, [30000], issue_date=d(30), deliver=False)
    payment_record(invoice=invoice, amount_units=10000, method="check", reference="31", received_on=d(10))
    admin = StaffMembershipFactory(partner=partner).user
    credit_note_issue(invoice=invoice, amount_units=2000, reason="Late", user=admin, issue_date=d(5))
    issued_invoice(CustomerFactory(partner=partner, name="Neighbour Hospital"), [77700], issue_date=d(20))
    return {"today": today, "d": d, "invoice": invoice}


def test_the_customer_sees_its_own_statement(client, customer_user, ledger):
    d = ledger["d"]
    client.force_login(customer_user)
    response = client.get(reverse("portal:statement") + f"?start={d(20)}&end={d(0)}")
    assert response.status_code == 200
    statement = response.context["statement"]
    assert (statement.opening_units, statement.closing_units) == (30000, 18000)
    assert [(line.kind, line.amount_units, line.balance_units) for line in statement.lines] == [
        (LineKind.PAYMENT, -10000, 20000),
        (LineKind.CREDIT_NOTE, -2000, 18000),
    ]
    body = response.content.decode()
    assert "$180.00" in body and "$777.00" not in body and "Neighbour Hospital" not in body
    assert f'href="{reverse("portal:invoice_detail", args=[ledger["invoice"].pk])}"' in body
    assert f'href="{reverse("portal:statement")}"' in body  # the navigation


def test_the_default_period_is_the_current_month_so_far(client, customer_user, ledger):
    client.force_login(customer_user)
    statement = client.get(reverse("portal:statement")).context["statement"]
    assert (statement.start, statement.end) == (ledger["today"].replace(day=1), ledger["today"])


def test_another_customer_sees_only_its_own(client, partner, ledger):
    neighbour = CustomerMembershipFactory(customer=CustomerFactory(partner=partner)).user
    client.force_login(neighbour)
    response = client.get(reverse("portal:statement") + f"?start={ledger['d'](60)}&end={ledger['d'](0)}")
    statement = response.context["statement"]
    assert statement.lines == [] and statement.closing_units == 0
    assert "$300.00" not in response.content.decode()


def test_the_pdf_is_the_customers_own(client, customer_user, ledger):
    d = ledger["d"]
    client.force_login(customer_user)
    response = client.get(reverse("portal:statement_pdf") + f"?start={d(40)}&end={d(0)}")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_an_invalid_period_is_a_form_error_and_the_pdf_goes_back(client, customer_user, ledger):
    client.force_login(customer_user)
    response = client.get(reverse("portal:statement") + "?start=2026-05-02&end=2026-05-01")
    assert response.context["form"].errors == {"end": ["The end date is before the start date."]}
    response = client.get(reverse("portal:statement_pdf") + "?start=nonsense")
    assert response.status_code == 302 and response["Location"] == reverse("portal:statement")


def test_staff_and_anonymous_users_do_not_get_a_portal_statement(client, staff_user):
    response = client.get(reverse("portal:statement"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(staff_user)
    assert client.get(reverse("portal:statement")).status_code == 403
