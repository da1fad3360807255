"""Office runs: start a partner-wide AR or AP run, follow a run's progress, list every run (from the office or
the worker's schedule) with the next scheduled ones, and download what a run made (a ZIP of PDFs).

A run's page polls ``status.json`` (static/js/progress.js; the Content-Security-Policy allows no inline script)
and is also complete on a plain reload. Every run is the partner's own: another partner's run is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_q.models import Schedule

from customers.access import staff_required
from invoicing import runs
from invoicing.errors import BillingError, RunAlreadyOpen
from invoicing.models import BillingRun, BillingRunItem
from office.scoping import partner_object
from office.views.lists.base import detail_url

RUNS_PER_PAGE = 50
ERRORS_SHOWN = 200  # errors (or refused rows) sent to the page per poll; the count says if there are more
ROWS_SHOWN = 500  # a bulk run's rows listed on its page
SCHEDULED_TASKS = {"invoicing.tasks.ar_run_task": "ar", "invoicing.tasks.ap_run_task": "ap"}


@dataclass(frozen=True)
class Problem:
    """An error of a run, as the page shows it: the customer, provider or invoice it is about, and why."""

    name: str
    url: str
    message: str

    def as_json(self) -> dict:
        return {"name": self.name, "url": self.url, "message": self.message}


@dataclass(frozen=True)
class RowResult:
    """A bulk run's row as its page lists it."""

    label: str
    url: str
    party_name: str
    outcome: str
    outcome_label: str
    message: str


def _row_result(item: BillingRunItem) -> RowResult:
    party = item.invoice.party if item.invoice is not None else None
    return RowResult(
        label=_item_label(item),
        url=detail_url("invoice", item.invoice_id),
        party_name=party.name if party is not None else "",
        outcome=item.outcome,
        outcome_label=item.get_outcome_display(),
        message=item.message,
    )


def _run(request, pk) -> BillingRun:
    return partner_object(request, BillingRun.objects.select_related("started_by"), pk=pk)


def _problems(run: BillingRun) -> list[Problem]:
    if run.is_generation:
        return [
            Problem(error["party_name"], detail_url(run.party_noun, error["party_id"]), error["message"])
            for error in run.errors[:ERRORS_SHOWN]
        ]
    return [
        Problem(_item_name(item), detail_url("invoice", item.invoice_id), item.message)
        for item in runs.run_problem_items(run, limit=ERRORS_SHOWN)
    ]


def _item_label(item: BillingRunItem) -> str:
    """The invoice as it is now (a draft issued by the run has its number), else as it was selected."""
    invoice = item.invoice
    return (invoice.number or f"Draft #{invoice.pk}") if invoice is not None else item.label


def _item_name(item: BillingRunItem) -> str:
    party = item.invoice.party if item.invoice is not None else None
    return f"{_item_label(item)} · {party.name}" if party is not None else _item_label(item)


def _error_count(run: BillingRun, counts: runs.RunCounts) -> int:
    return len(run.errors) if run.is_generation else counts.refused + counts.failed


def _download_url(run: BillingRun) -> str:
    return reverse("office:run_download", args=[run.pk]) if run.result_file else ""


def _noun(run: BillingRun) -> str:
    return f"{run.party_noun}s" if run.is_generation else "invoices"


def run_status_payload(run: BillingRun) -> dict:
    counts = runs.run_counts(run)
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "status_label": run.get_status_display(),
        "finished": not run.is_open,
        "total": run.parties_total,
        "done": run.parties_done,
        "noun": _noun(run),
        "invoices_made": run.invoices_made,
        "counts": {"done": counts.done, "refused": counts.refused, "failed": counts.failed, "pending": counts.pending},
        "error_count": _error_count(run, counts),
        "errors": [problem.as_json() for problem in _problems(run)],
        "message": run.message,
        "download_url": _download_url(run),
    }


# --- pages -----------------------------------------------------------------------------------------------------


def _next_schedules() -> list[dict]:
    """The worker's AR and AP schedules and when each runs next (they cover every partner)."""
    return [
        {"name": s.name, "kind": SCHEDULED_TASKS[s.func], "next_run": s.next_run, "repeats": s.repeats}
        for s in Schedule.objects.filter(func__in=list(SCHEDULED_TASKS)).order_by("next_run")
    ]


@staff_required
@require_GET
def run_list(request):
    page = Paginator(runs.run_list_queryset(partner=request.partner), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "office/runs/list.html",
        {"page": page, "runs": page.object_list, "schedules": _next_schedules()},
    )


@staff_required
@require_POST
def run_start(request):
    """Run AR (or AP) now for every customer (provider) of the partner. Billing clerks' runs make drafts only,
    as "Run AR now" on a customer does."""
    kind = request.POST.get("kind", "")
    try:
        run = runs.run_start(
            partner=request.partner,
            kind=kind,
            user=request.user,
            drafts_only=not request.membership.is_billing_admin,
        )
    except RunAlreadyOpen as refusal:
        messages.info(request, refusal.message)
        return redirect("office:run_detail", pk=refusal.run.pk)
    except BillingError as error:
        messages.error(request, error.message)
        return redirect("office:run_list")
    messages.success(request, f"{run.get_kind_display()} started: its progress shows here as it goes.")
    return redirect("office:run_detail", pk=run.pk)


@staff_required
@require_GET
def run_detail(request, pk):
    run = _run(request, pk)
    counts = runs.run_counts(run)
    items = []
    if not run.is_generation:
        rows = run.items.select_related("invoice__customer", "invoice__provider").order_by("pk")[:ROWS_SHOWN]
        items = [_row_result(item) for item in rows]
    return render(
        request,
        "office/runs/detail.html",
        {
            "run": run,
            "counts": counts,
            "noun": _noun(run),
            "problems": _problems(run),
            "error_count": _error_count(run, counts),
            "items": items,
            "more_items": max(run.parties_total - len(items), 0) if items else 0,
            "download_url": _download_url(run),
            "status_url": reverse("office:run_status", args=[run.pk]),
            "progress_max": run.parties_total or 1,
            "progress_value": run.parties_done if run.parties_total else int(not run.is_open),
        },
    )


@staff_required
@require_GET
def run_status(request, pk):
    response = JsonResponse(run_status_payload(_run(request, pk)))
    response["Cache-Control"] = "no-store"
    return response


@staff_required
@require_GET
def run_download(request, pk):
    """What the run made for download (the ZIP of a "Download PDFs" action)."""
    run = _run(request, pk)
    if not run.result_file:
        raise Http404("This run has nothing to download.")
    return FileResponse(
        run.result_file.open("rb"), as_attachment=True, filename=run.result_file.name.rsplit("/", 1)[-1]
    )
