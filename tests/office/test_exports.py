"""Streamed CSV exports of the office lists: header, filtered rows, exact decimal amounts, partner scoping."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from invoicing.credits import credit_note_issue, payment_refund
from invoicing.lifecycle import invoice_issue
from invoicing.payments import payment_record
from office.exports import cell, money_cell
from tests.factories import (
    CustomerFactory,
    ServiceFactory,
    ServiceRequestFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

EXPORT_NAMES = [
    "office:ar_invoice_export",
    "office:ap_invoice_export",
    "office:proforma_export",
    "office:request_export",
    "office:service_export",
    "office:customer_export",
    "office:provider_export",
    "office:payment_export",
    "office:credit_note_export",
    "office:refund_export",
]


def export(client, user, name="office:ar_invoice_export", **params):
    client.force_login(user)
    response = client.get(reverse(name), params)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_each_export_streams_a_csv_with_a_header(client, staff_user, name):
    client.force_login(staff_user)
    response = client.get(reverse(name))
    assert response.status_code == 200 and response.streaming
    header = next(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(header) >= 5


@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_exports_are_for_staff_only(client, customer_user, name):
    assert client.get(reverse(name)).status_code == 302
    client.force_login(customer_user)
    assert client.get(reverse(name)).status_code == 403


def test_ar_export_has_the_filtered_rows_with_decimal_string_amounts(client, staff_user, customer):
    issued_on = timezone.localdate()
    big = issued_invoice(customer, [123450], issue_date=issued_on)
    payment_record(invoice=big, amount_units=3450, method="card")
    issued_invoice(customer, [999], issue_date=issued_on)
    draft_invoice(customer, [5000])
    rows = export(client, staff_user, total_min="1,000")
    assert len(rows) == 1
    row = rows[0]
    assert row["Number"] == big.number
    assert row["Customer"] == customer.name
    assert row["Issue date"] == issued_on.isoformat()
    assert row["Total"] == "1234.50"
    assert row["Paid"] == "34.50"
    assert row["Outstanding"] == "1200.00"
    assert row["Status"] == "Partially paid"


def test_ar_export_keeps_the_list_order_and_lists_drafts(client, staff_user, customer):
    small = issued_invoice(customer, [1000])
    large = issued_invoice(customer, [9000])
    draft = draft_invoice(customer, [5000])
    rows = export(client, staff_user, sort="-total")
    assert [r["Id"] for r in rows] == [str(large.pk), str(draft.pk), str(small.pk)]
    assert rows[1]["Number"] == f"Draft #{draft.pk}"
    assert rows[1]["Outstanding"] == "0.00"


def test_another_partners_invoices_are_not_exported(client, staff_user, customer):
    mine = issued_invoice(customer, [1000])
    issued_invoice(CustomerFactory(name="Other Tenant Client"), [2000])
    rows = export(client, staff_user)
    assert [r["Id"] for r in rows] == [str(mine.pk)]
    assert all(r["Customer"] != "Other Tenant Client" for r in rows)


def test_export_with_a_bad_filter_goes_back_to_the_list_with_the_error(client, staff_user):
    client.force_login(staff_user)
    response = client.get(reverse("office:ar_invoice_export"), {"total_min": "12.3.4", "status": "open"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("office:ar_invoice_list") + "?")
    page = client.get(response.url)
    assert "total_min" in page.context["form"].errors


def test_export_link_keeps_the_filters_but_not_the_page(client, staff_user, customer):
    issued_invoice(customer, [1000])
    client.force_login(staff_user)
    response = client.get(reverse("office:ar_invoice_list"), {"status": "pending", "sort": "total", "after": "x"})
    html = response.content.decode()
    start = html.index(reverse("office:ar_invoice_export"))
    link = html[start : html.index('"', start)]
    assert "status=pending" in link and "sort=total" in link and "after=" not in link


def test_text_that_looks_like_a_formula_is_neutralised(client, staff_user, partner):
    customer = CustomerFactory(partner=partner, name="=HYPERLINK(1)")
    issued_invoice(customer, [1000])
    rows = export(client, staff_user)
    assert rows[0]["Customer"] == "'=HYPERLINK(1)"
    assert cell("-5") == "'-5" and cell(None) == "" and cell(datetime.date(2026, 1, 2)) == "2026-01-02"


def test_money_cell_is_exact():
    assert money_cell(123450, "USD") == "1234.50"
    assert money_cell(-5, "USD") == "-0.05"
    assert money_cell(1000, "JPY") == "1000"
    assert money_cell(None, "USD") == ""


def test_payment_export_has_amounts_and_invoices(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000])
    payment = payment_record(invoice=invoice, amount_units=2550, method="check", reference="1042")
    payment_refund(payment=payment, amount_units=550, reference="77", user=staff_user)
    rows = export(client, staff_user, "office:payment_export")
    assert rows == [
        {
            "Received on": rows[0]["Received on"],
            "Direction": "AR",
            "Invoice": invoice.number,
            "Customer or provider": customer.name,
            "Method": "Check",
            "Reference": "1042",
            "Currency": "USD",
            "Received": "25.50",  # money in and money out apart
            "Paid out": "",
            "Refunded on it": "5.50",
            "Id": rows[0]["Id"],
        }
    ]


def test_payment_export_puts_ap_payments_in_paid_out(client, staff_user, customer, provider):
    ap = draft_with_proformas(proformas=[proforma_with_slips(customer=customer, provider=provider)], provider=provider)
    ap = invoice_issue(invoice=ap)
    payment_record(invoice=ap, amount_units=1200, method="transfer", reference="T-1")
    [row] = export(client, staff_user, "office:payment_export")
    assert (row["Direction"], row["Received"], row["Paid out"]) == ("AP", "", "12.00")


def test_invoice_export_has_the_credited_amount(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000])
    credit_note_issue(invoice=invoice, amount_units=2500, reason="Late", user=staff_user)
    [row] = export(client, staff_user, "office:ar_invoice_export")
    assert (row["Credit notes"], row["Outstanding"], row["Status"]) == ("25.00", "75.00", "Pending")


def test_proforma_and_service_exports_follow_their_filters(client, staff_user, partner, customer):
    service = ServiceFactory(request=ServiceRequestFactory(customer=customer))
    proforma = proforma_with_slips(customer=customer, amounts=[4200], service=service)
    proforma_with_slips(customer=CustomerFactory(partner=partner), amounts=[100])
    rows = export(client, staff_user, "office:proforma_export", customer=customer.pk)
    assert len(rows) == 1 and rows[0]["Billed total"] == "42.00" and rows[0]["Service"] == f"S-{service.pk}"
    assert rows[0]["Id"] == str(proforma.pk)
    rows = export(client, staff_user, "office:service_export", customer=customer.pk)
    assert [r["Service"] for r in rows] == [f"S-{service.pk}"]
    assert rows[0]["Proforma"] == (proforma.number or f"Proforma #{proforma.pk}")


@pytest.mark.parametrize(
    "name",
    [
        "office:ar_invoice_export",
        "office:payment_export",
        "office:proforma_export",
        "office:credit_note_export",
        "office:refund_export",
    ],
)
def test_export_queries_do_not_grow_with_rows(client, staff_user, customer, name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count_queries():
        client.force_login(staff_user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse(name))
            b"".join(response.streaming_content)
        return len(captured.captured_queries)

    def add(n):
        for _ in range(n):
            invoice = issued_invoice(customer, [1000])
            payment = payment_record(invoice=invoice, amount_units=100, method="check", reference="1")
            credit_note_issue(invoice=invoice, amount_units=100, reason="Test")
            payment_refund(payment=payment, amount_units=50, reference="2")
            proforma_with_slips(customer=customer)

    add(2)
    few = count_queries()
    add(12)
    assert count_queries() == few
