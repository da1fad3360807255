"""Importing services from a scheduling system's export: a CSV or XLSX file, one service a row.

Staff upload the file, see a preview of every row (checked, nothing saved), then import it. The preview and the
import run the same check (``services_import_check``): the import never trusts what the preview said, and it
saves all the file's new services or none. The columns, formats and rules are documented in ``docs/import.md``.

The checks are those of ``booking.request_submit`` (one way in for requests): each row's service is checked by
``booking.service_input_errors``, and each request's codes are resolved by ``booking.request_codes_resolve``
(auto-applied codes join every new request, a label the customer requires must have a code). It is not called
once per row, though: the customers, providers, service types, zones and expense-code rules are loaded in a few
queries up front, the rows are checked in Python, and the requests, services and codes are bulk inserted
(``octoo_billing.bulk.rows_insert``: COPY on PostgreSQL, three times as fast as ``bulk_create``).

Each service keeps the scheduling system's id (``Service.external_ref``, unique per partner): a row whose id is
already imported is skipped, so importing the same file again creates nothing twice, and the database's unique
constraint refuses a second import of the same rows running at the same time (its COPY of the services fails
with an ``IntegrityError``, once the first import has committed: that import saves nothing and says so).

Between the preview and the import the uploaded file is kept in the default storage (``imports/<partner>/``,
under a random name) and referred to by a signed token that names the partner, the stored file and its SHA-256:
a token cannot be forged or pointed at another file, and the file cannot change between preview and import.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import re
import secrets
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field

import openpyxl
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from customers.models import Customer, Provider
from expense_codes.models import AppliedExpenseCode
from octoo_billing.bulk import rows_insert

from .audit import audit_record
from .booking import (
    MAX_SERVICES,
    TITLE_MAX,
    ServiceInput,
    code_rules_load,
    request_codes_resolve,
    service_input_errors,
)
from .errors import BillingRuleError
from .models import Service, ServiceRequest, ServiceType, Zone

IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 20_000
XLSX_MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # a 5 MB workbook that unpacks to more is refused (a "zip bomb")
UPLOAD_MAX_AGE = 24 * 3600  # seconds a stored upload can still be imported; older ones are removed
EXTERNAL_REF_MAX = Service._meta.get_field("external_ref").max_length
REQUEST_REF_MAX = 100
UPLOAD_DIR = "imports"
TOKEN_SALT = "invoicing.imports.upload"
CODE_PREFIX = "code:"
SUFFIXES = (".csv", ".xlsx")


class Column(models.TextChoices):
    """The file's columns (header names are case-insensitive, in any order), besides ``code:<label>`` ones."""

    EXTERNAL_REF = "external_ref", "The scheduling system's id for the service (required)"
    CUSTOMER = "customer", "Customer name or id (required)"
    PROVIDER = "provider", "Provider name or id"
    SERVICE_TYPE = "service_type", "Service type code or name (required)"
    STARTS_AT = "starts_at", "Start, YYYY-MM-DD HH:MM (required)"
    ENDS_AT = "ends_at", "End, YYYY-MM-DD HH:MM (required)"
    ADDRESS = "address", "Address"
    ZONE = "zone", "Tax zone name (default: the customer's)"
    TITLE = "title", "Request title (default: the service type's name)"
    REQUEST_REF = "request_ref", "Rows sharing it become one request"
    NOTES = "notes", "Notes on the service"


REQUIRED_COLUMNS = (Column.EXTERNAL_REF, Column.CUSTOMER, Column.SERVICE_TYPE, Column.STARTS_AT, Column.ENDS_AT)


class RowStatus(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"
    DUPLICATE = "duplicate", "Skipped: already imported"


class ImportRefused(BillingRuleError):
    """The file as a whole is refused (type, size, unreadable, columns), or the import saved nothing."""


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with a row, in plain words; ``field`` is the column it is about ("" for the row as a whole)."""

    field: str
    message: str


@dataclass(frozen=True)
class ImportTable:
    """A file read into text: its header as written, each column's key (a ``Column`` value or ``code:<label>``;
    "" for an ignored blank header) and its data rows as (row number in the file, cells), blank rows left out."""

    headers: list[str]
    keys: list[str]
    rows: list[tuple[int, list[str]]]


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
    codes: list = field(default_factory=list)  # booking.ResolvedCode


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


@dataclass(frozen=True)
class ImportResult:
    requests: int
    services: int
    skipped: int
    request_ids: list[int]


@dataclass(frozen=True)
class StoredUpload:
    """An uploaded file kept between preview and import (``import_upload_store``)."""

    name: str
    path: str
    data: bytes
    token: str


# --------------------------------------------------------------------------------------------------
# Reading the file


def _suffix(name: str) -> str:
    name = (name or "").lower()
    return next((suffix for suffix in SUFFIXES if name.endswith(suffix)), "")


def _refuse_type(name: str) -> ImportRefused:
    if (name or "").lower().endswith((".xls", ".xlsm", ".ods", ".numbers")):
        return ImportRefused(
            f"“{name}” is not a CSV or XLSX file: save it as .xlsx (Excel workbook) or as .csv (UTF-8), then "
            "upload it again.",
            field="file",
        )
    return ImportRefused(
        f"“{name}” is not a CSV or XLSX file: only .csv and .xlsx files can be imported.", field="file"
    )


def _too_many_rows() -> ImportRefused:
    return ImportRefused(
        f"The file has more than {IMPORT_MAX_ROWS:,} rows (or a long run of blank rows): remove blank rows, or "
        f"split it into several files of at most {IMPORT_MAX_ROWS:,} rows.",
        field="file",
    )


def _cell_text(value) -> str:
    """A spreadsheet cell as the text a CSV would hold (dates as YYYY-MM-DD HH:MM, whole numbers without ".0")."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        text = value.strftime("%Y-%m-%d %H:%M")
        return f"{text}:{value.second:02d}" if value.second else text
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_records(data: bytes) -> Iterable[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(
            "The CSV file is not in UTF-8: save it again as “CSV UTF-8” and upload it again.", field="file"
        ) from None
    if "\x00" in text:
        raise ImportRefused("This is not a text CSV file: save it again as CSV and upload it again.", field="file")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _xlsx_records(data: bytes) -> Iterable[list[str]]:
    if not data.startswith(b"PK\x03\x04"):
        raise ImportRefused("This is not an XLSX workbook: save it as .xlsx and upload it again.", field="file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > XLSX_MAX_UNPACKED_BYTES:
            raise ImportRefused("The workbook is too large once unpacked: save it as CSV instead.", field="file")
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ImportRefused:
        raise
    except Exception:  # noqa: BLE001 - any failure to open an uploaded workbook is the same refusal
        raise ImportRefused(
            "The workbook could not be read: save it again as .xlsx (or as CSV) and upload it again.", field="file"
        ) from None

    def records():
        try:
            for values in workbook.worksheets[0].iter_rows(values_only=True):
                yield [_cell_text(value) for value in values]
        except Exception:  # noqa: BLE001 - a damaged sheet is refused like a damaged workbook
            raise ImportRefused(
                "The workbook could not be read: save it again as .xlsx (or as CSV) and upload it again.",
                field="file",
            ) from None
        finally:
            workbook.close()

    return records()


def _header_keys(headers: list[str]) -> list[str]:
    known = {column.value for column in Column}
    keys, seen, unknown = [], {}, []
    for header in headers:
        text = " ".join(header.split())
        if not text:
            keys.append("")
            continue
        if text.lower().startswith(CODE_PREFIX):
            label = text[len(CODE_PREFIX) :].strip()
            if not label:
                raise ImportRefused(
                    "A “code:” column needs the label's name, e.g. “code:Purchase order”.", field="file"
                )
            key, seen_key = f"{CODE_PREFIX}{label}", f"{CODE_PREFIX}{label.casefold()}"
        else:
            key = seen_key = text.lower()
            if key not in known:
                unknown.append(text)
        if seen_key in seen:
            raise ImportRefused(f"The column “{text}” appears twice: keep one of them.", field="file")
        seen[seen_key] = True
        keys.append(key)
    if unknown:
        names = ", ".join(f"“{name}”" for name in unknown)
        raise ImportRefused(
            f"Unknown column{'s' if len(unknown) > 1 else ''} {names}. The columns are "
            f"{', '.join(column.value for column in Column)}, and code:<label> for expense codes.",
            field="file",
        )
    missing = [column.value for column in REQUIRED_COLUMNS if column.value not in keys]
    if missing:
        raise ImportRefused(
            f"The file has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}: the first row must name "
            f"the columns, and {', '.join(c.value for c in REQUIRED_COLUMNS)} are required.",
            field="file",
        )
    return keys


def import_table_read(name: str, data: bytes) -> ImportTable:
    """Read an uploaded file (``name`` says its type: .csv or .xlsx) into text, or raise ``ImportRefused``
    (field "file") when it is of another type, too large, unreadable, or its columns are wrong."""
    suffix = _suffix(name)
    if not suffix:
        raise _refuse_type(name)
    if len(data) > IMPORT_MAX_BYTES:
        raise ImportRefused(
            f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB: split it into several files.",
            field="file",
        )
    if not data:
        raise ImportRefused("The file is empty.", field="file")
    records = iter(_csv_records(data) if suffix == ".csv" else _xlsx_records(data))
    headers = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(records, start=1):
            if headers is None:
                if not any(cell.strip() for cell in cells):
                    continue  # blank lines before the header
                headers = [cell.strip() for cell in cells]
                keys = _header_keys(headers)
                continue
            if len(rows) >= IMPORT_MAX_ROWS or number > 2 * IMPORT_MAX_ROWS:  # blank rows count here
                raise _too_many_rows()
            if not any(cell.strip() for cell in cells):
                continue
            rows.append((number, cells))
    except csv.Error as error:
        raise ImportRefused(f"The CSV file could not be read ({error}).", field="file") from None
    if headers is None:
        raise ImportRefused("The file is empty: its first row must name the columns.", field="file")
    if not rows:
        raise ImportRefused("The file has no rows under its header: nothing to import.", field="file")
    return ImportTable(headers=headers, keys=keys, rows=rows)


# --------------------------------------------------------------------------------------------------
# Checking the rows

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


def _already_imported(partner, refs: list[str]) -> set[str]:
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
    imported = _already_imported(partner, sorted({ref for ref in refs if ref}))
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


# --------------------------------------------------------------------------------------------------
# Importing


def services_import_commit(*, partner, name: str, data: bytes, user=None) -> ImportResult:
    """Import the file's new services for ``partner``: checked again here (the preview is never trusted), then
    all saved in one transaction, or none. Rows already imported are skipped. Raises ``ImportRefused`` (field
    "file") when a row has an error, or when another import saved some of the same services meanwhile."""
    check = services_import_check(partner=partner, name=name, data=data)
    if check.error_count:
        raise ImportRefused(
            f"{check.error_count:,} row{'s have' if check.error_count > 1 else ' has'} errors: nothing was imported. "
            "Correct the file and upload it again.",
            field="file",
        )
    if not check.ok_count:
        return ImportResult(requests=0, services=0, skipped=check.duplicate_count, request_ids=[])
    actor = user if user is not None and user.is_authenticated else None
    refs = [row.values[Column.EXTERNAL_REF] for plan in check.requests for row in plan.rows]
    try:
        with transaction.atomic():
            requests = rows_insert(
                ServiceRequest,
                [
                    ServiceRequest(
                        partner_id=partner.pk,
                        customer_id=plan.rows[0].plan.customer.pk,
                        title=plan.title,
                        source=ServiceRequest.Source.IMPORT,
                        created_by_id=actor.pk if actor is not None else None,
                    )
                    for plan in check.requests
                ],
            )
            services, codes = [], []
            for plan, service_request in zip(check.requests, requests, strict=True):
                codes.extend(
                    AppliedExpenseCode(
                        label_id=code.label.pk if code.label is not None else None,
                        label_name=code.label_name,
                        value=code.value,
                        request_id=service_request.pk,
                    )
                    for code in plan.codes
                )
                for row in plan.rows:
                    given = row.plan
                    services.append(
                        Service(
                            partner_id=partner.pk,
                            request_id=service_request.pk,
                            service_type_id=given.service_type.pk,
                            provider_id=given.provider.pk if given.provider is not None else None,
                            starts_at=given.starts_at,
                            ends_at=given.ends_at,
                            address=given.address,
                            zone_id=given.zone.pk if given.zone is not None else given.customer.zone_id,
                            notes=given.notes,
                            external_ref=row.values[Column.EXTERNAL_REF],
                        )
                    )
            rows_insert(Service, services)
            rows_insert(AppliedExpenseCode, codes)
            request_ids = [service_request.pk for service_request in requests]
            audit_record(
                target=partner,
                partner_id=partner.pk,
                action="services_import",
                actor=user,
                data={
                    "file": name[:200],
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "rows": len(check.rows),
                    "requests": len(requests),
                    "services": len(services),
                    "skipped": check.duplicate_count,
                    "first_request_id": min(request_ids),
                    "last_request_id": max(request_ids),
                },
            )
    except IntegrityError:
        if _already_imported(partner, refs):
            raise ImportRefused(
                "Some of these services were imported meanwhile (by another import of the same rows): nothing was "
                "imported this time. Preview the file again to see what is left.",
                field="file",
            ) from None
        raise
    return ImportResult(
        requests=len(requests), services=len(services), skipped=check.duplicate_count, request_ids=request_ids
    )


# --------------------------------------------------------------------------------------------------
# Keeping the upload between preview and import


def _upload_dir(partner) -> str:
    return f"{UPLOAD_DIR}/{partner.pk}"


def _uploads_sweep(partner) -> None:
    """Remove the partner's stored uploads that can no longer be imported (older than ``UPLOAD_MAX_AGE``)."""
    folder = _upload_dir(partner)
    try:
        _, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    limit = timezone.now() - datetime.timedelta(seconds=UPLOAD_MAX_AGE)
    for name in files:
        path = f"{folder}/{name}"
        try:
            if default_storage.get_modified_time(path) < limit:
                default_storage.delete(path)
        except (FileNotFoundError, NotImplementedError):
            continue


def import_upload_store(*, partner, name: str, data: bytes) -> StoredUpload:
    """Keep an uploaded file for ``partner`` under a random name; the token to find it again is signed."""
    suffix = _suffix(name)
    if not suffix:
        raise _refuse_type(name)
    _uploads_sweep(partner)
    path = default_storage.save(f"{_upload_dir(partner)}/{secrets.token_urlsafe(18)}{suffix}", ContentFile(data))
    token = signing.dumps(
        {"partner": partner.pk, "path": path, "name": name[:200], "sha256": hashlib.sha256(data).hexdigest()},
        salt=TOKEN_SALT,
    )
    return StoredUpload(name=name[:200], path=path, data=data, token=token)


def import_upload_load(*, partner, token: str) -> StoredUpload:
    """The upload a token from ``import_upload_store`` refers to, for ``partner`` only; ``ImportRefused`` when the
    token is not genuine, another partner's, too old, or its file is gone or changed."""
    gone = ImportRefused("This upload is no longer available: upload the file again.", field="file")
    try:
        signed = signing.loads(token or "", salt=TOKEN_SALT, max_age=UPLOAD_MAX_AGE)
    except signing.SignatureExpired:
        raise gone from None
    except signing.BadSignature:
        raise ImportRefused("This upload is not one of yours: upload the file again.", field="file") from None
    path = signed.get("path", "") if isinstance(signed, dict) else ""
    if (
        signed.get("partner") != partner.pk
        or not path.startswith(f"{_upload_dir(partner)}/")
        or ".." in path
        or not _suffix(path)
    ):
        raise ImportRefused("This upload is not one of yours: upload the file again.", field="file")
    try:
        with default_storage.open(path, "rb") as handle:
            data = handle.read(IMPORT_MAX_BYTES + 1)
    except (FileNotFoundError, OSError):
        raise gone from None
    if hashlib.sha256(data).hexdigest() != signed.get("sha256"):
        raise ImportRefused("The stored file changed since it was uploaded: upload it again.", field="file")
    return StoredUpload(name=signed.get("name", ""), path=path, data=data, token=token)


def import_upload_delete(upload: StoredUpload) -> None:
    """Remove a stored upload (once imported)."""
    default_storage.delete(upload.path)


__all__ = [
    "IMPORT_MAX_BYTES",
    "IMPORT_MAX_ROWS",
    "Column",
    "ImportCheck",
    "ImportRefused",
    "ImportResult",
    "ImportRow",
    "RowStatus",
    "StoredUpload",
    "import_table_read",
    "import_upload_delete",
    "import_upload_load",
    "import_upload_store",
    "services_import_check",
    "services_import_commit",
]
