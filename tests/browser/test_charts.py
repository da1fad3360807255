"""Charts in a real browser: the dashboard's and the reports' charts are drawn by static/js/charts.js under the
Content-Security-Policy, their tables are hidden from sight but not from screen readers and come back on a click,
and the pages fit 1366 px and a 390 px phone without scrolling sideways."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.lifecycle import invoice_issue
from invoicing.manual import invoice_create_manual
from invoicing.payments import payment_record
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ("/office/", "/office/reports/revenue/", "/office/reports/cash/", "/office/reports/tax/")


@pytest.fixture
def world(db):
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical Center of the Greater Bay Area")
    factories.StaffMembershipFactory(partner=partner, role="billing_admin", user__username="boss")
    today = timezone.localdate()
    for days in (5, 40, 75, 130):
        invoice = factories.issued_invoice(customer, [123456789], issue_date=today - datetime.timedelta(days=days))
        payment_record(invoice=invoice, amount_units=23456789, method="transfer", received_on=today)
    taxed = invoice_create_manual(
        partner=partner, customer=customer, lines=factories.lines_for([987654], tax_rate=Decimal("8.875"))
    )
    invoice_issue(invoice=taxed, issue_date=today)


@pytest.fixture
def errors(page):
    found = []
    page.on("console", lambda message: found.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    return found


def drawn_charts(page) -> int:
    return page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-chart]')).filter(c => window.Chart.getChart(c)).length"
    )


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_charts_are_drawn_with_their_tables_at_both_widths(page, errors, world):
    sign_in(page, "boss", factories.PASSWORD)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path in PAGES:
            page.goto(path)
            page.wait_for_load_state("load")
            canvases = page.locator("canvas[data-chart]").count()
            assert canvases >= 1, path
            assert drawn_charts(page) == canvases, path
            assert overflow(page) <= 0, f"{path} scrolls sideways at {width} px"
    assert errors == []
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/office/")
    table = page.locator("#billed-collected-table")
    assert "visually-hidden" in (table.get_attribute("class") or "")
    page.locator("#billed-collected [data-chart-toggle]").click()
    assert "visually-hidden" not in (table.get_attribute("class") or "")
    assert table.locator("tbody tr").count() == 12
