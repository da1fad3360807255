"""Streamed CSV exports of the office lists: the same filtered, partner-scoped querysets as the pages.

Rows are read with ``iterator(chunk_size=2000)`` (a server-side cursor on PostgreSQL) and written as they
come, so exporting 100k invoices needs neither the whole result in memory nor a long wait for the first byte.
Money is written as a plain decimal string in major units ("1234.50"): exact, never a float, and read as a
number by spreadsheets. Text that a spreadsheet would take for a formula ("=", "+", "-", "@") is prefixed
with an apostrophe.

Every file starts with the UTF-8 byte-order mark (``CSV_BOM``), so Excel reads it as UTF-8 ("1–30 days",
"Café Noir") instead of the PC's code page; Python reads it with ``encoding="utf-8-sig"``. The rows are
written in the partner's time zone and locale that were active when the export was asked for (the response
streams after the request's middleware has finished).
"""

from __future__ import annotations

import codecs
import csv
import datetime
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

from octoo_billing import locale as formats
from octoo_billing.money import format_units

CHUNK_SIZE = 2000
CSV_BOM = codecs.BOM_UTF8.decode("utf-8")  # "\ufeff": the first character of every CSV file we write
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One CSV column: its header and how to read it from a row. ``money`` columns read minor units."""

    header: str
    get: Callable[[Any], Any]
    money: bool = False


def money_cell(units: int | None, currency: str) -> str:
    """12345 -> "123.45": an exact decimal string in major units, as spreadsheets read it; empty for None."""
    return format_units(units, currency, plain=True)


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can feed a generator."""

    def write(self, value):
        return value


def _cells(row, columns: list[Column], currency: str) -> list[str]:
    row_currency = getattr(row, "currency", None) or currency
    return [money_cell(c.get(row), row_currency) if c.money else cell(c.get(row)) for c in columns]


def csv_rows(rows: Iterable, columns: list[Column], *, currency: str) -> Iterator[str]:
    """The byte-order mark and header, then the rows a chunk at a time, each chunk written in the time zone and
    locale active when this was called (a streamed response runs after the middleware has reset them)."""
    zone, locale = timezone.get_current_timezone(), formats.get_locale()
    writer = csv.writer(_Echo())
    yield CSV_BOM + writer.writerow([c.header for c in columns])
    rows = iter(rows)
    while True:
        with timezone.override(zone), formats.override(locale):
            chunk = [writer.writerow(_cells(row, columns, currency)) for row in itertools.islice(rows, CHUNK_SIZE)]
        if not chunk:
            return
        yield "".join(chunk)


def stream_csv(queryset, columns: list[Column], *, filename: str, currency: str) -> StreamingHttpResponse:
    """A streamed ``text/csv`` attachment of ``queryset`` (already filtered, scoped and ordered)."""
    rows = queryset.iterator(chunk_size=CHUNK_SIZE)
    response = StreamingHttpResponse(csv_rows(rows, columns, currency=currency), content_type="text/csv")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


# --- the columns of each list ------------------------------------------------------------------------------


def invoice_columns(party: str) -> list[Column]:
    """The columns of the AR (``party="customer"``) or AP (``"provider"``) invoice export."""
    return [
        Column("Number", lambda i: i.number or f"Draft #{i.pk}"),
        Column("Status", lambda i: i.get_status_display()),
        Column(party.capitalize(), lambda i: getattr(getattr(i, party), "name", "")),
        Column("Bill to", lambda i: i.bill_to_name),
        Column("Contact", lambda i: i.contact_name),
        Column("Contact e-mail", lambda i: i.contact_email),
        Column("Issue date", lambda i: i.issue_date),
        Column("Due date", lambda i: i.due_date),
        Column("Period start", lambda i: i.period_start),
        Column("Period end", lambda i: i.period_end),
        Column("Currency", lambda i: i.currency),
        Column("Subtotal", lambda i: i.subtotal_units, money=True),
        Column("Discount", lambda i: i.discount_total_units, money=True),
        Column("Tax", lambda i: i.tax_units, money=True),
        Column("Total", lambda i: i.total_units, money=True),
        Column("Paid", lambda i: i.paid_units, money=True),
        Column("Child invoices", lambda i: i.children_units, money=True),
        Column("Credit notes", lambda i: i.credited_units, money=True),
        Column("Outstanding", lambda i: i.balance_units, money=True),
        Column("Expense codes", lambda i: i.expense_code_key),
        Column("Id", lambda i: i.pk),
    ]


def invoice_fields(party: str) -> tuple[str, ...]:
    """The columns the invoice exports read (``only()``: no notes, addresses, PDFs or timestamps to load)."""
    return (
        "kind",
        "status",
        "number",
        "bill_to_name",
        "contact_name",
        "contact_email",
        "issue_date",
        "due_date",
        "period_start",
        "period_end",
        "currency",
        "subtotal_units",
        "discount_total_units",
        "tax_units",
        "total_units",
        "paid_units",
        "children_units",
        "credited_units",
        "expense_code_key",
        f"{party}__name",
    )


PROFORMA_COLUMNS = [
    Column("Number", lambda p: p.number or f"Proforma #{p.pk}"),
    Column("Status", lambda p: p.get_status_display()),
    Column("Service date", lambda p: p.service_date),
    Column("Customer", lambda p: p.customer.name),
    Column("Provider", lambda p: p.provider.name if p.provider else ""),
    Column("Service", lambda p: f"S-{p.service_id}" if p.service_id else ""),
    Column("AR invoice", lambda p: p.ar_invoice_number or (f"Draft #{p.ar_invoice_id}" if p.ar_invoice_id else "")),
    Column("Billed subtotal", lambda p: p.bill_subtotal_units, money=True),
    Column("Billed discount", lambda p: p.bill_discount_units, money=True),
    Column("Billed tax", lambda p: p.bill_tax_units, money=True),
    Column("Billed total", lambda p: p.bill_total_units, money=True),
    Column("Provider pay", lambda p: p.pay_total_units, money=True),
    Column("Expense codes", lambda p: p.expense_code_key),
    Column("Id", lambda p: p.pk),
]

REQUEST_COLUMNS = [
    Column("Request", lambda r: f"R-{r.pk}"),
    Column("Title", lambda r: r.title),
    Column("Customer", lambda r: r.customer.name),
    Column("Status", lambda r: r.get_status_display()),
    Column("Source", lambda r: r.get_source_display()),
    Column("Recurring", lambda r: r.is_recurring),
    Column("Services", lambda r: r.services_count),
    Column("Created", lambda r: r.created_at),
]

SERVICE_COLUMNS = [
    Column("Service", lambda s: f"S-{s.pk}"),
    Column("Request", lambda s: f"R-{s.request_id}"),
    Column("Request title", lambda s: s.request.title),
    Column("Customer", lambda s: s.request.customer.name),
    Column("Provider", lambda s: s.provider.name if s.provider else ""),
    Column("Type", lambda s: s.service_type.name),
    Column("Starts", lambda s: s.starts_at),
    Column("Ends", lambda s: s.ends_at),
    Column("Hours", lambda s: s.hours),
    Column("Status", lambda s: s.get_status_display()),
    Column("Zone", lambda s: s.zone.name if s.zone else ""),
    Column("Address", lambda s: s.address),
    Column("Proforma", lambda s: _service_proforma(s)),
]


def _service_proforma(service) -> str:
    proforma = getattr(service, "proforma", None)
    if proforma is None:
        return ""
    return proforma.number or f"Proforma #{proforma.pk}"


CUSTOMER_COLUMNS = [
    Column("Name", lambda c: c.name),
    Column("E-mail", lambda c: c.email),
    Column("Phone", lambda c: c.phone),
    Column("Default contact", lambda c: c.contact_name),
    Column("Contact e-mail", lambda c: c.contact_email),
    Column("Schedule", lambda c: c.get_invoicing_schedule_display()),
    Column("Pays by", lambda c: c.get_payment_method_display()),
    Column("Terms", lambda c: c.terms_label),
    Column("Active", lambda c: c.is_active),
    Column("Open balance", lambda c: c.open_balance_units, money=True),
    Column("Id", lambda c: c.pk),
]

PROVIDER_COLUMNS = [
    Column("Name", lambda p: p.name),
    Column("E-mail", lambda p: p.email),
    Column("Phone", lambda p: p.phone),
    Column("Payment terms (days)", lambda p: p.payment_terms_days),
    Column("Active", lambda p: p.is_active),
    Column("Owed on open AP invoices", lambda p: p.open_balance_units, money=True),
    Column("Id", lambda p: p.pk),
]

PAYMENT_COLUMNS = [
    Column("Received on", lambda p: p.received_on),
    Column("Direction", lambda p: "AR" if p.invoice.kind == "ar" else "AP"),
    Column("Invoice", lambda p: p.invoice.number or f"Draft #{p.invoice_id}"),
    Column("Customer or provider", lambda p: getattr(p.invoice.party, "name", "")),
    Column("Method", lambda p: p.get_method_display()),
    Column("Reference", lambda p: p.reference),
    Column("Currency", lambda p: p.invoice.currency),
    # Money in and money out apart: received on AR invoices, paid out on AP ones; refunds are their own list.
    Column("Received", lambda p: p.amount_units if p.invoice.kind == "ar" else None, money=True),
    Column("Paid out", lambda p: p.amount_units if p.invoice.kind == "ap" else None, money=True),
    Column("Refunded on it", lambda p: p.refunded_units, money=True),
    Column("Id", lambda p: p.pk),
]

CREDIT_NOTE_COLUMNS = [
    Column("Number", lambda n: n.number),
    Column("Issue date", lambda n: n.issue_date),
    Column("Invoice", lambda n: n.invoice.number),
    Column("Customer", lambda n: n.customer.name),
    Column("Reason", lambda n: n.reason),
    Column("Currency", lambda n: n.currency),
    Column("Subtotal", lambda n: n.subtotal_units, money=True),
    Column("Tax", lambda n: n.tax_units, money=True),
    Column("Total", lambda n: n.total_units, money=True),
    Column("Applied", lambda n: n.applied_units, money=True),
    Column("Refunded", lambda n: n.refunded_units, money=True),
    Column("Credit left", lambda n: n.left_units, money=True),
    Column("Id", lambda n: n.pk),
]

REFUND_COLUMNS = [
    Column("Refunded on", lambda r: r.refunded_on),
    Column("Requested", lambda r: r.created_at),
    Column("Status", lambda r: r.get_status_display()),
    Column("Invoice", lambda r: r.invoice.number),
    Column("Customer", lambda r: r.invoice.customer.name if r.invoice.customer_id else ""),
    Column("Method", lambda r: r.payment.get_method_display()),
    Column("Payment received on", lambda r: r.payment.received_on),
    Column("Credit note", lambda r: r.credit_note.number if r.credit_note_id else ""),
    Column("Reference", lambda r: r.reference),
    Column("Reason", lambda r: r.reason),
    Column("Currency", lambda r: r.invoice.currency),
    Column("Amount", lambda r: r.amount_units, money=True),
    Column("Paid out", lambda r: r.amount_units if r.status == "succeeded" else None, money=True),  # made
    Column("Id", lambda r: r.pk),
]
