"""Issuing says what it will do before it does: the number, the due date, who is e-mailed, which card is charged."""

import datetime

import pytest

from customers.models import Customer
from invoicing.lifecycle import invoice_issue
from invoicing.models import Invoice
from invoicing.preview import invoice_issue_preview
from tests import factories

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 12, 1)


def test_the_preview_names_the_next_number_the_due_date_and_the_recipients(customer):
    contact = customer.contacts.get()
    copied = factories.BillingContactFactory(customer=customer, receives_invoices=True)
    draft = factories.draft_invoice(customer, [5000])

    preview = invoice_issue_preview(draft, on_date=DAY)

    assert preview.due_date == datetime.date(2026, 12, 31) and preview.due == "due Dec 31, 2026"
    assert preview.email_to == [f"{contact.name} <{contact.email}>"] and preview.email_cc == [copied.email]
    assert not preview.charge
    steps = " ".join(preview.steps)
    assert f"E-mails it to {contact.name}" in steps and f"copying {copied.email}" in steps


def test_the_preview_number_is_the_one_issuing_takes(customer):
    factories.issued_invoice(customer, [100])
    draft = factories.draft_invoice(customer, [5000])
    preview = invoice_issue_preview(draft)
    assert invoice_issue(invoice=draft).number == preview.number


def test_an_auto_charged_customer_is_told_which_card_is_charged(customer):
    Customer.objects.filter(pk=customer.pk).update(
        payment_method="card", auto_charge=True, card_token="tok", card_brand="Visa", card_last4="4242"
    )
    preview = invoice_issue_preview(factories.draft_invoice(Customer.objects.get(pk=customer.pk), [5000]))
    assert preview.charge == "Visa ending 4242"
    assert "Charges Visa ending 4242 for the balance." in preview.steps


def test_no_email_and_no_due_date_are_said_too(customer):
    Customer.objects.filter(pk=customer.pk).update(auto_send=False)
    draft = factories.draft_invoice(Customer.objects.get(pk=customer.pk), [5000])
    Invoice.objects.filter(pk=draft.pk).update(no_payment=True)
    draft.refresh_from_db()

    preview = invoice_issue_preview(draft)

    assert preview.due_date is None and "no due date" in preview.due
    assert preview.email_to == [] and "automatic e-mailing off" in preview.email_off
