"""Runs and bulk actions in a real browser (Debian's Chromium): "Run AR now" lands on the run's page, which
follows the worker's progress by itself (static/js/progress.js) with no policy violation; ticking rows on the AR
list counts them and issues them in bulk (static/js/bulk.js)."""

import datetime

import pytest
from django.utils import timezone

from invoicing import runs
from invoicing.models import BillingRun, Invoice
from tests import factories
from tests.browser.conftest import sign_in
from tests.browser.test_csp import errors  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(settings):
    settings.BILLING_RUNS_QUEUE = False  # the test plays the worker
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    factories.StaffMembershipFactory(partner=partner, role="billing_admin", user__username="boss")
    day = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=10)
    customers = [factories.CustomerFactory(partner=partner, name=f"Customer {i}") for i in range(3)]
    for customer in customers:
        factories.proforma_with_slips(customer=customer, service_date=day)
    return {"partner": partner, "customers": customers}


def test_run_ar_now_shows_the_progress_as_the_worker_goes(page, errors, world):  # noqa: F811
    sign_in(page, "boss", factories.PASSWORD)
    page.goto("/office/runs/")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("text=Run AR now for all customers")
    page.wait_for_url("**/office/runs/*/")
    assert page.locator('[data-run-field="status_label"]').inner_text() == "Queued"

    run = BillingRun.objects.get()
    runs.run_execute(run.pk)  # the worker

    page.wait_for_selector('[data-run-open="0"]')  # finished: the page reloaded itself once
    assert page.locator('[data-run-field="status_label"]').inner_text() == "Done"
    assert page.locator('[data-run-field="done"]').inner_text() == "3"
    assert page.locator('[data-run-field="invoices_made"]').inner_text() == "3"
    assert Invoice.objects.filter(partner=world["partner"]).count() == 3
    assert errors == []


def test_tick_every_row_and_issue_them(page, errors, world):  # noqa: F811
    drafts = [factories.draft_invoice(customer, [5000]) for customer in world["customers"]]
    sign_in(page, "boss", factories.PASSWORD)
    page.goto("/office/invoices/ar/")
    page.check("[data-bulk-all]")
    assert page.locator("[data-bulk-count]").inner_text() == " (3)"
    page.select_option("#bulk-action", "issue")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_url("**/office/runs/*/")
    assert page.locator('[data-run-field="status_label"]').inner_text() == "Done"
    assert not Invoice.objects.filter(pk__in=[d.pk for d in drafts], status="draft").exists()
    assert errors == []
