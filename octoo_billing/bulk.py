"""Inserting many new rows at once: ``COPY ... FROM STDIN`` on PostgreSQL, ``bulk_create`` elsewhere.

``rows_insert(model, objects)`` writes what ``model.objects.bulk_create(objects)`` would write, and sets each
object's primary key, about three times as fast on PostgreSQL (COPY streams the rows instead of sending
``INSERT ... VALUES`` batches the server has to parse and plan).

Use it for large inserts (thousands of rows) of new objects when nothing needs to hear about them: like
``bulk_create`` it calls no ``save()`` and sends no signals, and besides it supports no ``ignore_conflicts`` or
``update_conflicts`` (a duplicate raises ``IntegrityError``, as COPY cannot skip a row), no multi-table
inheritance, no primary key given in advance (the table's sequence allocates them), no query expression as a
value and no field left to its ``db_default``. For a few rows, or any of those, use ``bulk_create``.

It runs in the caller's transaction (or in a transaction of its own): on an ``IntegrityError`` or any other
database error the caller's ``atomic()`` block rolls everything back, as it would after ``bulk_create``.
``connection.execute_wrapper`` sees the query that allocates the primary keys but not the COPY (which
``connection.queries`` lists, without its time, when queries are logged).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from types import NoneType

from django.db import connections, models, router, transaction
from django.db.models import Field, Model
from django.db.models.fields import AutoFieldMixin

FALLBACK_BATCH = 2000  # rows per INSERT where there is no COPY


def _refuse_unsupported(model: type[Model], objects: list[Model]) -> None:
    opts = model._meta
    if any(parent._meta.concrete_model is not opts.concrete_model for parent in opts.all_parents):
        raise ValueError(f"rows_insert cannot insert {opts.label}, a multi-table inherited model.")
    if not isinstance(opts.pk, AutoFieldMixin):
        raise ValueError(f"rows_insert needs an auto-incremented primary key; {opts.label} has none.")
    for obj in objects:
        if type(obj)._meta.concrete_model is not opts.concrete_model:
            raise TypeError(f"rows_insert({opts.label}, ...) was given a {type(obj).__name__}.")
        if obj._is_pk_set():
            raise ValueError(f"rows_insert inserts new rows only: {obj!r} already has a primary key.")


def keys_allocate(connection, model: type[Model], count: int) -> list[int]:
    """``count`` new primary keys from the table's sequence, in one query (ascending, so rows keep their order)."""
    opts = model._meta
    with connection.cursor() as cursor:
        # The sequence is looked up once (in the CTE), not for every key: five times as fast for 10,000 keys.
        cursor.execute(
            "WITH seq AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS name) "
            "SELECT nextval(seq.name) FROM seq, generate_series(1, %s)",
            [connection.ops.quote_name(opts.db_table), opts.pk.column, count],
        )
        keys = sorted(key for (key,) in cursor.fetchall() if key is not None)
    if len(keys) != count:
        raise ValueError(f"{opts.db_table}.{opts.pk.column} has no sequence to allocate primary keys from.")
    return keys


# Django's own fields whose get_db_prep_save() leaves a value of these exact types as it is on PostgreSQL (integers
# are at most wrapped in psycopg's sized int types, which COPY writes as the same digits). Skipping the call for
# them is most of what makes a row cheap to write; any other field or value goes through get_db_prep_save().
_UNCHANGED: dict[type[Field], tuple[type, ...]] = {
    **dict.fromkeys((models.CharField, models.TextField), (str, NoneType)),
    **dict.fromkeys(
        (
            models.AutoField,
            models.BigAutoField,
            models.SmallAutoField,
            models.IntegerField,
            models.BigIntegerField,
            models.SmallIntegerField,
            models.PositiveIntegerField,
            models.PositiveBigIntegerField,
            models.PositiveSmallIntegerField,
        ),
        (int, NoneType),
    ),
    models.BooleanField: (bool, NoneType),
    models.DateTimeField: (NoneType,),  # and aware datetimes, see _column
}


@dataclass(frozen=True)
class _Column:
    field: Field
    unchanged: tuple[type, ...]  # the types of value written as they are
    aware: bool  # aware datetimes are written as they are (a DateTimeField, or a foreign key to one)


def _column(field: Field) -> _Column:
    target = field.target_field if type(field) in (models.ForeignKey, models.OneToOneField) else field
    kind = type(target)
    return _Column(field=field, unchanged=_UNCHANGED.get(kind, ()), aware=kind is models.DateTimeField)


def _db_value(column: _Column, obj: Model, connection):
    """What ``bulk_create`` would write into ``column`` for ``obj``."""
    value = column.field.pre_save(obj, add=True)  # auto_now_add, as bulk_create does
    kind = type(value)
    if kind in column.unchanged or (column.aware and kind is datetime.datetime and value.utcoffset() is not None):
        return value
    if hasattr(value, "resolve_expression"):
        raise ValueError(
            f"rows_insert cannot write the expression {value!r} into {column.field.model._meta.label}."
            f"{column.field.name}: give it a value, or use bulk_create."
        )
    return column.field.get_db_prep_save(value, connection)


def _copy(connection, model: type[Model], objects: list[Model]) -> None:
    opts = model._meta
    columns = [_column(field) for field in opts.concrete_fields if not field.generated]
    quote = connection.ops.quote_name
    names = ", ".join(quote(column.field.column) for column in columns)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # cursor.copy is psycopg's own: its errors are turned into Django's (IntegrityError, ...) here.
        with cursor.copy(f"COPY {quote(opts.db_table)} ({names}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([_db_value(column, obj, connection) for column in columns])


def rows_insert(model: type[Model], objects: list[Model], *, batch_size: int = FALLBACK_BATCH) -> list[Model]:
    """Insert ``objects`` (new ``model`` instances) and set their primary keys; return them.

    On PostgreSQL: one query allocates the primary keys from the table's sequence, then one COPY writes every
    row, each field's value taken as ``bulk_create`` takes it (``pre_save(add=True)``, so ``auto_now_add`` and
    defaults are filled, then ``get_db_prep_save``; foreign keys by their ``_id``). Elsewhere:
    ``bulk_create(objects, batch_size=batch_size)``, which sets the primary keys too on SQLite 3.35 or later.
    See the module's docstring for when to use it.
    """
    objects = list(objects)
    if not objects:
        return objects
    _refuse_unsupported(model, objects)
    using = router.db_for_write(model, instance=objects[0])
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model._default_manager.using(using).bulk_create(objects, batch_size=batch_size)
    for obj in objects:
        obj._prepare_related_fields_for_save(operation_name="rows_insert")
    with transaction.atomic(using=using, savepoint=False):
        for obj, key in zip(objects, keys_allocate(connection, model, len(objects)), strict=True):
            obj.pk = key
        try:
            _copy(connection, model, objects)
        except BaseException:
            for obj in objects:
                obj.pk = None
            raise
    for obj in objects:
        obj._state.adding = False
        obj._state.db = using
    return objects


__all__ = ["rows_insert"]
