"""A customer's portal flow in a real browser (Debian's Chromium through Playwright)."""

import pytest

from invoicing.models import Invoice, Payment
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_pays_an_invoice_by_card_after_a_decline(page):
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical")
    factories.CustomerMembershipFactory(customer=customer, user__username="helen")
    invoice = factories.issued_invoice(customer, [12000])

    sign_in(page, "helen", factories.PASSWORD)
    page.goto(f"/portal/invoices/{invoice.pk}/")
    assert "Pay $120.00 by card" in page.inner_text("#pay")

    page.fill("#pay-card-form [name=number]", "4000 0000 0000 0002")
    page.fill("#pay-card-form [name=expiry]", "12/39")
    page.click("#pay-card-form [type=submit]")
    page.wait_for_load_state()
    assert "The card was declined." in page.inner_text(".messages")
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PENDING

    page.fill("#pay-card-form [name=number]", "4242 4242 4242 4242")
    page.fill("#pay-card-form [name=expiry]", "12/39")
    page.check("#pay-card-form [name=keep_on_file]")
    page.click("#pay-card-form [type=submit]")
    page.wait_for_load_state()

    assert "Thank you: $120.00 was paid" in page.inner_text(".messages")
    assert page.locator("#pay").count() == 0
    assert "Paid in full" in page.inner_text("main")
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert Payment.objects.filter(invoice=invoice, method="card").count() == 1
