"""Invoice PDFs: what they show (read back with pypdf), that rendering reaches nothing outside the app's own
files and embeds nothing, and that an issued invoice's PDF is stored once, with failures recorded, never
blocking the issue.

Renders are slow-ish (~0.2 s each), so the rich multi-page invoice is rendered once per module."""

import datetime
import http.server
import io
import re
import threading
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from pypdf import PdfReader

from audit.recording import audit_trail
from expense_codes.models import AppliedExpenseCode
from invoicing.lifecycle import invoice_attach_child, invoice_issue
from invoicing.models import Invoice, OutboxJob, Slip
from invoicing.outbox_work import outbox_run
from invoicing.payments import payment_record
from invoicing.pdf import contents, documents, engine
from invoicing.pricing import invoice_discount_apply
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ProviderFactory,
    SlipFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_server():
    """A tiny HTTP server on a random port that records every request it receives."""

    class Handler(_Recorder):
        requests = []

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, Handler.requests
    server.shutdown()
    server.server_close()


def pdf_text(data: bytes) -> tuple[PdfReader, list[str]]:
    reader = PdfReader(io.BytesIO(data))
    return reader, [page.extract_text() for page in reader.pages]


def embedded_files(reader: PdfReader) -> list:
    """Every embedded file: in the document's name tree and in file-attachment annotations."""
    found = list(reader.attachments)
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            if annot.get_object().get("/Subtype") == "/FileAttachment":
                found.append(annot)
    return found


def hostile_text(port: int) -> str:
    return (
        f'<img src="http://127.0.0.1:{port}/x"> file:///etc/passwd '
        f'<link rel=attachment href="http://127.0.0.1:{port}/attach"> <b>bold</b> & more'
    )


@pytest.fixture(scope="module")
def rich(django_db_setup, django_db_blocker, http_server):
    """An issued AR invoice of three proformas (~120 lines: several pages) with codes, a hostile description,
    a payment and a child invoice, rendered once; the database work is rolled back afterwards."""
    server, requests = http_server
    port = server.server_address[1]
    with django_db_blocker.unblock(), transaction.atomic():
        partner = PartnerFactory(
            name="Harbor Interpreting",
            legal_name="Harbor Interpreting Services LLC",
            address="12 Wharf Street\nPortland, ME 04101",
            tax_id="12-3456789",
            email="billing@harbor.example",
        )
        customer = CustomerFactory(partner=partner, name="Mercy General Hospital")
        contact = customer.contacts.get(is_default=True)
        contact.name, contact.address = "Dana Whitfield", "400 Main St\nPortland, ME 04102"
        contact.save()
        provider = ProviderFactory(partner=partner)
        proformas = []
        for n in range(3):
            proforma = proforma_with_slips(customer=customer, provider=provider, amounts=[], number=f"PF-2026-0000{n}")
            for i in range(40):
                SlipFactory(
                    proforma=proforma,
                    slip_type=Slip.Type.SERVICE,
                    pay_schedule="weeknight",
                    description=f"Interpreting session {n}-{i}",
                    quantity=Decimal("2.5"),
                    bill_rate_units=Decimal(8500),
                    tax_rate=Decimal("8.25"),
                )
            proformas.append(proforma)
        invoice = draft_with_proformas(proformas=proformas, customer=customer)
        SlipFactory(proforma=None, invoice=invoice, description=hostile_text(port), bill_rate_units=Decimal(1000))
        AppliedExpenseCode.objects.create(invoice=invoice, label_name="Purchase order", value="PO-77812")
        invoice_discount_apply(invoice, 1200)  # spread over the lines: a discount column appears
        invoice = invoice_issue(invoice=invoice)
        payment_record(invoice=invoice, amount_units=10000, method="check", reference="1042")
        child = issued_invoice(CustomerFactory(partner=partner, name="County Health Fund"), [25000])
        invoice = invoice_attach_child(parent=invoice, child=child)
        invoice.refresh_from_db()
        data = documents.invoice_pdf_bytes(invoice=invoice)
        facts = {
            "number": invoice.number,
            "child_number": child.number,
            "total": invoice.total_units,
            "outstanding": invoice.outstanding_units,
            "contact_email": contact.email,
            "discount": invoice.discount_total_units,
        }
        transaction.set_rollback(True)
    reader, pages = pdf_text(data)
    text = "\n".join(pages)
    return {"data": data, "reader": reader, "pages": pages, "text": " ".join(text.split()), "facts": facts}


def money(units):
    from octoo_billing.money import format_units

    return format_units(units, "USD")


def test_pdf_shows_letterhead_number_contact_dates_and_codes(rich):
    text, facts = rich["text"], rich["facts"]
    for expected in [
        "Harbor Interpreting",
        "Harbor Interpreting Services LLC",
        "12 Wharf Street",
        "Tax ID 12-3456789",
        "billing@harbor.example",
        facts["number"],
        "Mercy General Hospital",
        "Dana Whitfield",
        "400 Main St",
        facts["contact_email"],
        "Issue date",
        "Due date",
        "Net 30 days",
        "Purchase order: PO-77812",
    ]:
        assert expected in text, expected


def test_pdf_groups_lines_by_proforma_with_service_date_rate_and_tax(rich):
    text = rich["text"]
    assert "PF-2026-00000 · service date" in text
    assert "PF-2026-00002 · service date" in text
    assert "Interpreting session 1-39 · weeknight rate" in text
    assert "2.5 × $85.00" in text
    assert re.search(r"\$1\d\.\d\d \(8\.25%\)", text)  # per-line tax (on the discounted amount) and its rate
    assert re.search(r"−\$0\.\d\d", text)  # per-line share of the invoice discount


def test_pdf_shows_totals_payments_child_contribution_and_balance(rich):
    text, facts = rich["text"], rich["facts"]
    assert "DISCOUNT" in text and f"Discounts −{money(facts['discount'])}" in text and facts["discount"] == 1200
    assert f"Total {money(facts['total'])}" in text
    assert "Paid" in text and "check 1042" in text and f"−{money(10000)}" in text
    assert f"Covered by {facts['child_number']}" in text and f"−{money(25000)}" in text
    assert f"Balance due {money(facts['outstanding'])}" in text
    assert facts["outstanding"] == facts["total"] - 10000 - 25000
    assert "Please pay by check, payable to Harbor Interpreting Services LLC" in text


def test_pdf_numbers_pages_and_repeats_the_table_header_on_every_page(rich):
    pages = rich["pages"]
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "DESCRIPTION" in page and "TOTAL" in page  # the thead, on every page


def test_issued_pdf_has_no_draft_watermark(rich):
    assert "DRAFT" not in rich["text"]


def test_hostile_description_is_printed_as_text_and_fetches_nothing(rich, http_server):
    _server, requests = http_server
    text = rich["text"]
    assert "<img src=" in text and "file:///etc/passwd" in text and "<link rel=attachment" in text
    assert "<b>bold</b> & more" in text  # escaped, so printed as typed
    assert requests == []
    assert embedded_files(rich["reader"]) == []
    assert b"root:x:0:0" not in rich["data"]


def test_raw_html_cannot_reach_the_network_or_files_or_embed_attachments(http_server):
    """Defence in depth: even markup that escaped the templates' autoescape loads nothing outside the app."""
    server, requests = http_server
    port = server.server_address[1]
    html = f"""<html><head>
      <link rel="stylesheet" href="http://127.0.0.1:{port}/style.css">
      <link rel="attachment" href="file:///etc/passwd">
      <link rel="attachment" href="http://127.0.0.1:{port}/attach.bin">
      <link rel="attachment" href="/static/fonts/DejaVu-LICENSE.txt">
      </head><body>
      <img src="http://127.0.0.1:{port}/pixel.png">
      <img src="https://127.0.0.1:{port}/pixel.png">
      <img src="file:///etc/passwd">
      <img src="/static/../../../../etc/passwd">
      <img src="/media/../../../../etc/passwd">
      <div style="background: url(http://127.0.0.1:{port}/bg.png)">x</div>
      <a rel="attachment" href="http://127.0.0.1:{port}/a.bin">attached?</a>
      <a rel="attachment" href="file:///etc/passwd">attached too?</a>
      <iframe src="http://127.0.0.1:{port}/frame"></iframe>
      <object data="http://127.0.0.1:{port}/object"></object>
      <p>body text</p></body></html>"""
    data = engine.html_to_pdf(html)
    reader, pages = pdf_text(data)
    assert "body text" in pages[0]
    assert requests == []
    assert embedded_files(reader) == []
    assert b"root:x:0:0" not in data


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x.png",
        "https://example.com/x.png",
        "https://octoo-billing.invalid.evil.example/static/fonts/DejaVuSans.ttf",
        "file:///etc/passwd",
        "data:text/plain,hello",
        "ftp://example.com/x",
        "https://octoo-billing.invalid/static/../../../../etc/passwd",
        "https://octoo-billing.invalid/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "https://octoo-billing.invalid/media/../../../etc/passwd",
        "https://octoo-billing.invalid/etc/passwd",
    ],
)
def test_fetcher_refuses_anything_but_the_apps_static_and_media_files(url):
    fetcher = engine.url_fetcher()
    with pytest.raises(Exception):  # noqa: B017 - WeasyPrint treats any exception as "not loaded"
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_fetcher_serves_bundled_fonts_and_media_files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    fetcher = engine.url_fetcher()
    font = fetcher.fetch("https://octoo-billing.invalid/static/fonts/DejaVuSans.ttf")
    assert font.read()[:4] == b"\x00\x01\x00\x00"  # a TrueType font
    assert fetcher.fetch("https://octoo-billing.invalid/media/logo.png").read().startswith(b"\x89PNG")
    assert fetcher.fetch((tmp_path / "logo.png").as_uri()).read().startswith(b"\x89PNG")  # file:// inside media


def test_one_font_configuration_and_stylesheet_per_process():
    first = engine._print_assets()
    engine.html_to_pdf("<p>one</p>")
    assert engine._print_assets()[0] is first[0] and engine._print_assets()[1] is first[1]


def test_draft_renders_on_demand_with_a_draft_watermark(customer):
    invoice = draft_invoice(customer, [5000])
    _reader, pages = pdf_text(documents.invoice_pdf_bytes(invoice=invoice))
    assert "DRAFT" in pages[0]
    assert "not issued" in pages[0]
    assert not Invoice.objects.get(pk=invoice.pk).pdf  # nothing stored for a draft


def test_ap_invoice_renders_the_pay_side(partner):
    customer = CustomerFactory(partner=partner)
    provider = ProviderFactory(partner=partner, name="Ana Ruiz Interpreting")
    proforma = proforma_with_slips(customer=customer, provider=provider, amounts=[10000], number="PF-2026-00077")
    invoice = invoice_issue(invoice=draft_with_proformas(proformas=[proforma], provider=provider))
    _reader, pages = pdf_text(documents.invoice_pdf_bytes(invoice=invoice))
    text = "\n".join(pages)
    assert "AP INVOICE" in text and invoice.number in text
    assert "Ana Ruiz Interpreting" in text
    assert f"Total {money(6000)}" in text  # the pay side (60%), not the $100.00 billed
    assert "$100.00" not in text


def test_proforma_renders_bill_and_pay_sides(customer):
    proforma = proforma_with_slips(customer=customer, amounts=[10000], number="PF-2026-00123")
    _reader, bill = pdf_text(documents.proforma_pdf_bytes(proforma=proforma))
    _reader, pay = pdf_text(documents.proforma_pdf_bytes(proforma=proforma, side="pay"))
    assert "PF-2026-00123" in bill[0] and "$100.00" in bill[0]
    assert "earned by provider" in pay[0] and "$60.00" in pay[0]


def test_card_customer_with_auto_charge_reads_the_card_it_will_be_charged_to(fake_render, partner):
    customer = CustomerFactory(
        partner=partner, payment_method="card", auto_charge=True, card_token="sim_ok_x", card_last4="4242"
    )
    documents.invoice_pdf_bytes(invoice=issued_invoice(customer, [5000]))
    assert "will be charged to the card on file ending <strong>4242</strong>" in fake_render[-1]


# --- stored at issue ----------------------------------------------------------------------------------------


@pytest.fixture
def fake_render(monkeypatch):
    """Replace WeasyPrint with a recorder: the HTML each render got; returns a tiny PDF."""
    seen = []

    def render(html_text, **kwargs):
        seen.append(html_text)
        return b"%PDF-1.7\n% test render " + str(len(seen)).encode() + b"\n%%EOF\n"

    monkeypatch.setattr(documents, "html_to_pdf", render)
    return seen


@pytest.fixture
def hooks_on(settings, tmp_path):
    """An issue's commit drains the outbox (django-q2 runs it inline in tests), so the PDF job runs then."""
    settings.OUTBOX_NUDGE = True
    settings.MEDIA_ROOT = tmp_path
    return settings


def pdf_job(invoice) -> OutboxJob:
    return OutboxJob.objects.get(invoice=invoice, kind=OutboxJob.Kind.PDF)


def test_issuing_stores_the_pdf_once_and_it_never_changes(
    hooks_on, fake_render, customer, django_capture_on_commit_callbacks
):
    customer.auto_send = False
    customer.save()
    draft = draft_invoice(customer, [12000])
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue(invoice=draft)
    invoice.refresh_from_db()
    assert invoice.pdf.name.endswith(f"{invoice.number}.pdf")
    stored = invoice.pdf.read()
    assert stored.startswith(b"%PDF")
    assert len(fake_render) == 1 and invoice.number in fake_render[0]

    payment_record(invoice=invoice, amount_units=2000, method="card")
    again = documents.invoice_pdf_store(invoice=invoice)
    data, filename = documents.invoice_pdf_open(invoice=invoice)
    assert len(fake_render) == 1  # never re-rendered
    assert again.pdf.name == invoice.pdf.name and data == stored and filename == f"{invoice.number}.pdf"
    assert [e.action for e in audit_trail(invoice)].count("pdf_stored") == 1


def test_a_rendering_failure_is_recorded_and_never_blocks_issuing(
    hooks_on, monkeypatch, customer, django_capture_on_commit_callbacks
):
    customer.auto_send = False
    customer.save()

    def broken(html_text, **kwargs):
        raise RuntimeError("Pango ran out of glyphs")

    monkeypatch.setattr(documents, "html_to_pdf", broken)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue(invoice=draft_invoice(customer, [12000]))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and invoice.number  # issued and numbered all the same
    assert not invoice.pdf
    assert "Pango ran out of glyphs" in invoice.pdf_error
    assert "pdf_failed" in [e.action for e in audit_trail(invoice)]

    job = pdf_job(invoice)
    assert job.status == OutboxJob.Status.PENDING and "Pango ran out of glyphs" in job.last_error

    # The retry (the outbox runs the job again after its backoff) stores it and clears the error.
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: b"%PDF-1.7\n%%EOF\n")
    assert outbox_run(now=timezone.now() + datetime.timedelta(hours=2)).done == 1
    invoice.refresh_from_db()
    assert invoice.pdf and invoice.pdf_error == ""
    job.refresh_from_db()
    assert job.status == OutboxJob.Status.DONE and job.attempts == 2 and job.last_error == ""


def test_a_pdf_job_that_fails_is_retried_by_the_outbox_with_backoff(hooks_on, monkeypatch, customer):
    customer.auto_send = False
    customer.save()
    invoice = issued_invoice(customer, [12000])  # not committed: the job waits for the worker
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: 1 / 0)
    report = outbox_run()
    assert report.retried == 1 and report.results == [f"{pdf_job(invoice).key}: pending"]
    job = pdf_job(invoice)
    assert job.status == OutboxJob.Status.PENDING and job.attempts == 1 and job.run_after > timezone.now()
    assert "The PDF could not be rendered: ZeroDivisionError" in job.last_error
    assert not Invoice.objects.get(pk=invoice.pk).pdf


def test_a_draft_has_no_stored_pdf(customer):
    with pytest.raises(documents.PdfRenderError):
        documents.invoice_pdf_store(invoice=draft_invoice(customer, [100]))


def test_pdf_context_costs_a_fixed_number_of_queries(customer, django_assert_max_num_queries):
    small = draft_with_proformas(proformas=[proforma_with_slips(customer=customer)], customer=customer)
    big = draft_with_proformas(
        proformas=[proforma_with_slips(customer=customer, amounts=[100] * 5) for _ in range(6)], customer=customer
    )
    with django_assert_max_num_queries(8):
        contents.invoice_pdf_context(small)
    with django_assert_max_num_queries(8):
        context = contents.invoice_pdf_context(big)
    assert sum(len(group.lines) for group in context["groups"]) == 30


def test_pdf_lines_beyond_the_first_read_come_in_chunks_in_the_same_order(customer, monkeypatch):
    big = draft_with_proformas(
        proformas=[proforma_with_slips(customer=customer, amounts=[100 + i] * 5) for i in range(3)], customer=customer
    )
    at_once = [line.total for group in contents.invoice_pdf_context(big)["groups"] for line in group.lines]
    monkeypatch.setattr(contents, "LINES_AT_ONCE", 4)  # 4 lines in one query, the other 11 through the cursor
    chunked = [line.total for group in contents.invoice_pdf_context(big)["groups"] for line in group.lines]
    assert len(at_once) == 15 and chunked == at_once


def test_a_pdf_job_whose_worker_died_is_claimed_again_and_the_invoice_gets_its_pdf_once(
    hooks_on, fake_render, customer
):
    """A worker killed mid-render leaves the job "running" with a lease; once the lease has run out, the next
    worker claims it again and stores the PDF, once."""
    customer.auto_send = False
    customer.save()
    invoice = issued_invoice(customer, [12000])  # not committed: the job waits for the worker
    job = pdf_job(invoice)
    past = timezone.now() - datetime.timedelta(minutes=1)
    OutboxJob.objects.filter(pk=job.pk).update(
        status=OutboxJob.Status.RUNNING, attempts=1, lease_until=past, claimed_by="a worker that died"
    )

    report = outbox_run()

    assert report.results == [f"{job.key}: done"]
    job.refresh_from_db()
    assert job.status == OutboxJob.Status.DONE and job.attempts == 2 and job.claimed_by != "a worker that died"
    assert Invoice.objects.get(pk=invoice.pk).pdf
    assert len(fake_render) == 1 and invoice.number in fake_render[0]
    assert outbox_run(now=timezone.now() + datetime.timedelta(hours=2)).results == []  # nothing left: one PDF
    assert len(fake_render) == 1
    assert [e.action for e in audit_trail(invoice)].count("pdf_stored") == 1


def test_a_running_pdf_job_is_not_claimed_again_before_its_lease_runs_out(hooks_on, fake_render, customer):
    customer.auto_send = False
    customer.save()
    invoice = issued_invoice(customer, [12000])
    job = pdf_job(invoice)
    OutboxJob.objects.filter(pk=job.pk).update(
        status=OutboxJob.Status.RUNNING,
        attempts=1,
        lease_until=timezone.now() + datetime.timedelta(minutes=5),
        claimed_by="a worker still rendering",
    )
    assert outbox_run().results == []
    assert fake_render == [] and not Invoice.objects.get(pk=invoice.pk).pdf
