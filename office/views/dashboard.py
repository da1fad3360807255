from django.shortcuts import render

from customers.access import staff_required
from invoicing import selectors


@staff_required
def dashboard(request):
    figures = selectors.office_dashboard_figures(partner=request.partner)
    return render(request, "office/dashboard.html", {"figures": figures})
