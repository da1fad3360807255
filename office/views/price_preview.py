"""Office "price this service" (billing admins): the slips the engine would produce for a service, how each side of
each was priced and which zone applies, without saving anything. ``?service=<id>`` prices one of the partner's
services as it stands; the form (sent by GET) prices a service typed in. ``invoicing.price_preview`` does the
work; nothing here or there writes."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from customers.access import staff_required
from invoicing.errors import BillingRuleError
from invoicing.models import Service
from invoicing.price_preview import service_preview, typed_preview
from invoicing.ratecard_selectors import precedence_sentences
from office.forms.price_preview import PricePreviewForm
from office.scoping import partner_object


@staff_required(admin_only=True)
def price_preview(request):
    partner = request.partner
    service, preview = None, None
    service_id = request.GET.get("service", "")
    if "service_type" in request.GET:
        form = PricePreviewForm(request.GET, partner=partner)
        if form.is_valid():
            try:
                preview = typed_preview(partner=partner, **form.preview_values())
            except BillingRuleError as error:  # the coupon may not be used
                form.add_error(error.field if error.field in form.fields else None, error.message)
    elif service_id:
        if not service_id.isdigit():
            raise Http404("No such service.")
        service = partner_object(request, Service.objects.select_related("request"), pk=int(service_id))
        preview = service_preview(service=service)
        form = PricePreviewForm(partner=partner, initial=PricePreviewForm.initial_of(service))
    else:
        form = PricePreviewForm(partner=partner)
    return render(
        request,
        "office/ratecards/preview.html",
        {
            "tab": "preview",
            "form": form,
            "service": service,
            "preview": preview,
            "precedence": precedence_sentences(),
            "currency": partner.currency,
        },
    )
