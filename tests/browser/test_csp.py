"""The Content-Security-Policy in a real browser: the main office, portal and admin pages load and run their
scripts with no violation (Debian's Chromium through Playwright)."""

from decimal import Decimal

import pytest

from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(db):
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal("10"))
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical", zone=zone)
    factories.StaffMembershipFactory(partner=partner, role="billing_admin", user__username="boss")
    factories.CustomerMembershipFactory(customer=customer, user__username="helen")
    factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    return {
        "customer": customer,
        "draft": factories.draft_invoice(customer, [5000]),
        "issued": factories.issued_invoice(customer, [12000]),
    }


@pytest.fixture
def errors(page):
    """Everything the page reports as an error: CSP violations are console errors ("Refused to ... because it
    violates the following Content Security Policy directive"), script exceptions are page errors."""
    found = []

    def on_console(message):
        # The admin's pages link no icon, so Chromium asks for /favicon.ico, which is not there: no CSP matter.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            found.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    return found


def visit(page, path):
    response = page.goto(path)
    page.wait_for_load_state("load")
    assert response.status == 200, path
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
    return response


def test_office_portal_and_admin_pages_run_under_the_policy(page, errors, world):
    customer, draft, issued = world["customer"], world["draft"], world["issued"]

    sign_in(page, "boss", factories.PASSWORD)
    for path in ("/office/", "/office/invoices/ar/", f"/office/invoices/{issued.pk}/"):
        visit(page, path)

    # The draft's "Delete" asks first (data-confirm, static/js/confirm.js); dismissing keeps the draft.
    visit(page, f"/office/invoices/{draft.pk}/")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("button:has-text('Delete draft')")
    assert questions == ["Delete this draft? This cannot be undone."]
    assert page.url.endswith(f"/office/invoices/{draft.pk}/")

    # The manual invoice form's formset adds a line (static/js/formset.js).
    visit(page, f"/office/invoices/new/?customer={customer.pk}")
    rows = page.locator("[data-formset-row]")
    before = rows.count()
    page.click("[data-formset-add]")
    assert rows.count() == before + 1
    page.fill(f"[name=lines-{before}-description]", "Added by the button")

    # The billing settings' show/hide (static/js/billing_settings.js).
    visit(page, f"/office/customers/{customer.pk}/billing/")
    recurring = page.locator("[data-recurring-toggle]")
    shown = page.is_visible("[data-auto-invoice]")
    recurring.click()
    assert page.is_visible("[data-auto-invoice]") is not shown

    page.context.clear_cookies()
    sign_in(page, "helen", factories.PASSWORD)
    visit(page, "/portal/invoices/")
    visit(page, f"/portal/invoices/{issued.pk}/")

    page.context.clear_cookies()
    page.goto("/admin/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_load_state()
    visit(page, "/admin/")
    visit(page, "/admin/invoicing/invoice/")

    assert errors == []
