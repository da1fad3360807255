"""Bulk actions on the AR and AP invoice lists: issue drafts (billing admins), resend through the outbox, the PDFs
as one ZIP; each row's own result; "every invoice matching the filters" worked out again on the server within
the partner; large selections run by the worker with the same progress page and a download link."""

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from invoicing import runs
from invoicing.models import BillingRun, Invoice, OutboxJob
from invoicing.outbox_work import outbox_run
from invoicing.pdf import documents
from tests.factories import (
    CustomerFactory,
    InvoiceFactory,
    ProviderFactory,
    SlipFactory,
    draft_invoice,
    issued_invoice,
)

pytestmark = pytest.mark.django_db

RENDERED = b"%PDF-1.7\n% rendered by the test\n%%EOF\n"


@pytest.fixture(autouse=True)
def setup(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: RENDERED)


@pytest.fixture
def office(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def clerk(client, clerk_user):
    client.force_login(clerk_user)
    return client


def url(name, *args):
    return reverse(f"office:{name}", args=args)


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def bulk(client, action, ids=(), *, kind="ar", scope="selected", filter="", follow=False):
    data = {"action": action, "scope": scope, "filter": filter, "ids": [str(i) for i in ids]}
    return client.post(url(f"{kind}_invoice_bulk"), data, follow=follow)


def results(run) -> dict:
    return {item.invoice_id: (item.outcome, item.message) for item in run.items.all()}


def the_run() -> BillingRun:
    return BillingRun.objects.get()


# --- issue -----------------------------------------------------------------------------------------------------


def test_issue_issues_the_ticked_drafts_and_shows_each_rows_result(office, customer):
    draft = draft_invoice(customer, [5000])
    issued = issued_invoice(customer, [7000])

    response = bulk(office, "issue", [draft.pk, issued.pk])

    run = the_run()
    assert response.status_code == 302 and response["Location"] == url("run_detail", run.pk)
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.PENDING and draft.number
    rows = results(run)
    assert rows[draft.pk][0] == "done" and rows[draft.pk][1].startswith(f"Issued as {draft.number}")
    assert rows[issued.pk] == ("refused", "Not a draft: already pending as " + issued.number + ".")
    assert (run.kind, run.status, run.parties_done, run.invoices_made) == ("issue", "done", 2, 1)
    page = office.get(response["Location"]).content.decode()
    assert f'href="{url("invoice_detail", draft.pk)}">{draft.number}</a>' in page
    assert "Not a draft: already pending" in page and "1 done · 1 refused · 0 failed" in page


def test_clerks_cannot_issue_in_bulk(clerk, customer):
    draft = draft_invoice(customer, [5000])
    assert bulk(clerk, "issue", [draft.pk]).status_code == 403
    assert Invoice.objects.get(pk=draft.pk).status == Invoice.Status.DRAFT
    assert not BillingRun.objects.exists()


def test_clerks_are_not_offered_the_issue_action(clerk, customer, staff_user):
    draft_invoice(customer, [5000])
    assert '<option value="issue">' not in clerk.get(url("ar_invoice_list")).content.decode()
    clerk.force_login(staff_user)
    page = clerk.get(url("ar_invoice_list")).content.decode()
    assert '<option value="issue">' in page and 'form="bulk-form"' in page and "js/bulk.js" in page


# --- resend ----------------------------------------------------------------------------------------------------


def test_resend_queues_an_email_per_issued_invoice_through_the_outbox(office, customer):
    issued = issued_invoice(customer, [5000])
    outbox_run()  # its first delivery is done
    draft = draft_invoice(customer, [1000])

    bulk(office, "resend", [issued.pk, draft.pk])

    rows = results(the_run())
    assert rows[issued.pk] == ("done", "Queued for e-mail.")
    assert rows[draft.pk] == ("refused", "Issue the invoice before sending it.")
    assert OutboxJob.objects.filter(invoice=issued, kind=OutboxJob.Kind.RESEND, status="pending").count() == 1
    assert not OutboxJob.objects.filter(invoice=draft).exists()


def test_clerks_may_resend(clerk, customer):
    issued = issued_invoice(customer, [5000])
    bulk(clerk, "resend", [issued.pk])
    assert results(the_run())[issued.pk][0] == "done"


def test_ap_invoices_are_not_resent(office, partner):
    invoice = InvoiceFactory(provider=ProviderFactory(partner=partner))
    response = bulk(office, "resend", [invoice.pk], kind="ap", follow=True)
    assert "Only AR invoices are e-mailed; AP invoices come from providers." in messages_of(response)
    assert not BillingRun.objects.exists()


# --- ZIP -------------------------------------------------------------------------------------------------------


def zip_names(client, run) -> list[str]:
    response = client.get(url("run_download", run.pk))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    return sorted(archive.namelist())


def test_zip_of_the_stored_pdfs_with_drafts_refused_per_row(office, customer):
    kept = issued_invoice(customer, [5000])
    kept.pdf.save("kept.pdf", ContentFile(b"%PDF-1.7 kept"), save=True)
    unstored = issued_invoice(customer, [6000])
    draft = draft_invoice(customer, [1000])

    response = bulk(office, "zip", [kept.pk, unstored.pk, draft.pk])

    run = the_run()
    rows = results(run)
    assert rows[kept.pk] == ("done", f"In the ZIP as {kept.number}.pdf.")
    assert rows[unstored.pk][0] == "done"  # stored now, then zipped
    assert rows[draft.pk] == ("refused", "A draft has no stored PDF: issue it first.")
    assert zip_names(office, run) == sorted([f"{kept.number}.pdf", f"{unstored.number}.pdf"])
    archive = zipfile.ZipFile(run.result_file.open("rb"))
    assert archive.read(f"{kept.number}.pdf") == b"%PDF-1.7 kept"  # the document the customer received
    page = office.get(response["Location"]).content.decode()
    assert f'href="{url("run_download", run.pk)}"' in page


def test_clerks_may_download_a_zip_of_ap_invoices(clerk, partner):
    provider = ProviderFactory(partner=partner)
    invoice = InvoiceFactory(provider=provider)
    SlipFactory(proforma=None, invoice=invoice, partner=partner)
    from invoicing.lifecycle import invoice_issue

    invoice = invoice_issue(invoice=invoice)
    bulk(clerk, "zip", [invoice.pk], kind="ap")
    assert zip_names(clerk, the_run()) == [f"{invoice.number}.pdf"]


def test_a_zip_of_drafts_only_offers_nothing_to_download(office, customer):
    draft = draft_invoice(customer, [1000])
    bulk(office, "zip", [draft.pk])
    run = the_run()
    assert not run.result_file and office.get(url("run_download", run.pk)).status_code == 404


# --- what is selected ------------------------------------------------------------------------------------------


def test_every_invoice_matching_the_filter_is_worked_out_again_on_the_server(office, partner):
    ours, theirs = CustomerFactory(partner=partner), CustomerFactory(partner=partner)
    mine = [draft_invoice(ours, [1000 + i]) for i in range(3)]
    other = draft_invoice(theirs, [9000])
    foreign = draft_invoice(CustomerFactory(), [9000])

    bulk(office, "issue", [other.pk], scope="filter", filter=f"customer={ours.pk}&status=draft&sort=-total")

    assert set(results(the_run())) == {invoice.pk for invoice in mine}  # the ticked box does not count
    assert set(Invoice.objects.filter(status="pending").values_list("pk", flat=True)) == {i.pk for i in mine}
    assert Invoice.objects.get(pk=other.pk).status == Invoice.Status.DRAFT
    assert Invoice.objects.get(pk=foreign.pk).status == Invoice.Status.DRAFT


def test_select_all_without_filters_takes_the_whole_list_of_the_partner_only(office, customer):
    drafts = [draft_invoice(customer, [1000]) for _ in range(2)]
    draft_invoice(CustomerFactory(), [9000])  # another partner's
    InvoiceFactory(provider=ProviderFactory(partner=customer.partner))  # an AP draft: not on the AR list
    bulk(office, "zip", scope="filter")
    assert set(results(the_run())) == {d.pk for d in drafts}


def test_another_partners_ids_never_become_rows(office, customer):
    foreign = draft_invoice(CustomerFactory(), [9000])
    response = bulk(office, "issue", [foreign.pk], follow=True)
    assert "Select at least one invoice." in messages_of(response)
    assert Invoice.objects.get(pk=foreign.pk).status == Invoice.Status.DRAFT
    assert not BillingRun.objects.exists()


def test_nothing_ticked_is_refused_with_a_message_and_back_to_the_filtered_list(office, customer):
    response = bulk(office, "issue", [], filter="status=draft&per_page=25")
    assert response.status_code == 302
    assert response["Location"] == url("ar_invoice_list") + "?status=draft&per_page=25"
    response = office.get(response["Location"])
    assert messages_of(response) == ["Tick at least one invoice, or choose every invoice matching the filters."]


def test_unreadable_filters_are_refused(office, customer):
    draft_invoice(customer, [1000])
    response = bulk(office, "zip", scope="filter", filter="total_min=lots", follow=True)
    assert "The filters could not be read: fix them, then try again." in messages_of(response)
    assert not BillingRun.objects.exists()


@pytest.mark.parametrize("ids", [["abc"], ["-1"], ["1e3"]])
def test_unreadable_ids_are_refused(office, ids):
    response = office.post(url("ar_invoice_bulk"), {"action": "zip", "scope": "selected", "ids": ids}, follow=True)
    assert messages_of(response) == ["The selection could not be read; reload the list and try again."]


def test_bulk_actions_are_posts(office):
    assert office.get(url("ar_invoice_bulk")).status_code == 405


# --- large selections ------------------------------------------------------------------------------------------


def test_a_large_selection_runs_in_the_background_with_the_progress_page(office, customer, monkeypatch):
    monkeypatch.setattr(runs, "INLINE_MAX", 2)
    drafts = [draft_invoice(customer, [1000 + i]) for i in range(3)]
    issued = issued_invoice(customer, [5000])

    response = bulk(office, "issue", [*[d.pk for d in drafts], issued.pk], follow=True)

    run = the_run()
    assert run.status == BillingRun.Status.QUEUED and run.parties_total == 4
    assert "4 invoices queued" in " ".join(messages_of(response))
    assert "progress.js" in response.content.decode()
    assert Invoice.objects.filter(status="draft").count() == 3  # nothing done in the request

    runs.run_execute(run.pk)

    data = office.get(url("run_status", run.pk)).json()
    assert data["finished"] and (data["done"], data["total"], data["invoices_made"]) == (4, 4, 3)
    assert data["counts"] == {"done": 3, "refused": 1, "failed": 0, "pending": 0}
    assert data["errors"] == [
        {
            "name": f"{issued.number} · {customer.name}",
            "url": url("invoice_detail", issued.pk),
            "message": f"Not a draft: already pending as {issued.number}.",
        }
    ]
    assert not Invoice.objects.filter(status="draft").exists()


def test_a_large_zip_is_made_by_the_worker_and_offered_for_download(office, customer, monkeypatch):
    monkeypatch.setattr(runs, "INLINE_MAX", 1)
    invoices = [issued_invoice(customer, [1000 + i]) for i in range(3)]
    bulk(office, "zip", scope="filter")
    run = the_run()
    assert run.status == BillingRun.Status.QUEUED and office.get(url("run_status", run.pk)).json()["download_url"] == ""

    runs.run_execute(run.pk)

    assert office.get(url("run_status", run.pk)).json()["download_url"] == url("run_download", run.pk)
    assert zip_names(office, run) == sorted(f"{i.number}.pdf" for i in invoices)
