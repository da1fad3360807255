"""Office customer pages: detail, create and edit, billing settings (billing admins), billing contacts,
expense-code labels and auto-applied codes, and "run AR now" for one customer.

Thin views: load through ``partner_object`` (another partner's customer or contact is a 404), bind the form,
call the domain function (customers.billing, customers.contacts, expense_codes.labels,
invoicing.invoices_from_proformas), turn its ``ValidationError``/``BillingError`` into form errors or a message,
redirect.
The billing-contact and expense-code steps are shared with the customer portal (customers.views,
expense_codes.views); only the pages around them are here.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from customers import billing
from customers.access import staff_required
from customers.forms import (
    BillingSettingsForm,
    CardOnFileForm,
    CustomerCreateForm,
    CustomerDetailsForm,
    RunPeriodForm,
)
from customers.models import Customer
from customers.views import contact_form_submit, contact_make_default, contact_remove, customer_contact
from expense_codes.views import expense_codes_page
from invoicing import charging, overviews
from invoicing.errors import BillingError
from invoicing.gateways import payment_gateway
from invoicing.invoices_from_proformas import ar_invoices_generate
from invoicing.schedules import closed_period, month_period
from octoo_billing import locale as formats
from octoo_billing.forms import apply_errors
from octoo_billing.money import format_units
from office.scoping import partner_object


def optional_url(name: str, *args) -> str:
    """The URL of ``name``, or "" while no page has that name yet (pages built by others link when they land)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def invoice_links(invoices) -> None:
    for invoice in invoices:
        invoice.url = optional_url("office:invoice_detail", invoice.pk)  # includes/invoice_table.html


def proforma_links(proformas) -> None:
    for proforma in proformas:
        proforma.detail_url = optional_url("office:proforma_detail", proforma.pk)


def _customer(request, pk):
    return partner_object(request, Customer.objects.select_related("zone"), pk=pk)


def _detail_url(customer) -> str:
    return reverse("office:customer_detail", args=[customer.pk])


# --------------------------------------------------------------------------------------------------
# Detail


def _detail_page(request, customer, *, run_form=None):
    overview = overviews.customer_overview(customer=customer)
    invoice_links(overview["recent_invoices"])
    proforma_links(overview["uninvoiced"])
    context = {
        "customer": customer,
        "currency": request.partner.currency,
        "is_admin": request.membership.is_billing_admin,
        "run_form": run_form or RunPeriodForm(),
        "settings_rows": settings_summary(customer),
        "card_gateway": payment_gateway(),
        "customer_list_url": optional_url("office:customer_list"),
        "invoice_list_url": optional_url("office:ar_invoice_list"),
        **overview,
    }
    return render(request, "office/customers/detail.html", context)


def settings_summary(customer: Customer) -> list[tuple[str, str]]:
    """The billing settings as label/value pairs, for the read-only summary everyone sees."""
    flags_note = (
        "Does not apply: recurring bookings carry their own invoicing"
        if customer.allow_recurring_bookings
        else ("On" if customer.auto_invoice_on_booking else "Off (bookings get a quote first)")
    )
    return [
        ("Invoicing schedule", customer.get_invoicing_schedule_display()),
        ("Payment method", customer.get_payment_method_display()),
        ("Payment terms", customer.terms_label),
        ("Tax zone", str(customer.zone) if customer.zone_id else "None"),
        (
            "Subscription discount",
            f"{customer.discount_percent.normalize():f} %" if customer.discount_percent else "None",
        ),
        ("Expense codes on invoices", customer.get_expense_code_mode_display()),
        ("Require a code to submit a request", "Yes" if customer.require_expense_code else "No"),
        ("Recurring bookings in the portal", "Allowed" if customer.allow_recurring_bookings else "Not allowed"),
        ("Invoice automatically on booking", flags_note),
        ("E-mail invoices when issued", "Yes" if customer.auto_send else "No"),
        ("E-mail payment reminders", "Yes" if customer.sends_reminders else "No"),
        ("Charge the card when issued", "Yes" if customer.auto_charge else "No"),
        ("Automatic invoicing runs", "Included" if customer.is_active else "Left out (inactive)"),
    ]


@staff_required
def customer_detail(request, pk):
    return _detail_page(request, _customer(request, pk))


# --------------------------------------------------------------------------------------------------
# Create and edit


def _form_page(request, context: dict):
    context.setdefault("list_url", optional_url("office:customer_list"))
    return render(request, "office/customers/form.html", context)


@staff_required
def customer_create(request):
    form = CustomerCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = billing.customer_create(partner=request.partner, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                f"{customer} was added, with {form.cleaned_data['contact_name']} as its default billing contact.",
            )
            return redirect(_detail_url(customer))
    return _form_page(
        request,
        {
            "form": form,
            "title": "New customer",
            "submit": "Add customer",
            "cancel_url": optional_url("office:customer_list") or reverse("office:dashboard"),
            "sections": [
                ("Customer", CustomerCreateForm.DETAIL_FIELDS),
                ("Default billing contact", CustomerCreateForm.CONTACT_FIELDS),
            ],
            "intro": "Billing settings start at your defaults; a billing admin can change them on the customer's page.",
        },
    )


@staff_required
def customer_edit(request, pk):
    customer = _customer(request, pk)
    form = CustomerDetailsForm.for_customer(customer, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            billing.customer_update(customer=customer, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "The customer's details were saved.")
            return redirect(_detail_url(customer))
    return _form_page(
        request,
        {
            "form": form,
            "customer": customer,
            "title": f"Edit {customer}",
            "submit": "Save",
            "cancel_url": _detail_url(customer),
        },
    )


@staff_required(admin_only=True)
def customer_billing_settings(request, pk):
    customer = _customer(request, pk)
    form = BillingSettingsForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        try:
            billing.customer_billing_settings_update(customer=customer, user=request.user, **form.settings())
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "The billing settings were saved.")
            return redirect(_detail_url(customer))
    return render(
        request,
        "office/customers/billing_settings.html",
        {"form": form, "customer": customer, "list_url": optional_url("office:customer_list")},
    )


# --------------------------------------------------------------------------------------------------
# Card on file (seed 001's auto-charge)


@staff_required(admin_only=True)
def customer_card(request, pk):
    """Put a card on file, or replace the one there: the gateway keeps the card, the customer its token."""
    customer = _customer(request, pk)
    gateway = payment_gateway()
    form = CardOnFileForm(request.POST or None)
    if request.method == "POST" and gateway.charges_cards and form.is_valid():
        month, year = form.cleaned_data["expiry"]
        try:
            charging.customer_card_save(
                customer=customer, number=form.cleaned_data["number"], exp_month=month, exp_year=year, user=request.user
            )
        except BillingError as error:
            form.add_error("number", str(error))
        else:
            card = f"{customer.card_brand} ending {customer.card_last4}"
            messages.success(request, f"{card} is now on file for {customer}.")
            return redirect(_detail_url(customer) + "#card")
    return render(
        request,
        "office/customers/card.html",
        {"form": form, "customer": customer, "gateway": gateway, "list_url": optional_url("office:customer_list")},
    )


@require_POST
@staff_required(admin_only=True)
def customer_card_remove(request, pk):
    customer = _customer(request, pk)
    if customer.card_last4:
        last4 = customer.card_last4
        charging.customer_card_remove(customer=customer, user=request.user)
        messages.success(request, f"The card ending {last4} was removed; nothing will be charged to it.")
    else:
        messages.info(request, f"{customer} has no card on file.")
    return redirect(_detail_url(customer) + "#card")


# --------------------------------------------------------------------------------------------------
# Billing contacts


@staff_required
def customer_contact_create(request, pk):
    customer = _customer(request, pk)
    form, saved = contact_form_submit(request, customer)
    if saved is not None:
        return redirect(_detail_url(customer) + "#contacts")
    return _form_page(
        request,
        {
            "form": form,
            "customer": customer,
            "title": f"New billing contact for {customer}",
            "submit": "Add contact",
            "cancel_url": _detail_url(customer) + "#contacts",
        },
    )


@staff_required
def customer_contact_edit(request, pk, contact_pk):
    customer = _customer(request, pk)
    contact = customer_contact(customer, contact_pk)
    form, saved = contact_form_submit(request, customer, contact)
    if saved is not None:
        return redirect(_detail_url(customer) + "#contacts")
    return _form_page(
        request,
        {
            "form": form,
            "customer": customer,
            "title": f"Edit billing contact {contact.name}",
            "intro": "Invoices already issued keep the contact details they were issued with.",
            "submit": "Save",
            "cancel_url": _detail_url(customer) + "#contacts",
        },
    )


@require_POST
@staff_required
def customer_contact_set_default(request, pk, contact_pk):
    customer = _customer(request, pk)
    contact_make_default(request, customer_contact(customer, contact_pk))
    return redirect(_detail_url(customer) + "#contacts")


@require_POST
@staff_required
def customer_contact_delete(request, pk, contact_pk):
    customer = _customer(request, pk)
    contact_remove(request, customer_contact(customer, contact_pk))
    return redirect(_detail_url(customer) + "#contacts")


# --------------------------------------------------------------------------------------------------
# Expense codes


@staff_required
def customer_expense_codes(request, pk):
    """Labels, required labels and auto-applied codes (seed 000: the partner manages a customer directly).
    The page and its actions are expense_codes.views', shared with the portal's Settings → Expense codes."""
    customer = _customer(request, pk)
    return expense_codes_page(
        request,
        customer,
        template="office/customers/expense_codes.html",
        done_url=reverse("office:customer_expense_codes", args=[customer.pk]),
        extra_context={"list_url": optional_url("office:customer_list")},
    )


# --------------------------------------------------------------------------------------------------
# Run AR now


def run_period(form: RunPeriodForm, schedule: str, today):
    """(start, end, catch_up, label) of the period a "run now" covers."""
    if form.cleaned_data["period"] == RunPeriodForm.MONTH:
        month = form.cleaned_data["month"]
        start, end = month_period(month.year, month.month)
        return start, end, False, formats.format_month(month)
    start, end = closed_period(schedule, today)
    if start is None:  # after each service: everything up to today, one invoice per proforma
        return start, end, False, f"everything up to {formats.format_date(end)}"
    period = (
        formats.format_date(end) if start == end else f"{formats.format_day_month(start)} – {formats.format_date(end)}"
    )
    return start, end, True, f"{period} (and anything earlier not yet invoiced)"


def run_message(invoices, period_label: str, what: str):
    if not invoices:
        return None
    items = format_html_join(
        ", ",
        "{} ({}, {})",
        ((str(i), i.get_status_display().lower(), format_units(i.total_units, i.currency)) for i in invoices),
    )
    count = len(invoices)
    return format_html(
        "{} {} made or updated for {}: {}.", count, what + ("s" if count != 1 else ""), period_label, items
    )


@require_POST
@staff_required
def customer_run_ar(request, pk):
    """Invoice this customer's confirmed proformas now. Idempotent: a second click makes nothing new.
    Billing clerks draft (generated invoices are issued at once only when an admin runs it and the partner
    issues generated invoices)."""
    customer = _customer(request, pk)
    form = RunPeriodForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the period to invoice: see the form below.")
        return _detail_page(request, customer, run_form=form)
    start, end, catch_up, label = run_period(form, customer.invoicing_schedule, timezone.localdate())
    issue = None if request.membership.is_billing_admin else False
    try:
        invoices = ar_invoices_generate(
            customer=customer, period_start=start, period_end=end, user=request.user, issue=issue, catch_up=catch_up
        )
    except BillingError as error:
        messages.error(request, error.message)
    else:
        message = run_message(invoices, label, "invoice")
        if message:
            messages.success(request, message)
        else:
            messages.info(
                request, f"Nothing new to invoice for {label}: every confirmed proforma in it is already on an invoice."
            )
    return redirect(_detail_url(customer) + "#invoices")
