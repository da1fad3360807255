"""Every CSV file the office writes starts with the UTF-8 byte-order mark, so Excel reads "1–30 days" and
"Café" as written; amounts stay plain numbers whatever the partner's locale."""

import codecs
import csv
import io

import pytest
from django.urls import reverse

from customers.models import Partner
from tests.factories import CustomerFactory, issued_invoice
from tests.office.test_exports import EXPORT_NAMES

pytestmark = pytest.mark.django_db


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_every_export_starts_with_the_byte_order_mark_once(client, staff_user, name):
    client.force_login(staff_user)
    data = streamed(client.get(reverse(name)))
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(codecs.BOM_UTF8) == 1


@pytest.mark.parametrize("report", ["office:report_aging", "office:report_revenue", "office:report_cash"])
def test_every_report_csv_starts_with_the_byte_order_mark(client, staff_user, report):
    client.force_login(staff_user)
    response = client.get(reverse(report), {"format": "csv"})
    assert response.status_code == 200
    assert response.content.startswith(codecs.BOM_UTF8)


def test_excel_style_decoding_reads_the_aging_headers_as_written(client, staff_user):
    client.force_login(staff_user)
    data = client.get(reverse("office:report_aging"), {"format": "csv"}).content
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[:4] == ["Customer", "Invoices", "Current", "1–30 days"]


def test_names_with_accents_survive_a_byte_order_mark_aware_reader(client, partner, staff_user):
    customer = CustomerFactory(partner=partner, name="Café Noir")
    issued_invoice(customer, [123450], deliver=False)
    client.force_login(staff_user)
    rows = list(
        csv.DictReader(io.StringIO(streamed(client.get(reverse("office:ar_invoice_export"))).decode("utf-8-sig")))
    )
    assert [row["Customer"] for row in rows] == ["Café Noir"]


def test_a_german_partners_export_keeps_amounts_machine_readable(client, partner, customer, staff_user):
    Partner.objects.filter(pk=partner.pk).update(locale="de_DE")
    issued_invoice(customer, [123450], deliver=False)
    client.force_login(staff_user)
    text = streamed(client.get(reverse("office:ar_invoice_export"))).decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["Total"] == "1234.50"
