"""Office provider pages: detail, create and edit, and "bill now" (the provider's AP run)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from customers import providers
from customers.access import staff_required
from customers.forms import ProviderForm, RunPeriodForm
from customers.models import Provider
from invoicing import overviews
from invoicing.errors import BillingError
from invoicing.invoices_from_proformas import ap_invoices_generate
from invoicing.schedules import closed_period, month_period
from octoo_billing import locale as formats
from office.scoping import partner_object

from .customers import apply_errors, invoice_links, optional_url, proforma_links, run_message


def _provider(request, pk):
    return partner_object(request, Provider, pk=pk)


def _detail_url(provider) -> str:
    return reverse("office:provider_detail", args=[provider.pk])


def _detail_page(request, provider, *, run_form=None):
    overview = overviews.provider_overview(provider=provider)
    invoice_links(overview["recent_invoices"])
    proforma_links(overview["recent_proformas"])
    start, end = closed_period("monthly", timezone.localdate())
    context = {
        "provider": provider,
        "currency": request.partner.currency,
        "run_form": run_form or RunPeriodForm(),
        "last_month": (start, end),
        "provider_list_url": optional_url("office:provider_list"),
        **overview,
    }
    return render(request, "office/providers/detail.html", context)


@staff_required
def provider_detail(request, pk):
    return _detail_page(request, _provider(request, pk))


def _form_page(request, form, **context):
    context.setdefault("list_url", optional_url("office:provider_list"))
    return render(request, "office/providers/form.html", {"form": form, **context})


@staff_required
def provider_create(request):
    form = ProviderForm(
        request.POST or None, initial={"payment_terms_days": request.partner.default_payment_terms_days}
    )
    if request.method == "POST" and form.is_valid():
        try:
            provider = providers.provider_create(partner=request.partner, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{provider} was added.")
            return redirect(_detail_url(provider))
    cancel = optional_url("office:provider_list") or reverse("office:dashboard")
    return _form_page(request, form, title="New provider", submit="Add provider", cancel_url=cancel)


@staff_required
def provider_edit(request, pk):
    provider = _provider(request, pk)
    form = ProviderForm.for_provider(provider, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            providers.provider_update(provider=provider, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "The provider's details were saved.")
            return redirect(_detail_url(provider))
    return _form_page(
        request, form, provider=provider, title=f"Edit {provider}", submit="Save", cancel_url=_detail_url(provider)
    )


@require_POST
@staff_required
def provider_run_ap(request, pk):
    """Bill now: the provider's AP invoice for last month (with anything earlier not yet billed), or for a
    chosen month. Idempotent; clerks draft, admins follow the partner's "issue generated invoices" setting."""
    provider = _provider(request, pk)
    form = RunPeriodForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the period to bill: see the form below.")
        return _detail_page(request, provider, run_form=form)
    if form.cleaned_data["period"] == RunPeriodForm.MONTH:
        month = form.cleaned_data["month"]
        (start, end), catch_up = month_period(month.year, month.month), False
        label = formats.format_month(month)
    else:
        (start, end), catch_up = closed_period("monthly", timezone.localdate()), True
        label = f"{formats.format_month(start)} (and anything earlier not yet billed)"
    issue = None if request.membership.is_billing_admin else False
    try:
        invoices = ap_invoices_generate(
            provider=provider, period_start=start, period_end=end, user=request.user, issue=issue, catch_up=catch_up
        )
    except BillingError as error:
        messages.error(request, error.message)
    else:
        message = run_message(invoices, label, "AP invoice")
        if message:
            messages.success(request, message)
        else:
            messages.info(
                request, f"Nothing new to bill for {label}: every confirmed proforma in it is already billed."
            )
    return redirect(_detail_url(provider) + "#invoices")
