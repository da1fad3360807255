"""The open balances the triggers keep per customer and due date (invoicing.reports.open_balances): after every kind
of move they add up to what the open invoices owe, the AR aging as of today read from them is the aging read from the
invoices, compaction changes no sum, and a date they cannot answer for is read from the invoices."""

import datetime

import pytest
from django.db.models import F, Sum
from django.utils import timezone

from invoicing.credits import credit_note_issue, payment_refund
from invoicing.lifecycle import invoice_attach_child, invoice_issue, invoice_void, invoices_mark_overdue
from invoicing.models import Invoice, OpenBalance
from invoicing.payments import payment_record
from invoicing.reports import ar_aging, customer_aging, open_balances
from invoicing.selectors import office_dashboard_figures
from tests.factories import CustomerFactory, draft_invoice, issued_invoice

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _days(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


def _kept(partner) -> dict:
    rows = (
        OpenBalance.objects.filter(partner=partner)
        .values("customer_id", "due_date")
        .annotate(units=Sum("units"), invoices=Sum("invoices"))
    )
    return {(r["customer_id"], r["due_date"]): (r["units"], r["invoices"]) for r in rows if r["units"] or r["invoices"]}


def _from_invoices(partner) -> dict:
    owed = {}
    for invoice in Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR, status__in=Invoice.OPEN_STATUSES):
        if invoice.outstanding_units > 0:
            units, count = owed.get((invoice.customer_id, invoice.due_date), (0, 0))
            owed[(invoice.customer_id, invoice.due_date)] = (units + invoice.outstanding_units, count + 1)
    return owed


def _aging_both_ways(partner, monkeypatch, as_of=TODAY):
    kept = ar_aging(partner=partner, as_of=as_of)
    with monkeypatch.context() as patch:
        patch.setattr(open_balances, "current", lambda **kwargs: False)
        read = ar_aging(partner=partner, as_of=as_of)
    return [(r.customer_id, r.invoices, *[units for _, _, units in r.buckets]) for r in kept.rows], [
        (r.customer_id, r.invoices, *[units for _, _, units in r.buckets]) for r in read.rows
    ]


def _agree(partner, monkeypatch):
    assert _kept(partner) == _from_invoices(partner)
    kept, read = _aging_both_ways(partner, monkeypatch)
    assert kept == read


def test_open_balances_follow_every_move_of_an_invoice(partner, monkeypatch):
    alice, bob = CustomerFactory(partner=partner), CustomerFactory(partner=partner)
    late = issued_invoice(alice, [10000], issue_date=_days(75))
    recent = issued_invoice(alice, [4000], issue_date=_days(10))
    other = issued_invoice(bob, [7000], issue_date=_days(40))
    draft_invoice(bob, [999])  # a draft owes nothing
    _agree(partner, monkeypatch)
    assert _kept(partner)[(alice.pk, late.due_date)] == (10000, 1)

    payment = payment_record(invoice=late, amount_units=6000, method="transfer", received_on=TODAY)
    payment_record(invoice=other, amount_units=7000, method="transfer", received_on=TODAY)  # settled
    _agree(partner, monkeypatch)
    assert (bob.pk, other.due_date) not in _kept(partner)

    payment_refund(payment=payment, amount_units=1000, reason="Overpaid", reference="TR-9")  # owed again
    credit_note_issue(invoice=recent, reason="Goodwill", amount_units=1500)
    invoices_mark_overdue(partner=partner)
    _agree(partner, monkeypatch)

    invoice_void(invoice=recent, reason="Billed twice")
    child = issued_invoice(alice, [2000], issue_date=_days(5))
    parent = issued_invoice(alice, [3000], issue_date=_days(5))
    invoice_attach_child(parent=parent, child=child)
    _agree(partner, monkeypatch)
    assert _kept(partner)[(alice.pk, late.due_date)] == (5000, 1)


def test_compaction_changes_no_sum_and_folds_long_past_due_dates(partner, customer, monkeypatch):
    invoices = [issued_invoice(customer, [5000], issue_date=_days(days)) for days in (400, 300, 200, 20)]
    for invoice in invoices:
        payment_record(invoice=invoice, amount_units=1000, method="transfer", received_on=TODAY)
    before, rows_before = _aging_both_ways(partner, monkeypatch)[0], OpenBalance.objects.count()
    left = open_balances.open_balances_compact(partner_id=partner.pk)
    assert OpenBalance.objects.count() == left < rows_before
    folded = TODAY - datetime.timedelta(days=open_balances.FOLD_AFTER_DAYS)
    due_dates = set(OpenBalance.objects.values_list("due_date", flat=True))
    assert due_dates == {folded, invoices[-1].due_date}
    kept, read = _aging_both_ways(partner, monkeypatch)
    assert kept == read == before
    assert office_dashboard_figures(partner=partner).open_ar_units == 4 * 4000


def test_the_dashboard_counts_what_is_owed_and_past_due(partner, customer):
    issued_invoice(customer, [3000], issue_date=_days(45))
    issued_invoice(customer, [2000])
    figures = office_dashboard_figures(partner=partner)
    assert (figures.open_ar_units, figures.open_ar_count, figures.overdue_count) == (5000, 2, 1)


def test_a_past_date_or_an_invoice_issued_after_the_date_reads_the_invoices(partner, customer):
    issued_invoice(customer, [3000], issue_date=_days(45))
    assert open_balances.current(partner_id=partner.pk, as_of=TODAY)
    assert not open_balances.current(partner_id=partner.pk, as_of=_days(30))
    invoice_issue(invoice=draft_invoice(customer, [1000]), issue_date=TODAY + datetime.timedelta(days=1))
    assert not open_balances.current(partner_id=partner.pk, as_of=TODAY)
    # as of today the invoice issued tomorrow is not owed yet
    assert customer_aging(customer=customer, as_of=TODAY).total == 3000
    assert Invoice.objects.filter(partner=partner).aggregate(owed=Sum(F("total_units")))["owed"] == 4000


def test_the_hourly_task_folds_the_open_balances_and_keeps_the_closed_months(partner, customer, monkeypatch):
    from invoicing.models import MonthFigures
    from invoicing.tasks import report_figures_task

    for days in (200, 150, 70):
        issued_invoice(customer, [5000], issue_date=_days(days))
    before = _aging_both_ways(partner, monkeypatch)[1]
    assert report_figures_task() >= 1
    assert OpenBalance.objects.filter(partner=partner).count() == 2  # the two long past due dates folded into one
    assert MonthFigures.objects.filter(partner=partner, kind="revenue-month").exists()
    assert _aging_both_ways(partner, monkeypatch) == (before, before)
