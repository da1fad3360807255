"""The office dashboard: what needs attention (each count is what its link lists), figure cards as links, the
charts' data with worked numbers, partner scoping and a fixed number of queries."""

import datetime
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from invoicing.lifecycle import invoice_issue
from invoicing.models import BillingRun, Invoice, Service
from invoicing.payments import payment_record
from invoicing.reports import month_add
from tests.factories import (
    CustomerFactory,
    ProviderFactory,
    ServiceFactory,
    ServiceRequestFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db
URL = reverse("office:dashboard")


def chart_data(response, chart_id):
    page = response.content.decode()
    return json.loads(page.split(f'id="{chart_id}-data" type="application/json">')[1].split("</script>")[0])


def listed(client, url) -> int:
    """How many rows the list at ``url`` shows (its totals row count)."""
    response = client.get(url)
    assert response.status_code == 200
    return len(response.context["rows"])


@pytest.fixture
def attention_data(partner, customer):
    """Two AR drafts, one overdue invoice, a failed PDF, a failed e-mail, a failed charge on an open invoice (and
    one on a paid invoice, which needs nothing), a service without a price; the same again at another partner."""
    today = timezone.localdate()
    for owner in (customer, CustomerFactory(name="Elsewhere Corp")):
        draft_invoice(owner, [1000])
        draft_invoice(owner, [2000])
        overdue = issued_invoice(owner, [3000], issue_date=today - datetime.timedelta(days=60))
        pdf = issued_invoice(owner, [4000])
        sent = issued_invoice(owner, [5000])
        charged = issued_invoice(owner, [6000])
        paid = issued_invoice(owner, [7000])
        payment_record(invoice=paid, amount_units=7000, method="transfer", received_on=today)
        Invoice.objects.filter(pk=pdf.pk).update(pdf_error="Renderer crashed")
        Invoice.objects.filter(pk=sent.pk).update(send_error="Mailbox full")
        Invoice.objects.filter(pk__in=[charged.pk, paid.pk]).update(charge_error="Card declined")
        service = ServiceFactory(request=ServiceRequestFactory(customer=owner))
        Service.objects.filter(pk=service.pk).update(pricing_error="No rate for this service type")
        ServiceFactory(request=ServiceRequestFactory(customer=owner), status=Service.Status.CANCELLED)
        Service.objects.filter(request__customer=owner, status="cancelled").update(pricing_error="No rate")
    return {"overdue": overdue}


def test_attention_counts_are_what_their_links_list(client, staff_user, attention_data):
    client.force_login(staff_user)
    response = client.get(URL)
    assert response.status_code == 200
    items = {item.label: item for item in response.context["attention"]}
    counts = {label: item.count for label, item in items.items()}
    assert counts == {
        "AR drafts to issue": 2,
        "AP drafts to issue": 0,
        "Overdue invoices": 1,
        "PDFs that failed": 1,
        "E-mails that failed": 1,
        "Card charges that failed": 1,
        "Services without a price": 1,
    }
    for label, item in items.items():
        assert listed(client, item.url) == item.count, label
    page = response.content.decode()
    for item in items.values():
        assert f'href="{item.url.replace("&", "&amp;")}"' in page


def test_figure_cards_link_to_their_lists(client, staff_user, partner, customer):
    issued_invoice(customer, [10000])
    draft_invoice(customer, [500])
    client.force_login(staff_user)
    response = client.get(URL)
    cards = response.context["cards"]
    assert cards["open"] == reverse("office:ar_invoice_list") + "?status=open"
    assert cards["uninvoiced"] == reverse("office:proforma_list") + "?status=confirmed&invoiced=no"
    page = response.content.decode()
    for url in cards.values():
        assert f'href="{url.replace("&", "&amp;")}"' in page
    assert listed(client, cards["open"]) == response.context["figures"].open_ar_count == 1
    assert listed(client, cards["drafts"]) == response.context["figures"].drafts_to_issue == 1


def test_last_and_next_automatic_runs(client, staff_user, partner):
    BillingRun.objects.create(
        partner=partner,
        kind="ar",
        invoice_kind="ar",
        status="done",
        schedule_name="AR invoice run",
        finished_at=timezone.now(),
    )
    BillingRun.objects.create(partner=partner, kind="ap", invoice_kind="ap", status="done", finished_at=timezone.now())
    next_run = timezone.now() + datetime.timedelta(days=3)
    Schedule.objects.create(func="invoicing.tasks.ar_run_task", name="AR invoice run", next_run=next_run)
    client.force_login(staff_user)
    response = client.get(URL)
    last = response.context["last_run"]
    assert last.schedule_name == "AR invoice run"  # the office's own run is not automatic
    assert [(run.name, run.kind) for run in response.context["next_runs"]] == [("AR invoice run", "ar")]
    page = response.content.decode()
    assert reverse("office:run_detail", args=[last.pk]) in page


@pytest.fixture
def chart_data_set(partner, customer):
    """Last month: an invoice of 100.00 (due 30 days later), paid 40.00 this month. This month: a provider bill
    of 30.00 (pay side of a 50.00 proforma billed at 50.00 to the customer), paid."""
    today = timezone.localdate()
    last_month = month_add(today, -1)
    invoice = issued_invoice(customer, [10000], issue_date=last_month)
    payment_record(invoice=invoice, amount_units=4000, method="transfer", received_on=today)
    provider = ProviderFactory(partner=partner, name="Pat One")
    work = proforma_with_slips(customer=customer, amounts=[5000], provider=provider)
    ar = draft_with_proformas(proformas=[work], customer=customer)
    invoice_issue(invoice=ar, issue_date=today)
    ap = draft_with_proformas(proformas=[work], provider=provider)
    invoice_issue(invoice=ap, issue_date=today)
    payment_record(invoice=ap, amount_units=3000, method="transfer", received_on=today)
    elsewhere = CustomerFactory(name="Elsewhere Corp")
    payment_record(
        invoice=issued_invoice(elsewhere, [88800], issue_date=last_month),
        amount_units=88800,
        method="transfer",
        received_on=today,
    )
    return {"today": today, "invoice": invoice}


def test_chart_figures_with_worked_numbers(client, staff_user, chart_data_set):
    client.force_login(staff_user)
    response = client.get(URL)
    billed = chart_data(response, "billed-collected")
    assert len(billed["labels"]) == 12
    assert billed["series"][0]["values"][-2:] == [10000, 5000]  # billed last month, this month
    assert billed["series"][1]["values"][-2:] == [0, 4000]  # collected this month
    assert billed["series"][1]["formatted"][-1] == "$40.00"
    cash = chart_data(response, "cash")
    assert [s["values"][-1] for s in cash["series"]] == [4000, -3000, 0, 1000]
    aging = chart_data(response, "aging")
    assert aging["labels"] == [chart_data_set["invoice"].customer.name]
    owed = {s["label"]: s["values"][0] for s in aging["series"]}
    assert sum(owed.values()) == (10000 - 4000) + 5000  # last month's balance and this month's invoice
    provider = chart_data(response, "margin-provider")
    assert provider["labels"] == ["Pat One", "No provider (lines typed on invoices)"]
    assert [s["values"] for s in provider["series"]] == [[5000, 10000], [3000, 0], [2000, 10000]]
    assert provider["links"][0] == reverse(
        "office:provider_detail", args=[ProviderFactory._meta.model.objects.get(name="Pat One").pk]
    )
    page = response.content.decode()
    assert "Elsewhere" not in page and "$888.00" not in page
    assert "vendor/chartjs/chart.umd.min.js" in page and "js/charts.js" in page
    assert "<caption" in page  # every chart has its figures as a table


def test_aging_chart_buckets_by_days_past_due(client, staff_user, customer):
    today = timezone.localdate()
    issued_invoice(customer, [10000], issue_date=today - datetime.timedelta(days=customer.payment_terms_days + 40))
    issued_invoice(customer, [2500])
    client.force_login(staff_user)
    aging = chart_data(client.get(URL), "aging")
    owed = {s["label"]: s["values"][0] for s in aging["series"]}
    assert owed == {"Current": 2500, "1–30 days": 0, "31–60 days": 10000, "61–90 days": 0, "Over 90 days": 0}


def test_dashboard_with_no_data_says_so_instead_of_empty_charts(client, staff_user):
    client.force_login(staff_user)
    response = client.get(URL)
    assert response.status_code == 200
    assert "Nothing to show for this period yet." in response.content.decode()


def test_dashboard_costs_a_fixed_number_of_queries(client, staff_user, partner, chart_data_set):
    client.force_login(staff_user)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    client.get(URL)  # computes and keeps the closed months (invoicing.reports.kept): then they are read
    few = count()
    for _ in range(4):
        customer = CustomerFactory(partner=partner)
        provider = ProviderFactory(partner=partner)
        ar = draft_with_proformas(
            proformas=[proforma_with_slips(customer=customer, amounts=[1000], provider=provider)], customer=customer
        )
        invoice_issue(invoice=ar)
    assert count() == few
