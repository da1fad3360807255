"""The invoice table's rows, written in Python (invoicing/templatetags/invoice_rows.py), against the template markup
they replaced (tests/office/invoice_table_reference.html, the partial as it was): the same HTML on the same rows,
for every way a page includes the table."""

import datetime
import re
from pathlib import Path

import pytest
from django.template import engines
from django.template.loader import render_to_string

from customers.models import Customer, Provider
from invoicing.models import Invoice

REFERENCE = Path(__file__).with_name("invoice_table_reference.html")
TODAY = datetime.date(2026, 3, 15)


def normalised(html: str) -> str:
    """Whitespace between tags and runs of whitespace do not change what a browser shows."""
    html = re.sub(r">\s+<", "><", html)
    html = re.sub(r"\s+", " ", html)
    return re.sub(r"> | <", lambda m: m.group(0).strip(), html).strip()


def _invoice(pk, **fields):
    base = {
        "kind": Invoice.Kind.AR,
        "status": Invoice.Status.PENDING,
        "currency": "USD",
        "issue_date": datetime.date(2026, 3, 2),
        "due_date": datetime.date(2026, 4, 1),
        "total_units": 12345,
        "paid_units": 0,
    }
    invoice = Invoice(pk=pk, **{**base, **fields})
    return invoice


def rows():
    acme = Customer(pk=11, name="Acme & <Sons>")
    bolt = Customer(pk=12, name="")
    fixer = Provider(pk=21, name="Fix 'n' Go")
    issued = _invoice(1, customer=acme, number="INV-2026-00001", contact_name="Ann <AP>", expense_code_key="PO: 7&8")
    past_due = _invoice(2, customer=acme, number="INV-2026-00002", due_date=datetime.date(2026, 3, 1))
    overdue = _invoice(3, customer=acme, number="INV-2026-00003", status=Invoice.Status.OVERDUE, paid_units=345)
    credited = _invoice(4, customer=bolt, number="INV-2026-00004", credited_units=2345, bill_to_name="Bolt Ltd")
    draft = _invoice(5, customer=acme, status=Invoice.Status.DRAFT, issue_date=None, due_date=None)
    no_payment = _invoice(6, customer=acme, number="INV-2026-00006", due_date=None, no_payment=True)
    void = _invoice(7, customer=acme, number="INV-2026-00007", status=Invoice.Status.VOID)
    paid = _invoice(8, customer=acme, number="INV-2026-00008", status=Invoice.Status.PAID, paid_units=12345)
    ap = _invoice(
        9,
        kind=Invoice.Kind.AP,
        provider=fixer,
        number="AP-2026-00009",
        period_start=datetime.date(2026, 2, 1),
        period_end=datetime.date(2026, 2, 28),
    )
    ap_draft = _invoice(10, kind=Invoice.Kind.AP, provider=fixer, status=Invoice.Status.DRAFT, due_date=None)
    euro = _invoice(11, customer=acme, number="EU-2026-00011", currency="EUR", total_units=99)
    invoices = [issued, past_due, overdue, credited, draft, no_payment, void, paid, ap, ap_draft, euro]
    for invoice in invoices:  # what office.views.lists.invoices._decorate_invoice sets on a list's rows
        invoice.url = f"/office/invoices/{invoice.pk}/?a=1&b=2"
        invoice.party_url = f"/office/customers/{invoice.customer_id}/" if invoice.customer_id else ""
        invoice.past_due = bool(
            invoice.status in Invoice.OPEN_STATUSES and invoice.due_date and invoice.due_date < TODAY
        )
    return invoices


def bare_rows():
    """Rows as the dashboards and the portal hand them over: no url, party_url nor past_due."""
    invoices = rows()
    for invoice in invoices:
        del invoice.url, invoice.party_url, invoice.past_due
    return invoices


HEADERS = [{"label": "Number", "css": "", "sortable": False}]

INCLUDES = [  # (the rows, the include's context), one per way a page includes the table
    (rows, {"columns": "select number party issued due status total balance", "party": "customer",
            "headers": HEADERS, "contacts": True, "short_drafts": True}),
    (rows, {"columns": "select number party issued due status total balance", "party": "provider",
            "headers": HEADERS, "contacts": True, "short_drafts": True}),
    (rows, {"columns": "number party issued due status total balance", "party": "customer"}),
    (bare_rows, {"columns": "number issued due status total balance", "balance_label": "To pay"}),
    (bare_rows, {"columns": "number issued due status total balance pdf", "balance_label": "To pay", "portal": True,
                 "table_class": "mb-0"}),
    (rows, {"columns": "number issued due status total balance", "number_label": "Invoice", "codes": True}),
    (rows, {"columns": "number period status total balance", "number_label": "Invoice"}),
    (bare_rows, {"columns": "select number party issued due period status total balance pdf", "codes": True,
                 "contacts": True}),
]  # fmt: skip


@pytest.mark.parametrize(("make_rows", "context"), INCLUDES)
def test_the_python_rows_are_the_template_rows(make_rows, context):
    reference = engines["django"].from_string(REFERENCE.read_text())
    expected = reference.render({"invoices": make_rows(), **context})
    actual = render_to_string("includes/invoice_table.html", {"invoices": make_rows(), **context})
    assert normalised(actual) == normalised(expected)
    if "party" in context["columns"]:
        assert ("Fix &#x27;n&#x27; Go" if context.get("party") == "provider" else "Acme &amp; &lt;Sons&gt;") in actual


def test_every_value_is_escaped():
    html = render_to_string(
        "includes/invoice_table.html",
        {"invoices": rows(), "columns": "number party status total balance", "contacts": True, "codes": True},
    )
    assert "<Sons>" not in html and "<AP>" not in html and "7&8" not in html
    assert "Ann &lt;AP&gt;" in html and "PO: 7&amp;8" in html
