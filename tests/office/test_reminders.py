"""Payment reminders in the office: the schedule on the company settings page (billing admins), the customer's
opt-out in its billing settings, and the reminders listed on the invoice page."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from customers.models import Customer, Partner
from invoicing.models import InvoiceReminder
from invoicing.outbox_work import outbox_run
from invoicing.payments import payment_record
from invoicing.reminders import reminders_queue
from tests.factories import issued_invoice
from tests.office.test_company import URL as SETTINGS_URL
from tests.office.test_company import form_data
from tests.office.test_customers import settings_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def stored(partner) -> dict:
    return Partner.objects.filter(pk=partner.pk).values().get()


# --- the schedule on the company settings page ----------------------------------------------------------------


def test_the_settings_page_shows_the_schedule_as_typed(client, partner, staff_user):
    client.force_login(staff_user)
    html = client.get(SETTINGS_URL).content.decode()
    assert "Payment reminders" in html and "Reminder days" in html
    assert 'name="reminder_days" value="-3, 1, 7, 14, 30"' in html


def test_an_admin_changes_the_schedule_and_it_is_audited(client, partner, staff_user):
    client.force_login(staff_user)
    response = client.post(SETTINGS_URL, form_data(partner, reminder_days="30, -5,  10"))
    assert response.status_code == 302
    assert Partner.objects.get(pk=partner.pk).reminder_days == [-5, 10, 30]
    event = AuditEvent.objects.get(action="company_settings", actor=staff_user)
    assert event.data == {"reminder_days": [[-3, 1, 7, 14, 30], [-5, 10, 30]]}


def test_an_empty_schedule_turns_reminders_off(client, partner, staff_user):
    client.force_login(staff_user)
    assert client.post(SETTINGS_URL, form_data(partner, reminder_days="")).status_code == 302
    assert Partner.objects.get(pk=partner.pk).reminder_days == []


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("-3, 1, next week", "“next” is not a whole number of days"),
        ("7, 7", "7 is listed twice"),
        ("1, 400", "400 is outside that"),
        ("-90", "from -60 (60 days before the due date) to 365"),
        ("1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11", "Use at most 10 reminder days"),
        ("1, " * 100, "too long for a schedule"),
    ],
)
def test_a_bad_schedule_is_refused_on_its_field_and_nothing_changes(client, partner, staff_user, typed, words):
    client.force_login(staff_user)
    before = stored(partner)
    response = client.post(SETTINGS_URL, form_data(partner, reminder_days=typed, email_sender_name="Renamed"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["reminder_days"]
    assert any(words in message for message in errors["reminder_days"])
    assert words in response.content.decode()
    assert stored(partner) == before  # the sender name was not saved either
    assert not AuditEvent.objects.filter(action="company_settings").exists()


def test_a_clerk_cannot_change_the_schedule(client, partner, clerk_user):
    client.force_login(clerk_user)
    before = stored(partner)
    assert client.post(SETTINGS_URL, form_data(partner, reminder_days="5")).status_code == 403
    assert stored(partner) == before


# --- the customer's opt-out ----------------------------------------------------------------------------------


def test_an_admin_turns_a_customers_reminders_off(client, staff_user, customer):
    client.force_login(staff_user)
    address = reverse("office:customer_billing_settings", args=[customer.pk])
    assert 'name="sends_reminders"' in client.get(address).content.decode()
    assert client.post(address, settings_data(customer, sends_reminders=False)).status_code == 302
    assert Customer.objects.get(pk=customer.pk).sends_reminders is False
    event = AuditEvent.objects.get(action="billing_settings", actor=staff_user)
    assert event.data == {"sends_reminders": [True, False]}
    detail = client.get(reverse("office:customer_detail", args=[customer.pk])).content.decode()
    assert "E-mail payment reminders" in detail


def test_a_clerk_cannot_turn_reminders_off(client, clerk_user, customer):
    client.force_login(clerk_user)
    address = reverse("office:customer_billing_settings", args=[customer.pk])
    assert client.post(address, settings_data(customer, sends_reminders=False)).status_code == 403
    assert Customer.objects.get(pk=customer.pk).sends_reminders is True


# --- the invoice page ----------------------------------------------------------------------------------------


def overdue_invoice(customer, overdue_days: int):
    due = timezone.localdate(timezone=customer.partner.tzinfo) - datetime.timedelta(days=overdue_days)
    return issued_invoice(customer, [10000], issue_date=due - datetime.timedelta(days=30), deliver=False)


def test_the_invoice_page_lists_the_reminders_sent_queued_and_skipped(client, staff_user, customer, settings):
    invoice = overdue_invoice(customer, 8)
    today = timezone.localdate(timezone=customer.partner.tzinfo)
    reminders_queue(today=today - datetime.timedelta(days=1), partner=customer.partner)  # the 7-day reminder
    outbox_run()
    reminders_queue(today=today + datetime.timedelta(days=6), partner=customer.partner)  # the 14-day one
    client.force_login(staff_user)
    html = client.get(reverse("office:invoice_detail", args=[invoice.pk])).content.decode()
    assert 'id="reminders"' in html
    assert "7 days after the due date" in html and "Sent" in html
    assert "14 days after the due date" in html and "Queued" in html

    payment_record(invoice=invoice, amount_units=10000, method="check", reference="77")
    outbox_run()
    html = client.get(reverse("office:invoice_detail", args=[invoice.pk])).content.decode()
    assert "Skipped" in html and "Not sent: the invoice was paid" in html
    assert InvoiceReminder.objects.filter(invoice=invoice).count() == 2


def test_the_page_says_when_the_next_reminder_goes_or_why_none_will(client, staff_user, customer):
    invoice = overdue_invoice(customer, 2)
    client.force_login(staff_user)
    address = reverse("office:invoice_detail", args=[invoice.pk])
    next_on = invoice.due_date + datetime.timedelta(days=1)  # the 1-day step has come: made within the hour
    html = client.get(address).content.decode()
    assert "Next reminder: 1 day after the due date" in html
    assert next_on.strftime("%b") in html
    Customer.objects.filter(pk=customer.pk).update(sends_reminders=False)
    html = client.get(address).content.decode()
    assert "Payment reminders are off for this customer." in html


def test_the_reminders_cost_the_page_one_query_however_many(client, staff_user, customer):
    client.force_login(staff_user)
    invoice = overdue_invoice(customer, 31)
    address = reverse("office:invoice_detail", args=[invoice.pk])
    today = timezone.localdate(timezone=customer.partner.tzinfo)
    reminders_queue(today=today - datetime.timedelta(days=30), partner=customer.partner)
    client.get(address)
    with CaptureQueriesContext(connection) as one:
        client.get(address)
    for back in (24, 17, 0):
        reminders_queue(today=today - datetime.timedelta(days=back), partner=customer.partner)
    assert InvoiceReminder.objects.filter(invoice=invoice).count() == 4
    with CaptureQueriesContext(connection) as four:
        client.get(address)
    assert len(one.captured_queries) == len(four.captured_queries)
