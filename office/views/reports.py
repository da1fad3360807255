"""Office reports: AR aging and revenue and margin, each on a page and as CSV (``?format=csv``).

The figures come from invoicing.reports (aggregated in the database, scoped to the partner). CSV money is an
exact decimal string in major units ("1234.50"), never a float.
"""

from __future__ import annotations

import csv
import datetime
import io

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from customers.access import staff_required
from invoicing import reports
from office.exports import cell, money_cell

from .customers import optional_url

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_ERRORS = {"invalid": "Enter a date as YYYY-MM-DD."}


class ReportDateField(forms.DateField):
    """A report date within the years billing data can have: the reports step days and months from it, which
    runs off the calendar (year 0, year 10000) at its ends."""

    FIRST, LAST = datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", DATE_INPUT)
        kwargs.setdefault("error_messages", DATE_ERRORS)
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if value is not None and not self.FIRST <= value <= self.LAST:
            raise forms.ValidationError(
                f"Enter a date between {self.FIRST.isoformat()} and {self.LAST.isoformat()}.", code="out_of_range"
            )


class AgingForm(forms.Form):
    as_of = ReportDateField(label="As of")


class RevenueForm(forms.Form):
    MAX_DAYS = 3660  # ten years: wider ranges are a data export, not a report

    date_from = ReportDateField(label="Issued from", required=False)
    date_to = ReportDateField(label="Issued to", required=False)
    by = forms.ChoiceField(
        label="Group by",
        choices=reports.REVENUE_GROUPINGS,
        required=False,
        error_messages={"invalid_choice": "Group by month, customer, provider or expense code."},
    )

    def clean(self):
        cleaned = super().clean()
        today = timezone.localdate()
        date_to = cleaned.get("date_to") or today
        date_from = cleaned.get("date_from") or default_revenue_start(date_to)
        if "date_from" not in self.errors and "date_to" not in self.errors:
            if date_from > date_to:
                self.add_error("date_to", "The end date is before the start date.")
            elif (date_to - date_from).days > self.MAX_DAYS:
                self.add_error("date_from", "Choose a range of at most ten years.")
        cleaned["date_from"], cleaned["date_to"] = date_from, date_to
        cleaned["by"] = cleaned.get("by") or "month"
        return cleaned


def default_revenue_start(date_to: datetime.date) -> datetime.date:
    """The first day of the month eleven months before ``date_to``: twelve calendar months."""
    month_index = date_to.year * 12 + date_to.month - 1 - 11
    return datetime.date(month_index // 12, month_index % 12 + 1, 1)


def csv_response(rows: list[list[str]], filename: str) -> HttpResponse:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


def _without_format(request) -> str:
    params = request.GET.copy()
    params.pop("format", None)
    return params.urlencode()


@staff_required
def report_aging(request):
    params = request.GET.copy()  # the date in effect is shown in the form
    if not params.get("as_of"):
        params["as_of"] = timezone.localdate().isoformat()
    form = AgingForm(params)
    report = None
    if form.is_valid():
        as_of = form.cleaned_data["as_of"]
        report = reports.ar_aging(partner=request.partner, as_of=as_of)
        for row in report.rows:
            row.detail_url = optional_url("office:customer_detail", row.customer_id)
        if _wants_csv(request):
            return aging_csv(report, request.partner.currency)
    return render(
        request,
        "office/reports/aging.html",
        {
            "form": form,
            "report": report,
            "currency": request.partner.currency,
            "buckets": reports.AGING_BUCKETS,
            "query": _without_format(request),
        },
    )


def aging_csv(report: reports.AgingReport, currency: str) -> HttpResponse:
    def line(row: reports.AgingRow) -> list[str]:
        amounts = [money_cell(amount, currency) for _, _, amount in row.buckets]
        return [cell(row.name), str(row.invoices), *amounts, money_cell(row.total, currency)]

    header = ["Customer", "Invoices", *(label for _, label in reports.AGING_BUCKETS), "Total outstanding"]
    rows = [header, *(line(row) for row in report.rows), line(report.totals)]
    return csv_response(rows, f"ar-aging-{report.as_of.isoformat()}")


@staff_required
def report_revenue(request):
    params = request.GET.copy()  # the dates in effect are shown in the form
    today = timezone.localdate()
    if not params.get("date_to"):
        params["date_to"] = today.isoformat()
    if not params.get("date_from"):
        params["date_from"] = default_revenue_start(today).isoformat()
    form = RevenueForm(params)
    report = None
    if form.is_valid():
        data = form.cleaned_data
        report = reports.revenue_report(
            partner=request.partner, date_from=data["date_from"], date_to=data["date_to"], by=data["by"]
        )
        for row in report.rows:
            if row.customer_id:
                row.detail_url = optional_url("office:customer_detail", row.customer_id)
            elif row.provider_id:
                row.detail_url = optional_url("office:provider_detail", row.provider_id)
        if _wants_csv(request):
            return revenue_csv(report, request.partner.currency)
    return render(
        request,
        "office/reports/revenue.html",
        {
            "form": form,
            "report": report,
            "currency": request.partner.currency,
            "groupings": reports.REVENUE_GROUPINGS,
            "by": form.cleaned_data.get("by", "month") if form.is_valid() else request.GET.get("by", "month"),
            "query": _without_format(request),
        },
    )


def revenue_csv(report: reports.RevenueReport, currency: str) -> HttpResponse:
    group = dict(reports.REVENUE_GROUPINGS)[report.by]

    def line(row: reports.RevenueRow, label: str) -> list[str]:
        percent = row.margin_percent
        return [
            label,
            str(row.count),
            money_cell(row.net_units, currency),
            money_cell(row.tax_units, currency),
            money_cell(row.total_units, currency),
            money_cell(row.cost_units, currency),
            money_cell(row.margin_units, currency),
            "" if percent is None else str(percent),
            str(row.credit_notes),
            money_cell(row.credited_units, currency),
        ]

    header = [
        group,
        report.count_label,
        "Revenue (net of tax)",
        "Tax",
        "Total billed",
        "Provider cost",
        "Margin",
        "Margin %",
        "Credit notes",  # issued in the range: their credited amount is already off the revenue
        "Credited (net of tax)",
    ]
    rows = [header]
    for row in report.rows:
        rows.append(line(row, row.month.strftime("%Y-%m") if report.by == "month" else cell(row.label)))
    rows.append(line(report.totals, "Total"))
    name = f"revenue-by-{report.by.replace('_', '-')}-{report.date_from.isoformat()}-to-{report.date_to.isoformat()}"
    return csv_response(rows, name)
