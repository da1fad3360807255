"""Office reports: AR aging and revenue and margin, each on a page and as CSV (``?format=csv``).

The figures come from invoicing.reports (aggregated in the database, scoped to the partner). CSV money is an
exact decimal string in major units ("1234.50"), never a float.
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass
from html import escape

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from customers.access import staff_required
from invoicing import reports
from octoo_billing.money import format_units
from office.exports import CSV_BOM, cell, money_cell

from . import charts
from .customers import optional_url
from .lists.base import DetailLinks

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


class PeriodForm(forms.Form):
    """A range of dates (inclusive); the view fills in the range a report opens on when none is given."""

    MAX_DAYS = 3660  # ten years: wider ranges are a data export, not a report

    date_from = ReportDateField(label="From", required=False)
    date_to = ReportDateField(label="To", required=False)

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
        return cleaned


class IssuedPeriodForm(PeriodForm):
    """A range of issue dates and the report's own choices, each given its default when none is chosen."""

    date_from = ReportDateField(label="Issued from", required=False)
    date_to = ReportDateField(label="Issued to", required=False)
    choice_defaults: dict[str, str] = {}

    def clean(self):
        cleaned = super().clean()
        for name, default in self.choice_defaults.items():
            cleaned[name] = cleaned.get(name) or default
        return cleaned


class RevenueForm(IssuedPeriodForm):
    choice_defaults = {"by": "month"}
    by = forms.ChoiceField(
        label="Group by",
        choices=reports.REVENUE_GROUPINGS,
        required=False,
        error_messages={"invalid_choice": "Group by month, customer, provider or expense code."},
    )


class TaxForm(IssuedPeriodForm):
    choice_defaults = {"per": "month"}
    per = forms.ChoiceField(
        label="Per",
        choices=reports.TAX_PERIODS,
        required=False,
        error_messages={"invalid_choice": "Choose month or quarter."},
    )


def default_revenue_start(date_to: datetime.date) -> datetime.date:
    """The first day of the month eleven months before ``date_to``: twelve calendar months."""
    return reports.month_add(date_to, -11)


@dataclass(frozen=True)
class Preset:
    label: str
    url: str
    active: bool


def period_presets(request, data: reports.Range, current: tuple) -> list[Preset]:
    """Links to common ranges (the months with data first), keeping the report's other choices."""
    today = timezone.localdate()
    quarter = datetime.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    last_quarter = reports.month_add(quarter, -3)
    ranges = [
        ("Months with data", data.date_from, data.date_to),
        ("Last 12 months", reports.month_add(today, -11), today),
        ("This quarter", quarter, today),
        ("Last quarter", last_quarter, quarter - datetime.timedelta(days=1)),
        ("This year", datetime.date(today.year, 1, 1), today),
        ("Last year", datetime.date(today.year - 1, 1, 1), datetime.date(today.year - 1, 12, 31)),
    ]
    presets = []
    for label, date_from, date_to in ranges:
        params = request.GET.copy()
        for name in ("format", "date_from", "date_to"):
            params.pop(name, None)
        params["date_from"], params["date_to"] = date_from.isoformat(), date_to.isoformat()
        presets.append(Preset(label, f"?{params.urlencode()}", current == (date_from, date_to)))
    return presets


def _with_default_range(request, data: reports.Range):
    """The request's parameters with the report's opening range filled in where no date was given (the dates in
    effect are shown in the form)."""
    params = request.GET.copy()
    if not params.get("date_from") and not params.get("date_to"):
        params["date_from"], params["date_to"] = data.date_from.isoformat(), data.date_to.isoformat()
    if not params.get("date_to"):
        params["date_to"] = timezone.localdate().isoformat()
    if not params.get("date_from"):
        try:
            params["date_from"] = default_revenue_start(datetime.date.fromisoformat(params["date_to"])).isoformat()
        except ValueError:
            pass  # the form says what is wrong with the end date
    return params


def csv_response(rows: list[list[str]], filename: str) -> HttpResponse:
    buffer = io.StringIO()
    buffer.write(CSV_BOM)  # Excel reads the file as UTF-8 ("1–30 days") only with the byte-order mark
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
        if _wants_csv(request):
            return aging_csv(report, request.partner.currency)
        links = DetailLinks()
        for row in report.rows:
            row.html = aging_row_html(row, links("customer", row.customer_id), request.partner.currency)
        report.totals.cells = aging_cells(report.totals, request.partner.currency)
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


def aging_cells(row: reports.AgingRow, currency: str) -> list[tuple[str, str]]:
    """A row's amounts as the page shows them, (extra CSS classes, text) per bucket then the total: formatted here
    once, so that the page's hundreds of rows render as plain values (a template tag and two conditions per cell
    were most of the page's time)."""
    cells = []
    for key, _, amount in row.buckets:
        css = " text-body-tertiary" if not amount else " text-danger fw-semibold" if key == "days_over_90" else ""
        cells.append((css, format_units(amount, currency)))
    cells.append((" fw-semibold", format_units(row.total, currency)))
    return cells


def aging_row_html(row: reports.AgingRow, url: str, currency: str) -> SafeString:
    """One customer's row of the aging table, built here rather than in the template: the page shows every customer
    that owes something (hundreds of rows of seven cells), and a template spends ~10 µs a cell resolving, escaping and
    looping where this spends well under one (templates/office/reports/aging.html shows the markup's shape). Every
    text is escaped (``html.escape`` escapes the same five characters as Django's ``escape``)."""
    name = f'<a href="{escape(url)}">{escape(row.name)}</a>' if url else escape(row.name)
    cells = "".join(f'<td class="num{css}">{escape(text)}</td>' for css, text in aging_cells(row, currency))
    return mark_safe(f'<tr><td>{name}</td><td class="num">{row.invoices}</td>{cells}</tr>')  # noqa: S308 (escaped)


def aging_csv(report: reports.AgingReport, currency: str) -> HttpResponse:
    def line(row: reports.AgingRow) -> list[str]:
        amounts = [money_cell(amount, currency) for _, _, amount in row.buckets]
        return [cell(row.name), str(row.invoices), *amounts, money_cell(row.total, currency)]

    header = ["Customer", "Invoices", *(label for _, label in reports.AGING_BUCKETS), "Total outstanding"]
    rows = [header, *(line(row) for row in report.rows), line(report.totals)]
    return csv_response(rows, f"ar-aging-{report.as_of.isoformat()}")


def _data_range(first_last) -> reports.Range:
    first, last = first_last
    return reports.data_range(first, last, timezone.localdate())


def _revenue_chart_link(row) -> str:
    if row.customer_id:
        return optional_url("office:customer_detail", row.customer_id)
    if row.provider_id:
        return optional_url("office:provider_detail", row.provider_id)
    return ""


def _period_report(request, *, dates, form_class, build, to_csv, chart, template: str, extra=None):
    """A report over a range of dates (revenue, cash, tax): the form opens on the months with data, the range presets
    follow the range in effect, ``?format=csv`` answers the CSV; ``build`` makes the report from the form's data,
    ``chart`` its chart."""
    currency = request.partner.currency
    data_range = _data_range(dates)
    form = form_class(_with_default_range(request, data_range))
    report = report_chart = None
    presets = period_presets(request, data_range, ())
    if form.is_valid():
        report = build(form.cleaned_data)
        if _wants_csv(request):
            return to_csv(report, currency)
        presets = period_presets(request, data_range, (report.date_from, report.date_to))
        report_chart = chart(report, currency)
    context = {
        "form": form,
        "report": report,
        "chart": report_chart,
        "presets": presets,
        "currency": currency,
        "query": _without_format(request),
    }
    return render(request, template, {**context, **(extra or {})})


@staff_required
def report_revenue(request):
    def build(data):
        report = reports.revenue_report(
            partner=request.partner, date_from=data["date_from"], date_to=data["date_to"], by=data["by"]
        )
        for row in report.rows:
            row.detail_url = _revenue_chart_link(row)
        return report

    def chart(report, currency):
        return charts.margin_chart(
            report=report,
            currency=currency,
            chart_id="revenue",
            title=f"Revenue, provider cost and margin by {report.by_label.lower()}",
            link=_revenue_chart_link,
        )

    form_by = request.GET.get("by") or "month"
    return _period_report(
        request,
        dates=reports.revenue_dates(partner=request.partner),
        form_class=RevenueForm,
        build=build,
        to_csv=revenue_csv,
        chart=chart,
        template="office/reports/revenue.html",
        extra={"groupings": reports.REVENUE_GROUPINGS, "by": form_by},
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


@staff_required
def report_cash(request):
    return _period_report(
        request,
        dates=reports.cash_dates(partner=request.partner),
        form_class=PeriodForm,
        build=lambda data: reports.cash_report(
            partner=request.partner, date_from=data["date_from"], date_to=data["date_to"]
        ),
        to_csv=cash_csv,
        chart=lambda report, currency: charts.cash_chart(cash=report, currency=currency),
        template="office/reports/cash.html",
    )


def cash_csv(report: reports.CashReport, currency: str) -> HttpResponse:
    def line(row: reports.CashRow, label: str) -> list[str]:
        return [
            label,
            money_cell(row.received_units, currency),
            money_cell(row.paid_out_units, currency),
            money_cell(row.refunded_units, currency),
            money_cell(row.money_out_units, currency),
            money_cell(row.net_units, currency),
        ]

    header = ["Month", "Received from customers", "Paid to providers", "Refunded to customers", "Money out", "Net"]
    rows = [header, *(line(row, row.month.strftime("%Y-%m")) for row in report.rows), line(report.totals, "Total")]
    return csv_response(rows, f"cash-{report.date_from.isoformat()}-to-{report.date_to.isoformat()}")


@staff_required
def report_tax(request):
    return _period_report(
        request,
        dates=reports.revenue_dates(partner=request.partner),
        form_class=TaxForm,
        build=lambda data: reports.tax_report(
            partner=request.partner, date_from=data["date_from"], date_to=data["date_to"], per=data["per"]
        ),
        to_csv=tax_csv,
        chart=lambda report, currency: charts.tax_chart(report=report, currency=currency),
        template="office/reports/tax.html",
    )


def tax_csv(report: reports.TaxReport, currency: str) -> HttpResponse:
    header = ["Period", "Tax rate %", "Zone", "Taxable base", "Tax"]
    rows = [header]
    for row in report.rows:
        period = row.period.strftime("%Y-%m") if report.per == "month" else row.period_label
        rate = "" if row.rate is None else f"{row.rate:f}"
        rows.append(
            [period, rate, cell(row.zone), money_cell(row.base_units, currency), money_cell(row.tax_units, currency)]
        )
    rows.append(
        ["Total", "", "", money_cell(report.totals.base_units, currency), money_cell(report.totals.tax_units, currency)]
    )
    return csv_response(rows, f"tax-by-{report.per}-{report.date_from.isoformat()}-to-{report.date_to.isoformat()}")
