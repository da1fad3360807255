"""The company settings where they are used: the logo, remittance text and bank details on invoice PDFs, the
sender on e-mails, and the partner's time zone in pricing, periods, issue dates and "overdue" whoever runs them
(a page, the worker, a command)."""

import datetime
import io
import logging
from unittest import mock

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from customers.company import company_settings_update
from invoicing.delivery import invoice_send
from invoicing.invoice_runs import ar_run
from invoicing.lifecycle import invoice_issue, invoices_mark_overdue
from invoicing.models import Invoice, PaySchedule, Rate
from invoicing.payments import payment_record
from invoicing.pdf import documents
from invoicing.proformas import proforma_generate
from invoicing.schedules import split_by_pay_schedule
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ProviderFactory,
    ServiceFactory,
    ServiceRequestFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40" width="120" height="40">'
    '<rect width="40" height="40" rx="8" fill="#1f5f8b"/></svg>'
)
REMITTANCE = "Pay by ACH to the account below, quoting the invoice number."


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def fake_render(monkeypatch):
    """WeasyPrint replaced by a recorder of the HTML each render got."""
    seen = []

    def render(html_text, **kwargs):
        seen.append(html_text)
        return b"%PDF-1.7\n% test render\n%%EOF\n"

    monkeypatch.setattr(documents, "html_to_pdf", render)
    return seen


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 20), (31, 95, 139)).save(buffer, format="PNG")
    return buffer.getvalue()


def set_up(partner, logo=("logo.svg", SVG.encode()), **values):
    name, content = logo
    return company_settings_update(
        partner=partner,
        user=None,
        logo=SimpleUploadedFile(name, content),
        remittance=REMITTANCE,
        bank_name="Harbor Bank",
        bank_account_name="Harbor Interpreting LLC",
        bank_account_number="000418275563",
        bank_routing="121000358",
        **values,
    )


# --- the PDF ------------------------------------------------------------------------------------------------


def test_the_stored_pdf_shows_the_logo_remittance_text_and_bank_details(fake_render, partner):
    partner = set_up(partner)
    invoice = issued_invoice(CustomerFactory(partner=partner), [12000])
    documents.invoice_pdf_store(invoice=invoice)
    html = fake_render[-1]
    assert f'<img class="logo" src="https://octoo-billing.invalid/media/{partner.logo.name}"' in html
    assert REMITTANCE in html
    for detail in ("Harbor Bank", "Harbor Interpreting LLC", "000418275563", "121000358", invoice.number):
        assert detail in html


def test_the_logo_is_loaded_from_media_and_drawn(partner, caplog):
    partner = set_up(partner, logo=("logo.png", png_bytes()))
    invoice = issued_invoice(CustomerFactory(partner=partner), [12000])
    with caplog.at_level(logging.WARNING, logger="invoicing.pdf.engine"):
        data = documents.invoice_pdf_bytes(invoice=invoice)
    assert "refused" not in caplog.text
    page = PdfReader(io.BytesIO(data)).pages[0]
    assert page.images, "the logo is drawn on the first page"
    text = " ".join(page.extract_text().split())
    assert "quoting the invoice number" in text and "000418275563" in text


def test_an_svg_logo_renders_without_loading_anything_else(partner, caplog):
    partner = set_up(partner)
    invoice = issued_invoice(CustomerFactory(partner=partner), [12000])
    with caplog.at_level(logging.WARNING, logger="invoicing.pdf.engine"):
        assert documents.invoice_pdf_bytes(invoice=invoice).startswith(b"%PDF")
    assert "refused" not in caplog.text


def test_ap_and_paid_invoices_carry_no_remittance(fake_render, partner):
    partner = set_up(partner)
    customer = CustomerFactory(partner=partner)
    provider = ProviderFactory(partner=partner)
    proforma = proforma_with_slips(customer=customer, provider=provider, amounts=[10000], number="PF-2026-00001")
    bill = invoice_issue(invoice=draft_with_proformas(proformas=[proforma], provider=provider))
    documents.invoice_pdf_bytes(invoice=bill)
    assert REMITTANCE not in fake_render[-1] and "000418275563" not in fake_render[-1]
    paid = issued_invoice(customer, [5000])
    payment_record(invoice=paid, amount_units=5000, method="check", reference="1042")
    documents.invoice_pdf_bytes(invoice=Invoice.objects.get(pk=paid.pk))
    assert REMITTANCE not in fake_render[-1]
    assert partner.logo.name in fake_render[-1]  # the letterhead keeps its logo


def test_without_company_settings_the_pdf_is_as_before(fake_render, customer):
    documents.invoice_pdf_bytes(invoice=draft_invoice(customer, [5000]))
    assert 'class="logo"' not in fake_render[-1] and 'class="remittance"' not in fake_render[-1]


# --- the e-mail ------------------------------------------------------------------------------------------------


def test_the_email_comes_from_the_sender_name_and_address(fake_render):
    partner = PartnerFactory(name="Harbor Interpreting", email="billing@harbor.example")
    company_settings_update(partner=partner, user=None, email_sender_name="Harbor Billing Team")
    invoice_send(invoice=issued_invoice(CustomerFactory(partner=partner), [5000]))
    message = mail.outbox[-1]
    assert message.from_email == "Harbor Billing Team <billing@harbor.example>"
    assert message.reply_to == ["billing@harbor.example"]
    assert message.body.rstrip().endswith("Harbor Billing Team\nHarbor Interpreting")


def test_without_a_sender_name_the_company_name_is_the_sender(fake_render):
    partner = PartnerFactory(name="Harbor Interpreting", email="billing@harbor.example")
    invoice_send(invoice=issued_invoice(CustomerFactory(partner=partner), [5000]))
    assert mail.outbox[-1].from_email == "Harbor Interpreting <billing@harbor.example>"


def test_a_sender_name_without_an_address_names_the_apps_address(fake_render, settings):
    settings.DEFAULT_FROM_EMAIL = "invoices@octoo.example"
    partner = PartnerFactory(email="")
    company_settings_update(partner=partner, user=None, email_sender_name="Harbor Billing")
    invoice_send(invoice=issued_invoice(CustomerFactory(partner=partner), [5000]))
    assert mail.outbox[-1].from_email == "Harbor Billing <invoices@octoo.example>"


# --- the partner's time zone, whoever runs the work ------------------------------------------------------------


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


@pytest.mark.parametrize("active", ["UTC", "Asia/Tokyo", "America/Los_Angeles"])
def test_pay_schedules_are_read_in_the_partners_zone_whatever_zone_is_active(active):
    partner = PartnerFactory(time_zone="America/Los_Angeles")
    # Wednesday 02:00-04:00 UTC is Tuesday 18:00-20:00 in Los Angeles (PST): weeknight hours there.
    with timezone.override(active):
        minutes = split_by_pay_schedule(utc(2026, 1, 14, 2), utc(2026, 1, 14, 4), partner=partner, holidays=set())
    assert dict(minutes) == {PaySchedule.WEEKNIGHT: 120}


def test_a_proforma_is_dated_on_the_partners_day_of_the_service():
    partner = PartnerFactory(time_zone="America/Los_Angeles")
    customer = CustomerFactory(partner=partner)
    Rate.objects.create(
        partner=partner, slip_type="service", pay_schedule="weeknight", bill_rate_units=9000, pay_rate_units=6000
    )
    starts = utc(2026, 1, 14, 2)  # Tuesday 13 January, 18:00 in Los Angeles
    service = ServiceFactory(
        request=ServiceRequestFactory(customer=customer),
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=1),
    )
    proforma = proforma_generate(service=service)
    assert proforma.service_date == datetime.date(2026, 1, 13)
    assert proforma.slips.get().pay_schedule == PaySchedule.WEEKNIGHT


def test_an_invoice_issued_by_the_worker_is_dated_on_the_partners_today():
    partner = PartnerFactory(time_zone="America/Los_Angeles")
    draft = draft_invoice(CustomerFactory(partner=partner), [5000])
    with mock.patch("django.utils.timezone.now", return_value=utc(2026, 3, 1, 3)):  # Feb 28, 19:00 in LA
        invoice = invoice_issue(invoice=draft)
    assert invoice.issue_date == datetime.date(2026, 2, 28)
    assert invoice.number.startswith("INV-2026-")


def test_invoices_become_overdue_when_the_due_date_has_ended_where_the_partner_is():
    los_angeles = PartnerFactory(time_zone="America/Los_Angeles")
    london = PartnerFactory(time_zone="Europe/London")
    issue_date = datetime.date(2026, 1, 9)  # net 30: due on February 8
    west = issued_invoice(CustomerFactory(partner=los_angeles), [5000], issue_date=issue_date)
    east = issued_invoice(CustomerFactory(partner=london), [5000], issue_date=issue_date)
    assert west.due_date == east.due_date == datetime.date(2026, 2, 8)
    with mock.patch("django.utils.timezone.now", return_value=utc(2026, 2, 9, 3)):  # Feb 8, 19:00 in LA
        assert invoices_mark_overdue() == 1
    assert Invoice.objects.get(pk=east.pk).status == Invoice.Status.OVERDUE
    assert Invoice.objects.get(pk=west.pk).status == Invoice.Status.PENDING


@pytest.mark.parametrize(("zone", "invoiced"), [("UTC", True), ("America/Los_Angeles", False)])
def test_a_partners_run_closes_the_month_when_the_month_has_ended_there(zone, invoiced):
    partner = PartnerFactory(time_zone=zone)
    customer = CustomerFactory(partner=partner, invoicing_schedule="monthly")
    proforma_with_slips(customer=customer, service_date=datetime.date(2026, 1, 20), number="PF-2026-00001")
    with mock.patch("django.utils.timezone.now", return_value=utc(2026, 2, 1, 3)):  # Jan 31, 19:00 in LA
        run = ar_run(partner=partner)
    assert bool(run.invoice_ids) is invoiced
