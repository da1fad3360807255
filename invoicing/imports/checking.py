"""Checking an uploaded file's rows, saving nothing: ``services_import_check`` gives every row its status (OK,
error with its problems in plain words, or skipped: already imported) and plans the OK rows into requests.

The checks are those of ``booking.request_submit`` (one way in for requests): each row's service is checked by
``booking.service_input_errors``, and each request's codes are resolved by ``request_codes.request_codes_resolve``
(auto-applied codes join every new request, a label the customer requires must have a code). It is not called
once per row, though: the customers, providers, service types, zones and expense-code rules are loaded in a few
queries up front and the rows are checked in Python.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from django.db import models
from django.utils import timezone

from customers.models import Customer, Provider

from ..booking import MAX_SERVICES, TITLE_MAX, ServiceInput, service_input_errors
from ..models import Service, ServiceType, Zone
from ..request_codes import code_rules_load, request_codes_resolve
from .files import CODE_PREFIX, Column, import_table_read

EXTERNAL_REF_MAX = Service._meta.get_field("external_ref").max_length
REQUEST_REF_MAX = 100


class RowStatus(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"
    DUPLICATE = "duplicate", "Skipped: already imported"


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with a row, in plain words; ``field`` is the column it is about ("" for the row as a whole)."""

    field: str
    message: str


@dataclass
class ServicePlan:
    """A checked row, ready to be saved."""

    customer: Customer
    service_type: ServiceType
    provider: Provider | None
    zone: Zone | None
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    address: str
    notes: str


@dataclass
class ImportRow:
    number: int
    cells: list[str]
    values: dict[str, str]
    status: str = RowStatus.OK
    problems: list[RowProblem] = field(default_factory=list)
    plan: ServicePlan | None = None

    def refuse(self, field_name: str, message: str) -> None:
        self.problems.append(RowProblem(field_name, message))
        self.status = RowStatus.ERROR

    @property
    def problem_fields(self) -> set[str]:
        return {problem.field for problem in self.problems}


@dataclass
class RequestPlan:
    """The rows that become one request, its title and its codes (entered plus auto-applied)."""

    rows: list[ImportRow]
    title: str = ""
    codes: list = field(default_factory=list)  # request_codes.ResolvedCode


@dataclass
class ImportCheck:
    """``services_import_check``'s answer: every row with its status and problems, and the requests to create."""

    file_name: str
    headers: list[str]
    rows: list[ImportRow]
    requests: list[RequestPlan]
    time_zone: str

    def _count(self, status) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def ok_count(self) -> int:
        return self._count(RowStatus.OK)

    @property
    def error_count(self) -> int:
        return self._count(RowStatus.ERROR)

    @property
    def duplicate_count(self) -> int:
        return self._count(RowStatus.DUPLICATE)

    @property
    def can_import(self) -> bool:
        """At least one new service and no row in error: the import is all or nothing."""
        return self.ok_count > 0 and self.error_count == 0


DATETIME_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _when(row: ImportRow, column: str, zone) -> datetime.datetime | None:
    text = row.values.get(column, "")
    what = "starts" if column == Column.STARTS_AT else "ends"
    if not text:
        row.refuse(column, f"The {column} is empty: enter when the service {what}, as YYYY-MM-DD HH:MM.")
        return None
    parsed = None
    if DATETIME_FORMAT.fullmatch(text):
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            parsed = None
    if parsed is None:
        row.refuse(
            column,
            f"“{text}” is not a date and time: write {column} as YYYY-MM-DD HH:MM, e.g. 2026-03-02 09:30.",
        )
        return None
    return parsed.replace(tzinfo=zone)


@dataclass
class _Lookups:
    """The partner's customers, providers, service types and zones, by what a file may call them."""

    customers: dict[str, Customer]
    providers: dict[str, Provider]
    type_codes: dict[str, ServiceType]
    type_names: dict[str, list[ServiceType]]
    zones: dict[str, Zone]
    type_hint: str
    zone_hint: str

    @classmethod
    def load(cls, partner) -> _Lookups:
        customers: dict[str, Customer] = {}
        for customer in Customer.objects.filter(partner=partner).only(
            "id", "partner_id", "name", "zone_id", "is_active", "require_expense_code"
        ):
            customers[_key(customer.name)] = customer
            customers[f"#{customer.pk}"] = customer
        providers: dict[str, Provider] = {}
        for provider in Provider.objects.filter(partner=partner).only("id", "partner_id", "name"):
            providers[_key(provider.name)] = provider
            providers[f"#{provider.pk}"] = provider
        types = list(ServiceType.objects.filter(partner=partner).order_by("code"))
        type_names: dict[str, list[ServiceType]] = {}
        for stype in types:
            type_names.setdefault(_key(stype.name), []).append(stype)
        zones = list(Zone.objects.filter(partner=partner).order_by("name"))
        return cls(
            customers=customers,
            providers=providers,
            type_codes={stype.code.casefold(): stype for stype in types},
            type_names=type_names,
            zones={_key(zone.name): zone for zone in zones},
            type_hint=", ".join(stype.code for stype in types[:10]) + (", ..." if len(types) > 10 else ""),
            zone_hint=", ".join(zone.name for zone in zones[:10]) + (", ..." if len(zones) > 10 else ""),
        )


def _by_name_or_id(found: dict, text: str):
    if text.isdigit() and f"#{text}" in found:
        return found[f"#{text}"]
    return found.get(_key(text))


def _check_row(row: ImportRow, lookups: _Lookups, zone_info, now) -> None:
    values = row.values
    customer_text = values.get(Column.CUSTOMER, "")
    customer = _by_name_or_id(lookups.customers, customer_text) if customer_text else None
    if not customer_text:
        row.refuse(Column.CUSTOMER, "The customer is empty: enter the name (or id) of one of your customers.")
    elif customer is None:
        row.refuse(Column.CUSTOMER, f"Unknown customer “{customer_text}”: none of your customers has this name or id.")
    elif not customer.is_active:
        row.refuse(Column.CUSTOMER, f"The customer “{customer.name}” is no longer active.")
    provider_text = values.get(Column.PROVIDER, "")
    provider = _by_name_or_id(lookups.providers, provider_text) if provider_text else None
    if provider_text and provider is None:
        row.refuse(Column.PROVIDER, f"Unknown provider “{provider_text}”: none of your providers has this name or id.")
    type_text = values.get(Column.SERVICE_TYPE, "")
    stype = None
    if not type_text:
        row.refuse(Column.SERVICE_TYPE, f"The service type is empty: enter its code ({lookups.type_hint}) or name.")
    else:
        stype = lookups.type_codes.get(type_text.casefold())
        if stype is None:
            named = lookups.type_names.get(_key(type_text), [])
            if len(named) > 1:
                codes = ", ".join(s.code for s in named)
                row.refuse(
                    Column.SERVICE_TYPE, f"Several service types are called “{type_text}”: use the code ({codes})."
                )
            elif named:
                stype = named[0]
            else:
                row.refuse(
                    Column.SERVICE_TYPE,
                    f"Unknown service type “{type_text}”: use the code ({lookups.type_hint}) or name of one of yours.",
                )
    zone_text = values.get(Column.ZONE, "")
    zone = lookups.zones.get(_key(zone_text)) if zone_text else None
    if zone_text and zone is None:
        row.refuse(
            Column.ZONE, f"Unknown zone “{zone_text}”: use the name of one of your tax zones ({lookups.zone_hint})."
        )
    starts_at = _when(row, Column.STARTS_AT, zone_info)
    ends_at = _when(row, Column.ENDS_AT, zone_info)
    title = values.get(Column.TITLE, "")
    if len(title) > TITLE_MAX:
        row.refuse(Column.TITLE, f"Keep the title to {TITLE_MAX} characters or fewer.")
    if len(values.get(Column.REQUEST_REF, "")) > REQUEST_REF_MAX:
        row.refuse(Column.REQUEST_REF, f"Keep the request_ref to {REQUEST_REF_MAX} characters or fewer.")
    if customer is None or stype is None:
        return
    service = ServiceInput(
        service_type=stype,
        starts_at=starts_at,
        ends_at=ends_at,
        address=values.get(Column.ADDRESS, ""),
        zone=zone,
        provider=provider,
        notes=values.get(Column.NOTES, ""),
    )
    own = row.problem_fields
    for field_name, message in service_input_errors(customer, service, now=now).items():
        if field_name not in own:
            row.refuse(field_name, message)
    if row.status == RowStatus.OK:
        row.plan = ServicePlan(
            customer=customer,
            service_type=stype,
            provider=provider,
            zone=zone,
            starts_at=starts_at,
            ends_at=ends_at,
            address=service.address,
            notes=service.notes,
        )


def _shared(rows: list[ImportRow], column: str, ref: str, what: str) -> str:
    """The group's value for a request-level column: the first one given; a row giving another is refused."""
    first = None
    for row in rows:
        value = row.values.get(column, "")
        if not value:
            continue
        if first is None:
            first = (value, row.number)
        elif value != first[0]:
            row.refuse(
                column,
                f"Rows with request_ref “{ref}” have different {what} (“{first[0]}” on row {first[1]}): "
                "they become one request, which has one.",
            )
    return first[0] if first else ""


def _plan_requests(rows: list[ImportRow], code_keys: list[str]) -> list[RequestPlan]:
    groups: dict[str, list[ImportRow]] = {}
    singles: list[list[ImportRow]] = []
    for row in rows:
        ref = row.values.get(Column.REQUEST_REF, "")
        if ref:
            groups.setdefault(ref, []).append(row)
        else:
            singles.append([row])
    planned = [(ref, group) for ref, group in groups.items()] + [("", group) for group in singles]
    planned.sort(key=lambda item: item[1][0].number)
    customers = {row.plan.customer.pk: row.plan.customer for row in rows if row.plan is not None}
    rules = code_rules_load(customers.values())
    resolved_by: dict[tuple, object] = {}  # many requests of a customer carry the same codes: resolve them once
    plans = []
    for ref, group in planned:
        plan = RequestPlan(rows=group)
        plans.append(plan)
        if ref:
            if len(group) > MAX_SERVICES:
                for row in group:
                    row.refuse(
                        Column.REQUEST_REF,
                        f"A request can have at most {MAX_SERVICES} services: request_ref “{ref}” has "
                        f"{len(group)} rows. Split it.",
                    )
            first_customer = next((row for row in group if row.plan is not None), None)
            for row in group:
                if row.plan is not None and row.plan.customer.pk != first_customer.plan.customer.pk:
                    row.refuse(
                        Column.CUSTOMER,
                        f"Rows with request_ref “{ref}” are for different customers (“{first_customer.plan.customer}” "
                        f"on row {first_customer.number}): a request is for one customer.",
                    )
            plan.title = _shared(group, Column.TITLE, ref, "titles")
            pairs = [
                (key[len(CODE_PREFIX) :], _shared(group, key, ref, f"{key[len(CODE_PREFIX) :]} codes"))
                for key in code_keys
            ]
        else:
            plan.title = group[0].values.get(Column.TITLE, "")
            pairs = [(key[len(CODE_PREFIX) :], group[0].values.get(key, "")) for key in code_keys]
        first = next((row for row in group if row.plan is not None), None)
        if first is None:
            continue
        plan.title = " ".join(plan.title.split()) or str(first.plan.service_type)
        customer_rules = rules[first.plan.customer.pk]
        memo = (first.plan.customer.pk, tuple(pairs))
        resolved = resolved_by.get(memo)
        if resolved is None:
            resolved = resolved_by[memo] = request_codes_resolve(customer_rules, codes=pairs)
        plan.codes = resolved.request
        labels = customer_rules.labels
        for field_name, message in resolved.errors.items():
            column = "codes"
            if field_name.startswith("code_"):
                label = labels.get(int(field_name[len("code_") :]))
                column = f"{CODE_PREFIX}{label.name}" if label is not None else column
                if label is not None and not any(key.casefold() == column.casefold() for key in code_keys):
                    message = f"{message} Add a column “{column}”."
            for row in group:
                row.refuse(column, message)
    return [plan for plan in plans if all(row.status == RowStatus.OK for row in plan.rows)]


def services_already_imported(partner, refs: list[str]) -> set[str]:
    """Which of ``refs`` (scheduling-system ids) the partner's services already carry."""
    found: set[str] = set()
    for start in range(0, len(refs), 1000):
        found.update(
            Service.objects.filter(partner=partner, external_ref__in=refs[start : start + 1000]).values_list(
                "external_ref", flat=True
            )
        )
    return found


def services_import_check(*, partner, name: str, data: bytes, now=None) -> ImportCheck:
    """Read and check every row of an uploaded file for ``partner``, saving nothing. Raises ``ImportRefused``
    (field "file") when the file as a whole is refused; otherwise every row gets its status (OK, error with its
    problems in plain words, or skipped: already imported) and the OK rows are planned into requests."""
    table = import_table_read(name, data)
    width = len(table.keys)
    rows: list[ImportRow] = []
    for number, cells in table.rows:
        cells = [cell.strip() for cell in cells]
        values = {key: cell for key, cell in zip(table.keys, cells, strict=False) if key}
        row = ImportRow(number=number, cells=(cells + [""] * width)[:width], values=values)
        if any(cells[width:]):
            row.refuse("", "This row has more cells than the file has columns: check its commas and quotes.")
        rows.append(row)
    refs = [row.values.get(Column.EXTERNAL_REF, "") for row in rows]
    imported = services_already_imported(partner, sorted({ref for ref in refs if ref}))
    lookups = _Lookups.load(partner)
    zone_info = timezone.get_current_timezone()
    now = now or timezone.now()
    first_row: dict[str, int] = {}
    for row, ref in zip(rows, refs, strict=True):
        if ref in imported:
            row.status, row.problems = RowStatus.DUPLICATE, []
            continue
        if not ref:
            row.refuse(Column.EXTERNAL_REF, "The external_ref is empty: each row needs the scheduling system's id.")
        elif len(ref) > EXTERNAL_REF_MAX:
            row.refuse(Column.EXTERNAL_REF, f"Keep the external_ref to {EXTERNAL_REF_MAX} characters or fewer.")
        elif ref in first_row:
            row.refuse(
                Column.EXTERNAL_REF,
                f"The external_ref “{ref}” is also on row {first_row[ref]}: each service can be in the file once.",
            )
        else:
            first_row[ref] = row.number
        _check_row(row, lookups, zone_info, now)
    code_keys = [key for key in table.keys if key.startswith(CODE_PREFIX)]
    requests = _plan_requests([row for row in rows if row.status != RowStatus.DUPLICATE], code_keys)
    return ImportCheck(
        file_name=name,
        headers=table.headers,
        rows=rows,
        requests=requests,
        time_zone=str(zone_info),
    )
