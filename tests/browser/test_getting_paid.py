"""Getting paid in a real browser (Debian's Chromium through Playwright): the e-mailed "View and pay" link, the
receipt that follows the payment, and a credit note the customer sees in the portal with a stamped PDF."""

import io
import re

import pytest
from django.core import mail
from pypdf import PdfReader

from customers.models import Customer
from invoicing.models import CreditNote, Invoice, Payment
from invoicing.outbox_work import outbox_run
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def billing(settings, tmp_path, live_server):
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = live_server.url  # the e-mail's links point at this test server
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical")
    Customer.objects.filter(pk=customer.pk).update(auto_send=True)
    return partner, customer


def pay_link(message) -> str:
    return re.search(r"https?://\S+/pay/\S+/", message.body).group(0)


def test_a_customer_follows_the_emailed_link_pays_by_card_and_gets_the_receipt(page, billing):
    _partner, customer = billing
    invoice = factories.issued_invoice(customer, [30000])
    outbox_run()  # the worker: PDF stored, invoice e-mailed
    [sent] = mail.outbox
    assert invoice.number in sent.subject and "View and pay" in sent.body

    page.goto(pay_link(sent))  # no login
    assert invoice.number in page.inner_text("main") and "$300.00" in page.inner_text("#due-now")
    page.fill("#pay-card-form [name=number]", "4242 4242 4242 4242")
    page.fill("#pay-card-form [name=expiry]", "12/39")
    page.click("#pay-card-form [type=submit]")
    page.wait_for_load_state()
    assert page.locator("#settled").count() == 1 and page.locator("#pay").count() == 0
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert Payment.objects.filter(invoice=invoice, method="card", amount_units=30000).count() == 1

    outbox_run()  # the receipt, once
    outbox_run()
    receipts = [message for message in mail.outbox if "Receipt" in message.subject]
    assert len(receipts) == 1 and "$300.00" in receipts[0].body
    assert receipts[0].to == sent.to


def test_staff_credit_half_an_invoice_and_the_portal_shows_the_balance_and_the_stamped_pdf(page, billing):
    partner, customer = billing
    invoice = factories.issued_invoice(customer, [30000])
    outbox_run()  # its PDF is stored: the original
    factories.StaffMembershipFactory(partner=partner, user__username="carla", role="billing_clerk")
    factories.CustomerMembershipFactory(customer=customer, user__username="helen")

    sign_in(page, "carla", factories.PASSWORD)
    page.goto(f"/office/invoices/{invoice.pk}/")
    page.click("#issue-credit-note summary")
    page.check("#issue-credit-note [name=way][value=amount]")
    page.fill("#issue-credit-note [name=amount]", "150.00")
    page.fill("#issue-credit-note [name=reason]", "Half the session was cancelled")
    page.click("#issue-credit-note [type=submit]")
    page.wait_for_load_state()
    note = CreditNote.objects.get(invoice=invoice)
    assert note.number in page.inner_text(".messages") and note.total_units == 15000

    page.context.clear_cookies()
    sign_in(page, "helen", factories.PASSWORD)
    page.goto(f"/portal/invoices/{invoice.pk}/")
    main = page.inner_text("main")
    assert note.number in main and "$150.00" in main
    response = page.request.get(f"/portal/invoices/{invoice.pk}/pdf/")
    assert response.ok
    stamped = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    assert "CREDITED" in stamped and "$150.00" in stamped
    original = page.request.get(f"/portal/invoices/{invoice.pk}/pdf/?original=1")
    assert "CREDITED" not in "".join(p.extract_text() for p in PdfReader(io.BytesIO(original.body())).pages)
