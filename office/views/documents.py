"""Detail pages of billing documents: invoice, proforma, request and service.

Each page loads its document through the partner's scope (another partner's is a 404) and the rest in a
fixed number of queries (invoicing.selectors). The invoice page offers the actions the workflow allows now for
this user and status (invoicing.workflow); the actions themselves are POST views in office.views.actions.
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from customers.access import staff_required
from invoicing import credit_selectors, selectors
from invoicing.delivery import invoice_pay_url
from invoicing.editable import request_editable, service_editable
from invoicing.forms import (
    AttachChildForm,
    DetachChildForm,
    InvoiceActionForm,
    InvoiceAdjustmentForm,
    PaymentForm,
    ProformaAdjustmentForm,
    VoidForm,
)
from invoicing.models import Invoice, Proforma, Quote, Service
from invoicing.outbox import invoice_outbox_jobs
from invoicing.preview import invoice_issue_preview
from invoicing.pricing import tax_band_lines, tax_bands
from invoicing.quotes import quote_totals as quote_totals_of
from invoicing.recurring import recurrence_words
from invoicing.reminders import invoice_reminders
from invoicing.workflow import InvoiceFacts, Offers, action_refusals, actor_for, invoice_offers
from invoicing.zones import service_zone_explain
from office.scoping import partner_object

from .credit_context import invoice_credit_card
from .lines import line_rows_html, slips_for_display

Status = Invoice.Status


def maybe_reverse(name: str, *args) -> str | None:
    """A link to a page another area provides, or None while that page does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _status_label(value: str) -> str:
    return value.replace("_", " ").capitalize() if value else ""


def audit_labelled(events) -> list:
    """Audit rows with readable words for the page ("attach_child" -> "Attach child")."""
    for event in events:
        event.label = _status_label(event.action)
        event.from_label = _status_label(event.from_status)
        event.to_label = _status_label(event.to_status)
    return list(events)


# --- what a user may do with an invoice now -----------------------------------------------------------------


def invoice_page_offers(
    request, invoice: Invoice, parts: selectors.InvoiceDetailParts, credits: credit_selectors.InvoiceCredits
) -> Offers:
    """The actions the page offers now (invoicing.workflow), from what the page has already loaded."""
    facts = InvoiceFacts(
        invoice,
        has_payments=bool(parts.payments),
        has_children=bool(parts.children),
        has_proformas=any(link.is_active for link in parts.proforma_links),
        **credits.facts(invoice, parts.payments),
    )
    return invoice_offers(invoice, actor_for(request.user, invoice), facts=facts)


# --- invoice ------------------------------------------------------------------------------------------------


def invoice_contact(invoice: Invoice, *, live_contact) -> dict:
    """Who the invoice is addressed to: the snapshot frozen at issue, or for a draft the live contact
    (the chosen one, else the customer's default; an AP draft's provider)."""
    if invoice.status != Status.DRAFT:
        return {
            "bill_to": invoice.bill_to_name,
            "name": invoice.contact_name,
            "email": invoice.contact_email,
            "address": invoice.contact_address,
            "live": False,
        }
    if invoice.kind == Invoice.Kind.AP:
        provider = invoice.provider
        return {
            "bill_to": provider.name,
            "name": provider.name,
            "email": provider.email,
            "address": provider.address,
            "live": True,
        }
    customer = invoice.customer
    return {
        "bill_to": customer.name,
        "name": live_contact.name if live_contact else "",
        "email": live_contact.email if live_contact else "",
        "address": (live_contact.address if live_contact else "") or customer.address,
        "live": True,
        "missing": live_contact is None,
    }


def invoice_for_page(request, pk) -> Invoice:
    return partner_object(request, selectors.invoice_detail_queryset(partner=request.partner), pk=pk)


def render_invoice_page(request, invoice: Invoice, *, bound: dict | None = None, status: int = 200):
    """The invoice page; ``bound`` holds an action form that came back with errors, shown open."""
    bound = bound or {}
    parts = selectors.invoice_detail_parts(invoice=invoice)
    credits = credit_selectors.invoice_credits(invoice=invoice, payments=parts.payments)
    links = parts.proforma_links
    actions = invoice_page_offers(request, invoice, parts, credits)
    ar = invoice.kind == Invoice.Kind.AR
    per_proforma = invoice.expense_code_mode == Invoice.ExpenseCodeMode.PER_PROFORMA
    forms = {
        "issue": InvoiceActionForm(invoice=invoice, auto_id="issue_%s") if actions.issue else None,
        "delete": InvoiceActionForm(invoice=invoice, auto_id="delete_%s") if actions.delete_draft else None,
        "void": bound.get("void") or (VoidForm(invoice=invoice) if actions.void else None),
        "payment": bound.get("payment") or (PaymentForm(invoice=invoice) if actions.record_payment else None),
        "adjust": bound.get("adjust") or (InvoiceAdjustmentForm(invoice=invoice) if actions.adjust else None),
        "attach": bound.get("attach") or (AttachChildForm(invoice=invoice) if actions.attach_child else None),
    }
    if invoice.parent_id:
        # A child's page reads its own status for the detach form (kept consistent with other actions).
        forms["detach"] = DetachChildForm(initial={"parent": invoice.parent_id, "back": "child"}, auto_id=False)
    contact = invoice_contact(invoice, live_contact=parts.live_contact)
    outbox_jobs = invoice_outbox_jobs(invoice)
    groups = [
        {
            "proforma": link.proforma,
            "is_active": link.is_active,
            "slips": list(link.proforma.slips.all()),
            "codes": list(link.proforma.expense_codes.all()),
            "total_units": link.proforma.bill_total_units if ar else link.proforma.pay_total_units,
            "url": reverse("office:proforma_detail", args=[link.proforma_id]),
        }
        for link in links
    ]
    for group in groups:
        group["lines_html"] = line_rows_html(group["slips"], currency=invoice.currency, ar=ar)
    direct_html = line_rows_html(parts.direct_slips, currency=invoice.currency, ar=ar)
    # The tax per rate, from the lines the page has loaded (the same lines as pricing.invoice_slips): no query.
    billed = [*parts.direct_slips, *(slip for group in groups for slip in group["slips"])]
    tax_lines = tax_band_lines(tax_bands(billed), invoice.currency) if ar else []
    party_url = (
        maybe_reverse("office:customer_detail", invoice.customer_id)
        if ar
        else maybe_reverse("office:provider_detail", invoice.provider_id)
    )
    context = {
        "invoice": invoice,
        "ar": ar,
        "per_proforma": per_proforma,
        "contact": contact,
        "groups": groups,
        "direct_lines_html": direct_html,
        "direct_slips": parts.direct_slips,
        "tax_lines": tax_lines,
        "codes": parts.codes,
        "payments": parts.payments,
        "children": [
            {"invoice": child, "form": DetachChildForm(initial={"parent": invoice.pk, "back": "parent"}, auto_id=False)}
            for child in parts.children
        ],
        "audit": audit_labelled(parts.audit),
        "outbox_jobs": outbox_jobs,
        "reminders": invoice_reminders(invoice, jobs=outbox_jobs),
        "outbox_failed": any(job.status == job.Status.FAILED for job in outbox_jobs),
        "actions": actions,
        "can_detach_children": any(
            not action_refusals("detach_child", child, actor_for(request.user, child)) for child in parts.children
        ),
        "forms": forms,
        "open_form": next(iter(bound), None),
        "party_url": party_url,
        "list_url": maybe_reverse("office:ar_invoice_list" if ar else "office:ap_invoice_list"),
        "quote": getattr(invoice, "from_quote", None) if ar else None,
        "line_count": len(parts.direct_slips) + sum(len(g["slips"]) for g in groups),
        "issue_preview": invoice_issue_preview(invoice) if actions.issue else None,
        "pay_url": invoice_pay_url(invoice),
        # credit notes, refunds and customer credit (office.views.credit_context, office.views.credits)
        "credit": invoice_credit_card(
            invoice, parts=parts, credits=credits, actions=actions, bound=bound, jobs=outbox_jobs
        ),
    }
    return render(request, "office/invoices/detail.html", context, status=status)


@staff_required
def invoice_detail(request, pk):
    invoice = invoice_for_page(request, pk)
    return render_invoice_page(request, invoice)


# --- proforma -----------------------------------------------------------------------------------------------


def render_proforma_page(request, proforma: Proforma, *, adjust_form=None):
    parts = selectors.proforma_detail_parts(proforma=proforma)
    parts.audit = audit_labelled(parts.audit)
    slips_for_display(parts.slips, proforma.partner.currency)
    if parts.adjustable and adjust_form is None:
        zone = proforma.service.zone if proforma.service_id and proforma.service.zone_id else None
        adjust_form = ProformaAdjustmentForm(
            currency=proforma.partner.currency, tax_rate=(zone.tax_rate if zone else None)
        )
    context = {
        "proforma": proforma,
        "currency": proforma.partner.currency,
        "margin_units": proforma.bill_total_units - proforma.bill_tax_units - proforma.pay_total_units,
        **parts.context(),
        "adjust_form": adjust_form if parts.adjustable else None,
        "adjust_open": adjust_form is not None and adjust_form.is_bound,
        "customer_url": maybe_reverse("office:customer_detail", proforma.customer_id),
        "provider_url": maybe_reverse("office:provider_detail", proforma.provider_id) if proforma.provider_id else None,
        "list_url": maybe_reverse("office:proforma_list"),
    }
    return render(request, "office/proformas/detail.html", context)


def proforma_for_page(request, pk) -> Proforma:
    queryset = selectors.proforma_detail_queryset(partner=request.partner).select_related("partner", "service__zone")
    return partner_object(request, queryset, pk=pk)


@staff_required
def proforma_detail(request, pk):
    return render_proforma_page(request, proforma_for_page(request, pk))


# --- request ------------------------------------------------------------------------------------------------


@staff_required
def request_detail(request, pk):
    service_request = partner_object(request, selectors.request_detail_queryset(partner=request.partner), pk=pk)
    parts = selectors.request_detail_parts(service_request=service_request)
    quote = parts.quote
    quote_totals = quote_totals_of(quote, parts.quote_lines) if parts.quote_lines else None
    context = {
        "service_request": service_request,
        "recurrence": recurrence_words(service_request),  # "" unless it is a recurring booking
        "currency": request.partner.currency,
        **parts.context(),
        "quote_totals": quote_totals,
        "can_convert": quote is not None
        and quote.status in (Quote.Status.OPEN, Quote.Status.ACCEPTED)
        and service_request.status != service_request.Status.CANCELLED
        and not service_request.repeat  # a recurring booking is invoiced by its own option, not from its quote
        and bool(parts.quote_lines),
        "customer_url": maybe_reverse("office:customer_detail", service_request.customer_id),
        "list_url": maybe_reverse("office:request_list"),
        "editable": request_editable(service_request),  # what staff may still change (office.views.intake)
    }
    return render(request, "office/requests/detail.html", context)


# --- service ------------------------------------------------------------------------------------------------


def service_can_publish(service: Service) -> bool:
    """Publishing is offered until the service has its proforma (a pricing error can be retried)."""
    has_proforma = hasattr(service, "proforma")
    return service.status != Service.Status.CANCELLED and not has_proforma


@staff_required
def service_detail(request, pk):
    service = partner_object(request, selectors.service_detail_queryset(partner=request.partner), pk=pk)
    parts = selectors.service_detail_parts(service=service)
    parts.audit = audit_labelled(parts.audit)
    context = {
        "service": service,
        "proforma": getattr(service, "proforma", None),
        "currency": request.partner.currency,
        **parts.context(),
        "can_publish": service_can_publish(service),
        "zone_explanation": service_zone_explain(service).explanation,  # which zone and why, in words
        "provider_url": maybe_reverse("office:provider_detail", service.provider_id) if service.provider_id else None,
        "customer_url": maybe_reverse("office:customer_detail", service.request.customer_id),
        "list_url": maybe_reverse("office:service_list"),
        "editable": service_editable(service),  # what staff may still change (office.views.intake)
    }
    return render(request, "office/services/detail.html", context)
