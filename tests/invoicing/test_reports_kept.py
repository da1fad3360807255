"""Closed months' figures kept for the reports and the dashboard (invoicing.reports.kept): read back while current,
computed again after any change dated in the month, counted by the database's triggers in the same transaction (on
SQLite and on PostgreSQL), and never for the current month, whose everyday writes touch no shared row."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoicing.credits import credit_note_issue, payment_refund
from invoicing.lifecycle import invoice_issue, invoice_void
from invoicing.models import MonthFigures, MonthVersion, Proforma, Refund
from invoicing.payments import payment_record
from invoicing.reports import billed_by_month, cash_report, last_months, month_add, revenue_report
from invoicing.reports.kept import closed_before
from invoicing.reports.revenue import revenue_figures
from tests.factories import CustomerFactory, ProviderFactory, draft_with_proformas, issued_invoice, proforma_with_slips

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
CLOSED = month_add(closed_before(), -2)  # a month the reports keep, whatever day the tests run
YEAR = last_months(TODAY)


def _span(**extra):
    return {"date_from": YEAR.date_from, "date_to": YEAR.date_to, **extra}


@pytest.fixture
def closed_invoice(customer):
    return issued_invoice(customer, [10000], issue_date=CLOSED + datetime.timedelta(days=4))


def _queries(call) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as ctx:
        result = call()
    return result, len(ctx.captured_queries)


def _by_month(report):
    return {row.month: (row.count, row.net_units) for row in report.rows}


def test_a_closed_month_is_kept_and_read_back_the_current_month_never(partner, customer, closed_invoice):
    issued_invoice(customer, [2500])  # today
    first, cold = _queries(lambda: revenue_report(partner=partner, **_span()))
    kept_months = set(
        MonthFigures.objects.filter(partner=partner, kind="revenue-month").values_list("month", flat=True)
    )
    assert CLOSED in kept_months and TODAY.replace(day=1) not in kept_months
    assert all(month < closed_before() for month in kept_months)
    again, warm = _queries(lambda: revenue_report(partner=partner, **_span()))
    assert _by_month(again) == _by_month(first)
    assert _by_month(again)[CLOSED] == (1, 10000) and _by_month(again)[TODAY.replace(day=1)] == (1, 2500)
    assert warm < cold


def test_a_kept_month_is_read_while_current_and_computed_again_once_its_version_moves(partner, closed_invoice):
    revenue_report(partner=partner, **_span())
    kept = MonthFigures.objects.get(partner=partner, kind="revenue-month", month=CLOSED)
    kept.rows = [[CLOSED.isoformat(), [7, 1, 0, 0, 0, 0]]]
    kept.save()
    assert _by_month(revenue_report(partner=partner, **_span()))[CLOSED] == (7, 1)  # read, not computed
    MonthVersion.objects.update_or_create(partner=partner, month=CLOSED, defaults={"version": kept.version + 1})
    assert _by_month(revenue_report(partner=partner, **_span()))[CLOSED] == (1, 10000)  # computed again


def test_voiding_an_invoice_of_a_closed_month_changes_its_figures_at_once(partner, customer, closed_invoice):
    before = revenue_report(partner=partner, **_span())
    billed = billed_by_month(partner=partner, **_span())
    assert _by_month(before)[CLOSED] == (1, 10000) and billed[CLOSED] == closed_invoice.total_units
    invoice_void(invoice=closed_invoice, reason="Billed twice")
    assert _by_month(revenue_report(partner=partner, **_span()))[CLOSED] == (0, 0)
    assert billed_by_month(partner=partner, **_span())[CLOSED] == 0


def test_an_invoice_issued_with_a_date_in_a_closed_month_counts_there(partner, customer, closed_invoice):
    revenue_report(partner=partner, **_span(by="customer"))
    other = CustomerFactory(partner=partner)
    issued_invoice(other, [4000], issue_date=CLOSED + datetime.timedelta(days=9))
    rows = {
        row.customer_id: (row.count, row.net_units)
        for row in revenue_report(partner=partner, **_span(by="customer")).rows
    }
    assert rows == {customer.pk: (1, 10000), other.pk: (1, 4000)}


def test_payments_and_refunds_dated_in_a_closed_month_change_its_cash(partner, closed_invoice):
    def cash():
        return {
            row.month: (row.received_units, row.refunded_units) for row in cash_report(partner=partner, **_span()).rows
        }

    assert cash()[CLOSED] == (0, 0)
    payment = payment_record(
        invoice=closed_invoice, amount_units=6000, method="transfer", received_on=CLOSED + datetime.timedelta(days=20)
    )
    assert cash()[CLOSED] == (6000, 0)
    refund = payment_refund(payment=payment, amount_units=1000, reason="Overpaid", reference="TR-1")
    assert refund.status == Refund.Status.SUCCEEDED
    Refund.objects.filter(pk=refund.pk).update(refunded_on=CLOSED + datetime.timedelta(days=21))
    assert cash()[CLOSED] == (6000, 1000)
    Refund.objects.filter(pk=refund.pk).update(refunded_on=TODAY)
    assert cash()[CLOSED] == (6000, 0)


def test_a_credit_note_dated_in_a_closed_month_is_taken_off_there(partner, closed_invoice):
    revenue_report(partner=partner, **_span())
    credit_note_issue(
        invoice=closed_invoice, reason="Goodwill", amount_units=2000, issue_date=CLOSED + datetime.timedelta(days=6)
    )
    row = next(row for row in revenue_report(partner=partner, **_span()).rows if row.month == CLOSED)
    assert (row.net_units, row.credited_units, row.credit_notes) == (8000, 2000, 1)


def test_a_proforma_changed_on_an_invoice_of_a_closed_month_changes_its_figures(partner, customer):
    provider = ProviderFactory(partner=partner)
    proforma = proforma_with_slips(customer=customer, amounts=[5000], provider=provider)
    invoice = draft_with_proformas(proformas=[proforma], customer=customer)
    invoice_issue(invoice=invoice, issue_date=CLOSED + datetime.timedelta(days=2))
    by_provider = revenue_report(partner=partner, **_span(by="provider"))
    assert {row.provider_id: row.cost_units for row in by_provider.rows} == {provider.pk: 3000}
    version = MonthVersion.objects.get(partner=partner, month=CLOSED).version
    Proforma.objects.filter(pk=proforma.pk).update(pay_total_units=3500)  # no path of the app does this
    assert MonthVersion.objects.get(partner=partner, month=CLOSED).version == version + 1
    by_provider = revenue_report(partner=partner, **_span(by="provider"))
    assert {row.provider_id: row.cost_units for row in by_provider.rows} == {provider.pk: 3500}


def test_issuing_and_paying_today_touch_no_months_row(partner, customer, closed_invoice):
    counted = list(MonthVersion.objects.values_list("partner", "month", "version"))
    invoice = issued_invoice(customer, [3000])
    payment_record(invoice=invoice, amount_units=3000, method="transfer", received_on=TODAY)
    payment_record(invoice=closed_invoice, amount_units=100, method="transfer", received_on=TODAY)
    credit_note_issue(invoice=closed_invoice, reason="Goodwill", amount_units=500)
    assert list(MonthVersion.objects.values_list("partner", "month", "version")) == counted


@pytest.mark.parametrize("by", ["month", "customer", "provider", "expense_code"])
def test_kept_figures_add_up_to_what_the_documents_give(partner, customer, closed_invoice, by):
    provider = ProviderFactory(partner=partner)
    for days, amount in ((5, 7000), (40, 3000), (70, 2000)):
        invoice = draft_with_proformas(
            proformas=[proforma_with_slips(customer=customer, amounts=[amount], provider=provider)], customer=customer
        )
        invoice_issue(invoice=invoice, issue_date=min(TODAY, CLOSED + datetime.timedelta(days=days)))
    issued_invoice(customer, [1500])
    revenue_report(partner=partner, **_span(by=by))  # keeps the closed months
    kept = revenue_report(partner=partner, **_span(by=by))
    computed = revenue_figures(partner=partner, by=by, **_span())
    assert {row.key: [row.count, row.net_units, row.tax_units, row.cost_units] for row in kept.rows if row.count} == {
        key: values[:4] for key, values in computed.items() if values[0]
    }


def test_closed_months_keep_leaves_the_dashboard_nothing_to_compute(partner, closed_invoice):
    from invoicing.overviews import office_dashboard
    from invoicing.reports.keeping import closed_months_keep

    closed_months_keep(partner=partner)
    kinds = set(MonthFigures.objects.filter(partner=partner, month=CLOSED).values_list("kind", flat=True))
    assert kinds == {"billed", "cash", "revenue-month", "revenue-customer", "revenue-provider", "revenue-expense_code"}
    _, queries = _queries(lambda: office_dashboard(partner=partner))
    closed_months_keep(partner=partner)  # nothing changed: each kind's kept months read back, none computed again
    assert MonthFigures.objects.filter(partner=partner, month=CLOSED).count() == len(kinds)
    assert _queries(lambda: office_dashboard(partner=partner))[1] == queries
