"""Reports: AR aging and revenue and margin, their pages and CSV exports, partner scoping and query counts."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from expense_codes.models import AppliedExpenseCode
from invoicing.credits import credit_note_issue, payment_refund
from invoicing.lifecycle import invoice_issue, invoice_void
from invoicing.models import Invoice, Slip
from invoicing.payments import payment_record
from invoicing.pricing import invoice_discount_apply
from invoicing.reports import ar_aging, customer_aging, revenue_report
from tests.factories import (
    CustomerFactory,
    ProformaFactory,
    ProviderFactory,
    SlipFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
)

pytestmark = pytest.mark.django_db


def url(name):
    return reverse(f"office:{name}")


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def due_in_the_past(customer, units, *, days_past_due, as_of, **kwargs):
    """An issued invoice whose due date is ``days_past_due`` days before ``as_of`` (net-30 customer)."""
    issue_date = as_of - datetime.timedelta(days=days_past_due + customer.payment_terms_days)
    invoice = issued_invoice(customer, [units], issue_date=issue_date, **kwargs)
    assert (as_of - invoice.due_date).days == days_past_due
    return invoice


# --- AR aging ---------------------------------------------------------------------------------------------


@pytest.fixture
def aging_as_of():
    return timezone.localdate() - datetime.timedelta(days=10)


@pytest.fixture
def aging_data(partner, customer, aging_as_of):
    """Invoices of one customer due at chosen offsets from the as-of date (ten days ago)."""
    as_of = aging_as_of
    made = {
        days: due_in_the_past(customer, units, days_past_due=days, as_of=as_of)
        for days, units in [
            (-5, 10000),
            (0, 20000),
            (1, 30000),
            (30, 40000),
            (31, 50000),
            (60, 60000),
            (61, 70000),
            (90, 80000),
            (91, 90000),
        ]
    }
    # paid before the as-of date: counts; paid after it (today): not yet paid back then
    payment_record(
        invoice=made[30], amount_units=15000, method="transfer", received_on=as_of - datetime.timedelta(days=1)
    )
    payment_record(invoice=made[1], amount_units=30000, method="transfer", received_on=timezone.localdate())
    # fully paid before the date: not owed
    paid = due_in_the_past(customer, 5000, days_past_due=3, as_of=as_of)
    payment_record(invoice=paid, amount_units=5000, method="card", received_on=as_of - datetime.timedelta(days=2))
    # voided today, so still owed on the as-of date
    voided = due_in_the_past(customer, 7000, days_past_due=95, as_of=as_of)
    invoice_void(invoice=voided, reason="Billed twice")
    # issued after the as-of date, and a draft: not owed on the date
    issued_invoice(customer, [99900], issue_date=as_of + datetime.timedelta(days=1))
    draft_invoice(customer, [88800])
    # another partner's customer
    due_in_the_past(CustomerFactory(name="Elsewhere Corp"), 123400, days_past_due=5, as_of=as_of)
    return made


def test_aging_buckets_by_days_past_due(partner, customer, aging_data, aging_as_of):
    report = ar_aging(partner=partner, as_of=aging_as_of)
    [row] = report.rows
    assert row.customer_id == customer.pk
    assert row.current == 10000 + 20000  # due later, due on the day
    assert row.days_1_30 == 30000 + (40000 - 15000)  # the payment received after the date does not count
    assert row.days_31_60 == 50000 + 60000
    assert row.days_61_90 == 70000 + 80000
    assert row.days_over_90 == 90000 + 7000  # the invoice voided after the date was still owed then
    assert row.invoices == 10
    assert report.totals.total == row.total == 10000 + 20000 + 30000 + 25000 + 110000 + 150000 + 97000


def test_aging_as_of_today_leaves_out_paid_and_void_invoices(partner, customer, aging_data):
    row = customer_aging(customer=customer, as_of=timezone.localdate())
    # ten days later: the invoice paid today and the voided one are gone, the one issued since is current
    assert row.invoices == 9
    assert row.current == 99900
    assert row.days_1_30 == 10000 + 20000  # 5 and 10 days late now
    assert row.days_31_60 == 25000 + 50000  # 40 and 41
    assert row.days_61_90 == 60000 + 70000  # 70 and 71
    assert row.days_over_90 == 80000 + 90000  # 100 and 101


def test_aging_page_and_csv_have_a_totals_row_and_no_other_partner(client, staff_user, aging_data, aging_as_of):
    client.force_login(staff_user)
    response = client.get(url("report_aging"), {"as_of": aging_as_of.isoformat()})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Elsewhere Corp" not in page and "$1,234.00" not in page
    rows = read_csv(client.get(url("report_aging"), {"as_of": aging_as_of.isoformat(), "format": "csv"}))
    assert rows[0] == [
        "Customer",
        "Invoices",
        "Current",
        "1–30 days",
        "31–60 days",
        "61–90 days",
        "Over 90 days",
        "Total outstanding",
    ]
    assert rows[1][2:] == ["300.00", "550.00", "1100.00", "1500.00", "970.00", "4420.00"]
    assert rows[-1][0] == "Total" and rows[-1][-1] == "4420.00"
    assert not any("Elsewhere" in cell for row in rows for cell in row)


def test_aging_page_rows_link_each_customer_and_escape_its_name(client, staff_user, partner, aging_as_of):
    owing = CustomerFactory(partner=partner, name='<b>Bold & "Sons"</b>')
    due_in_the_past(owing, 90000, days_past_due=91, as_of=aging_as_of)
    due_in_the_past(owing, 1050, days_past_due=0, as_of=aging_as_of)
    client.force_login(staff_user)
    page = client.get(url("report_aging"), {"as_of": aging_as_of.isoformat()}).content.decode()
    detail = reverse("office:customer_detail", args=[owing.pk])
    name = "&lt;b&gt;Bold &amp; &quot;Sons&quot;&lt;/b&gt;"
    row = (
        f'<tr><td><a href="{detail}">{name}</a></td><td class="num">2</td>'
        + '<td class="num">$10.50</td>'  # current
        + '<td class="num text-body-tertiary">$0.00</td>' * 3  # nothing 1-30, 31-60, 61-90 days past due
        + '<td class="num text-danger fw-semibold">$900.00</td>'  # over 90 days
        + '<td class="num fw-semibold">$910.50</td></tr>'
    )
    assert row in page
    assert "<b>Bold" not in page


def test_aging_with_a_bad_date_shows_the_error(client, staff_user):
    client.force_login(staff_user)
    response = client.get(url("report_aging"), {"as_of": "31/02/2026"})
    assert response.status_code == 200
    assert response.context["report"] is None
    assert "as_of" in response.context["form"].errors


def test_aging_costs_a_fixed_number_of_queries(client, staff_user, partner):
    client.force_login(staff_user)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("report_aging")).status_code == 200
        return len(ctx.captured_queries)

    issued_invoice(CustomerFactory(partner=partner))
    few = count()
    for _ in range(5):
        issued_invoice(CustomerFactory(partner=partner), [1000, 2000])
    assert count() == few


# --- revenue and margin -----------------------------------------------------------------------------------

JAN = datetime.date(2026, 1, 15)
FEB = datetime.date(2026, 2, 10)


def proforma(customer, provider, bill, pay, *, tax_rate="0", codes=""):
    pf = ProformaFactory(customer=customer, provider=provider, expense_code_key=codes)
    SlipFactory(proforma=pf, bill_rate_units=Decimal(bill), pay_rate_units=Decimal(pay), tax_rate=Decimal(tax_rate))
    pf.refresh_from_db()
    return pf


@pytest.fixture
def revenue_data(partner):
    """Known figures (minor units):
    A: Jan invoice of two proformas (P1 bill 100 + 10 % tax, pay 60; P2 bill 50, pay 30) and a Feb manual
       invoice of 200 (no provider, pay 0). B: Feb invoice of one proforma (P1 bill 300, pay 200, code "PO: 7").
    Left out: a void invoice, a draft, an invoice outside the range, another partner's invoice."""
    a = CustomerFactory(partner=partner, name="Alpha Clinic")
    b = CustomerFactory(partner=partner, name="Beta Court")
    p1 = ProviderFactory(partner=partner, name="Pat One")
    p2 = ProviderFactory(partner=partner, name="Pam Two")
    jan = draft_with_proformas(
        proformas=[proforma(a, p1, 10000, 6000, tax_rate="10"), proforma(a, p2, 5000, 3000)], customer=a
    )
    invoice_issue(invoice=jan, issue_date=JAN)
    issued_invoice(a, [20000], issue_date=FEB)
    feb_b = draft_with_proformas(proformas=[proforma(b, p1, 30000, 20000, codes="PO: 7")], customer=b)
    feb_b.expense_code_key = "PO: 7"
    feb_b.save(update_fields=["expense_code_key"])
    AppliedExpenseCode.objects.create(invoice=feb_b, label_name="PO", value="7")
    invoice_issue(invoice=feb_b, issue_date=FEB)
    void = issued_invoice(a, [77700], issue_date=FEB)
    invoice_void(invoice=void, reason="Duplicate")
    draft_invoice(b, [66600])
    issued_invoice(b, [55500], issue_date=datetime.date(2026, 4, 1))
    foreign = CustomerFactory(name="Elsewhere Corp")
    invoice_issue(
        invoice=draft_with_proformas(proformas=[proforma(foreign, None, 44400, 100)], customer=foreign), issue_date=JAN
    )
    return {"a": a, "b": b, "p1": p1, "p2": p2}


def report(partner, by):
    return revenue_report(
        partner=partner, date_from=datetime.date(2026, 1, 1), date_to=datetime.date(2026, 3, 31), by=by
    )


def figures(rows):
    return [(r.label, r.count, r.net_units, r.tax_units, r.cost_units, r.margin_units) for r in rows]


def test_revenue_by_month(partner, revenue_data):
    result = report(partner, "month")
    assert figures(result.rows) == [
        ("Jan 2026", 1, 15000, 1000, 9000, 6000),
        ("Feb 2026", 2, 50000, 0, 20000, 30000),
        ("Mar 2026", 0, 0, 0, 0, 0),
    ]
    totals = result.totals
    assert (totals.net_units, totals.tax_units, totals.cost_units, totals.margin_units) == (65000, 1000, 29000, 36000)
    assert totals.total_units == 66000
    assert totals.margin_percent == Decimal("55.4")


def test_revenue_by_customer(partner, revenue_data):
    assert figures(report(partner, "customer").rows) == [
        ("Alpha Clinic", 2, 35000, 1000, 9000, 26000),
        ("Beta Court", 1, 30000, 0, 20000, 10000),
    ]


def test_revenue_by_provider_counts_each_proforma_for_its_provider(partner, revenue_data):
    rows = report(partner, "provider").rows
    assert figures(rows) == [
        ("Pat One", 2, 40000, 1000, 26000, 14000),
        ("Pam Two", 1, 5000, 0, 3000, 2000),
        ("No provider (lines typed on invoices)", 0, 20000, 0, 0, 20000),
    ]
    assert rows[0].provider_id == revenue_data["p1"].pk


def test_revenue_by_expense_code(partner, revenue_data):
    assert figures(report(partner, "expense_code").rows) == [
        ("PO: 7", 1, 30000, 0, 20000, 10000),
        ("No expense code", 2, 35000, 1000, 9000, 26000),
    ]


def test_every_grouping_adds_up_to_the_same_totals_with_invoice_discounts(partner, customer):
    provider = ProviderFactory(partner=partner)
    invoice = draft_with_proformas(
        proformas=[proforma(customer, provider, 10000, 6000, tax_rate="8.25"), proforma(customer, None, 3333, 0)],
        customer=customer,
    )
    invoice_discount_apply(invoice, 1001)
    invoice_issue(invoice=invoice, issue_date=JAN)
    totals = {by: report(partner, by).totals for by in ("month", "customer", "provider", "expense_code")}
    assert len({(t.net_units, t.tax_units, t.cost_units) for t in totals.values()}) == 1
    invoice.refresh_from_db()
    assert totals["month"].net_units == invoice.subtotal_units - invoice.discount_total_units
    assert totals["month"].total_units == invoice.total_units


def test_revenue_page_explains_the_definition_and_hides_other_partners(client, staff_user, revenue_data):
    client.force_login(staff_user)
    for by in ("month", "customer", "provider", "expense_code"):
        response = client.get(url("report_revenue"), {"date_from": "2026-01-01", "date_to": "2026-03-31", "by": by})
        assert response.status_code == 200
        page = response.content.decode()
        assert "How these figures are made" in page and "before tax" in page
        assert "Elsewhere Corp" not in page and "$444.00" not in page
        assert response.context["report"].totals.net_units == 65000


def test_revenue_csv_has_decimal_strings_and_a_totals_row(client, staff_user, revenue_data):
    client.force_login(staff_user)
    response = client.get(
        url("report_revenue"), {"date_from": "2026-01-01", "date_to": "2026-03-31", "by": "provider", "format": "csv"}
    )
    rows = read_csv(response)
    assert rows[0] == [
        "Provider",
        "Proformas",
        "Revenue (net of tax)",
        "Tax",
        "Total billed",
        "Provider cost",
        "Margin",
        "Margin %",
        "Credit notes",
        "Credited (net of tax)",
    ]
    assert rows[1] == ["Pat One", "2", "400.00", "10.00", "410.00", "260.00", "140.00", "35.0", "0", "0.00"]
    assert rows[-1] == ["Total", "3", "650.00", "10.00", "660.00", "290.00", "360.00", "55.4", "0", "0.00"]
    assert not any("Elsewhere" in cell for row in rows for cell in row)
    month_rows = read_csv(
        client.get(url("report_revenue"), {"date_from": "2026-01-01", "date_to": "2026-03-31", "format": "csv"})
    )
    assert [row[0] for row in month_rows[1:]] == ["2026-01", "2026-02", "2026-03", "Total"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-03-01", "date_to": "2026-01-01"}, "date_to"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"by": "planet"}, "by"),
        ({"date_from": "1990-01-01", "date_to": "2026-01-01"}, "date_from"),
    ],
)
def test_revenue_with_bad_filters_shows_the_error_and_no_report(client, staff_user, params, field):
    client.force_login(staff_user)
    response = client.get(url("report_revenue"), params)
    assert response.status_code == 200
    assert response.context["report"] is None
    assert field in response.context["form"].errors


def test_revenue_defaults_to_the_last_twelve_months(client, staff_user):
    client.force_login(staff_user)
    result = client.get(url("report_revenue")).context["report"]
    assert result.date_to == timezone.localdate()
    assert result.date_from.day == 1 and len(result.rows) == 12


def test_revenue_costs_a_fixed_number_of_queries(client, staff_user, partner, revenue_data):
    client.force_login(staff_user)
    params = {"date_from": "2026-01-01", "date_to": "2026-03-31"}

    def count(by):
        # once to compute and keep the closed months that changed (invoicing.reports.kept), then counted
        client.get(url("report_revenue"), {**params, "by": by})
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("report_revenue"), {**params, "by": by}).status_code == 200
        return len(ctx.captured_queries)

    before = {by: count(by) for by in ("month", "customer", "provider", "expense_code")}
    for _ in range(4):
        customer = CustomerFactory(partner=partner)
        invoice = draft_with_proformas(
            proformas=[proforma(customer, ProviderFactory(partner=partner), 1000, 500)], customer=customer
        )
        invoice_issue(invoice=invoice, issue_date=FEB)
    assert {by: count(by) for by in before} == before


def test_reports_are_for_staff_only(client, customer_user):
    client.force_login(customer_user)
    assert client.get(url("report_aging")).status_code == 403
    assert client.get(url("report_revenue")).status_code == 403


# --- credit notes and refunds -----------------------------------------------------------------------------


def test_revenue_counts_a_credit_note_negative_in_its_own_month(client, staff_user, partner, revenue_data):
    jan = Invoice.objects.get(partner=partner, issue_date=JAN, customer=revenue_data["a"])
    p1_slip = Slip.objects.get(proforma__invoice_links__invoice=jan, proforma__provider=revenue_data["p1"])
    note = credit_note_issue(
        invoice=jan,
        slip_ids=[p1_slip.pk],
        reason="Not delivered",
        user=staff_user,
        issue_date=datetime.date(2026, 3, 5),
    )
    assert (note.subtotal_units, note.tax_units) == (10000, 1000)
    by_month = report(partner, "month")
    assert figures(by_month.rows)[0] == ("Jan 2026", 1, 15000, 1000, 9000, 6000)  # the invoice's month unchanged
    assert figures(by_month.rows)[2] == ("Mar 2026", 0, -10000, -1000, 0, -10000)
    assert (by_month.rows[2].credit_notes, by_month.rows[2].credited_units) == (1, 10000)
    assert by_month.totals.net_units == 55000 and by_month.totals.tax_units == 0
    by_provider = {row.label: row for row in report(partner, "provider").rows}
    assert by_provider["Pat One"].net_units == 30000 and by_provider["Pat One"].cost_units == 26000
    for by in ("customer", "provider", "expense_code"):
        totals = report(partner, by).totals
        assert (totals.net_units, totals.tax_units, totals.cost_units) == (55000, 0, 29000), by
    client.force_login(staff_user)
    response = client.get(url("report_revenue"), {"date_from": "2026-01-01", "date_to": "2026-03-31"})
    assert "Credit notes count as negative revenue" in response.content.decode()
    rows = read_csv(
        client.get(url("report_revenue"), {"date_from": "2026-01-01", "date_to": "2026-03-31", "format": "csv"})
    )
    assert rows[3] == ["2026-03", "0", "-100.00", "-10.00", "-110.00", "0.00", "-100.00", "", "1", "100.00"]


def test_aging_counts_credit_applied_and_refunds_by_their_dates(partner, customer, staff_user):
    as_of = timezone.localdate() - datetime.timedelta(days=10)
    credited = due_in_the_past(customer, 30000, days_past_due=5, as_of=as_of)
    credit_note_issue(invoice=credited, amount_units=10000, reason="Late", user=staff_user, issue_date=as_of)
    refunded = due_in_the_past(customer, 20000, days_past_due=5, as_of=as_of)
    payment = payment_record(invoice=refunded, amount_units=20000, method="check", reference="1", received_on=as_of)
    payment_refund(payment=payment, amount_units=5000, reference="2", user=staff_user)  # made today
    then = customer_aging(customer=customer, as_of=as_of)
    assert (then.invoices, then.days_1_30) == (1, 20000)  # credited by then; the refund came after
    now = customer_aging(customer=customer, as_of=timezone.localdate())
    assert now.total == 20000 + 5000  # the balances today
    assert now.total == sum(i.outstanding_units for i in (credited, refunded) if not i.refresh_from_db())
