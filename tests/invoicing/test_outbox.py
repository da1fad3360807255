"""The transactional outbox: delivery work is committed with the issue, claimed once, retried with backoff,
shown on the invoice, and survives a worker killed at any point."""

import datetime
import email
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from invoicing import outbox_work
from invoicing.invoice_runs import ar_run
from invoicing.lifecycle import invoice_issue
from invoicing.models import Invoice, OutboxJob, Payment
from invoicing.outbox import outbox_claim, outbox_jobs_retry
from invoicing.outbox_work import outbox_run, outbox_share
from invoicing.pdf import documents
from invoicing.tasks import outbox_task
from tests.factories import CustomerFactory, draft_invoice, issued_invoice, proforma_with_slips
from tests.invoicing.test_concurrency import run_at_once

ROOT = Path(__file__).resolve().parents[2]
FAKE_PDF = b"%PDF-1.7\n% rendered\n%%EOF\n"
LATER = datetime.timedelta(hours=2)


@pytest.fixture
def fake_render(monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: FAKE_PDF)


def card_customer(partner, **fields):
    customer = CustomerFactory(partner=partner, payment_method="card", auto_charge=True, auto_send=True, **fields)
    Customer.objects.filter(pk=customer.pk).update(card_token="sim_ok_0123456789abcdef", card_last4="4242")
    customer.refresh_from_db()
    return customer


def kinds(invoice):
    return list(OutboxJob.objects.filter(invoice=invoice).order_by("id").values_list("kind", flat=True))


@pytest.mark.django_db
def test_issuing_writes_the_delivery_work_in_the_same_transaction(partner):
    quiet = CustomerFactory(partner=partner, auto_send=False)
    sends = CustomerFactory(partner=partner, auto_send=True)
    charges = card_customer(partner)
    assert kinds(issued_invoice(quiet)) == ["pdf"]
    assert kinds(issued_invoice(sends)) == ["pdf", "email"]
    assert kinds(issued_invoice(charges)) == ["pdf", "email", "charge"]
    assert not OutboxJob.objects.filter(invoice__status="draft").exists()


@pytest.mark.django_db
def test_an_issue_that_rolls_back_leaves_no_work_behind(customer):
    draft = draft_invoice(customer)
    with pytest.raises(RuntimeError), transaction.atomic():
        invoice_issue(invoice=draft)
        raise RuntimeError("the request failed after the issue")
    assert not OutboxJob.objects.exists()
    assert Invoice.objects.get(pk=draft.pk).status == Invoice.Status.DRAFT


@pytest.mark.django_db
def test_a_run_whose_nudge_is_lost_still_delivers_every_invoice(fake_render, partner, mailoutbox):
    """The lost-deliveries finding: the work is in the database as soon as the run commits; nothing depends on
    the after-commit queueing (off here, as if the process died right after the commit)."""
    customers = [CustomerFactory(partner=partner, auto_send=True, invoicing_schedule="monthly") for _ in range(6)]
    for customer in customers:
        proforma_with_slips(customer=customer, amounts=[5000], service_date=datetime.date(2026, 10, 5))
    partner.issue_generated_invoices = True
    partner.save()
    run = ar_run(on_date=datetime.date(2026, 11, 2), partner=partner)
    assert len(run.invoice_ids) == 6 and all(inv.status == "pending" for inv in run.invoices())
    assert OutboxJob.objects.filter(status="pending").count() == 12

    report = outbox_run()

    assert (report.done, report.retried, report.failed) == (12, 0, 0)
    assert len(mailoutbox) == 6
    assert not Invoice.objects.filter(kind="ar", pdf="").exists()
    assert outbox_run().results == []  # nothing twice


@pytest.mark.django_db
def test_a_failed_attempt_is_retried_after_a_backoff_then_given_up_and_shown(fake_render, settings, customer):
    settings.EMAIL_BACKEND = "tests.invoicing.test_delivery.FailingBackend"
    customer.auto_send = True
    customer.save()
    invoice = issued_invoice(customer)
    outbox_run()
    job = OutboxJob.objects.get(invoice=invoice, kind="email")
    assert job.status == "pending" and job.attempts == 1 and "Connection unexpectedly closed" in job.last_error
    assert job.run_after > timezone.now() + datetime.timedelta(seconds=20)
    assert outbox_run().results == []  # not due before its backoff

    now = timezone.now()
    for _ in range(job.max_attempts):
        now += LATER
        outbox_run(now=now)
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == job.max_attempts

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the server is back
    assert outbox_jobs_retry(invoice=invoice) == 1
    outbox_run()
    job.refresh_from_db()
    assert job.status == "done" and job.result == "sent"
    assert "delivery_retry" in invoice_actions(invoice)


def invoice_actions(invoice):
    from audit.recording import audit_trail

    return [event.action for event in audit_trail(invoice)]


@pytest.mark.django_db
def test_a_job_whose_worker_died_is_run_again_after_its_lease(fake_render, customer, mailoutbox):
    customer.auto_send = True
    customer.save()
    invoice = issued_invoice(customer)
    claimed = outbox_claim(worker="dead-worker", limit=10)
    assert [job.kind for job in claimed] == ["pdf", "email"]
    assert outbox_run().results == []  # claimed by a worker whose lease still runs

    report = outbox_run(now=timezone.now() + datetime.timedelta(minutes=10))

    assert report.done == 2
    assert OutboxJob.objects.filter(invoice=invoice, status="done", attempts=2).count() == 2
    assert len(mailoutbox) == 1
    # The dead worker wakes up: it no longer holds the attempt, so it cannot record an outcome.
    from invoicing.outbox import outbox_job_failed

    assert outbox_job_failed(claimed[0], error="late") is False
    assert OutboxJob.objects.get(pk=claimed[0].pk).status == "done"


@pytest.mark.django_db
def test_an_email_job_run_again_after_a_crash_sends_once_with_the_same_message_id(fake_render, customer, mailoutbox):
    customer.auto_send = True
    customer.save()
    invoice = issued_invoice(customer)
    outbox_run()
    job = OutboxJob.objects.get(invoice=invoice, kind="email")
    OutboxJob.objects.filter(pk=job.pk).update(status="pending", done_at=None)  # as a crash before the record
    outbox_run()
    assert len(mailoutbox) == 1
    assert OutboxJob.objects.get(pk=job.pk).result == "already sent"
    assert mailoutbox[0].extra_headers["Message-ID"].startswith("<email.invoice.")


@pytest.mark.django_db
def test_the_invoice_page_shows_pending_done_and_failed_work_with_a_retry(
    fake_render, client, staff_user, partner, settings
):
    settings.EMAIL_BACKEND = "tests.invoicing.test_delivery.FailingBackend"
    invoice = issued_invoice(card_customer(partner))
    outbox_run()
    OutboxJob.objects.filter(invoice=invoice, kind="email").update(status="failed")
    client.force_login(staff_user)
    page = client.get(reverse("office:invoice_detail", args=[invoice.pk])).content.decode()
    assert "Delivery work" in page
    assert "Render and store the PDF" in page and "Done" in page
    assert "Failed" in page and "Connection unexpectedly closed" in page
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = client.post(reverse("office:invoice_outbox_retry", args=[invoice.pk]), follow=True)
    assert "queued again" in response.content.decode()
    assert OutboxJob.objects.get(invoice=invoice, kind="email").status == "pending"


@pytest.mark.django_db
def test_another_partners_staff_cannot_retry_the_work(client, customer):
    from tests.factories import StaffMembershipFactory

    invoice = issued_invoice(customer)
    stranger = StaffMembershipFactory().user
    client.force_login(stranger)
    assert client.post(reverse("office:invoice_outbox_retry", args=[invoice.pk])).status_code == 404


# --- PostgreSQL: two workers, and a worker killed mid-batch ----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claim_disjoint_jobs():
    customer = CustomerFactory(auto_send=True)
    for _ in range(10):
        issued_invoice(customer)

    def claim(name):
        return lambda: [job.pk for job in outbox_claim(worker=name, limit=15)]

    results, errors = run_at_once([claim("a"), claim("b")])

    assert errors == [None, None]
    assert not set(results[0]) & set(results[1])
    assert len(results[0]) + len(results[1]) == 20


def mails_by_invoice(directory: Path) -> dict[str, set]:
    """Invoice number -> the Message-IDs of the e-mails sent for it (a file per message)."""
    found = defaultdict(list)
    for path in directory.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        number = message["Subject"].split("Invoice ", 1)[-1].split()[0]
        found[number].append(message["Message-ID"])
    return found


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_does_nothing_twice(settings, tmp_path, partner):
    mail_dir, media = tmp_path / "mail", tmp_path / "media"
    mail_dir.mkdir()
    media.mkdir()
    settings.MEDIA_ROOT = media
    settings.EMAIL_BACKEND = "tests.support.mailfiles.OneFilePerMessageBackend"
    settings.EMAIL_FILE_PATH = str(mail_dir)
    invoices = [issued_invoice(CustomerFactory(partner=partner, auto_send=True)) for _ in range(8)]
    invoices += [issued_invoice(card_customer(partner)) for _ in range(4)]
    total = OutboxJob.objects.count()
    assert total == 8 * 2 + 4 * 3

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.support.worker_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "OUTBOX_TEST_MAIL_DIR": str(mail_dir),
        "OUTBOX_TEST_MEDIA_ROOT": str(media),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "outbox_work", "--batch", "3", "--forever"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while OutboxJob.objects.filter(status="done").count() < total // 3:  # mid-batch, part of the work done
            assert worker.poll() is None, worker.stderr.read().decode()
            assert time.monotonic() < deadline, list(OutboxJob.objects.values_list("status", "last_error"))
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    left = OutboxJob.objects.exclude(status="done").count()
    assert left > 0, "the worker finished before it was killed; nothing was tested"

    # Another worker, once the dead one's lease has run out, finishes the work.
    outbox_run(now=timezone.now() + datetime.timedelta(minutes=10))

    assert OutboxJob.objects.exclude(status="done").count() == 0
    mails = mails_by_invoice(mail_dir)
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.pdf and (media / invoice.pdf.name).exists()
        assert len(set(mails[invoice.number])) == 1, mails[invoice.number]  # one e-mail (one Message-ID)
        payments = Payment.objects.filter(invoice=invoice).count()
        assert payments == (1 if invoice.customer.charges_automatically else 0)


# --- Spreading the work over the worker processes ------------------------------------------------------------


@pytest.mark.django_db
def test_a_claim_takes_the_other_due_jobs_of_its_invoices_along(partner):
    """An invoice's e-mail runs after its PDF in the same worker, never in another one that would render it again."""
    invoices = [issued_invoice(CustomerFactory(partner=partner, auto_send=True)) for _ in range(3)]

    claimed = outbox_claim(worker="a", limit=1)

    assert [(job.invoice_id, job.kind) for job in claimed] == [(invoices[0].pk, "pdf"), (invoices[0].pk, "email")]
    assert [job.kind for job in outbox_claim(worker="b", limit=3)] == ["pdf", "email", "pdf", "email"]


@pytest.mark.django_db
def test_an_outbox_task_takes_a_bounded_share_and_queues_the_next_while_more_is_due(
    fake_render, monkeypatch, settings, partner, mailoutbox
):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}  # a real worker: the next drain is only queued
    queued = []
    monkeypatch.setattr(outbox_work, "outbox_nudge", lambda: queued.append("drain"))
    for _ in range(5):
        issued_invoice(CustomerFactory(partner=partner, auto_send=True))

    shares = [outbox_share(batch=4) for _ in range(3)]

    assert [share.done for share in shares] == [4, 4, 2]
    assert queued == ["drain", "drain"]  # after each full share; the last one found the outbox empty
    assert len(mailoutbox) == 5 and not OutboxJob.objects.exclude(status="done").exists()


@pytest.mark.django_db
def test_an_outbox_task_goes_on_with_the_next_share_itself_for_a_while_and_queues_one_drain(
    fake_render, monkeypatch, settings, partner, mailoutbox
):
    """Instead of waiting for the broker to hand its worker process the next task, a task claims the next share
    itself while the shares come full, for up to ``seconds``; the one drain it queued (at its first full share)
    takes what is left in another worker process meanwhile."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    queued = []
    monkeypatch.setattr(outbox_work, "outbox_nudge", lambda: queued.append("drain"))
    for _ in range(5):
        issued_invoice(CustomerFactory(partner=partner, auto_send=True))
    claims = []
    real_claim = outbox_work.outbox_claim
    monkeypatch.setattr(outbox_work, "outbox_claim", lambda **kw: claims.append(kw) or real_claim(**kw))

    report = outbox_share(batch=4, seconds=60)

    assert report.done == 10 and [claim["limit"] for claim in claims] == [4, 4, 4]  # the last one found 2
    assert len({claim["worker"] for claim in claims}) == 1  # all as one worker
    assert queued == ["drain"]
    assert len(mailoutbox) == 5 and not OutboxJob.objects.exclude(status="done").exists()

    for _ in range(3):
        issued_invoice(CustomerFactory(partner=partner, auto_send=True))
    assert outbox_share(batch=2, seconds=0).done == 2  # no time left: one share, the rest to the queued drain


@pytest.mark.django_db
def test_in_sync_mode_an_outbox_task_drains_everything_itself(fake_render, monkeypatch, partner):
    queued = []
    monkeypatch.setattr(outbox_work, "outbox_nudge", lambda: queued.append("drain"))
    for _ in range(3):
        issued_invoice(CustomerFactory(partner=partner, auto_send=True))

    assert outbox_task() == {"done": 6, "retried": 0, "failed": 0}
    assert queued == []


# --- One worker's batch: the PDF it rendered is the one e-mailed, the jobs recorded together ----------------


def distinct_render(monkeypatch):
    """Each render its own bytes, so the attachment shows which render (and which stored file) it came from."""
    renders = []

    def render(html_text, **kwargs):
        renders.append(b"%PDF-1.7\n% render " + str(len(renders) + 1).encode() + b"\n%%EOF\n")
        return renders[-1]

    monkeypatch.setattr(documents, "html_to_pdf", render)
    return renders


def storage_reads(monkeypatch) -> list[str]:
    """The stored PDFs read back from the storage (FieldFile.open) from now on."""
    from django.db.models.fields.files import FieldFile

    reads, real_open = [], FieldFile.open

    def counting_open(self, mode="rb"):
        reads.append(self.name)
        return real_open(self, mode)

    monkeypatch.setattr(FieldFile, "open", counting_open)
    return reads


@pytest.mark.django_db
def test_the_email_attaches_the_pdf_the_worker_just_stored_without_reading_it_back(
    monkeypatch, settings, tmp_path, partner, mailoutbox
):
    settings.MEDIA_ROOT = tmp_path
    renders = distinct_render(monkeypatch)
    invoices = [issued_invoice(CustomerFactory(partner=partner, auto_send=True)) for _ in range(3)]
    reads = storage_reads(monkeypatch)

    assert outbox_run().done == 6

    assert reads == []  # attached from the render, not read back
    assert len(renders) == 3 and len(mailoutbox) == 3
    for invoice in invoices:
        invoice.refresh_from_db()
        with invoice.pdf.open("rb") as handle:
            stored = handle.read()
        [message] = [m for m in mailoutbox if invoice.number in m.subject]
        [(filename, attached, mime)] = message.attachments
        assert (filename, mime) == (f"{invoice.number}.pdf", "application/pdf")
        assert attached == stored  # the stored file's exact bytes


@pytest.mark.django_db
def test_an_email_whose_pdf_was_stored_by_another_worker_attaches_the_stored_file(
    monkeypatch, settings, tmp_path, customer, mailoutbox
):
    """The PDF job's render lost the race (another worker stored its own first): the e-mail attaches the stored
    file, read back, never the bytes of the render that was not kept."""
    settings.MEDIA_ROOT = tmp_path
    renders = distinct_render(monkeypatch)
    customer.auto_send = True
    customer.save()
    invoice = issued_invoice(customer)
    real_bytes = documents.invoice_pdf_bytes

    def racing_render(**kwargs):  # while this worker renders, another one stores its PDF
        data = real_bytes(**kwargs)
        if len(renders) == 1:
            documents.invoice_pdf_store(invoice=Invoice.objects.get(pk=invoice.pk))
        return data

    monkeypatch.setattr(documents, "invoice_pdf_bytes", racing_render)
    reads = storage_reads(monkeypatch)

    assert outbox_run().done == 2

    invoice.refresh_from_db()
    with invoice.pdf.open("rb") as handle:
        stored = handle.read()
    assert stored.endswith(b"% render 2\n%%EOF\n")  # the other worker's, stored first
    assert reads == [invoice.pdf.name, invoice.pdf.name]  # the e-mail read it back (then this test)
    [(_name, attached, _mime)] = mailoutbox[0].attachments
    assert attached == stored


@pytest.mark.django_db
def test_an_email_job_run_apart_from_its_pdf_job_reads_the_stored_pdf(fake_render, monkeypatch, customer, mailoutbox):
    customer.auto_send = True
    customer.save()
    invoice = issued_invoice(customer)
    jobs = outbox_claim(worker="a", limit=1)  # the PDF, and the e-mail along
    reads = storage_reads(monkeypatch)
    for job in jobs:
        outbox_work.outbox_job_run(job)  # each on its own, as in two batches
    invoice.refresh_from_db()
    assert reads == [invoice.pdf.name]
    [(_name, attached, _mime)] = mailoutbox[0].attachments
    assert attached == FAKE_PDF == invoice.pdf.read()


@pytest.mark.django_db
def test_each_jobs_queries_stay_few_and_a_batch_is_recorded_in_one_statement(
    fake_render, partner, mailoutbox, django_assert_max_num_queries
):
    """A PDF job: the invoice with its parties, the lines, codes, links, payments and children, then the store
    (lock, file name, audit); an e-mail job: the invoice with its parties and contacts, the sent record and its
    audit. The batch's jobs are recorded done together."""
    invoices = [issued_invoice(CustomerFactory(partner=partner, auto_send=True)) for _ in range(3)]
    jobs = outbox_claim(worker="a", limit=10)
    assert len(jobs) == 6
    pdf, email = jobs[0], jobs[1]
    assert (pdf.kind, email.kind, pdf.invoice_id, email.invoice_id) == ("pdf", "email", *[invoices[0].pk] * 2)
    with django_assert_max_num_queries(11):  # 6 reads; savepoint, lock, pdf, audit, release
        assert outbox_work._attempt(pdf) == "stored"
    with django_assert_max_num_queries(6):  # 2 reads; savepoint, sent_at, audit, release
        assert outbox_work._attempt(email) == "sent"
    report = outbox_work.OutboxReport()
    with django_assert_max_num_queries(2 * 11 + 2 * 6 + 1) as captured:
        outbox_work._jobs_run(jobs[2:], report)
    job_writes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('UPDATE "invoicing_outboxjob"')]
    assert len(job_writes) == 1  # the four recorded together
    assert report.done == 4 and len(mailoutbox) == 3
    statuses = OutboxJob.objects.filter(pk__in=[job.pk for job in jobs[2:]]).values_list("status", "result")
    assert sorted(statuses) == [("done", "sent"), ("done", "sent"), ("done", "stored"), ("done", "stored")]


@pytest.mark.django_db
def test_a_batch_records_only_the_jobs_its_worker_still_holds(fake_render, partner, mailoutbox):
    """The batch's one statement keeps each row's compare-and-set: a job whose lease ran out and was claimed by
    another worker meanwhile is not recorded by the late worker."""
    for _ in range(2):
        issued_invoice(CustomerFactory(partner=partner, auto_send=False))
    jobs = outbox_claim(worker="slow", limit=10)
    assert len(jobs) == 2
    [taken] = outbox_claim(worker="fast", limit=1, now=timezone.now() + datetime.timedelta(minutes=10))
    assert taken.pk == jobs[0].pk

    from invoicing.outbox import outbox_jobs_done

    assert outbox_jobs_done([(job, "stored") for job in jobs]) == 1
    rows = dict(OutboxJob.objects.values_list("pk", "status"))
    assert rows == {jobs[0].pk: "running", jobs[1].pk: "done"}
    assert OutboxJob.objects.get(pk=jobs[0].pk).claimed_by == "fast"


@pytest.mark.django_db
def test_recipients_from_contacts_read_along_are_the_same_as_queried(partner):
    from customers.models import BillingContact
    from invoicing.delivery import invoice_send_read
    from invoicing.recipients import invoice_recipients

    customer = CustomerFactory(partner=partner, default_contact=False)
    BillingContact.objects.create(customer=customer, name="Zed", email="zed@x.example", receives_invoices=True)
    BillingContact.objects.create(customer=customer, name="Amy", email="AMY@x.example", receives_invoices=True)
    BillingContact.objects.create(customer=customer, name="Bob", email="bob@x.example", is_default=True)
    BillingContact.objects.create(customer=customer, name="Cat", email="amy@x.example", receives_invoices=True)
    invoice = issued_invoice(customer)
    queried, read = Invoice.objects.select_related("customer").get(pk=invoice.pk), invoice_send_read(invoice.pk)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        along = invoice_recipients(read)
    assert len(captured) == 0
    assert along == invoice_recipients(queried) == (["bob@x.example"], ["AMY@x.example", "zed@x.example"])
    for each in (queried, read):  # no billing contact on the invoice: the customer's default is the addressee
        each.billing_contact, each.contact_email = None, ""
    with CaptureQueriesContext(connection) as captured:
        along = invoice_recipients(read)
    assert len(captured) == 0
    assert along == invoice_recipients(queried) == (["bob@x.example"], ["AMY@x.example", "zed@x.example"])
