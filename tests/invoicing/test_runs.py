"""Billing runs (invoicing.runs): start and refuse a second start, execute with progress, errors recorded with
their party, a crash recorded as failed, scheduled runs recorded per partner; bulk actions' rows; the outbox's
resend; and on PostgreSQL, two starts at once make one run."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from invoicing import fast_writes, invoice_runs, runs, tasks
from invoicing.delivery import invoice_resend_queue
from invoicing.errors import BillingError, BillingRuleError, RunAlreadyOpen
from invoicing.lifecycle import invoice_void
from invoicing.models import BillingRun, Invoice, OutboxJob
from invoicing.outbox_work import outbox_run
from invoicing.pdf import documents
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ProviderFactory,
    StaffMembershipFactory,
    draft_invoice,
    issued_invoice,
    proforma_with_slips,
)
from tests.invoicing.test_concurrency import run_at_once

Kind, Status = BillingRun.Kind, BillingRun.Status


def last_month_day() -> datetime.date:
    """A day of last month: inside every monthly customer's latest closed period."""
    return (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=10)


def customer_with_work(partner, amounts=(10000,), **kwargs):
    customer = CustomerFactory(partner=partner, **kwargs)
    proforma_with_slips(customer=customer, amounts=amounts, service_date=last_month_day())
    return customer


@pytest.fixture
def admin(partner):
    return StaffMembershipFactory(partner=partner).user


# --- start -----------------------------------------------------------------------------------------------------


def test_start_records_a_queued_run_and_queues_its_task_after_the_commit(
    partner, admin, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args)))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = runs.run_start(partner=partner, kind=Kind.AR, user=admin)
        assert queued == []  # nothing reaches the worker before the commit
    for callback in callbacks:
        callback()

    assert queued == [(runs.RUN_TASK, (run.pk,))]
    run.refresh_from_db()
    assert run.status == Status.QUEUED and run.kind == Kind.AR and run.invoice_kind == Invoice.Kind.AR
    assert run.started_by == admin and run.started_by_name == admin.get_username() and run.schedule_name == ""
    assert run.parties_total == run.parties_done == run.invoices_made == 0 and run.errors == []


def test_a_second_start_while_one_is_queued_says_so_and_starts_nothing(partner, admin):
    first = runs.run_start(partner=partner, kind=Kind.AR, user=admin)

    with pytest.raises(RunAlreadyOpen) as refusal:
        runs.run_start(partner=partner, kind=Kind.AR, user=admin)

    assert isinstance(refusal.value, BillingRuleError)
    assert refusal.value.run == first
    assert "already queued" in refusal.value.message and admin.get_username() in refusal.value.message
    assert BillingRun.objects.filter(partner=partner).count() == 1


def test_the_one_open_run_rule_is_per_partner_and_kind(partner, admin):
    runs.run_start(partner=partner, kind=Kind.AR, user=admin)
    runs.run_start(partner=partner, kind=Kind.AP, user=admin)  # AP alongside AR
    other = PartnerFactory()
    runs.run_start(partner=other, kind=Kind.AR)  # another partner's AR
    assert BillingRun.objects.filter(status=Status.QUEUED).count() == 3


def test_a_finished_run_does_not_block_the_next_start(partner, admin):
    first = runs.run_start(partner=partner, kind=Kind.AR, user=admin)
    runs.run_execute(first.pk)
    second = runs.run_start(partner=partner, kind=Kind.AR, user=admin)
    assert second.pk != first.pk and second.status == Status.QUEUED


def test_a_run_whose_worker_died_is_marked_failed_by_the_next_start(partner, admin):
    dead = runs.run_start(partner=partner, kind=Kind.AR, user=admin)
    BillingRun.objects.filter(pk=dead.pk).update(
        status=Status.RUNNING, updated_at=timezone.now() - runs.RUN_STALE - datetime.timedelta(minutes=1)
    )

    fresh = runs.run_start(partner=partner, kind=Kind.AR, user=admin)

    dead.refresh_from_db()
    assert dead.status == Status.FAILED and dead.finished_at and "no progress" in dead.message
    assert fresh.status == Status.QUEUED


def test_only_ar_and_ap_runs_start_this_way(partner, admin):
    with pytest.raises(BillingRuleError) as refusal:
        runs.run_start(partner=partner, kind=Kind.ZIP, user=admin)
    assert refusal.value.field == "kind"
    assert not BillingRun.objects.exists()


# --- execute ---------------------------------------------------------------------------------------------------


def test_execute_invoices_every_customer_and_records_progress_after_each_chunk(partner, admin, monkeypatch):
    customers = [customer_with_work(partner, amounts=(1000 * (i + 1),)) for i in range(5)]
    CustomerFactory(partner=partner)  # nothing to invoice: not counted
    monkeypatch.setattr(invoice_runs, "RUN_CHUNK", 2)
    seen = []
    record = runs._ProgressRecorder.__call__

    def spy(self, progress):
        record(self, progress)
        row = BillingRun.objects.get(pk=self.run.pk)  # what the page reads meanwhile
        seen.append((row.status, row.parties_done, row.parties_total, row.invoices_made))

    monkeypatch.setattr(runs._ProgressRecorder, "__call__", spy)
    run = runs.run_start(partner=partner, kind=Kind.AR, user=admin)

    run = runs.run_execute(run.pk)

    assert seen == [("running", 0, 5, 0), ("running", 2, 5, 2), ("running", 4, 5, 4), ("running", 5, 5, 5)]
    assert run.status == Status.DONE and run.started_at and run.finished_at >= run.started_at
    assert (run.parties_done, run.parties_total, run.invoices_made, run.errors) == (5, 5, 5, [])
    invoiced = set(Invoice.objects.filter(partner=partner, kind="ar").values_list("customer_id", flat=True))
    assert invoiced == {c.pk for c in customers}


def test_a_task_delivered_twice_runs_once(partner, admin):
    customer_with_work(partner)
    run = runs.run_start(partner=partner, kind=Kind.AR, user=admin)
    assert runs.run_execute(run.pk).status == Status.DONE
    assert runs.run_execute(run.pk) is None
    assert BillingRun.objects.get(pk=run.pk).invoices_made == 1
    assert tasks.billing_run_task(run.pk) == "not queued"


def test_a_failing_customer_is_recorded_with_its_id_and_name_and_the_others_go_on(partner, admin, monkeypatch):
    good, bad = customer_with_work(partner), customer_with_work(partner)
    real = invoice_runs.ar_invoices_generate_many

    def flaky(**kwargs):
        if bad.pk in kwargs["customer_ids"]:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(invoice_runs, "ar_invoices_generate_many", flaky)
    run = runs.run_execute(runs.run_start(partner=partner, kind=Kind.AR, user=admin).pk)

    assert run.status == Status.DONE
    assert run.errors == [{"party_id": bad.pk, "party_name": str(bad), "message": "disk full"}]
    assert (run.parties_done, run.parties_total, run.invoices_made) == (2, 2, 1)
    assert Invoice.objects.filter(customer=good).exists() and not Invoice.objects.filter(customer=bad).exists()


def test_a_crash_leaves_the_run_failed_with_the_error(partner, admin, monkeypatch):
    def crash(**kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(runs, "ar_run", crash)
    run = runs.run_execute(runs.run_start(partner=partner, kind=Kind.AR, user=admin).pk)

    assert run.status == Status.FAILED and run.finished_at
    assert run.message == "ConnectionError: the database went away"
    runs.run_start(partner=partner, kind=Kind.AR, user=admin)  # a failed run blocks nothing


def test_a_clerks_run_makes_drafts_even_where_generated_invoices_are_issued(db):
    clerks, admins = PartnerFactory(issue_generated_invoices=True), PartnerFactory(issue_generated_invoices=True)
    customer_with_work(clerks)
    customer_with_work(admins)
    clerk = StaffMembershipFactory(partner=clerks, role="billing_clerk").user
    admin = StaffMembershipFactory(partner=admins).user

    runs.run_execute(runs.run_start(partner=clerks, kind=Kind.AR, user=clerk, drafts_only=True).pk)
    runs.run_execute(runs.run_start(partner=admins, kind=Kind.AR, user=admin).pk)

    assert Invoice.objects.get(partner=clerks).status == Invoice.Status.DRAFT
    assert Invoice.objects.get(partner=admins).status == Invoice.Status.PENDING
    assert BillingRun.objects.get(partner=clerks).drafts_only


def test_an_ap_run_bills_each_provider_with_work(partner, admin):
    provider = ProviderFactory(partner=partner)
    proforma_with_slips(customer=CustomerFactory(partner=partner), provider=provider, service_date=last_month_day())
    run = runs.run_execute(runs.run_start(partner=partner, kind=Kind.AP, user=admin).pk)
    assert (run.status, run.parties_total, run.invoices_made) == (Status.DONE, 1, 1)
    assert Invoice.objects.get(kind="ap").provider == provider


def test_a_run_for_a_given_period_leaves_other_periods_alone(partner, admin):
    customer = customer_with_work(partner)
    day = last_month_day()
    run = runs.run_start(partner=partner, kind=Kind.AR, user=admin, period=(day.replace(day=1), day.replace(day=5)))
    assert runs.run_execute(run.pk).invoices_made == 0
    assert not Invoice.objects.filter(customer=customer).exists()


# --- scheduled runs --------------------------------------------------------------------------------------------


def test_the_scheduled_ar_run_records_a_run_per_partner_with_the_schedule_name(db):
    busy, quiet, other = PartnerFactory(), PartnerFactory(), PartnerFactory()
    customer_with_work(busy)
    customer_with_work(busy)
    customer_with_work(other)
    CustomerFactory(partner=quiet)

    report = tasks.ar_run_task()

    recorded = BillingRun.objects.order_by("partner_id")
    assert [r.partner for r in recorded] == [busy, other]  # a run that found nothing is not kept
    for run in recorded:
        assert run.kind == Kind.AR and run.schedule_name == "AR invoice run" and run.started_by is None
        assert run.status == Status.DONE and run.started_by_label == "Schedule: AR invoice run"
    assert (recorded[0].parties_total, recorded[0].invoices_made) == (2, 2)
    assert report["customers"] == 3 and report["invoices"] == 3 and report["errors"] == {}
    assert report["runs"] == [r.pk for r in recorded]


def test_the_scheduled_run_skips_a_partner_whose_office_run_is_going(partner, admin):
    customer_with_work(partner)
    office_run = runs.run_start(partner=partner, kind=Kind.AR, user=admin)

    assert tasks.ar_run_task()["runs"] == []

    assert list(BillingRun.objects.all()) == [office_run]
    assert not Invoice.objects.exists()


def test_the_scheduled_ap_run_is_recorded_too(partner):
    proforma_with_slips(customer=CustomerFactory(partner=partner), service_date=last_month_day())
    report = tasks.ap_run_task()
    run = BillingRun.objects.get()
    assert (run.kind, run.schedule_name, run.invoices_made) == (Kind.AP, "AP invoice run", 1)
    assert report["providers"] == 1 and report["invoices"] == 1


def test_a_failed_scheduled_run_is_kept_with_its_error(partner, monkeypatch):
    monkeypatch.setattr(runs, "ar_run", lambda **kwargs: 1 / 0)
    report = tasks.ar_run_task()
    run = BillingRun.objects.get()
    assert run.status == Status.FAILED and "ZeroDivisionError" in run.message
    assert report["failed"] == [run.pk]


# --- bulk actions ----------------------------------------------------------------------------------------------


def test_bulk_issue_gives_each_row_its_own_result(customer, admin):
    draft = draft_invoice(customer, [5000])
    issued = issued_invoice(customer, [7000])
    foreign = draft_invoice(CustomerFactory(), [9000])

    run = runs.bulk_start(
        partner=customer.partner,
        kind=Kind.ISSUE,
        invoice_kind="ar",
        invoice_ids=[draft.pk, issued.pk, foreign.pk],
        user=admin,
    )

    assert run.status == Status.DONE and (run.parties_total, run.parties_done, run.invoices_made) == (2, 2, 1)
    rows = {item.invoice_id: item for item in run.items.all()}
    assert set(rows) == {draft.pk, issued.pk}  # another partner's id never becomes a row
    draft.refresh_from_db()
    assert rows[draft.pk].outcome == "done" and rows[draft.pk].message.startswith(f"Issued as {draft.number}")
    assert rows[issued.pk].outcome == "refused" and "Not a draft" in rows[issued.pk].message
    assert Invoice.objects.get(pk=foreign.pk).status == Invoice.Status.DRAFT


def test_bulk_refuses_an_empty_selection_and_resending_ap_invoices(customer, admin):
    with pytest.raises(BillingRuleError) as empty:
        runs.bulk_start(partner=customer.partner, kind=Kind.ZIP, invoice_kind="ar", invoice_ids=[], user=admin)
    assert empty.value.field == "ids"
    with pytest.raises(BillingRuleError) as ap:
        runs.bulk_start(partner=customer.partner, kind=Kind.RESEND, invoice_kind="ap", invoice_ids=[1], user=admin)
    assert ap.value.field == "action"
    assert not BillingRun.objects.exists()


def test_a_large_selection_is_queued_for_the_worker(customer, admin, monkeypatch):
    monkeypatch.setattr(runs, "INLINE_MAX", 1)
    drafts = [draft_invoice(customer, [1000 + i]) for i in range(3)]

    run = runs.bulk_start(
        partner=customer.partner, kind=Kind.ISSUE, invoice_kind="ar", invoice_ids=[d.pk for d in drafts], user=admin
    )

    assert run.status == Status.QUEUED and run.parties_total == 3
    assert set(run.items.values_list("outcome", flat=True)) == {"pending"}
    assert runs.run_execute(run.pk).status == Status.DONE
    assert set(run.items.values_list("outcome", flat=True)) == {"done"}
    assert not Invoice.objects.filter(status="draft").exists()


def test_a_row_that_fails_unexpectedly_fails_alone(customer, admin, monkeypatch, rendered):
    good, bad = issued_invoice(customer, [1000]), issued_invoice(customer, [2000])

    def render(*, invoice):
        if invoice.pk == bad.pk:
            raise OSError("font missing")
        return b"%PDF-1.7 test"

    monkeypatch.setattr(documents, "invoice_pdf_bytes", render)
    run = runs.bulk_start(
        partner=customer.partner, kind=Kind.ZIP, invoice_kind="ar", invoice_ids=[good.pk, bad.pk], user=admin
    )
    outcomes = dict(run.items.values_list("invoice_id", "outcome"))
    assert outcomes == {good.pk: "done", bad.pk: "failed"}
    assert run.status == Status.DONE and run.result_file


# --- resend through the outbox ---------------------------------------------------------------------------------


@pytest.fixture
def rendered(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: b"%PDF-1.7 test\n%%EOF\n")


def test_resend_through_the_outbox_sends_again_once(customer, admin, rendered):
    invoice = issued_invoice(customer, [5000])
    outbox_run()  # the issue's own delivery
    sent = len(mail.outbox)
    job = invoice_resend_queue(invoice=invoice, user=admin)
    assert job.kind == OutboxJob.Kind.RESEND
    assert invoice_resend_queue(invoice=invoice, user=admin) == job  # a second click waits on the same job

    outbox_run()
    outbox_run()

    assert len(mail.outbox) == sent + 1
    job.refresh_from_db()
    assert job.status == "done" and job.result == "sent"
    again = invoice_resend_queue(invoice=invoice, user=admin)
    assert again.pk != job.pk and again.key != job.key
    outbox_run()
    assert len(mail.outbox) == sent + 2
    assert mail.outbox[-1].extra_headers["Message-ID"] != mail.outbox[-2].extra_headers["Message-ID"]


def test_a_resend_retried_after_its_send_was_recorded_sends_nothing(customer, rendered):
    invoice = issued_invoice(customer, [5000])
    job = invoice_resend_queue(invoice=invoice)
    Invoice.objects.filter(pk=invoice.pk).update(sent_at=timezone.now())  # sent, then the worker died
    outbox_run()
    job.refresh_from_db()
    assert job.result == "already sent" and len(mail.outbox) == 0


def test_resend_refuses_drafts_and_void_invoices(customer, rendered):
    with pytest.raises(BillingError, match="Issue the invoice"):
        invoice_resend_queue(invoice=draft_invoice(customer, [1000]))
    void = invoice_void(invoice=issued_invoice(customer, [1000]), reason="Wrong customer")
    with pytest.raises(BillingError, match="void"):
        invoice_resend_queue(invoice=void)
    assert not OutboxJob.objects.filter(kind="resend").exists()


# --- PostgreSQL ------------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_starts_at_once_make_one_run(settings):
    settings.BILLING_RUNS_QUEUE = False
    partner = PartnerFactory()

    results, errors = run_at_once([lambda: runs.run_start(partner=partner, kind=Kind.AR)] * 2)

    assert BillingRun.objects.filter(partner=partner).count() == 1
    assert sum(result is not None for result in results) == 1
    assert [type(error) for error in errors if error is not None] == [RunAlreadyOpen]
    [refusal] = [error for error in errors if error is not None]
    assert refusal.run.pk == BillingRun.objects.get(partner=partner).pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_is_committed_chunk_by_chunk_for_other_connections_to_see(settings, monkeypatch):
    """What the page polls is another connection: it sees each chunk's progress while the run goes on."""
    settings.BILLING_RUNS_QUEUE = False
    partner = PartnerFactory()
    for _ in range(3):
        customer_with_work(partner)
    monkeypatch.setattr(invoice_runs, "RUN_CHUNK", 1)
    run = runs.run_start(partner=partner, kind=Kind.AR)
    seen = []
    record = runs._ProgressRecorder.__call__

    def spy(self, progress):
        record(self, progress)
        results, errors = run_at_once([lambda: BillingRun.objects.get(pk=run.pk).parties_done])
        assert errors == [None]
        seen.append(results[0])

    monkeypatch.setattr(runs._ProgressRecorder, "__call__", spy)
    runs.run_execute(run.pk)
    assert seen == [0, 1, 2, 3]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_analyses_the_tables_it_reads_once_they_outgrew_their_statistics(monkeypatch):
    """Without statistics the planner hash-joined every invoice link written so far into each chunk's read of its
    proformas (issue 15: an AR run of 10,000 customers took 17x the time of 1,000). The run analyses a table its
    chunks read once it has outgrown what its statistics counted (``fast_writes.tables_analyze_stale``)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE invoicing_proforma, invoicing_invoice")  # statistics of empty tables
    partner = PartnerFactory()
    for _ in range(2):
        customer_with_work(partner)
    monkeypatch.setattr(fast_writes, "STALE_MIN_ROWS", 0)  # so two proformas outgrow them
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this connection's counts, visible at once
    analysed = _last_analyze()

    run = invoice_runs.ar_run(partner=partner, on_date=timezone.localdate())

    assert len(run.invoice_ids) == 2
    after = _last_analyze()
    assert after["invoicing_proforma"] != analysed["invoicing_proforma"]  # outgrown: analysed before the chunk
    assert after["invoicing_invoice"] == analysed["invoicing_invoice"]  # nothing written yet when the chunk began


def _last_analyze() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, last_analyze FROM pg_stat_user_tables "
            "WHERE relname IN ('invoicing_proforma', 'invoicing_invoice')"
        )
        return dict(cursor.fetchall())
