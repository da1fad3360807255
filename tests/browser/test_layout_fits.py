"""Every main page fits the screen, in a real browser (Debian's Chromium) on the demo data: at 1366 px nothing
scrolls sideways, not even a table inside its .table-responsive box; on a 390 px phone the page itself never
scrolls sideways (a wide table may scroll inside its .table-responsive box), and list rows are cards.

One test per role signs in once, visits each page at both widths and reports every page that overflows, with
its width and the elements that stick out, in a single failure."""

import os
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from customers.models import Customer
from demo.people import DEMO_PASSWORD
from invoicing.models import Invoice, Proforma, Service, ServiceRequest
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}

# What sticks out of the viewport: the page's own scroll width, and each outermost visible element whose box is
# wider than the viewport or reaches past its right edge. Inside a .table-responsive box a wide table may scroll
# on a phone (allowScroller); at 1366 px that box must not scroll either.
OVERFLOW_JS = """
(allowScroller) => {
  const width = window.innerWidth;
  const view = document.documentElement.clientWidth;
  const problems = [];
  if (document.documentElement.scrollWidth > width) {
    problems.push(`the page scrolls sideways: scrollWidth ${document.documentElement.scrollWidth} > ${width}`);
  }
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    if (el.classList.length) name += '.' + [...el.classList].slice(0, 3).join('.');
    const text = (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return text ? `${name} "${text}"` : name;
  };
  const reported = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (reported.some((parent) => parent.contains(el))) continue;
    if (el.closest('.visually-hidden, .visually-hidden-focusable')) continue;  // clipped to 1 px: never shown wide
    const scroller = el.closest('.table-responsive');
    if (scroller && scroller !== el) {
      if (allowScroller) continue;
    }
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || style.position === 'fixed') continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;  // visually-hidden helpers
    if (el.classList.contains('table-responsive') && !allowScroller && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${describe(el)} scrolls sideways: ${el.scrollWidth} > ${el.clientWidth}`);
      reported.push(el);
      continue;
    }
    if (box.width > view + 1 || box.right > view + 1) {
      problems.push(`${describe(el)} is ${Math.round(box.width)} px wide, right edge at ${Math.round(box.right)} px`);
      reported.push(el);
    }
  }
  return problems.slice(0, 8);
}
"""


@pytest.fixture
def demo():
    call_command("seed_demo", "--quiet", verbosity=0)
    northwind = Customer.objects.get(name="Harborview Medical Center")
    partner = northwind.partner
    invoice = (
        Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR, customer=northwind)
        .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID])
        .order_by("-total_units")
        .first()
    )
    proforma = Proforma.objects.filter(partner=partner).order_by("-bill_total_units").first()
    service = Service.objects.filter(request__partner=partner).order_by("-id").first()
    office_request = (
        ServiceRequest.objects.filter(partner=partner, services__isnull=False).order_by("-id").distinct().first()
    )
    portal_request = ServiceRequest.objects.filter(customer=northwind, services__isnull=False).order_by("-id").first()
    return {
        "office": [
            ("office dashboard", reverse("office:dashboard")),
            ("AR invoice list", reverse("office:ar_invoice_list")),
            ("AP invoice list", reverse("office:ap_invoice_list")),
            (f"invoice {invoice.number}", reverse("office:invoice_detail", args=[invoice.pk])),
            (f"proforma {proforma.pk}", reverse("office:proforma_detail", args=[proforma.pk])),
            ("customer list", reverse("office:customer_list")),
            (f"customer {northwind.name}", reverse("office:customer_detail", args=[northwind.pk])),
            ("request list", reverse("office:request_list")),
            (f"request {office_request.pk}", reverse("office:request_detail", args=[office_request.pk])),
            (f"service {service.pk}", reverse("office:service_detail", args=[service.pk])),
            ("aging report", reverse("office:report_aging")),
            ("revenue report", reverse("office:report_revenue")),
            ("rate cards", reverse("office:ratecard_rates")),
            ("company settings", reverse("office:company_settings")),
        ],
        "portal": [
            ("portal dashboard", reverse("portal:dashboard")),
            ("portal invoices", reverse("portal:invoice_list")),
            (f"portal invoice {invoice.number}", reverse("portal:invoice_detail", args=[invoice.pk])),
            ("portal requests", reverse("portal:request_list")),
            ("portal booking form", reverse("portal:request_create")),
            (f"portal request {portal_request.pk}", reverse("portal:request_detail", args=[portal_request.pk])),
        ],
    }


def overflowing_pages(browser, live_server, username: str, pages: list[tuple[str, str]]) -> list[str]:
    failures = []
    for viewport in (DESKTOP, PHONE):
        context = browser.new_context(base_url=live_server.url, viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(20000)
        sign_in(page, username, DEMO_PASSWORD)
        for name, url in pages:
            response = page.goto(url)
            page.wait_for_load_state("load")
            assert response.status == 200, f"{name} ({url}) answered {response.status}"
            problems = page.evaluate(OVERFLOW_JS, viewport is PHONE)
            if os.environ.get("LAYOUT_SCREENSHOTS"):  # a folder: each page at each width, to look at
                shot = f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}-{viewport['width']}.png"
                page.screenshot(path=os.path.join(os.environ["LAYOUT_SCREENSHOTS"], shot), full_page=True)
            if problems:
                failures.append(f"{name} at {viewport['width']} px ({url}):\n    " + "\n    ".join(problems))
        context.close()
    return failures


def test_office_pages_fit_1366_and_390_px(browser, live_server, demo):
    failures = overflowing_pages(browser, live_server, "northwind.admin", demo["office"])
    assert not failures, "Pages overflow horizontally:\n" + "\n".join(failures)


def test_portal_pages_fit_1366_and_390_px(browser, live_server, demo):
    failures = overflowing_pages(browser, live_server, "harborview.ap", demo["portal"])
    assert not failures, "Pages overflow horizontally:\n" + "\n".join(failures)


def test_phone_lists_are_cards_with_number_customer_status_and_amount(browser, live_server, demo):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    sign_in(page, "northwind.admin", DEMO_PASSWORD)
    page.goto(reverse("office:ar_invoice_list"))
    row = page.locator("table.table-cards tbody tr").first
    card = row.bounding_box()
    assert card["width"] <= PHONE["width"]
    for cell in ("td.fw-semibold", "td.list-party", "td .status-badge, td .badge", "td.num"):
        box = row.locator(cell).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], cell
    context.close()
