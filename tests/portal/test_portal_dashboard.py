"""The portal dashboard (portal.views.dashboard, invoicing.portal_dashboard): due, overdue and paid this year with
their links, the next invoices due, and spend by month and by expense code, on a small worked fixture."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from invoicing.credits import credit_note_issue
from invoicing.lifecycle import invoice_issue, invoice_void
from invoicing.models import Invoice, Payment
from invoicing.payments import payment_record
from invoicing.portal_dashboard import NO_CODE, portal_dashboard
from tests.factories import (
    CustomerFactory,
    CustomerMembershipFactory,
    PartnerFactory,
    draft_invoice,
    issued_invoice,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal(client, customer_user):
    client.force_login(customer_user)
    return client


def _issued(customer, amount, *, issue_date, due_date, code=""):
    draft = draft_invoice(customer, [amount], due_date=due_date)
    if code:  # what generation sets from the proformas' codes (a draft's field, frozen at issue)
        Invoice.objects.filter(pk=draft.pk).update(expense_code_key=code)
    return invoice_issue(invoice=draft, issue_date=issue_date, deliver=False)


@pytest.fixture
def worked(customer, partner):
    """Today T (the partner's): A $100 due in 10 days (PO: 7); B $200 five days past due, $50 paid (PO: 9);
    C $300 paid in full (PO: 7); D $80 with a $30 credit note, due in 10 days (no code); E $9.99 void; a $7.77
    draft; another customer's $44 and another partner's $55. All issued 30 days ago, payments received today."""
    today = timezone.localdate(timezone=partner.tzinfo)
    issued_on = today - datetime.timedelta(days=30)
    later, past = today + datetime.timedelta(days=10), today - datetime.timedelta(days=5)
    a = _issued(customer, 10000, issue_date=issued_on, due_date=later, code="PO: 7")
    b = _issued(customer, 20000, issue_date=issued_on, due_date=past, code="PO: 9")
    c = _issued(customer, 30000, issue_date=issued_on, due_date=later, code="PO: 7")
    d = _issued(customer, 8000, issue_date=issued_on, due_date=later)
    e = _issued(customer, 999, issue_date=issued_on, due_date=later)
    payment_record(invoice=b, amount_units=5000, method=Payment.Method.TRANSFER, received_on=today)
    payment_record(invoice=c, amount_units=30000, method=Payment.Method.TRANSFER, received_on=today)
    credit_note_issue(invoice=d, reason="Late arrival", amount_units=3000, issue_date=today)
    invoice_void(invoice=e, reason="Sent twice")
    draft_invoice(customer, [777])
    issued_invoice(CustomerFactory(partner=partner), [4400])
    issued_invoice(CustomerFactory(partner=PartnerFactory()), [5500])
    return {"today": today, "a": a, "b": b, "c": c, "d": d, "e": e}


def test_due_overdue_and_paid_this_year_are_worked_out(customer, worked):
    board = portal_dashboard(customer=customer, today=worked["today"])
    assert (board.due.units, board.due.count) == (10000 + 5000, 2)  # A, and D's $80 less its $30 credit note
    assert (board.overdue.units, board.overdue.count) == (15000, 1)  # B's $200 less $50 paid
    assert (board.paid.units, board.paid.count) == (5000 + 30000, 2)
    assert board.open_balance_units == 30000


def test_next_due_lists_open_invoices_soonest_due_first(customer, worked):
    board = portal_dashboard(customer=customer, today=worked["today"])
    assert [inv.pk for inv in board.next_due] == [worked["b"].pk, worked["a"].pk, worked["d"].pk]
    assert [inv.past_due for inv in board.next_due] == [True, False, False]


def test_spend_counts_issued_invoices_less_credit_notes_by_month(customer, worked):
    board = portal_dashboard(customer=customer, today=worked["today"])
    assert len(board.spend_by_month) == 12
    assert board.spend_by_month[-1].month == worked["today"].replace(day=1)
    issued_month = worked["a"].issue_date.replace(day=1)
    by_month = {bar.month: bar.units for bar in board.spend_by_month}
    assert by_month[issued_month] == 10000 + 20000 + 30000 + 5000  # E is void, the draft and others' not counted
    assert board.spend_total_units == 65000


def test_spend_by_expense_code_adds_up_to_the_spend(customer, worked):
    board = portal_dashboard(customer=customer, today=worked["today"])
    assert [(bar.label, bar.units) for bar in board.spend_by_code] == [
        ("PO: 7", 40000),
        ("PO: 9", 20000),
        (NO_CODE, 5000),
    ]
    assert sum(bar.units for bar in board.spend_by_code) == board.spend_total_units


def test_spend_by_month_covers_the_last_twelve_months_only(customer):
    today = datetime.date(2026, 3, 15)
    for amount, day in [(1000, datetime.date(2025, 3, 31)), (2000, datetime.date(2025, 4, 1)), (4000, today)]:
        _issued(customer, amount, issue_date=day, due_date=day)
    board = portal_dashboard(customer=customer, today=today)
    assert board.spend_by_month[0].month == datetime.date(2025, 4, 1)
    assert [bar.units for bar in board.spend_by_month] == [2000] + [0] * 10 + [4000]
    assert board.spend_by_month[0].label == "Apr 2025"


def test_per_proforma_invoices_split_their_spend_by_their_lines_codes(customer):
    # An invoice showing each proforma's codes has no codes of its own: its typed lines count as "No code".
    draft = draft_invoice(customer, [2500])
    Invoice.objects.filter(pk=draft.pk).update(expense_code_mode=Invoice.ExpenseCodeMode.PER_PROFORMA)
    invoice_issue(invoice=draft, deliver=False)
    board = portal_dashboard(customer=customer)
    assert [(bar.label, bar.units) for bar in board.spend_by_code] == [(NO_CODE, 2500)]


def test_dashboard_page_shows_the_figures_as_links(portal, worked):
    body = portal.get(reverse("portal:dashboard")).content.decode()
    invoices = reverse("portal:invoice_list")
    assert f'href="{invoices}?status=due"' in body and "$150.00" in body
    assert f'href="{invoices}?status=overdue"' in body
    assert f'href="{invoices}?paid_in={worked["today"].year}"' in body and "$350.00" in body
    assert worked["b"].number in body and worked["c"].number not in body.split("Spend by month")[0]


def test_dashboard_embeds_the_chart_data_and_the_same_figures_as_tables(portal, worked):
    response = portal.get(reverse("portal:dashboard"))
    body = response.content.decode()
    assert 'data-chart="spend-by-month-data"' in body and 'data-chart="spend-by-code-data"' in body
    start = body.index('<script id="spend-by-code-data" type="application/json">')
    data = json.loads(body[body.index(">", start) + 1 : body.index("</script>", start)])
    assert data["labels"] == ["PO: 7", "PO: 9", NO_CODE]
    assert data["series"][0]["values"] == [40000, 20000, 5000]
    assert data["series"][0]["formatted"] == ["$400.00", "$200.00", "$50.00"]
    assert data["scale"] == 100 and data["currency"] == "USD"
    table = body[body.index('id="spend-by-code-table"') :]
    assert "PO: 7" in table and "$400.00" in table and "$50.00" in table
    assert "$650.00" in body and "$400.00" in body


def test_invoice_list_filters_match_the_dashboard_links(portal, worked):
    invoices = reverse("portal:invoice_list")
    due = portal.get(f"{invoices}?status=due").content.decode()
    assert worked["a"].number in due and worked["d"].number in due and worked["b"].number not in due
    overdue = portal.get(f"{invoices}?status=overdue").content.decode()
    assert worked["b"].number in overdue and worked["a"].number not in overdue  # pending, but past its due date
    paid = portal.get(f"{invoices}?paid_in={worked['today'].year}").content.decode()
    assert worked["b"].number in paid and worked["c"].number in paid and worked["a"].number not in paid


def test_dashboard_shows_nothing_of_another_customer(client, partner, worked):
    other = CustomerFactory(partner=partner)
    client.force_login(CustomerMembershipFactory(customer=other).user)
    body = client.get(reverse("portal:dashboard")).content.decode()
    assert worked["a"].number not in body and "$350.00" not in body and "$150.00" not in body
    assert "Nothing to pay" in body and "Nothing to show for this period yet." in body
