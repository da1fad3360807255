"""Reads shared by pages, exports and reports; always scoped to a tenant. What a page needs beyond one queryset
comes back as a named dataclass (``InvoiceDetailParts``...), whose ``context()`` a view spreads into its template's
context."""

from __future__ import annotations

from dataclasses import dataclass, fields

from django.db.models import (
    BigIntegerField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.recording import audit_trail
from customers.models import BillingContact, Customer, Provider
from expense_codes.models import AppliedExpenseCode

from .models import (
    Invoice,
    InvoiceProforma,
    Payment,
    Proforma,
    Quote,
    QuoteLine,
    Service,
    ServiceRequest,
    Slip,
)
from .models.invoice import list_balance_expression
from .reports.open_balances import open_figures
from .workflow import proforma_adjust_refusal


class PageParts:
    """A selector's named result; ``context()`` is its fields as a template context."""

    def context(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class OfficeDashboardFigures(PageParts):
    currency: str
    open_ar_units: int
    open_ar_count: int
    overdue_count: int
    drafts_to_issue: int
    ap_drafts: int
    uninvoiced_proformas: int
    uninvoiced_units: int
    recent_invoices: list


@dataclass
class PortalDashboardFigures(PageParts):
    currency: str
    open_balance_units: int
    open_count: int
    overdue_count: int
    latest_invoices: list


@dataclass
class InvoiceDetailParts(PageParts):
    proforma_links: list
    direct_slips: list
    codes: list
    payments: list
    children: list
    live_contact: BillingContact | None
    audit: list


@dataclass
class ProformaDetailParts(PageParts):
    slips: list
    codes: list
    links: list
    adjustable: bool
    audit: list


@dataclass
class RequestDetailParts(PageParts):
    codes: list
    services: list
    quote: Quote | None
    quote_lines: list


@dataclass
class ServiceDetailParts(PageParts):
    extras: list
    codes: list
    request_codes: list
    audit: list


def office_dashboard_figures(*, partner) -> OfficeDashboardFigures:
    today = timezone.localdate()
    ar = Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR)
    # The open figures: the open balances kept per customer and due date (invoicing.reports.open_balances), not
    # every open invoice (a large partner's open invoices can be a fifth of a million). Past due: due before today
    # (what the hourly overdue marking then marks overdue).
    owed = open_figures(partner=partner, today=today)
    # AR and AP drafts: both ranges of the status index
    drafts = Invoice.objects.filter(
        partner=partner, kind__in=Invoice.Kind.values, status=Invoice.Status.DRAFT
    ).aggregate(ar=Count("id", filter=Q(kind=Invoice.Kind.AR)), ap=Count("id", filter=Q(kind=Invoice.Kind.AP)))
    uninvoiced = (
        Proforma.objects.filter(partner=partner, status=Proforma.Status.CONFIRMED)
        .exclude(invoice_links__is_active=True, invoice_links__kind=Invoice.Kind.AR)
        .aggregate(count=Count("id"), total=Sum("bill_total_units", default=0))
    )
    return OfficeDashboardFigures(
        currency=partner.currency,
        open_ar_units=owed["units"],
        open_ar_count=owed["count"],
        overdue_count=owed["overdue"],
        drafts_to_issue=drafts["ar"],
        ap_drafts=drafts["ap"],
        uninvoiced_proformas=uninvoiced["count"],
        uninvoiced_units=uninvoiced["total"],
        recent_invoices=list(
            ar.exclude(status=Invoice.Status.DRAFT).select_related("customer").order_by("-issue_date", "-id")[:10]
        ),
    )


def portal_dashboard_figures(*, customer) -> PortalDashboardFigures:
    invoices = Invoice.objects.filter(partner_id=customer.partner_id, customer=customer, kind=Invoice.Kind.AR).exclude(
        status=Invoice.Status.DRAFT
    )
    open_statuses = list(Invoice.OPEN_STATUSES)
    agg = invoices.aggregate(
        total=Sum("total_units", filter=Q(status__in=open_statuses), default=0),
        paid=Sum("paid_units", filter=Q(status__in=open_statuses), default=0),
        children=Sum("children_units", filter=Q(status__in=open_statuses), default=0),
        credited=Sum("credited_units", filter=Q(status__in=open_statuses), default=0),
        open_count=Count("id", filter=Q(status__in=open_statuses)),
        overdue_count=Count("id", filter=Q(status=Invoice.Status.OVERDUE)),
    )
    return PortalDashboardFigures(
        currency=customer.partner.currency,
        open_balance_units=agg["total"] - agg["paid"] - agg["children"] - agg["credited"],
        open_count=agg["open_count"],
        overdue_count=agg["overdue_count"],
        latest_invoices=list(invoices.order_by("-issue_date", "-id")[:10]),
    )


# --- Office lists: the rows, before filters and sorting (invoicing.filters / office.views.lists) -------------


def invoice_list_balance():
    """The balance a list shows and totals (see ``list_balance_expression``)."""
    return list_balance_expression()


def invoice_list_queryset(*, partner, kind: str):
    """A partner's AR or AP invoices with their customer or provider and ``balance_units``."""
    party = "customer" if kind == Invoice.Kind.AR else "provider"
    return (
        Invoice.objects.filter(partner=partner, kind=kind)
        .select_related(party)
        .annotate(balance_units=invoice_list_balance())
    )


# A list adds up its rows (count and sums) only while the filters leave at most this many: a selective filter
# (a customer, a number, a customer's open invoices) is a bounded read whatever the partner's size; a broad one
# (no filter at all, "paid" over a million invoices) says "more than 5,000" instead of reading every row.
LIST_TOTALS_CAP = 5000


def capped_totals(queryset, *, cap: int | None = None, order: tuple[str, ...] = (), **sums) -> dict:
    """``{"count": n, **sums}`` of ``queryset`` if it has at most ``cap`` rows, else ``{"more_than": cap}``.

    One query whatever the number of rows: the aggregate runs over the first ``cap + 1`` rows (a LIMIT in a
    subquery), so it reads at most ``cap + 1`` rows, and ``cap + 1`` of them means there are more. Why not a
    per-partner summary row kept up to date at issue, payment, credit and void: every issue of a partner would
    then update that one row and wait on its lock, serialising concurrent issuers (issue 15 asks for 800
    invoices/s from 4 processes), and a summary could not answer the filtered lists anyway.

    ``order`` (a leading column of an index of the partner's rows) keeps PostgreSQL from taking the first rows
    off a sequential scan, which reads every other partner's rows stored before this one's."""
    cap = LIST_TOTALS_CAP if cap is None else cap
    agg = queryset.order_by(*order)[: cap + 1].aggregate(count=Count("pk"), **sums)
    if agg["count"] > cap:
        return {"more_than": cap}
    return agg


def invoice_list_totals(queryset, *, cap: int | None = None) -> dict:
    """Count, total and outstanding of a (filtered) invoice list in one aggregate query (``capped_totals``)."""
    return capped_totals(
        queryset,
        cap=cap,
        order=("status",),  # invoice_status_totals_idx: an index-only read of the first rows
        total=Sum("total_units", default=0),
        outstanding=Sum(invoice_list_balance(), default=0),
    )


def proforma_list_queryset(*, partner):
    """A partner's proformas with customer, provider, service, and the live AR invoice they are on (if any)."""
    live_ar = InvoiceProforma.objects.filter(proforma=OuterRef("pk"), kind=Invoice.Kind.AR, is_active=True)
    return (
        Proforma.objects.filter(partner=partner)
        .select_related("customer", "provider", "service")
        .annotate(
            ar_invoice_id=Subquery(live_ar.values("invoice_id")[:1]),
            ar_invoice_number=Subquery(live_ar.values("invoice__number")[:1]),
        )
    )


def proforma_list_totals(queryset) -> dict:
    return queryset.order_by().aggregate(
        count=Count("id"),
        billed=Sum("bill_total_units", default=0),
        pay=Sum("pay_total_units", default=0),
    )


def request_list_queryset(*, partner):
    """A partner's requests with their customer and how many services each has."""
    services = (
        Service.objects.filter(request=OuterRef("pk")).order_by().values("request").annotate(n=Count("pk")).values("n")
    )
    return (
        ServiceRequest.objects.filter(partner=partner)
        .select_related("customer")
        .annotate(services_count=Coalesce(Subquery(services, output_field=IntegerField()), 0))
    )


def service_list_queryset(*, partner):
    """A partner's services with their request, customer, provider, type, zone and proforma."""
    return Service.objects.filter(partner=partner).select_related(
        "request__customer", "provider", "service_type", "zone", "proforma"
    )


def count_totals(queryset) -> dict:
    return {"count": queryset.order_by().count()}


def customer_list_queryset(*, partner):
    """A partner's customers with their default contact and open AR balance (credit notes applied counted)."""
    open_balance = (
        Invoice.objects.filter(customer=OuterRef("pk"), kind=Invoice.Kind.AR, status__in=Invoice.OPEN_STATUSES)
        .order_by()
        .values("customer")
        .annotate(s=Sum(F("total_units") - F("paid_units") - F("children_units") - F("credited_units")))
        .values("s")
    )
    contact = BillingContact.objects.filter(customer=OuterRef("pk"), is_default=True)
    return Customer.objects.filter(partner=partner).annotate(
        open_balance_units=Coalesce(Subquery(open_balance, output_field=BigIntegerField()), 0),
        contact_name=Subquery(contact.values("name")[:1]),
        contact_email=Subquery(contact.values("email")[:1]),
    )


def provider_list_queryset(*, partner):
    """A partner's providers with what the partner still owes them on open AP invoices."""
    open_balance = (
        Invoice.objects.filter(provider=OuterRef("pk"), kind=Invoice.Kind.AP, status__in=Invoice.OPEN_STATUSES)
        .order_by()
        .values("provider")
        .annotate(s=Sum(F("total_units") - F("paid_units") - F("children_units")))
        .values("s")
    )
    return Provider.objects.filter(partner=partner).annotate(
        open_balance_units=Coalesce(Subquery(open_balance, output_field=BigIntegerField()), 0)
    )


def payment_list_queryset(*, partner):
    """A partner's payments with their invoice and its customer or provider."""
    return Payment.objects.filter(partner=partner).select_related("invoice__customer", "invoice__provider")


def payment_list_totals(queryset, *, cap: int | None = None) -> dict:
    """Money in and money out of a (filtered) payment list, apart: received on AR invoices, paid out on AP
    invoices, and paid back by the refunds made on those payments (the refund list has every refund). One query
    (``capped_totals``)."""
    return capped_totals(
        queryset,
        cap=cap,
        received=Sum("amount_units", filter=Q(invoice__kind=Invoice.Kind.AR), default=0),
        paid_out=Sum("amount_units", filter=Q(invoice__kind=Invoice.Kind.AP), default=0),
        refunded=Sum("refunded_units", default=0),
    )


# --- Office detail pages: a fixed number of queries whatever the number of lines ---------------------------


def invoice_detail_queryset(*, partner):
    """A partner's invoices with everything the detail page's header needs in one row."""
    return Invoice.objects.filter(partner=partner).select_related(
        "partner",
        "customer__zone",
        "provider",
        "billing_contact",
        "parent__customer",
        "created_by",
        "from_quote__request",
    )


def invoice_detail_parts(*, invoice) -> InvoiceDetailParts:
    """The rest of an invoice's page, each part in one query: proforma groups (with their slips and codes),
    direct slips, codes, payments, children, the live billing contact of a draft and the audit trail.

    A void invoice shows the proformas it carried (their links are kept, inactive)."""
    links = InvoiceProforma.objects.filter(invoice=invoice)
    if invoice.status != Invoice.Status.VOID:
        links = links.filter(is_active=True)
    links = list(
        links.select_related("proforma__provider", "proforma__service").prefetch_related(
            Prefetch("proforma__slips", queryset=Slip.objects.order_by("position", "id")),
            "proforma__expense_codes",
        )
    )
    contact = None
    if invoice.status == Invoice.Status.DRAFT and invoice.kind == Invoice.Kind.AR:
        contact = (
            invoice.billing_contact
            or BillingContact.objects.filter(customer_id=invoice.customer_id, is_default=True).first()
        )
    return InvoiceDetailParts(
        proforma_links=links,
        direct_slips=list(Slip.objects.filter(invoice=invoice).order_by("position", "id")),
        codes=list(AppliedExpenseCode.objects.filter(invoice=invoice)),
        payments=list(invoice.payments.select_related("created_by")),
        children=list(invoice.children.select_related("customer").order_by("id")),
        live_contact=contact,
        audit=list(audit_trail(invoice)),
    )


def proforma_detail_queryset(*, partner):
    return Proforma.objects.filter(partner=partner).select_related(
        "customer", "provider", "service__request", "service__service_type"
    )


def proforma_detail_parts(*, proforma) -> ProformaDetailParts:
    """A proforma's slips, codes, the invoices it is or was on (AR and AP, live and former) and its trail."""
    links = list(
        InvoiceProforma.objects.filter(proforma=proforma)
        .select_related("invoice__customer", "invoice__provider")
        .order_by("-is_active", "kind", "-id")
    )
    return ProformaDetailParts(
        slips=list(Slip.objects.filter(proforma=proforma).order_by("position", "id")),
        codes=list(AppliedExpenseCode.objects.filter(proforma=proforma)),
        links=links,
        # The workflow's rule for adjusting a proforma (invoicing.workflow).
        adjustable=proforma_adjust_refusal(proforma, [link.invoice for link in links if link.is_active]) is None,
        audit=list(audit_trail(proforma)),
    )


def request_detail_queryset(*, partner):
    return ServiceRequest.objects.filter(partner=partner).select_related("customer", "created_by")


def request_detail_parts(*, service_request) -> RequestDetailParts:
    """A request's codes, services (with provider, type, zone, proforma and codes) and quote with its lines."""
    quote = Quote.objects.filter(request=service_request).select_related("invoice").first()
    return RequestDetailParts(
        codes=list(AppliedExpenseCode.objects.filter(request=service_request)),
        services=list(
            Service.objects.filter(request=service_request)
            .select_related("provider", "service_type", "zone", "proforma")
            .prefetch_related("expense_codes")
            .order_by("starts_at", "id")
        ),
        quote=quote,
        quote_lines=list(quote.lines.order_by("id")) if quote else [],
    )


def service_detail_queryset(*, partner):
    return Service.objects.filter(partner=partner).select_related(
        "request__customer", "provider", "service_type", "zone", "shift", "proforma"
    )


def service_detail_parts(*, service) -> ServiceDetailParts:
    return ServiceDetailParts(
        extras=list(service.extras.order_by("id")),
        codes=list(AppliedExpenseCode.objects.filter(service=service)),
        request_codes=list(AppliedExpenseCode.objects.filter(request_id=service.request_id)),
        audit=list(audit_trail(service)),
    )


def customer_invoices(*, customer):
    """A customer's issued AR invoices, newest first: what the portal lists (drafts are never shown)."""
    return (
        Invoice.objects.filter(partner_id=customer.partner_id, customer=customer, kind=Invoice.Kind.AR)
        .exclude(status=Invoice.Status.DRAFT)
        .order_by("-issue_date", "-id")
    )


def customer_requests(*, customer):
    """A customer's requests and bookings, newest first: what the portal lists.

    Each row carries its quote and invoice (one join), ``first_service_at`` (a subquery), and, prefetched, its
    request-level codes and its quote's lines (so a quote's total is added up without a query per row)."""
    first_service = Service.objects.filter(request=OuterRef("pk")).order_by("starts_at", "pk").values("starts_at")[:1]
    return (
        ServiceRequest.objects.filter(partner_id=customer.partner_id, customer=customer)
        .select_related("quote__invoice")
        .annotate(first_service_at=Subquery(first_service))
        .prefetch_related(
            Prefetch("expense_codes", queryset=AppliedExpenseCode.objects.order_by("label_name", "value", "pk")),
            Prefetch("quote__lines", queryset=QuoteLine.objects.order_by("pk")),
        )
        .order_by("-created_at", "-pk")
    )
