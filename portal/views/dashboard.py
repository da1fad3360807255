"""The portal's home: what is due, overdue and paid this year (each a link to the invoices it counts), the next
invoices due, and the customer's spend by month and by expense code (invoicing.portal_dashboard), as charts with
the same figures as tables: the office's charts (octoo_billing.charts, templates/includes/_chart.html and
static/js/charts.js), so both sides draw and describe a chart one way."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from customers.access import customer_user_required
from invoicing.portal_dashboard import PortalDashboard, portal_dashboard
from octoo_billing.charts import Chart, Series


def spend_charts(board: PortalDashboard) -> list[Chart]:
    by_month = board.spend_by_month
    by_code = board.spend_by_code
    return [
        Chart(
            id="spend-by-month",
            title="Spend by month",
            currency=board.currency,
            labels=[bar.label for bar in by_month],
            series=[Series(label="Spend", values=[bar.units for bar in by_month])],
        ),
        Chart(
            id="spend-by-code",
            title="Spend by expense code",
            currency=board.currency,
            labels=[bar.label for bar in by_code],
            series=[Series(label="Spend", values=[bar.units for bar in by_code], color="info")],
            label_header="Expense codes",
            horizontal=True,
        ),
    ]


@customer_user_required
@require_GET
def dashboard(request):
    board = portal_dashboard(customer=request.customer)
    month_chart, code_chart = spend_charts(board)
    context = {"board": board, "month_chart": month_chart, "code_chart": code_chart}
    return render(request, "portal/dashboard.html", context)
