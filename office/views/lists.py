"""Office lists: AR and AP invoices, proformas, requests, services, customers, providers and payments.

Each list is described once by a ``ListSpec`` (its rows, FilterSet, sort keys, table headers, totals and CSV
columns); the views are thin wrappers that render a spec or stream it as CSV. A page costs a fixed number of
queries whatever the number of rows: the totals (one aggregate), the page (one keyset query with its
``select_related`` joins), the customer/provider choices of the filter form, and the sign-in lookups.
Pagination is keyset-based (see office.pagination for why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from babel.numbers import get_currency_symbol
from django.db.models import QuerySet
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from customers.access import staff_required
from invoicing import filters, selectors
from invoicing.models import Invoice
from octoo_billing.money import minor_exponent
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


@lru_cache(maxsize=32)
def _currency_format(currency: str) -> tuple[str, int]:
    return get_currency_symbol(currency, locale="en_US"), minor_exponent(currency)


def money_text(units: int | None, currency: str) -> str:
    """What the ``money`` template filter shows ("$1,234.50", "-$5.00"), in integer arithmetic and without
    babel's pattern parsing: the invoice lists show two amounts a row."""
    if units is None:
        return ""
    symbol, exp = _currency_format(currency)
    whole, frac = divmod(abs(int(units)), 10**exp)
    sign = "-" if units < 0 else ""
    return f"{sign}{symbol}{whole:,}.{frac:0{exp}d}" if exp else f"{sign}{symbol}{whole:,}"


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


# --- row decorations (links and flags the templates show) --------------------------------------------------


def _decorate_invoice(invoice, links: DetailLinks) -> None:
    invoice.url = links("invoice", invoice.pk)
    party_kind = "customer" if invoice.kind == Invoice.Kind.AR else "provider"
    invoice.party_url = links(party_kind, invoice.customer_id if party_kind == "customer" else invoice.provider_id)
    invoice.past_due = bool(
        invoice.status in Invoice.OPEN_STATUSES and invoice.due_date and invoice.due_date < timezone.localdate()
    )
    invoice.total_text = money_text(invoice.total_units, invoice.currency)
    invoice.balance_text = money_text(invoice.balance_units, invoice.currency)


def _decorate_proforma(proforma, links: DetailLinks) -> None:
    proforma.url = links("proforma", proforma.pk)
    proforma.customer_url = links("customer", proforma.customer_id)
    proforma.provider_url = links("provider", proforma.provider_id)
    proforma.service_url = links("service", proforma.service_id)
    proforma.ar_invoice_url = links("invoice", proforma.ar_invoice_id)


def _decorate_request(service_request, links: DetailLinks) -> None:
    service_request.url = links("request", service_request.pk)
    service_request.customer_url = links("customer", service_request.customer_id)


def _decorate_service(service, links: DetailLinks) -> None:
    service.url = links("service", service.pk)
    service.request_url = links("request", service.request_id)
    service.customer_url = links("customer", service.request.customer_id)
    service.provider_url = links("provider", service.provider_id)
    proforma = getattr(service, "proforma", None)
    service.proforma_url = links("proforma", proforma.pk) if proforma else ""


def _decorate_customer(customer, links: DetailLinks) -> None:
    customer.url = links("customer", customer.pk)


def _decorate_provider(provider, links: DetailLinks) -> None:
    provider.url = links("provider", provider.pk)


def _decorate_payment(payment, links: DetailLinks) -> None:
    payment.invoice_url = links("invoice", payment.invoice_id)
    invoice = payment.invoice
    if invoice.kind == Invoice.Kind.AR:
        payment.party_url = links("customer", invoice.customer_id)
    else:
        payment.party_url = links("provider", invoice.provider_id)


# --- the lists ---------------------------------------------------------------------------------------------

_INVOICE_SORTS = (
    SortKey("number", "sequence", kind="int", nullable=True, first_desc=True),
    SortKey("issued", "issue_date", kind="date", nullable=True, first_desc=True),
    SortKey("due", "due_date", kind="date", nullable=True),
    SortKey("status", "status"),
    SortKey("total", "total_units", kind="int", first_desc=True),
    SortKey("outstanding", "balance_units", kind="int", first_desc=True),
)


def _invoice_spec(kind: str) -> ListSpec:
    ar = kind == Invoice.Kind.AR
    party, party_label = ("customer", "Customer") if ar else ("provider", "Provider")
    return ListSpec(
        name="ar_invoice" if ar else "ap_invoice",
        title="AR invoices" if ar else "AP invoices",
        noun="invoice",
        template="office/lists/invoices.html",
        rows=lambda *, partner: selectors.invoice_list_queryset(partner=partner, kind=kind),
        filterset=filters.InvoiceFilterSet.for_kind(kind),
        sort_keys=(*_INVOICE_SORTS, SortKey(party, f"{party}__name", partner_path=f"{party}__partner")),
        default_sort="-issued",
        headers=(
            Header("Number", "number"),
            Header(party_label, party),
            Header("Issued", "issued"),
            Header("Due", "due"),
            Header("Status", "status"),
            Header("Total", "total", "num"),
            Header("Outstanding", "outstanding", "num"),
        ),
        totals=selectors.invoice_list_totals,
        csv_columns=exports.AR_INVOICE_COLUMNS if ar else exports.AP_INVOICE_COLUMNS,
        decorate=_decorate_invoice,
        page_fields=(
            "kind",
            "status",
            "number",
            "currency",
            "issue_date",
            "due_date",
            "no_payment",
            "contact_name",
            "total_units",
            f"{party}__name",
        ),
        csv_fields=exports.invoice_fields(party),
        extra={
            "kind": kind,
            "party": party,
            "subtitle": "Bills to customers" if ar else "Bills from providers",
        },
    )


AR_INVOICES = _invoice_spec(Invoice.Kind.AR)
AP_INVOICES = _invoice_spec(Invoice.Kind.AP)

PROFORMAS = ListSpec(
    name="proforma",
    title="Proformas",
    noun="proforma",
    template="office/lists/proformas.html",
    rows=selectors.proforma_list_queryset,
    filterset=filters.ProformaFilterSet,
    sort_keys=(
        SortKey("number", "number", nullable=True),
        SortKey("date", "service_date", kind="date", first_desc=True),
        SortKey("customer", "customer__name", partner_path="customer__partner"),
        SortKey("provider", "provider__name", nullable=True),
        SortKey("status", "status"),
        SortKey("billed", "bill_total_units", kind="int", first_desc=True),
        SortKey("pay", "pay_total_units", kind="int", first_desc=True),
    ),
    default_sort="-date",
    headers=(
        Header("Number", "number"),
        Header("Service date", "date"),
        Header("Customer", "customer"),
        Header("Provider", "provider"),
        Header("Status", "status"),
        Header("AR invoice"),
        Header("Billed", "billed", "num"),
        Header("Provider pay", "pay", "num"),
    ),
    totals=selectors.proforma_list_totals,
    csv_columns=exports.PROFORMA_COLUMNS,
    decorate=_decorate_proforma,
    extra={"subtitle": "What each service billed and earned"},
)

REQUESTS = ListSpec(
    name="request",
    title="Requests",
    noun="request",
    template="office/lists/requests.html",
    rows=selectors.request_list_queryset,
    filterset=filters.RequestFilterSet,
    sort_keys=(
        SortKey("id", "id", kind="int", first_desc=True),
        SortKey("title", "title"),
        SortKey("customer", "customer__name", partner_path="customer__partner"),
        SortKey("created", "created_at", kind="datetime", first_desc=True),
        SortKey("status", "status"),
        SortKey("services", "services_count", kind="int", first_desc=True),
    ),
    default_sort="-created",
    headers=(
        Header("Request", "id"),
        Header("Title", "title"),
        Header("Customer", "customer"),
        Header("Created", "created"),
        Header("Source"),
        Header("Status", "status"),
        Header("Services", "services", "num"),
    ),
    totals=selectors.count_totals,
    csv_columns=exports.REQUEST_COLUMNS,
    decorate=_decorate_request,
    extra={"subtitle": "Bookings and the services rendered for them"},
)

SERVICES = ListSpec(
    name="service",
    title="Services",
    noun="service",
    template="office/lists/services.html",
    rows=selectors.service_list_queryset,
    filterset=filters.ServiceFilterSet,
    sort_keys=(
        SortKey("id", "id", kind="int", first_desc=True),
        SortKey("starts", "starts_at", kind="datetime", first_desc=True),
        SortKey("customer", "request__customer__name", partner_path="request__customer__partner"),
        SortKey("provider", "provider__name", nullable=True),
        SortKey("type", "service_type__name"),
        SortKey("status", "status"),
    ),
    default_sort="-starts",
    headers=(
        Header("Service", "id"),
        Header("When", "starts"),
        Header("Request"),
        Header("Customer", "customer"),
        Header("Provider", "provider"),
        Header("Type", "type"),
        Header("Status", "status"),
        Header("Proforma"),
        Header("Hours", None, "num"),
    ),
    totals=selectors.count_totals,
    csv_columns=exports.SERVICE_COLUMNS,
    decorate=_decorate_service,
    extra={"subtitle": "Work rendered by providers, with its request"},
)

CUSTOMERS = ListSpec(
    name="customer",
    title="Customers",
    noun="customer",
    template="office/lists/customers.html",
    rows=selectors.customer_list_queryset,
    filterset=filters.CustomerFilterSet,
    sort_keys=(
        SortKey("name", "name"),
        SortKey("schedule", "invoicing_schedule"),
        SortKey("balance", "open_balance_units", kind="int", first_desc=True),
    ),
    default_sort="name",
    headers=(
        Header("Name", "name"),
        Header("Default contact"),
        Header("Schedule", "schedule"),
        Header("Terms"),
        Header("Pays by"),
        Header("Open balance", "balance", "num"),
    ),
    totals=selectors.count_totals,
    csv_columns=exports.CUSTOMER_COLUMNS,
    decorate=_decorate_customer,
    extra={"subtitle": "Who the partner bills"},
)

PROVIDERS = ListSpec(
    name="provider",
    title="Providers",
    noun="provider",
    template="office/lists/providers.html",
    rows=selectors.provider_list_queryset,
    filterset=filters.ProviderFilterSet,
    sort_keys=(
        SortKey("name", "name"),
        SortKey("balance", "open_balance_units", kind="int", first_desc=True),
    ),
    default_sort="name",
    headers=(
        Header("Name", "name"),
        Header("E-mail"),
        Header("Phone"),
        Header("Terms"),
        Header("Owed on open AP", "balance", "num"),
    ),
    totals=selectors.count_totals,
    csv_columns=exports.PROVIDER_COLUMNS,
    decorate=_decorate_provider,
    extra={"subtitle": "Who renders the services, paid through AP invoices"},
)

PAYMENTS = ListSpec(
    name="payment",
    title="Payments",
    noun="payment",
    template="office/lists/payments.html",
    rows=selectors.payment_list_queryset,
    filterset=filters.PaymentFilterSet,
    sort_keys=(
        SortKey("received", "received_on", kind="date", first_desc=True),
        SortKey("invoice", "invoice__sequence", kind="int", nullable=True, first_desc=True),
        SortKey("method", "method"),
        SortKey("amount", "amount_units", kind="int", first_desc=True),
    ),
    default_sort="-received",
    headers=(
        Header("Received", "received"),
        Header("Invoice", "invoice"),
        Header("Customer or provider"),
        Header("Method", "method"),
        Header("Reference"),
        Header("Amount", "amount", "num"),
    ),
    totals=selectors.payment_list_totals,
    csv_columns=exports.PAYMENT_COLUMNS,
    decorate=_decorate_payment,
    extra={"subtitle": "Money received on AR invoices and paid out on AP invoices"},
)


# --- rendering ---------------------------------------------------------------------------------------------


def _headers(spec: ListSpec, sort: Sort) -> list[dict]:
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
        "headers": _headers(spec, sort),
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


@staff_required
def ar_invoice_list(request):
    return render_list(request, AR_INVOICES)


@staff_required
def ar_invoice_export(request):
    return export_list(request, AR_INVOICES)


@staff_required
def ap_invoice_list(request):
    return render_list(request, AP_INVOICES)


@staff_required
def ap_invoice_export(request):
    return export_list(request, AP_INVOICES)


@staff_required
def proforma_list(request):
    return render_list(request, PROFORMAS)


@staff_required
def proforma_export(request):
    return export_list(request, PROFORMAS)


@staff_required
def request_list(request):
    return render_list(request, REQUESTS)


@staff_required
def request_export(request):
    return export_list(request, REQUESTS)


@staff_required
def service_list(request):
    return render_list(request, SERVICES)


@staff_required
def service_export(request):
    return export_list(request, SERVICES)


@staff_required
def customer_list(request):
    return render_list(request, CUSTOMERS)


@staff_required
def customer_export(request):
    return export_list(request, CUSTOMERS)


@staff_required
def provider_list(request):
    return render_list(request, PROVIDERS)


@staff_required
def provider_export(request):
    return export_list(request, PROVIDERS)


@staff_required
def payment_list(request):
    return render_list(request, PAYMENTS)


@staff_required
def payment_export(request):
    return export_list(request, PAYMENTS)
