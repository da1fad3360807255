"""The dashboard's and reports' reads: AR and AP drafts counted apart, and (PostgreSQL) every read can be answered
from the index made for it (the open invoices, the counted invoices by issue date, the failed deliveries, the
payments by day), so a large partner's settled invoices are not read."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bench.pages import _insert_invoices, _insert_payments
from invoicing.lifecycle import invoice_issue
from invoicing.models import Invoice
from invoicing.overviews import office_dashboard
from invoicing.payments import payment_record
from invoicing.reports import ar_aging, last_months, revenue_report
from invoicing.reports.periods import COUNTED_STATUSES
from tests.factories import (
    CustomerFactory,
    ProviderFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db


def test_ar_and_ap_drafts_are_counted_apart_and_only_the_partners(client, staff_user, partner, customer):
    draft_invoice(customer, [1000])
    provider = ProviderFactory(partner=partner)
    for _ in range(2):
        draft_with_proformas(proformas=[proforma_with_slips(customer=customer, provider=provider)], provider=provider)
    draft_invoice(CustomerFactory(name="Elsewhere Corp"), [1000])
    client.force_login(staff_user)
    figures = client.get(reverse("office:dashboard")).context["figures"]
    assert (figures.drafts_to_issue, figures.ap_drafts) == (1, 2)


def test_open_figures_count_what_is_open_and_overdue(client, staff_user, partner, customer):
    today = timezone.localdate()
    late = issued_invoice(customer, [10000], issue_date=today - datetime.timedelta(days=45))
    payment_record(invoice=late, amount_units=4000, method="transfer", received_on=today)
    issued_invoice(customer, [2500])
    paid = issued_invoice(customer, [7000])
    payment_record(invoice=paid, amount_units=7000, method="transfer", received_on=today)
    client.force_login(staff_user)
    figures = client.get(reverse("office:dashboard")).context["figures"]
    assert (figures.open_ar_count, figures.open_ar_units, figures.overdue_count) == (2, 6000 + 2500, 1)


def test_the_partial_indexes_name_the_statuses_their_reads_filter_on():
    """The indexes' conditions are written out in Meta (no class attributes there): they must stay the sets the
    reads filter on, or PostgreSQL can no longer use them."""
    conditions = {index.name: index.condition for index in Invoice._meta.indexes if index.condition is not None}
    assert conditions["invoice_open_idx"].children == [("status__in", list(Invoice.OPEN_STATUSES))]
    assert conditions["invoice_counted_issue_idx"].children == [("status__in", list(COUNTED_STATUSES))]


def plans(queries) -> str:
    out = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"].strip()
            if sql.startswith(("SELECT", "WITH")):
                cursor.execute("EXPLAIN " + sql)
                out.extend(row[0] for row in cursor.fetchall())
    return "\n".join(out)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # VACUUM (the visibility map that index-only scans read) runs outside one
def test_the_dashboard_and_reports_can_read_their_indexes(partner, customer):
    """On a partner whose invoices look like a real one's (3,000 over three years, a fifth of them open, as the
    bench makes them), the planner reads each figure off the index made for it, and not the settled invoices."""
    today = timezone.localdate()
    customers = [customer, *(CustomerFactory(partner=partner) for _ in range(9))]
    _insert_invoices(partner, customers, today, 3000)
    _insert_payments(partner, today)
    provider = ProviderFactory(partner=partner)
    ap = draft_with_proformas(proformas=[proforma_with_slips(customer=customer, provider=provider)], provider=provider)
    invoice_issue(invoice=ap)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE invoicing_invoice")
        cursor.execute("VACUUM ANALYZE invoicing_payment")
    period = last_months(today)
    with CaptureQueriesContext(connection) as ctx:
        office_dashboard(partner=partner, today=today)
        ar_aging(partner=partner, as_of=today - datetime.timedelta(days=5))
        revenue_report(partner=partner, date_from=period.date_from, date_to=period.date_to, by="month")
    explained = plans(ctx.captured_queries)
    for index in (
        "invoice_open_idx",  # open figures, aging
        "invoice_counted_issue_idx",  # billed by month, revenue
        "invoice_delivery_problem_idx",  # failed PDFs, e-mails, charges
        "payment_received_idx",  # cash in and out, what moved after the aging date
    ):
        assert index in explained, index
    assert "Seq Scan on invoicing_invoice" not in explained
