"""Portal: the signed-in customer's own statement of account (invoicing.statements), on a page and as a PDF.

The customer is always the signed-in user's (``request.customer``): there is no id in the URL to point at anyone
else's. The period comes from the query string (the current month so far by default).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from customers.access import customer_user_required
from customers.models import Customer
from invoicing.pdf.statements import period_label, statement_pdf_bytes, statement_pdf_filename
from invoicing.statement_forms import StatementPeriodForm
from invoicing.statements import customer_statement, period_choices
from octoo_billing.http import pdf_response


def _customer(request) -> Customer:
    return Customer.objects.select_related("partner").get(pk=request.customer.pk)


@customer_user_required
@require_GET
def statement(request):
    customer = _customer(request)
    today = timezone.localdate()
    form = StatementPeriodForm.for_query(request.GET, today=today)
    context = {"customer": customer, "form": form, "currency": customer.partner.currency}
    context["choices"] = period_choices(today)
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        context["statement"] = customer_statement(customer=customer, start=start, end=end)
        context["period"] = period_label(start, end)
        context["query"] = urlencode({"start": start.isoformat(), "end": end.isoformat()})
    return render(request, "portal/statement.html", context)


@customer_user_required
@require_GET
def statement_pdf(request):
    customer = _customer(request)
    form = StatementPeriodForm.for_query(request.GET, today=timezone.localdate())
    if not form.is_valid():
        messages.error(request, "Choose a valid period first.")
        return redirect("portal:statement")
    found = customer_statement(customer=customer, start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    return pdf_response(statement_pdf_bytes(found), statement_pdf_filename(found))
