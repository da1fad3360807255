"""The navbar's search: one page of what matches, or straight to the one thing found."""

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from customers.access import staff_required
from customers.models import Customer, Provider
from invoicing.models import Invoice
from office.search import office_search

DETAIL = {Invoice: "office:invoice_detail", Customer: "office:customer_detail", Provider: "office:provider_detail"}


@staff_required
@require_GET
def search(request):
    results = office_search(partner=request.partner, query=request.GET.get("q", ""))
    found = results.only_match
    if found is not None:
        return redirect(DETAIL.get(type(found), "office:request_detail"), pk=found.pk)
    return render(request, "office/search.html", {"results": results})
