"""Page helpers the office and the portal share for invoicing's records (each caller scopes the records first and
owns the URL, the template and the frame around the page)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from expense_codes.models import AppliedExpenseCode
from octoo_billing.forms import apply_errors

from .errors import BillingError
from .request_codes import (
    codes_can_edit,
    request_codes_frozen,
    request_codes_set,
    service_codes_frozen,
    service_codes_set,
)


def codes_edit_page(request, *, service_request, service=None, form_class, template: str, back: str):
    """Show (GET) or save (POST) the expense codes of a request, or of one of its services, until an issued invoice
    bills it (then the page says why and offers no form). ``form_class`` takes ``customer=`` and ``codes=``."""
    customer = service_request.customer
    carrier = {"service": service} if service is not None else {"request": service_request}
    current = list(AppliedExpenseCode.objects.filter(**carrier).order_by("label_name", "value"))
    frozen = service_codes_frozen(service) if service is not None else request_codes_frozen(service_request)
    if not frozen and not codes_can_edit(user=request.user, customer=customer):
        frozen = "You cannot change the expense codes of this request."
    form, status = None, 200
    if request.method == "POST":
        if frozen:
            messages.error(request, f"These codes can no longer change. {frozen}")
            return redirect(back)
        form = form_class(request.POST, customer=customer, codes=current)
        if form.is_valid():
            try:
                if service is None:
                    request_codes_set(service_request=service_request, user=request.user, codes=form.codes())
                else:
                    service_codes_set(service=service, user=request.user, codes=form.codes())
            except ValidationError as error:
                apply_errors(form, error)
            except BillingError as error:  # invoiced meanwhile: nothing changed
                messages.error(request, error.message)
                return redirect(back)
            else:
                what = "the request" if service is None else f"the {service.service_type.name} service"
                messages.success(request, f"The expense codes of {what} were saved.")
                return redirect(back)
        status = 400
        form.mark_invalid()
    elif not frozen:
        form = form_class(customer=customer, codes=current)
    context = {
        "service_request": service_request,
        "service": service,
        "codes": current,
        "request_codes": list(AppliedExpenseCode.objects.filter(request=service_request)) if service else [],
        "frozen_reason": frozen,
        "form": form,
        "form_list": [form] if form is not None else [],
        "back_url": back,
    }
    return render(request, template, context, status=status)
