"""A billing clerk's day in the office, in a real browser (Debian's Chromium): a request with two services and its
codes is entered, their outcomes are published, AR is run for the whole partner while the page follows the
progress, and the resulting invoice is issued from a bulk selection on the AR list."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing import runs
from invoicing.models import BillingRun, Invoice, Proforma, Rate, ServiceRequest
from tests import factories
from tests.browser.conftest import sign_in
from tests.browser.test_csp import errors  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def last_month_weekday_at(hour: int) -> datetime.datetime:
    """A weekday in the previous month: a monthly customer's latest closed period."""
    day = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=10)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def office(settings):
    settings.BILLING_RUNS_QUEUE = False  # the test plays the worker
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical")
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    stype = factories.ServiceTypeFactory(partner=partner, name="Interpreting")
    provider = factories.ProviderFactory(partner=partner, name="Ana Ruiz")
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal(8000),
        pay_rate_units=Decimal(5000),
    )
    factories.StaffMembershipFactory(partner=partner, role="billing_admin", user__username="boss")
    return {"partner": partner, "customer": customer, "label": label, "stype": stype, "provider": provider}


def test_a_request_becomes_an_issued_invoice_through_a_partner_wide_run_and_a_bulk_issue(
    page,
    errors,  # noqa: F811
    office,
):
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, "boss", factories.PASSWORD)

    # 1. The request, with two services and the customer's required code plus another one.
    page.goto("/office/requests/new/")
    page.select_option("#pick_customer", str(office["customer"].pk))
    page.wait_for_selector(f"[name=code_{office['label'].pk}]")
    page.fill("[name=title]", "Cardiology clinic")
    page.fill(f"[name=code_{office['label'].pk}]", "PO-77")
    for row, hour in ((0, 9), (1, 13)):
        if row:
            page.click("button:has-text('Add another service')")
        page.select_option(f"[name=services-{row}-service_type]", str(office["stype"].pk))
        page.select_option(f"[name=services-{row}-provider]", str(office["provider"].pk))
        page.fill(f"[name=services-{row}-starts_at]", local(last_month_weekday_at(hour)))
        page.fill(f"[name=services-{row}-ends_at]", local(last_month_weekday_at(hour + 2)))
    page.click("button:has-text('Save request')")
    page.wait_for_url("**/office/requests/*/")
    service_request = ServiceRequest.objects.get()
    assert service_request.services.count() == 2 and "Purchase order: PO-77" in page.content()

    # 2. Their outcomes are published: a proforma each.
    for service in service_request.services.order_by("starts_at"):
        page.goto(f"/office/services/{service.pk}/")
        page.click("button:has-text('Publish outcome')")
        page.wait_for_load_state()
    assert Proforma.objects.filter(service__request=service_request).count() == 2

    # 3. AR for the whole partner, followed on the run's page until it says done.
    page.goto("/office/runs/")
    page.click("text=Run AR now for all customers")
    page.wait_for_url("**/office/runs/*/")
    runs.run_execute(BillingRun.objects.get().pk)  # the worker
    page.wait_for_selector('[data-run-open="0"]')
    assert page.locator('[data-run-field="status_label"]').inner_text() == "Done"
    assert page.locator('[data-run-field="invoices_made"]').inner_text() == "1"
    invoice = Invoice.objects.get(customer=office["customer"])
    assert invoice.status == Invoice.Status.DRAFT and invoice.total_units == 32000

    # 4. Issued from a bulk selection of the AR list.
    page.goto("/office/invoices/ar/?status=draft")
    page.check("[data-bulk-all]")
    page.select_option("#bulk-action", "issue")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_url("**/office/runs/*/")
    assert page.locator('[data-run-field="status_label"]').inner_text() == "Done"
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and invoice.number.startswith("INV-")
    assert errors == []
