"""Office settings pages (billing admins only): the company settings.

Thin: bind the form, call invoicing.company.company_settings_update, put its ``ValidationError`` back on the
fields (nothing is saved then), add a message, redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone

from customers.access import staff_required
from customers.company import logo_data_uri
from customers.forms import CompanySettingsForm
from customers.models import Partner
from invoicing.company import company_settings_update
from invoicing.numbering import numbers_next
from octoo_billing.forms import apply_errors


@staff_required(admin_only=True)
def company_settings(request):
    partner = Partner.objects.get(pk=request.partner.pk)
    next_numbers = numbers_next(partner=partner, on_date=timezone.localdate())
    form = CompanySettingsForm(request.POST or None, request.FILES or None, partner=partner, next_numbers=next_numbers)
    if request.method == "POST" and form.is_valid():
        try:
            company_settings_update(partner=partner, user=request.user, **form.values())
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "The company settings were saved.")
            return redirect("office:company_settings")
    return render(
        request,
        "office/settings/company.html",
        {
            "form": form,
            "partner": partner,
            "next_numbers": next_numbers,
            "logo_uri": logo_data_uri(partner),
            "sections": form.sections(),
        },
    )
