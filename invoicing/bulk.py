"""Bulk actions on a selection of invoices: issue drafts, resend by e-mail, download the PDFs as one ZIP.

Each selected invoice is a ``BillingRunItem`` with its own result: one row refused (a draft has no PDF, an
invoice already issued) never stops the others. The rows are worked in chunks; a chunk's results and the run's
counters are recorded in one short transaction, so the run's page shows the progress as it goes. Issuing and
resending do their writes in that same transaction (each row in its own savepoint), so a row's result is recorded
exactly when its change is, and the outbox is nudged once per chunk. Issuing takes a chunk's drafts in one bulk
issue (``invoicing.bulk_issue``), with each row's own result. The ZIP is written to a temporary file and
stored with the run (``BillingRun.result_file``) once every row is done.

Started and run by ``invoicing.runs`` (``bulk_start``, ``run_execute``).
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from dataclasses import dataclass

from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from octoo_billing import locale as formats

from .bulk_issue import invoices_issue_bulk
from .delivery import invoice_resend_queue
from .errors import BillingError
from .lifecycle import invoice_issue
from .models import BillingRun, BillingRunItem, Invoice
from .pdf.documents import invoice_pdf_open

logger = logging.getLogger(__name__)

Kind, Outcome = BillingRun.Kind, BillingRunItem.Outcome
INLINE_MAX = 50  # a selection up to this size is worked in the request; a larger one by the worker
BULK_MAX = 10_000  # the most one action takes at once (narrow the filters beyond)
CHUNK = 25


@dataclass(frozen=True)
class RowResult:
    outcome: Outcome
    message: str


def invoice_label(invoice: Invoice) -> str:
    return invoice.number or f"Draft #{invoice.pk}"


def _issue(invoice: Invoice, user) -> RowResult:
    if invoice.status != Invoice.Status.DRAFT:
        already = f" as {invoice.number}" if invoice.number else ""
        return RowResult(Outcome.REFUSED, f"Not a draft: already {invoice.get_status_display().lower()}{already}.")
    return _issued(invoice_issue(invoice=invoice, user=user, expected_status=Invoice.Status.DRAFT))


def _issued(issued: Invoice) -> RowResult:
    due = f", due {formats.format_date(issued.due_date)}" if issued.due_date else ""
    return RowResult(Outcome.DONE, f"Issued as {issued.number}{due}.")


def _issue_chunk(items: list[BillingRunItem], user) -> None:
    """A chunk of an issue run: its drafts issued in one bulk issue (``invoicing.bulk_issue``: a few statements
    for the whole chunk, the same results as one by one), each row's result as ``_issue`` gives it. Should the
    bulk issue fail on anything but a refusal, the chunk's drafts are issued one by one instead, so that failure
    stays on its own row."""
    drafts = [item for item in items if item.invoice is not None and item.invoice.status == Invoice.Status.DRAFT]
    _work(_issue, [item for item in items if item not in drafts], user)  # refused without writing anything
    try:
        with transaction.atomic():
            done = invoices_issue_bulk(
                invoice_ids=[item.invoice_id for item in drafts], user=user, expected_status=Invoice.Status.DRAFT
            )
    except Exception:  # noqa: BLE001 - logged; each row then gets its own result
        logger.exception("bulk issue of %s drafts failed; issuing them one by one", len(drafts))
        _work(_issue, drafts, user)
        return
    issued = {invoice.pk: invoice for invoice in done.issued}
    for item in drafts:
        if item.invoice_id in issued:
            result = _issued(issued[item.invoice_id])
        else:
            result = RowResult(Outcome.REFUSED, done.refused[item.invoice_id].message)
        item.outcome, item.message = result.outcome, result.message[:500]


def _resend(invoice: Invoice, user) -> RowResult:
    invoice_resend_queue(invoice=invoice, user=user)
    return RowResult(Outcome.DONE, "Queued for e-mail.")


class _Zip:
    """The ZIP a ``zip`` run builds: one stored PDF per issued invoice, in a temporary file until stored."""

    def __init__(self):
        self.file = tempfile.TemporaryFile()
        self.archive = zipfile.ZipFile(self.file, "w", compression=zipfile.ZIP_DEFLATED)
        self.count = 0

    def row(self, invoice: Invoice, user) -> RowResult:
        if invoice.is_draft:
            return RowResult(Outcome.REFUSED, "A draft has no stored PDF: issue it first.")
        data, filename = invoice_pdf_open(invoice=invoice, user=user)
        self.archive.writestr(filename, data)
        self.count += 1
        return RowResult(Outcome.DONE, f"In the ZIP as {filename}.")

    def store(self, run: BillingRun) -> None:
        self.archive.close()
        if self.count:
            self.file.seek(0)
            run.result_file.save(f"{run.invoice_kind}-invoices-run-{run.pk}.zip", File(self.file), save=False)
            BillingRun.objects.filter(pk=run.pk).update(result_file=run.result_file.name, updated_at=timezone.now())
        self.file.close()


def _row(action, invoice: Invoice | None, user) -> RowResult:
    """One row's result: a domain refusal is the row's message; anything else fails that row only. (The domain
    functions are atomic themselves: inside a chunk's transaction a failing row rolls back to its savepoint.)"""
    if invoice is None:
        return RowResult(Outcome.REFUSED, "The invoice no longer exists.")
    try:
        return action(invoice, user)
    except BillingError as error:
        return RowResult(Outcome.REFUSED, error.message)
    except Exception as error:  # noqa: BLE001 - recorded on the row; the other rows go on
        logger.exception("bulk action on invoice %s failed", invoice.pk)
        return RowResult(Outcome.FAILED, f"{type(error).__name__}: {error}"[:500])


def _record(run: BillingRun, items: list[BillingRunItem]) -> None:
    BillingRunItem.objects.bulk_update(items, ["outcome", "message"])
    done = sum(item.outcome == Outcome.DONE for item in items)
    BillingRun.objects.filter(pk=run.pk).update(
        parties_done=F("parties_done") + len(items),
        invoices_made=F("invoices_made") + done,
        updated_at=timezone.now(),
    )


def _work(action, items: list[BillingRunItem], user) -> None:
    for item in items:
        result = _row(action, item.invoice, user)
        item.outcome, item.message = result.outcome, result.message[:500]


def bulk_items_execute(run: BillingRun) -> None:
    """Work a bulk run's rows not yet done, a chunk at a time (called by ``invoicing.runs.run_execute``)."""
    user = run.started_by
    zip_file = _Zip() if run.kind == Kind.ZIP else None
    action = zip_file.row if zip_file is not None else {Kind.ISSUE: _issue, Kind.RESEND: _resend}[run.kind]
    item_ids = list(run.items.filter(outcome=Outcome.PENDING).order_by("pk").values_list("pk", flat=True))
    try:
        for start in range(0, len(item_ids), CHUNK):
            items = list(
                BillingRunItem.objects.filter(pk__in=item_ids[start : start + CHUNK])
                .select_related("invoice__partner", "invoice__customer", "invoice__provider")
                .order_by("pk")
            )
            if zip_file is not None:  # rendering a missing PDF takes a while: no transaction held meanwhile
                _work(action, items, user)
                with transaction.atomic():
                    _record(run, items)
            else:
                with transaction.atomic():  # the rows' changes and their results commit together
                    if run.kind == Kind.ISSUE:
                        _issue_chunk(items, user)
                    else:
                        _work(action, items, user)
                    _record(run, items)
        if zip_file is not None:
            zip_file.store(run)
    finally:
        if zip_file is not None and not zip_file.file.closed:
            zip_file.file.close()
