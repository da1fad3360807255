"""The tax per rate under an invoice's totals (pricing.invoice_tax_bands, printed by pricing.tax_band_lines): a line
per rate on the office invoice page, the portal's invoice page and the invoice PDF, highest rate first."""

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from invoicing.lifecycle import invoice_issue
from invoicing.manual import LineInput, invoice_create_manual
from invoicing.pdf import documents
from invoicing.pricing import TaxBand, invoice_tax_bands, tax_band_lines
from tests.factories import SlipFactory, draft_with_proformas, issued_invoice, proforma_with_slips

pytestmark = pytest.mark.django_db

EXPECTED = ["Tax 10% on $100.00 — $10.00", "Tax 8.875% on $200.00 — $17.75"]


def two_rate_invoice(customer):
    lines = [
        LineInput("Interpreting", Decimal(2), Decimal(10000), tax_rate=Decimal("8.875")),
        LineInput("Transcript", Decimal(1), Decimal(10000), tax_rate=Decimal(10)),
    ]
    draft = invoice_create_manual(partner=customer.partner, customer=customer, lines=lines)
    return invoice_issue(invoice=draft, deliver=False)


def test_the_lines_read_as_the_bands_highest_rate_first(customer):
    invoice = two_rate_invoice(customer)
    bands = invoice_tax_bands(invoice)
    assert bands == [TaxBand(Decimal(10), 10000, 1000), TaxBand(Decimal("8.875"), 20000, 1775)]
    assert tax_band_lines(bands, "USD") == EXPECTED
    assert sum(band.tax_units for band in bands) == invoice.tax_units == 2775


def test_an_untaxed_invoice_has_no_tax_lines(customer):
    assert tax_band_lines(invoice_tax_bands(issued_invoice(customer, [5000, 7000])), "USD") == []


def test_the_office_invoice_page_shows_a_tax_line_per_rate(client, staff_user, customer):
    invoice = two_rate_invoice(customer)
    client.force_login(staff_user)
    body = client.get(reverse("office:invoice_detail", args=[invoice.pk])).content.decode()
    assert all(line in body for line in EXPECTED)
    assert body.index(EXPECTED[0]) < body.index(EXPECTED[1]) < body.index('id="invoice-total"')


def test_the_office_page_finds_the_bands_of_proforma_lines_in_the_lines_it_has_loaded(client, staff_user, customer):
    proformas = [proforma_with_slips(customer=customer) for _ in range(2)]
    for proforma, rate in zip(proformas, ("8.875", "10"), strict=True):
        SlipFactory(proforma=proforma, bill_rate_units=Decimal(5000), tax_rate=Decimal(rate))
    invoice = draft_with_proformas(proformas=proformas, customer=customer)
    SlipFactory(proforma=None, invoice=invoice, bill_rate_units=Decimal(2000), tax_rate=Decimal(10))
    client.force_login(staff_user)
    response = client.get(reverse("office:invoice_detail", args=[invoice.pk]))
    assert (
        response.context["tax_lines"]
        == tax_band_lines(invoice_tax_bands(invoice), invoice.currency)
        == [
            "Tax 10% on $70.00 — $7.00",
            "Tax 8.875% on $50.00 — $4.44",
            "Tax 0% on $200.00 — $0.00",
        ]
    )


def test_the_portal_invoice_page_shows_a_tax_line_per_rate(client, customer_user, customer):
    invoice = two_rate_invoice(customer)
    client.force_login(customer_user)
    body = client.get(reverse("portal:invoice_detail", args=[invoice.pk])).content.decode()
    assert all(line in body for line in EXPECTED)


def test_the_invoice_pdf_prints_a_tax_line_per_rate_on_one_page(customer):
    invoice = two_rate_invoice(customer)
    reader = PdfReader(io.BytesIO(documents.invoice_pdf_bytes(invoice=invoice)))
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    assert all(line in text for line in EXPECTED), text
