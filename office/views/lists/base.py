"""The machinery every office list shares: a ``ListSpec``, its page and its streamed CSV export.

A page costs a fixed number of queries whatever the number of rows: the totals (one aggregate), the page (one
keyset query with its ``select_related`` joins), the customer/provider choices of the filter form, and the
sign-in lookups. Pagination is keyset-based (see office.pagination for why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.shortcuts import redirect, render
from django.urls import reverse

from customers.access import staff_required
from invoicing.models import Invoice
from office import exports
from office.pagination import PAGE_SIZES, KeysetPage, Sort, SortKey, keyset_page, ordered, page_size_from

# The office detail pages the rows link to (office.views.documents and office.views.customers).
DETAIL_URL_NAMES = {
    "invoice": "office:invoice_detail",
    "proforma": "office:proforma_detail",
    "request": "office:request_detail",
    "service": "office:service_detail",
    "customer": "office:customer_detail",
    "provider": "office:provider_detail",
    "credit_note": "office:credit_note_detail",
}


def detail_url(kind: str, pk) -> str:
    """The office detail page of a ``kind`` ("invoice", "customer", ...) object ("" for no object)."""
    return "" if pk is None else reverse(DETAIL_URL_NAMES[kind], args=[pk])


class DetailLinks:
    """``detail_url`` for a page of rows: each URL name is reversed once, then filled in per row
    (reverse() costs a few microseconds a call, and a page links every row two or three times)."""

    PROBE = 987654321

    def __init__(self):
        self._parts: dict[str, tuple[str, str] | None] = {}

    def __call__(self, kind: str, pk) -> str:
        if pk is None:
            return ""
        if kind not in self._parts:
            url = detail_url(kind, self.PROBE)
            probe = str(self.PROBE)
            self._parts[kind] = tuple(url.split(probe)) if url.count(probe) == 1 else None
        parts = self._parts[kind]
        return f"{parts[0]}{pk}{parts[1]}" if parts else detail_url(kind, pk)

    def party(self, invoice) -> str:
        """The page of an invoice's party: its customer (AR) or its provider (AP)."""
        if invoice.kind == Invoice.Kind.AR:
            return self("customer", invoice.customer_id)
        return self("provider", invoice.provider_id)


@dataclass(frozen=True)
class Header:
    """A table column header; ``sort`` names the SortKey it toggles (None: not sortable)."""

    label: str
    sort: str | None = None
    css: str = ""


@dataclass(frozen=True)
class ListSpec:
    name: str  # URL names office:<name>_list and office:<name>_export
    title: str
    noun: str  # "invoice", for "55 invoices"
    template: str
    rows: Callable[..., QuerySet]  # rows(partner=...) -> the partner's rows, before filters
    filterset: type
    sort_keys: tuple[SortKey, ...]
    default_sort: str
    headers: tuple[Header, ...]
    totals: Callable[[QuerySet], dict]
    csv_columns: list
    decorate: Callable[[object, DetailLinks], None] = lambda row, links: None  # adds the rows' links
    page_fields: tuple[str, ...] = ()  # columns a page needs (all if empty)
    csv_fields: tuple[str, ...] = ()  # columns the CSV export needs (all if empty)
    extra: dict = field(default_factory=dict)

    @property
    def keys(self) -> dict[str, SortKey]:
        return {k.key: k for k in self.sort_keys}

    @property
    def list_url_name(self) -> str:
        return f"office:{self.name}_list"

    @property
    def export_url_name(self) -> str:
        return f"office:{self.name}_export"


# --- rendering ---------------------------------------------------------------------------------------------


def headers(spec: ListSpec, sort: Sort) -> list[dict]:
    """Table headers with the ``?sort=`` each one links to and the arrow of the current sort."""
    keys = spec.keys
    out = []
    for header in spec.headers:
        item = {"label": header.label, "css": header.css, "sortable": header.sort is not None}
        if header.sort is not None:
            key = keys[header.sort]
            active = sort.key.key == key.key
            if active:
                param = key.key if sort.descending else f"-{key.key}"
            else:
                param = f"-{key.key}" if key.first_desc else key.key
            item.update(
                param=param,
                active=active,
                aria_sort=("descending" if sort.descending else "ascending") if active else "",
            )
        out.append(item)
    return out


def _filtered(request, spec: ListSpec):
    partner = request.partner
    filterset = spec.filterset(request.GET, queryset=spec.rows(partner=partner), partner=partner)
    sort = Sort.from_param(request.GET.get("sort"), spec.keys, spec.default_sort)
    return filterset, sort


def render_list(request, spec: ListSpec):
    filterset, sort = _filtered(request, spec)
    page_size = page_size_from(request.GET.get("per_page"))
    if filterset.is_valid():
        queryset = filterset.qs
        totals = spec.totals(queryset)
        if sort.key.partner_path:
            queryset = queryset.filter(**{sort.key.partner_path: request.partner})
        page = keyset_page(
            queryset.only(*spec.page_fields) if spec.page_fields else queryset,
            sort=sort,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
            last=bool(request.GET.get("last")),
            page_size=page_size,
        )
    else:
        totals, page = None, KeysetPage([], sort, page_size)
    links = DetailLinks()
    for row in page.rows:
        spec.decorate(row, links)
    context = {
        "spec": spec,
        "filterset": filterset,
        "form": filterset.form,
        "page": page,
        "rows": page.rows,
        "totals": totals,
        "headers": headers(spec, sort),
        "sort": sort,
        "currency": request.partner.currency,
        "page_sizes": PAGE_SIZES,
        **spec.extra,
    }
    return render(request, spec.template, context)


def export_list(request, spec: ListSpec):
    filterset, sort = _filtered(request, spec)
    if not filterset.is_valid():
        # The list page shows what is wrong with the filters next to the fields.
        return redirect(reverse(spec.list_url_name) + "?" + request.GET.urlencode())
    queryset = filterset.qs.only(*spec.csv_fields) if spec.csv_fields else filterset.qs
    return exports.stream_csv(
        ordered(queryset, sort),
        spec.csv_columns,
        filename=spec.name.replace("_", "-") + "s",
        currency=request.partner.currency,
    )


# --- views -------------------------------------------------------------------------------------------------


def spec_view(handler: Callable, spec: ListSpec, suffix: str):
    """A staff view serving ``spec`` through ``handler`` (``render_list`` or ``export_list``), named
    ``<name>_<suffix>`` like its route."""

    @staff_required
    def view(request):
        return handler(request, spec)

    view.__name__ = view.__qualname__ = f"{spec.name}_{suffix}"
    return view
