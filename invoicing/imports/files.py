"""The uploaded file: read into text (a CSV or XLSX file, one service a row, whose columns are ``Column``), and
kept between preview and import.

Between the preview and the import the uploaded file is kept in the default storage (``imports/<partner>/``,
under a random name) and referred to by a signed token that names the partner, the stored file and its SHA-256:
a token cannot be forged or pointed at another file, and the file cannot change between preview and import.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import secrets
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

import openpyxl
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models
from django.utils import timezone

from ..errors import BillingRuleError

IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 20_000
XLSX_MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # a 5 MB workbook that unpacks to more is refused (a "zip bomb")
UPLOAD_MAX_AGE = 24 * 3600  # seconds a stored upload can still be imported; older ones are removed
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


class ImportRefused(BillingRuleError):
    """The file as a whole is refused (type, size, unreadable, columns), or the import saved nothing."""


@dataclass(frozen=True)
class ImportTable:
    """A file read into text: its header as written, each column's key (a ``Column`` value or ``code:<label>``;
    "" for an ignored blank header) and its data rows as (row number in the file, cells), blank rows left out."""

    headers: list[str]
    keys: list[str]
    rows: list[tuple[int, list[str]]]


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
