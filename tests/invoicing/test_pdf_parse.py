"""Our PDF templates write well-formed XHTML, which the engine reads with expat instead of WeasyPrint's pure-Python
HTML5 parser (issue 15: a twentieth of a 1-page render). Every document kind parses on that fast path, and its PDF is
the same, byte for byte, as the one the HTML5 parser gives; anything that is not our XHTML goes to the HTML5 parser."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.credits import credit_note_issue
from invoicing.lifecycle import invoice_issue
from invoicing.payments import payment_record
from invoicing.pdf import credit_notes, documents, engine, statements
from invoicing.statements import customer_statement
from tests.factories import (
    ProviderFactory,
    SlipFactory,
    StaffMembershipFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(monkeypatch):
    """The HTML of every document rendered, kept (and rendered as usual)."""
    seen = []

    def keep(html_text, **kwargs):
        seen.append(html_text)
        return engine.html_to_pdf(html_text, **kwargs)

    for module in (documents, credit_notes, statements):
        monkeypatch.setattr(module, "html_to_pdf", keep)
    return seen


def html5_pdf(html_text: str, monkeypatch) -> bytes:
    with monkeypatch.context() as patch:
        patch.setattr(engine, "xml_tree", lambda text: None)
        return engine.html_to_pdf(html_text)


def test_every_pdf_document_parses_as_xhtml_and_prints_the_same_as_html5(pages, monkeypatch, partner, customer):
    partner.address, partner.tax_id, partner.remittance = "12 Wharf Street\nPortland, ME 04101", "12-3456789", "Wire"
    partner.bank_name, partner.bank_account_number = "Harbor Bank", "000123"
    partner.save()
    provider = ProviderFactory(partner=partner)
    proforma = proforma_with_slips(customer=customer, provider=provider, amounts=[12000, 3000])
    SlipFactory(proforma=proforma, description='<b>bold</b> & "quoted" <br> line', bill_rate_units=Decimal(500))
    invoice = invoice_issue(invoice=draft_with_proformas(proformas=[proforma], customer=customer))
    payment_record(invoice=invoice, amount_units=1000, method="check", reference="1042")
    documents.invoice_pdf_bytes(invoice=invoice)
    documents.invoice_pdf_bytes(invoice=draft_invoice(customer, [2500, 700]))  # the DRAFT watermark
    documents.proforma_pdf_bytes(proforma=proforma, side="pay")
    admin = StaffMembershipFactory(partner=partner).user
    note = credit_note_issue(
        invoice=issued_invoice(customer, [9000]), amount_units=2000, reason="Late\nstart", user=admin
    )
    credit_notes.credit_note_pdf_bytes(credit_note=note)
    today = timezone.localdate(timezone=partner.tzinfo)
    statement = customer_statement(customer=customer, start=today - datetime.timedelta(days=30), end=today)
    statements.statement_pdf_bytes(statement)

    assert len(pages) == 5
    for html_text in pages:
        assert engine.xml_tree(html_text) is not None, html_text[:2000]
        assert engine.html_to_pdf(html_text) == html5_pdf(html_text, monkeypatch)


@pytest.mark.parametrize(
    "html_text",
    [
        "<p>a fragment</p>",
        "<!doctype html><html><body><p>a&nbsp;named entity</p></body></html>",
        "<!doctype html><html><body><p>left open</body></html>",
        "<!doctype html><html><body><table><tr><td>a row outside a row group</td></tr></table></body></html>",
        '<!DOCTYPE html [<!ENTITY a "aaaa">]><html><body><p>&a;</p></body></html>',
        '<!doctype html><html><head><base href="https://example.com/"/></head><body></body></html>',
    ],
)
def test_anything_but_our_xhtml_goes_to_the_html5_parser(html_text):
    assert engine.xml_tree(html_text) is None
    assert engine.html_to_pdf(html_text).startswith(b"%PDF")
