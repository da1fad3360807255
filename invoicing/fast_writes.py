"""Writing many new rows from plain tuples, for the billing engine's chunks (proformas, slips, codes, audit rows,
invoices and their links): ``COPY ... FROM STDIN`` on PostgreSQL, ``bulk_create`` elsewhere.

``rows_write(model, fields, rows)`` inserts one row per tuple (the values of ``fields``, by attname, in that
order) and returns the new primary keys in the rows' order when ``returning`` is set. Every concrete field not in
``fields`` gets what ``bulk_create`` would give it: its default, or the time of the call for ``auto_now`` and
``auto_now_add`` fields (one timestamp per call, where ``bulk_create`` takes one per object: the same
transaction, microseconds apart). No model instance is built on PostgreSQL: that, and COPY instead of
``INSERT ... VALUES`` batches Django compiles field by field, is what makes a chunk cheap (issue 15).

Values go to COPY as they are for plain Python types (str and its subclasses, int, bool, None, Decimal, date); any
other value (a dict for a JSON field, ...) goes through the field's ``get_db_prep_save`` first, as
``bulk_create`` does. Runs in the caller's transaction; a constraint violation raises Django's
``IntegrityError`` (deferred foreign keys are checked at COMMIT, as after ``bulk_create``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal
from types import NoneType

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from octoo_billing.bulk import keys_allocate

_AS_THEY_ARE = frozenset((str, int, bool, NoneType, Decimal, datetime.date))

# An audit row of a run (no actor, no reason, no from-status: ``audit.recording.audit_fields`` fills them so).
AUDIT_FIELDS = ("partner_id", "target_type_id", "target_id", "action", "to_status", "data")


def _filled(model: type[Model], fields: Sequence[str]) -> tuple[list, list]:
    """The other concrete fields and the value each gets (its default, or now for auto_now(_add))."""
    given = set(fields)
    now = timezone.now()
    extra_fields, extra_values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.attname in given or field.generated:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        extra_fields.append(field)
        extra_values.append(value)
    return extra_fields, extra_values


def _plain(types: set) -> bool:
    """Are values of these types written as they are? Exact types (a datetime is prepared by its field), and str
    subclasses such as a TextChoices member, which COPY writes as its value."""
    return types <= _AS_THEY_ARE or all(kind in _AS_THEY_ARE or issubclass(kind, str) for kind in types)


def _prepared(fields: list, values: Sequence, conn) -> list:
    out = []
    for field, value in zip(fields, values, strict=True):
        kind = type(value)
        if kind in _AS_THEY_ARE or issubclass(kind, str):  # as _plain
            out.append(value)
        else:
            out.append(field.get_db_prep_save(value, conn))
    return out


def rows_write(
    model: type[Model], fields: Sequence[str], rows: Iterable[tuple], *, returning: bool = False
) -> list[int]:
    """Insert ``rows`` (tuples of the values of ``fields``) into ``model``'s table; return the new primary keys,
    in the rows' order, when ``returning`` (else an empty list)."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return []
    opts = model._meta
    by_name = {f.attname: f for f in opts.concrete_fields}
    given = [by_name[name] for name in fields]
    extra_fields, extra_values = _filled(model, fields)
    if connection.vendor != "postgresql":
        extra = {f.attname: v for f, v in zip(extra_fields, extra_values, strict=True)}
        objects = [model(**extra, **dict(zip(fields, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=1000)
        return [obj.pk for obj in objects] if returning else []
    extra_db = _prepared(extra_fields, extra_values, connection)
    columns = ([opts.pk] if returning else []) + given + extra_fields
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in columns)
    keys = keys_allocate(connection, model, len(rows)) if returning else []
    extra_db = tuple(extra_db)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.copy(f"COPY {quote(opts.db_table)} ({names}) FROM STDIN") as copy:
            write = copy.write_row
            for i, row in enumerate(rows):
                if not _plain(set(map(type, row))):  # a row of plain values is written as it is
                    row = _prepared(given, row, connection)
                write((keys[i], *row, *extra_db) if returning else (*row, *extra_db))
    return keys


def ids_array(ids: Iterable[int]) -> str:
    """Ids as one PostgreSQL array literal (``'{1,2,3}'``), to bind as a single parameter (``= ANY(%s::bigint[])``)
    instead of a placeholder per id: nothing for the driver to adapt or quote per id."""
    return "{" + ",".join(str(int(pk)) for pk in ids) + "}"


def tables_analyze(*models: type[Model]) -> None:
    """ANALYZE the tables after a bulk load (PostgreSQL), so the planner sees the new rows (issue 15: a sums
    query seq-scanned every slip of a table that had no statistics)."""
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(quote(m._meta.db_table) for m in models))


# A table is analysed again once more rows changed since its last ANALYZE than it then held (and at least this many).
STALE_MIN_ROWS = 1000


def tables_analyze_stale(*models: type[Model]) -> list[str]:
    """ANALYZE those of the tables whose rows changed since their last ANALYZE outnumber the rows it counted (and
    ``STALE_MIN_ROWS``), i.e. a table a bulk run is loading from (nearly) empty; returns their names. Autovacuum does
    the same at a tenth, but later or (as on the bench's server) not at all: a run's next chunks need the statistics
    now (issue 15: without them each chunk of an AR run hash-joined every invoice link written so far, ~40x the
    index probes' time at 10,000 customers). A large table is left alone, so a run in production costs one cheap
    look-up per call.

    PostgreSQL only, and never inside a transaction: ANALYZE holds its table's lock until COMMIT, where two runs
    could wait for each other's row locks and deadlock."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.relid = ANY(%s::regclass[]) AND s.n_mod_since_analyze > GREATEST(c.reltuples, 0) + %s "
            "ORDER BY s.relname",
            [[m._meta.db_table for m in models], STALE_MIN_ROWS],
        )
        stale = [name for (name,) in cursor.fetchall()]
        if stale:
            quote = connection.ops.quote_name
            cursor.execute("ANALYZE " + ", ".join(quote(name) for name in stale))
    return stale
