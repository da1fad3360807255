"""Reads shared by pages, exports and reports; always scoped to a tenant."""

from django.db.models import Count, Q, Sum
from django.utils import timezone

from .models import Invoice, Proforma


def office_dashboard_figures(*, partner) -> dict:
    today = timezone.localdate()
    ar = Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AR)
    open_statuses = list(Invoice.OPEN_STATUSES)
    agg = ar.aggregate(
        open_total=Sum("total_units", filter=Q(status__in=open_statuses), default=0),
        open_paid=Sum("paid_units", filter=Q(status__in=open_statuses), default=0),
        open_children=Sum("children_units", filter=Q(status__in=open_statuses), default=0),
        open_count=Count("id", filter=Q(status__in=open_statuses)),
        overdue_count=Count(
            "id", filter=Q(status=Invoice.Status.OVERDUE) | Q(status__in=open_statuses, due_date__lt=today)
        ),
        drafts=Count("id", filter=Q(status=Invoice.Status.DRAFT)),
    )
    uninvoiced = (
        Proforma.objects.filter(partner=partner, status=Proforma.Status.CONFIRMED)
        .exclude(invoice_links__is_active=True, invoice_links__kind=Invoice.Kind.AR)
        .aggregate(count=Count("id"), total=Sum("bill_total_units", default=0))
    )
    return {
        "currency": partner.currency,
        "open_ar_units": agg["open_total"] - agg["open_paid"] - agg["open_children"],
        "open_ar_count": agg["open_count"],
        "overdue_count": agg["overdue_count"],
        "drafts_to_issue": agg["drafts"],
        "ap_drafts": Invoice.objects.filter(partner=partner, kind=Invoice.Kind.AP, status=Invoice.Status.DRAFT).count(),
        "uninvoiced_proformas": uninvoiced["count"],
        "uninvoiced_units": uninvoiced["total"],
        "recent_invoices": list(
            ar.exclude(status=Invoice.Status.DRAFT).select_related("customer").order_by("-issue_date", "-id")[:10]
        ),
    }


def portal_dashboard_figures(*, customer) -> dict:
    invoices = Invoice.objects.filter(partner_id=customer.partner_id, customer=customer, kind=Invoice.Kind.AR).exclude(
        status=Invoice.Status.DRAFT
    )
    open_statuses = list(Invoice.OPEN_STATUSES)
    agg = invoices.aggregate(
        total=Sum("total_units", filter=Q(status__in=open_statuses), default=0),
        paid=Sum("paid_units", filter=Q(status__in=open_statuses), default=0),
        children=Sum("children_units", filter=Q(status__in=open_statuses), default=0),
        open_count=Count("id", filter=Q(status__in=open_statuses)),
        overdue_count=Count("id", filter=Q(status=Invoice.Status.OVERDUE)),
    )
    return {
        "currency": customer.partner.currency,
        "open_balance_units": agg["total"] - agg["paid"] - agg["children"],
        "open_count": agg["open_count"],
        "overdue_count": agg["overdue_count"],
        "latest_invoices": list(invoices.order_by("-issue_date", "-id")[:10]),
    }
