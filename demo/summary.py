"""What the demo data holds: row counts and invoices by status (printed by ``manage.py seed_demo``)."""

from __future__ import annotations

from collections import Counter, defaultdict

from django.apps import apps
from django.db.models import Count

from audit.models import AuditEvent
from customers.models import BillingContact, Customer, CustomerMembership, Partner, Provider, StaffMembership
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from invoicing.models import (
    Coupon,
    CreditNote,
    ExtraOffer,
    Holiday,
    Invoice,
    InvoiceProforma,
    Payment,
    Proforma,
    Quote,
    Rate,
    Refund,
    Service,
    ServiceExtra,
    ServiceRequest,
    ServiceType,
    Slip,
    TimePolicy,
    Zone,
)

COUNTED_APPS = ("audit", "customers", "expense_codes", "invoicing", "auth")
SUMMARY_MODELS = (
    Partner,
    Customer,
    BillingContact,
    Provider,
    StaffMembership,
    CustomerMembership,
    ExpenseCodeLabel,
    AppliedExpenseCode,
    Zone,
    ServiceType,
    Rate,
    TimePolicy,
    Holiday,
    Coupon,
    CreditNote,
    ExtraOffer,
    ServiceRequest,
    Service,
    ServiceExtra,
    Quote,
    Proforma,
    Slip,
    Invoice,
    Payment,
    Refund,
    AuditEvent,
)


def demo_counts() -> dict[str, int]:
    """Row counts of every model the seed writes (a second run must leave them all unchanged)."""
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in COUNTED_APPS and not model._meta.auto_created
    }


def _invoice_lines() -> list[str]:
    rows = Invoice.objects.values("partner__name", "kind", "status").annotate(n=Count("id"))
    by = defaultdict(Counter)
    for row in rows:
        by[(row["partner__name"], row["kind"])][row["status"]] += row["n"]
    order = [s for s, _ in Invoice.Status.choices]
    lines = ["Invoices by status:"]
    for (partner, kind), statuses in sorted(by.items()):
        parts = ", ".join(f"{statuses[s]} {s}" for s in order if statuses[s])
        lines.append(f"  {partner} {kind.upper()}: {parts}")
    return lines


def demo_summary() -> str:
    counts = demo_counts()
    lines = ["Rows:"]
    lines += [f"  {model.__name__:<20} {counts.get(model._meta.label, 0):>5}" for model in SUMMARY_MODELS]
    lines += _invoice_lines()
    children = Invoice.objects.filter(parent__isnull=False).count()
    invoiced = InvoiceProforma.objects.filter(is_active=True, kind="ar").values("proforma_id")
    uninvoiced = Proforma.objects.filter(status=Proforma.Status.CONFIRMED).exclude(pk__in=invoiced).count()
    lines.append(
        f"  child AR invoices attached: {children}; confirmed proformas not yet on an AR invoice: {uninvoiced}"
    )
    return "\n".join(lines)
