"""Office: a customer's statement of account (page, PDF, "E-mail to customer") and the monthly statement
checkbox on the customer's edit form."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from invoicing.models import OutboxJob
from invoicing.payments import payment_record
from invoicing.statements import LineKind
from tests.factories import CustomerFactory, PartnerFactory, issued_invoice

pytestmark = pytest.mark.django_db


def url(name, customer, query=""):
    return reverse(f"office:{name}", args=[customer.pk]) + (f"?{query}" if query else "")


@pytest.fixture
def today(partner):
    return timezone.localdate(timezone=partner.tzinfo)


@pytest.fixture
def booked(customer, today):
    """An invoice of 400.00 issued 40 days ago, 150.00 paid 20 days ago and 50.00 paid 19 days ago."""
    d = lambda n: today - datetime.timedelta(days=n)  # noqa: E731
    invoice = issued_invoice(customer, [40000], issue_date=d(40), deliver=False)
    payment_record(invoice=invoice, amount_units=15000, method="check", reference="11", received_on=d(20))
    payment_record(invoice=invoice, amount_units=5000, method="check", reference="12", received_on=d(19))
    return {"invoice": invoice, "d": d}


def test_the_page_shows_opening_lines_running_balance_and_closing(client, clerk_user, customer, booked):
    d = booked["d"]
    client.force_login(clerk_user)
    response = client.get(url("customer_statement", customer, f"start={d(30)}&end={d(20)}"))
    assert response.status_code == 200
    statement = response.context["statement"]
    assert (statement.opening_units, statement.closing_units) == (40000, 25000)
    assert [(line.kind, line.amount_units, line.balance_units) for line in statement.lines] == [
        (LineKind.PAYMENT, -15000, 25000)
    ]  # the payment of the next day is the next period's
    body = response.content.decode()
    assert "$400.00" in body and "$250.00" in body and "by check 11" in body and "by check 12" not in body
    assert f'href="{reverse("office:invoice_detail", args=[booked["invoice"].pk])}"' in body
    assert "Download PDF" in body and "E-mail to customer" in body


def test_the_default_period_is_the_current_month_so_far(client, clerk_user, customer, today):
    client.force_login(clerk_user)
    statement = client.get(url("customer_statement", customer)).context["statement"]
    assert (statement.start, statement.end) == (today.replace(day=1), today)
    body = client.get(url("customer_statement", customer)).content.decode()
    assert "Last month" in body and "This year" in body


def test_an_end_before_the_start_is_a_form_error(client, clerk_user, customer):
    client.force_login(clerk_user)
    response = client.get(url("customer_statement", customer, "start=2026-03-10&end=2026-03-01"))
    assert response.status_code == 200 and "statement" not in response.context
    assert response.context["form"].errors == {"end": ["The end date is before the start date."]}


def test_the_pdf_downloads(client, clerk_user, customer, booked):
    d = booked["d"]
    client.force_login(clerk_user)
    response = client.get(url("customer_statement_pdf", customer, f"start={d(45)}&end={d(0)}"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert (
        response["Content-Disposition"].startswith("attachment;")
        and f"{d(45)}-{d(0)}.pdf" in response["Content-Disposition"]
    )


def test_email_to_customer_queues_a_statement_job_for_the_period(client, clerk_user, customer, booked):
    d = booked["d"]
    client.force_login(clerk_user)
    response = client.post(url("customer_statement_email", customer), {"start": d(30), "end": d(20)})
    assert response.status_code == 302
    assert response["Location"] == url("customer_statement", customer, f"start={d(30)}&end={d(20)}")
    job = OutboxJob.objects.get(kind=OutboxJob.Kind.STATEMENT)
    assert job.customer_id == customer.pk and job.key.startswith(f"statement:customer:{customer.pk}:{d(30)}:{d(20)}:")
    assert client.get(url("customer_statement_email", customer)).status_code == 405


@pytest.mark.parametrize("name", ["customer_statement", "customer_statement_pdf", "customer_statement_email"])
def test_another_partners_customer_is_a_404(client, staff_user, name):
    stranger = CustomerFactory(partner=PartnerFactory())
    issued_invoice(stranger, [12300], deliver=False)
    client.force_login(staff_user)
    response = client.post(url(name, stranger)) if name.endswith("email") else client.get(url(name, stranger))
    assert response.status_code == 404
    assert not OutboxJob.objects.filter(kind=OutboxJob.Kind.STATEMENT).exists()


def test_a_customer_user_cannot_open_the_office_statement(client, customer_user, customer):
    client.force_login(customer_user)
    assert client.get(url("customer_statement", customer)).status_code == 403


def test_the_customer_page_links_to_the_statement(client, clerk_user, customer):
    client.force_login(clerk_user)
    body = client.get(reverse("office:customer_detail", args=[customer.pk])).content.decode()
    assert f'href="{url("customer_statement", customer)}"' in body


def test_the_edit_form_turns_the_monthly_statement_on_and_off(client, clerk_user, customer):
    client.force_login(clerk_user)
    assert 'name="monthly_statement"' in client.get(url("customer_edit", customer)).content.decode()
    data = {"name": customer.name, "email": "", "phone": "", "address": "", "monthly_statement": "on"}
    assert client.post(url("customer_edit", customer), data).status_code == 302
    assert Customer.objects.get(pk=customer.pk).monthly_statement is True
    data.pop("monthly_statement")
    client.post(url("customer_edit", customer), data)
    assert Customer.objects.get(pk=customer.pk).monthly_statement is False
    assert 'name="monthly_statement"' not in client.get(reverse("office:customer_create")).content.decode()
