"""The office dashboard: what needs attention (each a link to the list that shows it), the figures (each a link to
its list) and the charts of the last twelve months, each with its figures as a table. Partner-scoped; every figure
is one aggregate query (invoicing.overviews.office_dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from customers.access import staff_required
from invoicing import overviews

from . import charts
from .lists.base import detail_url


@dataclass(frozen=True)
class AttentionItem:
    label: str
    count: int
    url: str
    note: str = ""
    tone: str = "warning"  # "danger" for what costs money or a customer's trust


def list_url(name: str, **params) -> str:
    """An office list filtered by ``params`` (office:<name>_list)."""
    url = reverse(f"office:{name}_list")
    return f"{url}?{urlencode(params)}" if params else url


def attention_items(dashboard: overviews.OfficeDashboard) -> list[AttentionItem]:
    figures, attention = dashboard.figures, dashboard.attention
    return [
        AttentionItem(
            "AR drafts to issue", figures.drafts_to_issue, list_url("ar_invoice", status="draft"), "waiting for review"
        ),
        AttentionItem(
            "AP drafts to issue", figures.ap_drafts, list_url("ap_invoice", status="draft"), "provider bills"
        ),
        AttentionItem(
            "Overdue invoices", figures.overdue_count, list_url("ar_invoice", status="past_due"), "past due", "danger"
        ),
        AttentionItem(
            "PDFs that failed", attention.pdf_failed, list_url("ar_invoice", problem="pdf_failed"), "render again"
        ),
        AttentionItem(
            "E-mails that failed",
            attention.send_failed,
            list_url("ar_invoice", problem="send_failed"),
            "not delivered",
            "danger",
        ),
        AttentionItem(
            "Card charges that failed",
            attention.charge_failed,
            list_url("ar_invoice", problem="charge_failed"),
            "still owed",
            "danger",
        ),
        AttentionItem(
            "Services without a price",
            attention.unpriced_services,
            list_url("service", pricing="failed"),
            "no proforma until priced",
        ),
    ]


def dashboard_charts(dashboard: overviews.OfficeDashboard, currency: str) -> list[charts.Chart]:
    def customer_link(row):
        return detail_url("customer", row.customer_id)

    def provider_link(row):
        return detail_url("provider", row.provider_id)

    return [
        charts.billed_collected_chart(billed=dashboard.billed, cash=dashboard.cash, currency=currency),
        charts.aging_chart(aging=dashboard.aging, currency=currency, link=customer_link),
        charts.cash_chart(cash=dashboard.cash, currency=currency),
        charts.margin_chart(
            report=dashboard.by_provider,
            currency=currency,
            chart_id="margin-provider",
            title="Margin by provider",
            link=provider_link,
        ),
        charts.margin_chart(
            report=dashboard.by_code,
            currency=currency,
            chart_id="margin-code",
            title="Margin by expense code",
            link=lambda row: "",
        ),
    ]


@staff_required
def dashboard(request):
    partner = request.partner
    data = overviews.office_dashboard(partner=partner, today=timezone.localdate())
    figures = data.figures
    cards = {
        "open": list_url("ar_invoice", status="open"),
        "overdue": list_url("ar_invoice", status="past_due"),
        "drafts": list_url("ar_invoice", status="draft"),
        "ap_drafts": list_url("ap_invoice", status="draft"),
        "uninvoiced": list_url("proforma", status="confirmed", invoiced="no"),
    }
    return render(
        request,
        "office/dashboard.html",
        {
            "figures": figures,
            "cards": cards,
            "attention": attention_items(data),
            "last_run": data.attention.last_run,
            "next_runs": data.attention.next_runs,
            "period": data.period,
            "charts": dashboard_charts(data, figures.currency),
        },
    )
