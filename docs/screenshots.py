"""Screenshots of the main pages for the README (`make screenshots`).

Loads the demo data into a throw-away SQLite file, serves it, and photographs the pages with Debian's
Chromium through Playwright. The stamped PDF's first page is drawn with poppler's pdftoppm (Debian's
poppler-utils). Writes docs/screenshots/*.png.
"""

import datetime
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

STAFF_PAGES = [
    ("office-dashboard", "/office/"),
    ("ar-invoices", "/office/invoices/ar/"),
    ("invoice-detail", "INVOICE"),
    ("new-invoice", "NEW_INVOICE"),
    ("customer-detail", "CUSTOMER"),
    ("aging-report", "/office/reports/aging/"),
    ("revenue-report", "/office/reports/revenue/"),
    ("tax-report", "/office/reports/tax/"),
    ("new-request", "NEW_REQUEST"),
    ("service-import", "/office/services/import/"),
    ("runs", "/office/runs/"),
    ("company-settings", "/office/settings/company/"),
    ("search", "/office/search/?q=harbor"),
    ("credit-note", "CREDIT_NOTE"),
    ("statement", "STATEMENT"),
    ("rate-cards", "/office/settings/rate-cards/"),
    ("price-preview", "PRICE_PREVIEW"),
]

CUSTOMER_PAGES = [
    (
        "harborview.ap",
        [
            ("portal-dashboard", "/portal/"),
            ("portal-requests", "/portal/requests/"),
            ("portal-booking", "/portal/requests/new/"),
            ("portal-request", "FIRST_REQUEST"),
            ("portal-expense-codes", "/portal/settings/expense-codes/"),
            ("portal-contacts", "/portal/settings/contacts/"),
        ],
    ),
    ("lakeshore.office", [("portal-quote", "FIRST_REQUEST")]),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    tmp = tempfile.mkdtemp()
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp}/shots.sqlite3", "MEDIA_ROOT": tmp}
    py = sys.executable
    for command in (["migrate", "-v0"], ["seed_demo"]):
        subprocess.run([py, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    ids = subprocess.run(
        [
            py,
            "manage.py",
            "shell",
            "-c",
            "from invoicing.models import CreditNote, Invoice, Service; from customers.models import Customer;"
            "i = Invoice.objects.filter(partner__slug='northwind', status='partially_paid').order_by('id').first();"
            "c = Customer.objects.filter(partner__slug='northwind').order_by('id').first();"
            "n = CreditNote.objects.filter(partner__slug='northwind', refunds__isnull=False).first();"
            "p = CreditNote.objects.filter(partner__slug='northwind', invoice__status='partially_paid').first();"
            "s = Service.objects.filter(partner__slug='northwind', proforma__isnull=False, zone_source='address',"
            " provider__isnull=False, prep_minutes__gt=0).order_by('id').first();"
            "print(i.pk, c.pk, n.pk, n.customer_id, p.invoice_id, s.pk)",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    invoice_id, customer_id, note_id, note_customer_id, credited_invoice_id, service_id = ids[-6:]
    port = free_port()
    server = subprocess.Popen(
        [py, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        from playwright.sync_api import sync_playwright

        base = f"http://127.0.0.1:{port}"
        today = datetime.date.today()
        since = (today - datetime.timedelta(days=100)).replace(day=1)  # the demo's three months of history
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 900})

            def sign_in(username):
                page.context.clear_cookies()
                page.goto(f"{base}/accounts/login/")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", "demo12345")
                page.click("form [type=submit]")
                page.wait_for_load_state()

            sign_in("northwind.admin")
            paths = {
                "INVOICE": f"/office/invoices/{invoice_id}/",
                "NEW_INVOICE": f"/office/invoices/new/?customer={customer_id}",
                "CUSTOMER": f"/office/customers/{customer_id}/",
                "NEW_REQUEST": f"/office/requests/new/?customer={customer_id}",
                "CREDIT_NOTE": f"/office/credit-notes/{note_id}/",
                "STATEMENT": f"/office/customers/{note_customer_id}/statement/?start={since}&end={today}",
                "PRICE_PREVIEW": f"/office/settings/rate-cards/price-preview/?service={service_id}",
            }
            # The invoice's PDF as a customer got it (stored on first download), as the worker would have.
            page.request.get(f"{base}/office/invoices/{invoice_id}/pdf/")
            for name, path in STAFF_PAGES:
                page.goto(base + paths.get(path, path))
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
                print("wrote", OUT / f"{name}.png")
            stamped_pdf_shot(page.request.get(f"{base}/office/invoices/{credited_invoice_id}/pdf/").body(), tmp)
            for username, pages in CUSTOMER_PAGES:
                sign_in(username)
                for name, path in pages:
                    if path == "FIRST_REQUEST":  # the newest request: today's booking
                        page.goto(base + "/portal/requests/")
                        page.locator("main table a[href*='/portal/requests/']").first.click()
                        page.wait_for_load_state()
                    else:
                        page.goto(base + path)
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=name == "portal-booking")
                    print("wrote", OUT / f"{name}.png")
            browser.close()
    finally:
        server.terminate()
        server.wait()


def stamped_pdf_shot(pdf: bytes, tmp: str) -> None:
    """The first page of an invoice's PDF as downloaded after a payment and a credit: stamped over the original."""
    source = Path(tmp) / "stamped.pdf"
    source.write_bytes(pdf)
    target = OUT / "stamped-pdf"
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", source, target], check=True)
    print("wrote", OUT / "stamped-pdf.png")


if __name__ == "__main__":
    main()
