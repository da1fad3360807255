from django.shortcuts import render

from customers.access import customer_user_required
from invoicing import selectors


@customer_user_required
def dashboard(request):
    figures = selectors.portal_dashboard_figures(customer=request.customer)
    return render(request, "portal/dashboard.html", {"figures": figures})
