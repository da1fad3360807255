"""Every main page fits the screen, in a real browser (Debian's Chromium) on the demo data: at 1366 px nothing
scrolls sideways, not even a table inside its .table-responsive box; on a 390 px phone the page itself never
scrolls sideways (a wide table may scroll inside its .table-responsive box), list rows are cards and each card
names its figures (the cells' `data-label`, shown by static/css/app.css under 576 px), while at 1366 px the same
table is a table with no labels in its cells.

The demo is seeded once; each role signs in once and visits every page at both widths (the viewport is resized in
the same browser context). Every page that overflows or shows an unlabelled card is reported, with its width and
the elements at fault, in a single failure per role."""

import os
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from customers.models import Customer, Provider
from demo.people import DEMO_PASSWORD
from invoicing.models import BillingRun, CreditNote, Invoice, Proforma, Service, ServiceRequest
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

# The first row of each card table (table.table-cards) on the page: whether the table is still a table, and each
# visible labelled cell's label as the page shows it (the ::before content, "" when none is shown), with its box.
CARDS_JS = """
() => [...document.querySelectorAll('table.table-cards')].map((table) => {
  // the first row with the most labelled cells among the first few (a group's header row has fewer)
  const rows = [...table.querySelectorAll(':scope > tbody > tr')].slice(0, 6);
  const count = (r) => r.querySelectorAll(':scope > td[data-label]').length;
  const row = rows.reduce((best, r) => (best === null || count(r) > count(best) ? r : best), null);
  const cells = row ? [...row.querySelectorAll(':scope > td[data-label]')] : [];
  const shown = cells.filter((cell) => getComputedStyle(cell).display !== 'none');
  return {
    display: getComputedStyle(table).display,
    rowWidth: row ? row.getBoundingClientRect().width : 0,
    labels: shown.map((cell) => {
      const before = getComputedStyle(cell, '::before');
      const content = before.display === 'none' ? 'none' : before.content;
      const box = cell.getBoundingClientRect();
      return {
        label: cell.dataset.label,
        shown: content === 'none' || content === 'normal' ? '' : JSON.parse(content),
        left: box.left,
        right: box.right,
      };
    }),
  };
})
"""


def page_url(name, *args):
    return reverse(name, args=args)


@pytest.fixture
def demo():
    """The demo seeded once, and the pages to visit: (name, url, the labels a phone card must show on that page's
    first card table, or None for a page whose tables need not be cards)."""
    call_command("seed_demo", "--quiet", verbosity=0)
    harborview = Customer.objects.get(name="Harborview Medical Center")
    partner = harborview.partner
    ar = Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR, customer=harborview)
    invoice = ar.exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID]).order_by("-total_units").first()
    ap_invoice = (
        Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AP).exclude(status=Invoice.Status.DRAFT).first()
    )
    proforma = Proforma.objects.filter(partner=partner).order_by("-bill_total_units").first()
    service = Service.objects.filter(request__partner=partner).order_by("-id").first()
    office_request = (
        ServiceRequest.objects.filter(partner=partner, services__isnull=False).order_by("-id").distinct().first()
    )
    portal_request = ServiceRequest.objects.filter(customer=harborview, services__isnull=False).order_by("-id").first()
    provider = Provider.objects.filter(partner=partner).order_by("id").first()
    credit_note = CreditNote.objects.filter(invoice__partner=partner).order_by("-id").first()
    run = BillingRun.objects.filter(partner=partner).order_by("-id").first()
    office = [
        ("office dashboard", page_url("office:dashboard"), None),
        ("AR invoice list", page_url("office:ar_invoice_list"), ["Issued", "Due", "Total", "Outstanding"]),
        ("AP invoice list", page_url("office:ap_invoice_list"), ["Issued", "Due", "Total", "Outstanding"]),
        (f"invoice {invoice.number}", page_url("office:invoice_detail", invoice.pk), ["Qty", "Rate", "Tax", "Total"]),
        (f"AP invoice {ap_invoice}", page_url("office:invoice_detail", ap_invoice.pk), ["Qty", "Pay rate", "Total"]),
        ("proforma list", page_url("office:proforma_list"), ["Service date", "Billed", "Provider pay"]),
        (f"proforma {proforma.pk}", page_url("office:proforma_detail", proforma.pk), ["Qty", "Bill total"]),
        ("service list", page_url("office:service_list"), ["When", "Hours"]),
        (f"service {service.pk}", page_url("office:service_detail", service.pk), None),
        ("request list", page_url("office:request_list"), ["Created", "Services"]),
        (f"request {office_request.pk}", page_url("office:request_detail", office_request.pk), ["When"]),
        ("customer list", page_url("office:customer_list"), ["Terms", "Open balance"]),
        (f"customer {harborview.name}", page_url("office:customer_detail", harborview.pk), ["Total", "Balance"]),
        (
            f"statement of {harborview.name}",
            page_url("office:customer_statement", harborview.pk),
            ["Balance"],
        ),
        ("provider list", page_url("office:provider_list"), ["Terms", "Owed on open AP"]),
        (f"provider {provider.name}", page_url("office:provider_detail", provider.pk), ["Total", "Balance"]),
        ("payment list", page_url("office:payment_list"), ["Received on", "Method"]),
        ("refund list", page_url("office:refund_list"), None),
        ("credit note list", page_url("office:credit_note_list"), None),
        ("run list", page_url("office:run_list"), None),
        ("shift list", page_url("office:shift_list"), None),
        ("aging report", page_url("office:report_aging"), None),
        ("revenue report", page_url("office:report_revenue"), None),
        ("rate cards", page_url("office:ratecard_rates"), None),
        ("company settings", page_url("office:company_settings"), None),
    ]
    if credit_note is not None:
        office.append(
            (f"credit note {credit_note.number}", page_url("office:credit_note_detail", credit_note.pk), None)
        )
    if run is not None:
        office.append((f"run {run.pk}", page_url("office:run_detail", run.pk), None))
    portal = [
        ("portal dashboard", page_url("portal:dashboard"), ["Issued", "Due", "Total", "To pay"]),
        ("portal invoices", page_url("portal:invoice_list"), ["Issued", "Due", "Total", "To pay"]),
        (
            f"portal invoice {invoice.number}",
            page_url("portal:invoice_detail", invoice.pk),
            ["Qty × unit price", "Line total"],
        ),
        ("portal requests", page_url("portal:request_list"), ["Service date", "Total"]),
        ("portal booking form", page_url("portal:request_create"), None),
        (f"portal request {portal_request.pk}", page_url("portal:request_detail", portal_request.pk), None),
        ("portal statement", page_url("portal:statement"), ["Balance"]),
        ("portal settings", page_url("portal:settings"), None),
    ]
    return {"office": office, "portal": portal}


def card_problems(page, viewport, expected: list[str] | None) -> list[str]:
    """At 390 px: the first card table's first row is a card inside the screen whose labelled cells show their
    labels, among them every one `expected`; at 1366 px every card table is still a table with no label shown."""
    tables = page.evaluate(CARDS_JS)
    problems = []
    if viewport is DESKTOP:
        for table in tables:
            if table["display"] != "table":
                problems.append(f"a list is shown as {table['display']!r}, not as a table")
            problems += [
                f"the label {cell['label']!r} shows in a table cell" for cell in table["labels"] if cell["shown"]
            ]
        return problems
    if expected is None:
        return problems
    rows = [table for table in tables if table["labels"]]
    if not rows:
        return ["no list of cards with labelled cells"]
    first = rows[0]
    if first["display"] == "table" or first["rowWidth"] > viewport["width"]:
        problems.append(f"the first list is not cards ({first['display']}, a row {first['rowWidth']:.0f} px wide)")
    shown = {cell["shown"] for cell in first["labels"]}
    problems += [
        f"the card does not show the label {label!r} (shows {sorted(shown)})"
        for label in expected
        if label not in shown
    ]
    for cell in first["labels"]:
        if cell["shown"] != cell["label"] and cell["shown"]:
            problems.append(f"the cell labelled {cell['label']!r} shows {cell['shown']!r}")
        if cell["left"] < 0 or cell["right"] > viewport["width"] + 1:
            problems.append(
                f"the cell {cell['label']!r} sticks out of the card ({cell['left']:.0f}–{cell['right']:.0f})"
            )
    return problems


def layout_problems(browser, live_server, username: str, pages, on_phone_list=None) -> list[str]:
    """Sign in once, visit every page at 1366 px then at 390 px; ``on_phone_list(page)``, if given, looks further
    at the first page at 390 px (a list) and returns its problems."""
    failures = []
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(20000)
    sign_in(page, username, DEMO_PASSWORD)
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        for name, url, labels in pages:
            response = page.goto(url)
            page.wait_for_load_state("load")
            assert response.status == 200, f"{name} ({url}) answered {response.status}"
            problems = page.evaluate(OVERFLOW_JS, viewport is PHONE) + card_problems(page, viewport, labels)
            if on_phone_list is not None and viewport is PHONE and labels:
                problems += on_phone_list(page)
                on_phone_list = None
            if os.environ.get("LAYOUT_SCREENSHOTS"):  # a folder: each page at each width, to look at
                shot = f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}-{viewport['width']}.png"
                page.screenshot(path=os.path.join(os.environ["LAYOUT_SCREENSHOTS"], shot), full_page=True)
            if problems:
                failures.append(f"{name} at {viewport['width']} px ({url}):\n    " + "\n    ".join(problems))
    context.close()
    return failures


def invoice_card_problems(page) -> list[str]:
    """An AR invoice list row at 390 px as a reader sees it: the number and the status on one line, the customer
    under them, "Total" beside a figure, all inside the screen."""
    row = page.locator("table.table-cards tbody tr").first
    boxes = {}
    for cell in ("td.fw-semibold", "td.list-status", "td.list-party", "td.num[data-label=Total]"):
        box = row.locator(cell).first.bounding_box()
        if box is None or box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]:
            return [f"the invoice card's {cell} is missing or outside the screen ({box})"]
        boxes[cell] = box
    number, status, party = boxes["td.fw-semibold"], boxes["td.list-status"], boxes["td.list-party"]
    problems = []
    if abs(number["y"] - status["y"]) >= number["height"]:
        problems.append("the invoice card's status is not on the number's line")
    if party["y"] < number["y"] + number["height"] - 1:
        problems.append("the invoice card's customer is not under its number")
    total = row.locator("td.num[data-label=Total]")
    if total.evaluate("(cell) => getComputedStyle(cell, '::before').content") != '"Total"' or not re.search(
        r"\d", total.inner_text()
    ):
        problems.append("the invoice card's total is not labelled Total beside a figure")
    return problems


def test_every_main_page_fits_1366_and_390_px_and_phone_lists_are_labelled_cards(browser, live_server, demo):
    failures = layout_problems(browser, live_server, "northwind.admin", demo["office"], invoice_card_problems)
    failures += layout_problems(browser, live_server, "harborview.ap", demo["portal"])
    assert not failures, "Pages overflow or show unlabelled cards:\n" + "\n".join(failures)
