"""Bulk actions on the AR and AP invoice lists: issue drafts (billing admins), resend by e-mail (AR), download
the PDFs as one ZIP, for the ticked rows or for every invoice matching the list's filters.

"Every invoice matching the filters" is worked out here again from the list's filter query string, within the
signed-in user's partner; ticked ids are looked up within the partner too, so another partner's id never reaches
a row. The action becomes a ``BillingRun`` (invoicing.runs.bulk_start): a small selection is done before the
redirect, a larger one by the worker; either way its page shows each row's result.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from customers.access import staff_required
from invoicing import runs
from invoicing.bulk import BULK_MAX
from invoicing.errors import BillingError
from invoicing.models import BillingRun
from office.views.lists.base import ListSpec
from office.views.lists.invoices import AP_INVOICES, AR_INVOICES

Kind = BillingRun.Kind
SELECTED, FILTER = "selected", "filter"


class IdListField(forms.Field):
    """The ticked rows' ids (``ids`` repeated): whole numbers only."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        ids = []
        for raw in value or []:
            text = str(raw).strip()
            if not text.isdecimal() or len(text) > 18:
                raise forms.ValidationError("The selection could not be read; reload the list and try again.")
            ids.append(int(text))
        return ids


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(kind.value, kind.label) for kind in BillingRun.BULK_KINDS])
    scope = forms.ChoiceField(choices=[(SELECTED, "The ticked invoices"), (FILTER, "Every invoice matching")])
    ids = IdListField(required=False)
    filter = forms.CharField(required=False, max_length=4000)

    def clean(self):
        data = super().clean()
        if data.get("scope") == SELECTED and not data.get("ids"):
            self.add_error("ids", "Tick at least one invoice, or choose every invoice matching the filters.")
        return data


def _matching_ids(request, spec: ListSpec, query: QueryDict) -> list[int] | None:
    """The ids of the partner's invoices the list shows for these filters (None: the filters are invalid)."""
    filterset = spec.filterset(query, queryset=spec.rows(partner=request.partner), partner=request.partner)
    if not filterset.is_valid():
        return None
    return list(filterset.qs.order_by().values_list("pk", flat=True)[: BULK_MAX + 1])


def _bulk(request, spec: ListSpec):
    query = QueryDict(request.POST.get("filter", "")[:4000])
    back = reverse(spec.list_url_name) + (f"?{query.urlencode()}" if query else "")
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        messages.error(request, first)
        return redirect(back)
    action = form.cleaned_data["action"]
    if action == Kind.ISSUE and not request.membership.is_billing_admin:
        raise PermissionDenied("Only a billing admin can issue invoices.")
    if form.cleaned_data["scope"] == FILTER:
        ids = _matching_ids(request, spec, query)
        if ids is None:
            messages.error(request, "The filters could not be read: fix them, then try again.")
            return redirect(back)
    else:
        ids = form.cleaned_data["ids"]
    try:
        run = runs.bulk_start(
            partner=request.partner, kind=action, invoice_kind=spec.extra["kind"], invoice_ids=ids, user=request.user
        )
    except BillingError as error:
        messages.error(request, error.message)
        return redirect(back)
    if run.is_open:
        messages.info(
            request, f"{run.get_kind_display()}: {run.parties_total:,} invoices queued; the results show here."
        )
    return redirect("office:run_detail", pk=run.pk)


SPECS = {spec.extra["kind"]: spec for spec in (AR_INVOICES, AP_INVOICES)}


@staff_required
@require_POST
def invoice_bulk(request, kind: str):
    """A bulk action on the AR (``kind="ar"``) or AP invoice list; the route gives the kind."""
    return _bulk(request, SPECS[kind])
