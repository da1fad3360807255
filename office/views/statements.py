"""Office: a customer's statement of account for a period (invoicing.statements), as a page, as a PDF (rendered
now, not stored), and e-mailed to the customer from the worker (invoicing.statement_delivery).

Thin views: the customer through ``partner_object`` (another partner's customer is a 404), the period from the
query string (the current month so far by default), then the selector or the domain function.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from customers.access import staff_required
from customers.models import Customer
from invoicing.errors import BillingError
from invoicing.pdf.statements import period_label, statement_pdf_bytes, statement_pdf_filename
from invoicing.recipients import customer_recipients
from invoicing.statement_delivery import statement_email_queue
from invoicing.statement_forms import StatementPeriodForm
from invoicing.statements import customer_statement, period_choices
from octoo_billing.http import pdf_response
from office.scoping import partner_object


def _customer(request, pk) -> Customer:
    return partner_object(request, Customer.objects.select_related("partner"), pk=pk)


def _period_query(start, end) -> str:
    return urlencode({"start": start.isoformat(), "end": end.isoformat()})


@staff_required
@require_GET
def customer_statement_page(request, pk):
    customer = _customer(request, pk)
    today = timezone.localdate()
    form = StatementPeriodForm.for_query(request.GET, today=today)
    context = {
        "customer": customer,
        "form": form,
        "currency": request.partner.currency,
        "choices": period_choices(today),
        "recipients": customer_recipients(customer)[0],
    }
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        context["statement"] = customer_statement(customer=customer, start=start, end=end)
        context["period"] = period_label(start, end)
        context["query"] = _period_query(start, end)
    return render(request, "office/customers/statement.html", context)


@staff_required
@require_GET
def customer_statement_pdf(request, pk):
    customer = _customer(request, pk)
    form = StatementPeriodForm.for_query(request.GET, today=timezone.localdate())
    if not form.is_valid():
        messages.error(request, "Choose a valid period first.")
        return redirect("office:customer_statement", pk=customer.pk)
    statement = customer_statement(customer=customer, start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    return pdf_response(statement_pdf_bytes(statement), statement_pdf_filename(statement))


@staff_required
@require_POST
def customer_statement_email(request, pk):
    """Queue the statement of the period on the page for e-mailing (the worker renders and sends it)."""
    customer = _customer(request, pk)
    form = StatementPeriodForm.for_query(request.POST, today=timezone.localdate())
    if not form.is_valid():
        messages.error(request, "Choose a valid period first.")
        return redirect("office:customer_statement", pk=customer.pk)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    try:
        statement_email_queue(customer=customer, start=start, end=end, user=request.user)
    except BillingError as error:
        messages.error(request, error.message)
    else:
        to = ", ".join(customer_recipients(customer)[0])
        messages.success(request, f"The statement of {period_label(start, end)} will be e-mailed to {to}.")
    url = reverse("office:customer_statement", args=[customer.pk])
    return redirect(f"{url}?{_period_query(start, end)}")
