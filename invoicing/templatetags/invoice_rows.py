"""The rows of the one invoice table (templates/includes/invoice_table.html), written in Python.

{% load invoice_rows %}
{% invoice_rows invoices columns party=party portal=portal codes=codes contacts=contacts short_drafts=short_drafts %}

Why not template markup: a row of that table is some sixty template nodes (a test per column, a filter per
amount and date, a tag for the badge), about half a millisecond a row through Django's engine, so the rows
were more than half of a list page's server time. Here a row is one f-string with the same markup; every value
is escaped as the template's autoescape would (tests/office/test_invoice_rows.py renders both on the same rows
and compares them).
"""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from invoicing.models import Invoice
from octoo_billing import locale as formats

from .money import money, status_badge

register = template.Library()

COLUMNS = ("select", "number", "party", "issued", "due", "period", "status", "total", "balance", "pdf")
DASH = '<span class="text-body-secondary">—</span>'
PARTY_LINK = "link-body-emphasis link-underline-opacity-0 link-underline-opacity-75-hover"


def _date(value) -> str:
    """The ``localdate`` filter: "Nov 24, 2026" in en_US, in the active locale; "" for no date."""
    return formats.format_date(value) if value else ""


class _PortalUrls:
    """``portal:invoice_detail`` and ``portal:invoice_pdf`` of a row: each name reversed once per table."""

    PROBE = 987654321

    def __init__(self):
        self.parts: dict[str, tuple[str, str]] = {}

    def __call__(self, name: str, pk) -> str:
        if name not in self.parts:
            url = reverse(name, args=[self.PROBE])
            head, _, tail = url.partition(str(self.PROBE))
            self.parts[name] = (head, tail)
        head, tail = self.parts[name]
        return f"{head}{pk}{tail}"


def invoice_row(
    invoice,
    shown: frozenset,
    *,
    party: str,
    portal: bool,
    codes: bool,
    contacts: bool,
    short_drafts: bool,
    urls: _PortalUrls,
    balance_label: str = "Outstanding",
) -> str:
    """One ``<tr>`` of the invoice table, the same markup as the template it replaced."""
    e = conditional_escape
    past_due = bool(getattr(invoice, "past_due", False))
    status = invoice.status
    currency = invoice.currency
    url = getattr(invoice, "url", "") or ""
    cells = ['<tr class="is-past-due">' if past_due else "<tr>"]
    if "select" in shown:
        label = e(invoice.number) if invoice.number else f"draft #{invoice.pk}"
        cells.append(
            f'<td class="list-select"><input class="form-check-input" type="checkbox" name="ids" '
            f'value="{invoice.pk}" form="bulk-form" data-bulk-row aria-label="Tick {label}"></td>'
        )
    if "number" in shown:
        if portal:
            opening = f'<a href="{e(urls("portal:invoice_detail", invoice.pk))}">'
        elif url:
            opening = f'<a href="{e(url)}">'
        else:
            opening = ""
        text = e(str(invoice)) if invoice.number or not short_drafts else f"Draft #{invoice.pk}"
        closing = "</a>" if portal or url else ""
        code = ""
        if codes and invoice.expense_code_key:
            code = f'<div class="small fw-normal text-body-secondary text-wrap">{e(invoice.expense_code_key)}</div>'
        cells.append(f'<td class="nowrap fw-semibold">{opening}{text}{closing}{code}</td>')
    if "party" in shown:
        if party == "provider":
            name = invoice.provider.name if invoice.provider_id and invoice.provider else ""
        else:
            name = (invoice.customer.name if invoice.customer_id and invoice.customer else "") or invoice.bill_to_name
        name = e(name or "")
        party_url = getattr(invoice, "party_url", "") or ""
        shown_name = f'<a class="{PARTY_LINK}" href="{e(party_url)}">{name}</a>' if party_url else name
        contact = ""
        if contacts and invoice.contact_name:
            contact = f' <span class="list-sub">{e(invoice.contact_name)}</span>'
        cells.append(f'<td class="list-party"> {shown_name}{contact} </td>')
    if "issued" in shown:
        issued = _date(invoice.issue_date) if invoice.issue_date else DASH
        cells.append(f'<td class="nowrap" data-label="Issued">{issued}</td>')
    if "due" in shown:
        if invoice.due_date:
            due = _date(invoice.due_date)
        elif invoice.no_payment:
            due = '<span class="text-body-secondary">No due date</span>'
        else:
            due = DASH
        cells.append(
            f'<td class="nowrap{" text-danger fw-semibold" if past_due else ""}" data-label="Due"> {due} </td>'
        )
    if "period" in shown:
        if invoice.period_end:
            start, end = formats.format_day_month(invoice.period_start), _date(invoice.period_end)
            period = f'<span class="nowrap">{start} –</span> <span class="nowrap">{end}</span>'
        else:
            period = DASH
        cells.append(f'<td class="small" data-label="Period">{period}</td>')
    if "status" in shown:
        flag = ' <span class="badge text-bg-danger">Past due</span>' if past_due and status != "overdue" else ""
        cells.append(f'<td class="nowrap list-status">{status_badge(invoice)}{flag}</td>')
    if "total" in shown:
        cells.append(f'<td class="num" data-label="Total">{e(money(invoice.total_units, currency))}</td>')
    if "balance" in shown:
        danger = " text-danger fw-semibold" if past_due or status == "overdue" else ""
        if status == Invoice.Status.DRAFT:
            owed = '<span class="text-body-secondary" title="Not owed until issued">—</span>'
        else:
            owed = e(money(invoice.outstanding_units, currency))
        credited = ""
        if invoice.credited_units:
            credited = (
                f'<div class="small fw-normal text-body-secondary">{e(money(invoice.credited_units, currency))} '
                "credited</div>"
            )
        cells.append(f'<td class="num{danger}" data-label="{e(balance_label)}">{owed}{credited}</td>')
    if "pdf" in shown:
        cells.append(
            f'<td class="text-end"><a class="btn btn-outline-secondary btn-sm py-0" '
            f'href="{e(urls("portal:invoice_pdf", invoice.pk))}">PDF</a></td>'
        )
    cells.append("</tr>")
    return "".join(cells)


@register.simple_tag
def invoice_rows(
    invoices,
    columns,
    *,
    party="customer",
    portal=False,
    codes=False,
    contacts=False,
    short_drafts=False,
    balance_label="",
):
    """Every ``<tr>`` of the table's body (see the module's docstring and the partial's comment). The date and
    amount cells carry their column's name in ``data-label``, which a phone shows on each card (static/css/app.css,
    .table-cards); ``balance_label`` is the balance column's (``Outstanding`` unless the page names it)."""
    shown = frozenset(name for name in COLUMNS if name in (columns or ""))
    urls = _PortalUrls()
    flags = {
        "portal": bool(portal),
        "codes": bool(codes),
        "contacts": bool(contacts),
        "short_drafts": bool(short_drafts),
        "balance_label": str(balance_label or "Outstanding"),
    }
    return mark_safe(
        "\n".join(invoice_row(invoice, shown, party=party or "customer", urls=urls, **flags) for invoice in invoices)
    )
