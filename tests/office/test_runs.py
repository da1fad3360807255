"""Office runs: "Run AR/AP now for all" (billing admins; a clerk's run makes drafts), a second start while one
runs, the progress page and its JSON (errors with links), the runs list with the next scheduled runs, partner
scoping (404) and the task started after the commit."""

import datetime
import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from invoicing import invoice_runs, runs
from invoicing.models import BillingRun, Invoice
from invoicing.tasks import ar_run_task
from tests.factories import CustomerFactory, PartnerFactory, StaffMembershipFactory, proforma_with_slips
from tests.test_security import INLINE

pytestmark = pytest.mark.django_db

Kind, Status = BillingRun.Kind, BillingRun.Status


def last_month_day() -> datetime.date:
    return (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=10)


def customer_with_work(partner, **kwargs):
    customer = CustomerFactory(partner=partner, **kwargs)
    proforma_with_slips(customer=customer, service_date=last_month_day())
    return customer


def url(name, *args):
    return reverse(f"office:{name}", args=args)


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def office(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def clerk(client, clerk_user):
    client.force_login(clerk_user)
    return client


# --- start -----------------------------------------------------------------------------------------------------


def test_run_ar_now_starts_a_run_and_shows_its_page(office, staff_user, partner):
    response = office.post(url("run_start"), {"kind": "ar"})

    run = BillingRun.objects.get(partner=partner)
    assert response.status_code == 302 and response["Location"] == url("run_detail", run.pk)
    assert (run.kind, run.status, run.started_by, run.drafts_only) == (Kind.AR, Status.QUEUED, staff_user, False)
    page = office.get(response["Location"])
    assert page.status_code == 200
    assert "AR invoice run started" in " ".join(messages_of(page))


def test_run_ap_now_starts_an_ap_run(office, partner):
    office.post(url("run_start"), {"kind": "ap"})
    assert BillingRun.objects.get(partner=partner).kind == Kind.AP


def test_a_clerks_run_makes_drafts_only(clerk, partner):
    partner.issue_generated_invoices = True
    partner.save()
    customer_with_work(partner)
    clerk.post(url("run_start"), {"kind": "ar"})
    run = BillingRun.objects.get(partner=partner)
    assert run.drafts_only
    runs.run_execute(run.pk)
    assert Invoice.objects.get(partner=partner).status == Invoice.Status.DRAFT


def test_a_second_start_while_one_runs_says_so_and_shows_the_running_one(office, partner):
    office.post(url("run_start"), {"kind": "ar"})
    first = BillingRun.objects.get()
    BillingRun.objects.filter(pk=first.pk).update(status=Status.RUNNING, started_at=timezone.now())

    response = office.post(url("run_start"), {"kind": "ar"}, follow=True)

    assert response.redirect_chain[-1][0] == url("run_detail", first.pk)
    assert any("already running" in m for m in messages_of(response))
    assert BillingRun.objects.count() == 1


def test_an_unknown_kind_is_refused_with_a_message(office):
    response = office.post(url("run_start"), {"kind": "zip"}, follow=True)
    assert response.redirect_chain[-1][0] == url("run_list")
    assert messages_of(response) == ["Choose an AR or an AP run."]
    assert not BillingRun.objects.exists()


def test_start_is_a_post(office):
    assert office.get(url("run_start")).status_code == 405
    assert not BillingRun.objects.exists()


def test_the_started_run_is_executed_by_the_task_after_the_commit(
    office, partner, settings, django_capture_on_commit_callbacks
):
    """With the worker in sync mode (the test settings), queuing the task runs it: the whole path, end to end."""
    settings.BILLING_RUNS_QUEUE = True
    customer_with_work(partner)
    with django_capture_on_commit_callbacks(execute=True):
        office.post(url("run_start"), {"kind": "ar"})
    run = BillingRun.objects.get()
    assert run.status == Status.DONE and run.invoices_made == 1


# --- the progress page and its JSON -----------------------------------------------------------------------------


def test_the_status_json_reports_progress_counts_and_errors_with_links(office, partner, monkeypatch):
    customer_with_work(partner)
    bad = customer_with_work(partner, name="Broken Books Ltd")
    real = invoice_runs.ar_invoices_generate_many

    def flaky(**kwargs):
        if bad.pk in kwargs["customer_ids"]:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(invoice_runs, "ar_invoices_generate_many", flaky)
    office.post(url("run_start"), {"kind": "ar"})
    run = BillingRun.objects.get()
    queued = office.get(url("run_status", run.pk)).json()
    assert (queued["status"], queued["finished"], queued["done"], queued["total"]) == ("queued", False, 0, 0)

    runs.run_execute(run.pk)
    response = office.get(url("run_status", run.pk))

    assert response["Content-Type"] == "application/json" and response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["status"] == "done" and data["finished"] is True and data["status_label"] == "Done"
    assert (data["done"], data["total"], data["invoices_made"], data["noun"]) == (2, 2, 1, "customers")
    assert data["error_count"] == 1
    assert data["errors"] == [
        {"name": "Broken Books Ltd", "url": url("customer_detail", bad.pk), "message": "disk full"}
    ]
    page = office.get(url("run_detail", run.pk)).content.decode()
    assert f'href="{url("customer_detail", bad.pk)}">Broken Books Ltd</a>: disk full' in page


def test_an_open_runs_page_polls_its_json_with_a_static_script(office, partner):
    office.post(url("run_start"), {"kind": "ar"})
    run = BillingRun.objects.get()
    page = office.get(url("run_detail", run.pk)).content.decode()
    assert f'data-run-status-url="{url("run_status", run.pk)}"' in page and 'data-run-open="1"' in page
    assert re.search(r'<script src="[^"]*js/progress\.js"', page)
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page  # without JS: reloads itself
    assert "<progress" in page
    assert not INLINE.search(page)  # the Content-Security-Policy refuses inline scripts, styles and handlers


def test_a_finished_runs_page_shows_the_result_without_polling(office, partner):
    customer_with_work(partner)
    office.post(url("run_start"), {"kind": "ar"})
    run = runs.run_execute(BillingRun.objects.get().pk)
    page = office.get(url("run_detail", run.pk)).content.decode()
    assert "progress.js" not in page and "http-equiv" not in page and 'data-run-open="0"' in page
    assert re.search(r'data-run-field="done">1</span> of\s+<span class="fw-semibold" data-run-field="total">1', page)
    assert 'data-run-field="invoices_made">1<' in page


def test_a_failed_run_shows_why(office, partner, monkeypatch):
    monkeypatch.setattr(runs, "ar_run", lambda **kwargs: 1 / 0)
    office.post(url("run_start"), {"kind": "ar"})
    run = runs.run_execute(BillingRun.objects.get().pk)
    page = office.get(url("run_detail", run.pk)).content.decode()
    assert "ZeroDivisionError: division by zero" in page and "run-status-failed" in page
    assert office.get(url("run_status", run.pk)).json()["message"] == "ZeroDivisionError: division by zero"


# --- the list --------------------------------------------------------------------------------------------------


def test_the_runs_list_shows_every_run_and_the_next_scheduled_ones(office, partner, staff_user):
    call_command("setup_schedules", stdout=io.StringIO())
    Schedule.objects.filter(func="invoicing.tasks.ar_run_task").update(
        next_run=timezone.make_aware(datetime.datetime(2031, 5, 6, 7, 0))
    )
    customer_with_work(partner)
    ar_run_task()  # an automatic run
    office.post(url("run_start"), {"kind": "ap"})  # a manual one

    page = office.get(url("run_list")).content.decode()

    assert re.search(r"AR invoice run</span>:\s+May 6, 2031, 07:00 UTC", page)
    assert "AP invoice run</span>:" in page
    automatic, manual = BillingRun.objects.order_by("pk")
    assert f'href="{url("run_detail", automatic.pk)}">AR invoice run #{automatic.pk}</a>' in page
    assert "Schedule: AR invoice run" in page
    assert f'href="{url("run_detail", manual.pk)}">AP invoice run #{manual.pk}</a>' in page
    assert staff_user.get_username() in page
    assert "Run AR now for all customers" in page and "Run AP now for all providers" in page


def test_the_runs_list_is_the_partners_own(office, partner):
    other = BillingRun.objects.create(partner=PartnerFactory(), kind=Kind.AR, invoice_kind="ar")
    response = office.get(url("run_list"))
    assert other not in response.context["runs"]
    assert "No runs yet" in response.content.decode()


def test_the_lists_offer_the_runs_and_clerks_are_told_their_run_drafts(client, staff_user, clerk_user):
    client.force_login(staff_user)
    assert "Run AR now for all customers</button>" in client.get(url("ar_invoice_list")).content.decode()
    assert "Run AP now for all providers</button>" in client.get(url("ap_invoice_list")).content.decode()
    client.force_login(clerk_user)
    assert "Run AR now for all customers (drafts)</button>" in client.get(url("ar_invoice_list")).content.decode()


# --- scoping ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run_detail", "run_status", "run_download"])
def test_another_partners_run_is_404(office, name):
    other = BillingRun.objects.create(partner=PartnerFactory(), kind=Kind.AR, invoice_kind="ar")
    assert office.get(url(name, other.pk)).status_code == 404


def test_a_run_with_nothing_to_download_is_404(office, partner):
    office.post(url("run_start"), {"kind": "ar"})
    assert office.get(url("run_download", BillingRun.objects.get().pk)).status_code == 404


@pytest.mark.parametrize("name", ["run_list", "run_detail", "run_status"])
def test_the_runs_pages_are_for_signed_in_staff(client, customer_user, partner, name):
    run = BillingRun.objects.create(partner=partner, kind=Kind.AR, invoice_kind="ar")
    args = () if name == "run_list" else (run.pk,)
    response = client.get(url(name, *args))
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(customer_user)
    assert client.get(url(name, *args)).status_code == 403


def test_another_partners_staff_starting_a_run_starts_their_own(client, partner):
    outsider = StaffMembershipFactory()
    client.force_login(outsider.user)
    client.post(url("run_start"), {"kind": "ar"})
    assert BillingRun.objects.get().partner == outsider.partner
