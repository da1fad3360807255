"""The clerk's and the admin's main flows, in a real browser (Debian's Chromium through Playwright)."""

import datetime
from decimal import Decimal

import pytest

from invoicing.models import Invoice, Quote, QuoteLine
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def office(db):
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal("10"))
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical", zone=zone)
    clerk = factories.StaffMembershipFactory(partner=partner, role="billing_clerk", user__username="clerk").user
    admin = factories.StaffMembershipFactory(partner=partner, role="billing_admin", user__username="boss").user
    return {"partner": partner, "customer": customer, "clerk": clerk, "admin": admin}


def fill_line(page, index, description, quantity, price):
    page.fill(f"[name=lines-{index}-description]", description)
    page.fill(f"[name=lines-{index}-quantity]", quantity)
    page.fill(f"[name=lines-{index}-unit_price]", price)


def test_clerk_drafts_three_lines_admin_issues_and_a_partial_payment_leaves_the_right_balance(page, office):
    customer = office["customer"]
    sign_in(page, "clerk", factories.PASSWORD)
    page.goto(f"/office/invoices/new/?customer={customer.pk}")
    fill_line(page, 0, "Interpreting, 2 h", "2", "85.00")
    fill_line(page, 1, "Mileage", "10", "0.67")
    fill_line(page, 2, "Document translation", "1", "120.00")
    page.click("button[name=save]")
    page.wait_for_url("**/office/invoices/*/")
    invoice = Invoice.objects.get(customer=customer)
    # 170.00 + 6.70 + 120.00 = 296.70, plus 10 % tax = 326.37
    assert invoice.status == Invoice.Status.DRAFT and invoice.total_units == 32637
    assert page.locator("text=Issue invoice").count() == 0  # clerks draft, admins issue

    page.context.clear_cookies()
    sign_in(page, "boss", factories.PASSWORD)
    page.goto(f"/office/invoices/{invoice.pk}/")
    page.click("a:has-text('Issue invoice')")
    steps = page.inner_text("#issue-steps")
    assert "Numbers it INV-" in steps and "E-mails it to" in steps  # says what it will do before it does
    page.click("#issue-invoice button:has-text('Issue $326.37 now')")
    page.wait_for_load_state()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and invoice.number.startswith("INV-")
    assert invoice.number in page.content()

    page.fill("#payment_amount", "100.00")
    page.select_option("#payment_method", "check")
    page.fill("#payment_reference", "1042")
    page.click("button:has-text('Record payment')")
    page.wait_for_load_state()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID and invoice.paid_units == 10000
    assert page.locator("#outstanding").inner_text().strip() == "$226.37"


def test_attaching_a_child_invoice_lowers_the_parents_balance(page, office):
    customer = office["customer"]
    other = factories.CustomerFactory(partner=office["partner"], name="Pacific Crest")
    parent = factories.issued_invoice(customer, [200000])
    child = factories.issued_invoice(other, [100000])
    sign_in(page, "boss", factories.PASSWORD)
    page.goto(f"/office/invoices/{parent.pk}/")
    assert page.locator("#outstanding").inner_text().strip() == "$2,000.00"
    page.click("#attach-child summary")
    page.fill("#attach_number", child.number)
    page.click("#attach-child button:has-text('Attach')")
    page.wait_for_load_state()
    assert page.locator("#outstanding").inner_text().strip() == "$1,000.00"
    parent.refresh_from_db()
    assert parent.children_units == 100000 and parent.outstanding_units == 100000


def test_a_quote_becomes_a_draft_invoice(page, office):
    customer = office["customer"]
    request = factories.ServiceRequestFactory(customer=customer, partner=office["partner"], title="Site visit")
    quote = Quote.objects.create(request=request)
    QuoteLine.objects.create(
        quote=quote,
        description="Field visit, 3 h",
        quantity=Decimal("3"),
        unit_price_units=Decimal("9000"),
        tax_rate=Decimal("10"),
    )
    sign_in(page, "clerk", factories.PASSWORD)
    page.goto(f"/office/requests/{request.pk}/")
    page.click("button:has-text('Generate invoice')")
    page.wait_for_url("**/office/invoices/*/")
    quote.refresh_from_db()
    assert quote.status == Quote.Status.CONVERTED
    assert quote.invoice.status == Invoice.Status.DRAFT and quote.invoice.total_units == 29700
    assert "Field visit, 3 h" in page.content()


def test_the_office_works_on_a_phone(browser, live_server, office):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        factories.issued_invoice(office["customer"], [12345], issue_date=datetime.date.today())
        sign_in(page, "boss", factories.PASSWORD)
        assert page.url.endswith("/office/")
        page.click(".navbar-toggler")
        page.wait_for_selector("#main-nav.show")
        assert page.locator("#main-nav").is_visible()
    finally:
        context.close()
