"""The cash-basis and tax reports, their CSV, and the period the reports open on (the months with data)."""

import csv
import datetime
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from invoicing.credits import credit_note_issue, payment_refund
from invoicing.lifecycle import invoice_issue, invoice_void
from invoicing.manual import invoice_create_manual
from invoicing.models import Slip
from invoicing.payments import payment_record
from invoicing.pricing import invoice_tax_bands
from invoicing.reports import cash_report, month_add, month_end, tax_report
from tests.factories import (
    CustomerFactory,
    ProformaFactory,
    ProviderFactory,
    ServiceFactory,
    ServiceRequestFactory,
    SlipFactory,
    ZoneFactory,
    draft_with_proformas,
    issued_invoice,
    lines_for,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- cash basis ----------------------------------------------------------------------------------------------


@pytest.fixture
def cash_data(partner, customer, staff_user):
    """Last month: 300.00 received. This month: 200.00 received, 120.00 paid to a provider, 50.00 refunded.
    Another partner's payment is left out."""
    today = timezone.localdate()
    last_month = month_add(today, -1)
    invoice = issued_invoice(customer, [50000], issue_date=last_month)
    payment_record(invoice=invoice, amount_units=30000, method="check", reference="101", received_on=last_month)
    second = payment_record(invoice=invoice, amount_units=20000, method="transfer", received_on=today)
    payment_refund(payment=second, amount_units=5000, reference="R1", user=staff_user)
    provider = ProviderFactory(partner=partner)
    bill = draft_with_proformas(
        proformas=[proforma_with_slips(customer=customer, amounts=[20000], provider=provider)], provider=provider
    )
    invoice_issue(invoice=bill, issue_date=last_month)
    payment_record(invoice=bill, amount_units=12000, method="transfer", received_on=today)
    elsewhere = CustomerFactory(name="Elsewhere Corp")
    payment_record(
        invoice=issued_invoice(elsewhere, [99900], issue_date=last_month),
        amount_units=99900,
        method="transfer",
        received_on=today,
    )
    return {"today": today, "last_month": last_month}


def test_cash_report_counts_money_in_and_out_by_the_month_it_moved(partner, cash_data):
    today, last_month = cash_data["today"], cash_data["last_month"]
    report = cash_report(partner=partner, date_from=last_month, date_to=today)
    figures = [(r.month, r.received_units, r.paid_out_units, r.refunded_units, r.net_units) for r in report.rows]
    assert figures == [
        (last_month, 30000, 0, 0, 30000),
        (today.replace(day=1), 20000, 12000, 5000, 3000),
    ]
    assert (report.totals.money_in_units, report.totals.money_out_units, report.totals.net_units) == (
        50000,
        17000,
        33000,
    )


def test_cash_page_and_csv_show_the_months_with_money_and_no_other_partner(client, staff_user, cash_data):
    client.force_login(staff_user)
    response = client.get(reverse("office:report_cash"))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.date_from == cash_data["last_month"] and report.date_to == cash_data["today"]
    page = response.content.decode()
    assert "Elsewhere" not in page and "$999.00" not in page
    assert 'id="cash-data" type="application/json"' in page
    chart = json.loads(page.split('id="cash-data" type="application/json">')[1].split("</script>")[0])
    assert chart["series"][0]["values"] == [30000, 20000]
    assert chart["series"][1]["values"] == [0, -12000] and chart["series"][2]["values"] == [0, -5000]
    assert chart["series"][3]["formatted"] == ["$300.00", "$30.00"]
    rows = read_csv(client.get(reverse("office:report_cash"), {"format": "csv"}))
    assert rows[0] == [
        "Month",
        "Received from customers",
        "Paid to providers",
        "Refunded to customers",
        "Money out",
        "Net",
    ]
    assert rows[-1] == ["Total", "500.00", "120.00", "50.00", "170.00", "330.00"]


# --- tax -------------------------------------------------------------------------------------------------------

JAN, FEB, MAR = datetime.date(2026, 1, 15), datetime.date(2026, 2, 10), datetime.date(2026, 3, 5)


def zoned_proforma(customer, zone, bill, tax_rate):
    service = ServiceFactory(request=ServiceRequestFactory(customer=customer), zone=zone)
    proforma = ProformaFactory(customer=customer, service=service)
    SlipFactory(proforma=proforma, bill_rate_units=Decimal(bill), tax_rate=Decimal(tax_rate))
    proforma.refresh_from_db()
    return proforma


@pytest.fixture
def tax_data(partner, customer, staff_user):
    """Jan: an invoice of a Downtown service (100.00 at 10 %) and an Uptown one (200.00 at 5 %). Feb: a typed
    invoice (50.00 at 10 %). Mar: a credit note of the Downtown line. Left out: a void invoice, another partner."""
    downtown = ZoneFactory(partner=partner, name="Downtown", tax_rate=Decimal("10"))
    uptown = ZoneFactory(partner=partner, name="Uptown", tax_rate=Decimal("5"))
    jan = draft_with_proformas(
        proformas=[zoned_proforma(customer, downtown, 10000, "10"), zoned_proforma(customer, uptown, 20000, "5")],
        customer=customer,
    )
    invoice_issue(invoice=jan, issue_date=JAN)
    typed = invoice_create_manual(
        partner=partner, customer=customer, lines=lines_for([5000], tax_rate=Decimal("10.000")), user=None
    )
    invoice_issue(invoice=typed, issue_date=FEB)
    downtown_slip = Slip.objects.get(proforma__service__zone=downtown)
    credit_note_issue(invoice=jan, slip_ids=[downtown_slip.pk], reason="Not held", user=staff_user, issue_date=MAR)
    void = invoice_create_manual(partner=partner, customer=customer, lines=lines_for([70000], tax_rate=Decimal("10")))
    invoice_void(invoice=invoice_issue(invoice=void, issue_date=FEB), reason="Duplicate")
    elsewhere = CustomerFactory(name="Elsewhere Corp")
    invoice_issue(
        invoice=invoice_create_manual(
            partner=elsewhere.partner, customer=elsewhere, lines=lines_for([44400], tax_rate=Decimal("10"))
        ),
        issue_date=JAN,
    )
    return {"jan": jan}


def rows_of(report):
    return [(r.period_label, r.rate, r.zone, r.base_units, r.tax_units) for r in report.rows]


def test_tax_report_per_month_rate_and_zone(partner, tax_data):
    report = tax_report(partner=partner, date_from=datetime.date(2026, 1, 1), date_to=datetime.date(2026, 3, 31))
    assert rows_of(report) == [
        ("Jan 2026", Decimal("10"), "Downtown", 10000, 1000),
        ("Jan 2026", Decimal("5"), "Uptown", 20000, 1000),
        ("Feb 2026", Decimal("10"), "Typed lines", 5000, 500),
        ("Mar 2026", Decimal("10"), "Downtown", -10000, -1000),
    ]
    assert (report.totals.base_units, report.totals.tax_units) == (25000, 1500)


def test_tax_per_rate_matches_what_the_invoice_prints(partner, tax_data):
    report = tax_report(partner=partner, date_from=JAN, date_to=JAN)
    bands = {(band.rate, band.base_units, band.tax_units) for band in invoice_tax_bands(tax_data["jan"])}
    assert {(r.rate, r.base_units, r.tax_units) for r in report.rows} == bands


def test_tax_report_per_quarter_nets_the_credit_note(partner, tax_data):
    report = tax_report(
        partner=partner, date_from=datetime.date(2026, 1, 1), date_to=datetime.date(2026, 3, 31), per="quarter"
    )
    assert rows_of(report) == [
        ("Q1 2026", Decimal("10"), "Downtown", 0, 0),
        ("Q1 2026", Decimal("10"), "Typed lines", 5000, 500),
        ("Q1 2026", Decimal("5"), "Uptown", 20000, 1000),
    ]


def test_tax_page_and_csv(client, staff_user, tax_data):
    client.force_login(staff_user)
    params = {"date_from": "2026-01-01", "date_to": "2026-03-31"}
    response = client.get(reverse("office:report_tax"), params)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Downtown" in page and "Typed lines" in page and "Elsewhere" not in page
    assert 'id="tax-data"' in page
    rows = read_csv(client.get(reverse("office:report_tax"), {**params, "format": "csv"}))
    assert rows[0] == ["Period", "Tax rate %", "Zone", "Taxable base", "Tax"]
    assert rows[1] == ["2026-01", "10", "Downtown", "100.00", "10.00"]
    assert rows[4] == ["2026-03", "10", "Downtown", "-100.00", "-10.00"]
    assert rows[-1] == ["Total", "", "", "250.00", "15.00"]
    quarter = read_csv(client.get(reverse("office:report_tax"), {**params, "per": "quarter", "format": "csv"}))
    assert [row[0] for row in quarter[1:]] == ["Q1 2026", "Q1 2026", "Q1 2026", "Total"]


def test_tax_with_a_bad_period_shows_the_error(client, staff_user):
    client.force_login(staff_user)
    response = client.get(reverse("office:report_tax"), {"per": "decade"})
    assert response.context["report"] is None and "per" in response.context["form"].errors


# --- the period reports open on --------------------------------------------------------------------------------


def test_revenue_opens_on_the_months_with_data(client, staff_user, customer):
    today = timezone.localdate()
    last = month_add(today, -3)
    issued_invoice(customer, [10000], issue_date=month_add(today, -20))
    issued_invoice(customer, [20000], issue_date=last)
    client.force_login(staff_user)
    response = client.get(reverse("office:report_revenue"))
    report = response.context["report"]
    assert (report.date_from, report.date_to) == (month_add(last, -11), month_end(last))
    assert report.rows[-1].net_units == 20000 and len(report.rows) == 12
    presets = response.context["presets"]
    assert presets[0].label == "Months with data" and presets[0].active
    page = response.content.decode()
    assert 'id="revenue-data" type="application/json"' in page
    assert "vendor/chartjs/chart.umd.min.js" in page and "js/charts.js" in page


def test_revenue_with_one_month_of_data_opens_on_that_month_only(client, staff_user, customer):
    today = timezone.localdate()
    issued = month_add(today, -2)
    issued_invoice(customer, [10000], issue_date=issued)
    client.force_login(staff_user)
    report = client.get(reverse("office:report_revenue")).context["report"]
    assert (report.date_from, report.date_to) == (issued, month_end(issued))
    assert [row.net_units for row in report.rows] == [10000]  # not eleven months of zeros around it


def test_new_reports_are_for_staff_only(client, customer_user):
    client.force_login(customer_user)
    assert client.get(reverse("office:report_cash")).status_code == 403
    assert client.get(reverse("office:report_tax")).status_code == 403
