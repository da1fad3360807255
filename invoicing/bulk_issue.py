"""Issuing many drafts at once: the same result as ``lifecycle.invoice_issue`` on each, in a few statements per chunk.

``invoices_issue_bulk(invoice_ids=[...])`` issues the drafts in the order given, exactly as issuing them one by one
in that order would (the same totals, numbers in that order, issue and due dates, billing-contact snapshots, audit
rows and outbox rows), and refuses each draft the one-by-one issue would refuse, with the same error, without
stopping the others (``strict=True``: the first refusal is raised and nothing is issued, as a run that issues
its drafts expects).

Per chunk of drafts (``PG_CHUNK`` on PostgreSQL, ``CHUNK`` elsewhere) it runs: one locking SELECT of the invoices
(ascending id: the lock order of ``invoicing.locking``), a read each of the partners, customers, providers and billing
contacts not yet read in this call (a run's chunks share them), one grouped sums query over their lines; then, for
the whole call, the outbox rows (one INSERT per chunk), the numbers as one block per partner and series (one UPDATE
of the counter), and per chunk one statement for the invoices' issue columns and their audit rows (``issue_write``:
on PostgreSQL an ``UPDATE ... FROM json_to_recordset`` with the audit rows' INSERT; ``executemany`` and
``rows_insert`` elsewhere). On PostgreSQL the locked rows become instances without ``Model.__init__``
(``_instances``), the rows written go as one JSON parameter each, parsed once into typed columns by the server, and
a column with the same value in every row (the status, the dates, the actor) as one parameter: no model instances
and no per-value quoting. The cyclic garbage collector is paused for the call (``_gc_paused``). The numbers are
taken last, so the counter row stays locked only through the writes and the COMMIT. The checks are the workflow's
own (``action_check("issue", ...)``, the stale-status check) and the fields are set by ``lifecycle.issue_fill``, the
code the one-by-one issue runs; it writes through ``issue_outbox_add`` and ``issue_write`` too.

Used by the office's bulk issue (``invoicing.bulk``), by runs that issue what they generate
(``invoicing.invoices_from_proformas``) and by the benchmark (``bench/issuing.py``).
"""

from __future__ import annotations

import datetime
import gc
import json
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_fields
from customers.models import BillingContact, Customer, Partner, Provider
from octoo_billing.bulk import rows_insert

from .errors import BillingError, BillingRuleError
from .fast_writes import ids_array
from .lifecycle import ISSUE_FIELDS, issue_audit_data, issue_fill
from .models import Invoice, OutboxJob
from .numbering import format_number, number_take, series_prefix
from .outbox import job_key, outbox_nudge_on_commit
from .pricing import NO_LINES, invoice_totals_apply, invoices_lines_sums
from .workflow import Actor, TransitionRefused, action_check, action_effect_kinds, stale_refusal

Status = Invoice.Status
CHUNK = 400  # drafts per statement (the sums query binds each id twice: within SQLite's 999 parameters)
PG_CHUNK = 2000  # on PostgreSQL (the ids one array parameter, the rows one JSON text): fewer statements to plan


@dataclass
class BulkIssue:
    """What a bulk issue did: the issued invoices in the order given, and each refused draft's error by id."""

    issued: list[Invoice] = field(default_factory=list)
    refused: dict[int, BillingError] = field(default_factory=dict)


class _Missing(BillingRuleError):
    pass


@transaction.atomic
def invoices_issue_bulk(
    *,
    invoice_ids,
    user=None,
    issue_date: datetime.date | None = None,
    expected_status: str | None = None,
    deliver: bool = True,
    actor: Actor | None = None,
    strict: bool = False,
) -> BulkIssue:
    """Issue the drafts ``invoice_ids`` (in that order) as ``invoice_issue`` would one by one, in one transaction.

    A draft ``invoice_issue`` would refuse (stale, not a draft, not this user's to issue, no lines, a negative
    total, no billing contact) is left as it is, its error in ``refused``; ``strict=True`` raises the first one
    (in the order given) before anything is written."""
    order = list(dict.fromkeys(invoice_ids))
    result = BulkIssue()
    if not order:
        return result
    with _gc_paused():
        ready: dict[int, Invoice] = {}
        ids = sorted(order)
        related = _Related()
        issued_at = timezone.now()  # one moment for the whole issue, as it commits at once
        size = _chunk_size()
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            ready.update(_prepare(chunk, related, issued_at, user, issue_date, expected_status, actor, result.refused))
        if strict and result.refused:
            raise next(result.refused[pk] for pk in order if pk in result.refused)
        issued = [ready[pk] for pk in order if pk in ready]
        if not issued:
            return result
        for start in range(0, len(issued), size):
            issue_outbox_add(issued[start : start + size], deliver=deliver)
        _numbers_take(issued)  # last but the writes: the counter rows stay locked from here to COMMIT
        now = timezone.now()
        for start in range(0, len(issued), size):
            issue_write(issued[start : start + size], user=user, now=now)
        result.issued = issued
        return result


def _chunk_size() -> int:
    return PG_CHUNK if connection.vendor == "postgresql" else CHUNK


@contextmanager
def _gc_paused():
    """The cyclic garbage collector off for the call: a whole run allocates some 100,000 short-lived containers
    (instances, their states and caches, rows, JSON) that set off collections walking the process's older objects
    again and again (5 to 25 % of a whole run's Python, more in a larger process), and frees them by reference
    counting anyway. The collector is on again (if it was) when the call ends, however it ends; what the call left
    in a cycle (a caught error's traceback) is collected then."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _prepare(ids, related: _Related, now, user, issue_date, expected_status, actor, refused) -> dict[int, Invoice]:
    """Lock a chunk of drafts (ascending id), read what their issue needs, check them and fill them in."""
    invoices = _lock(ids)
    locked = {invoice.pk for invoice in invoices}
    for pk in ids:
        if pk not in locked:
            refused[pk] = _Missing(f"Invoice #{pk} no longer exists.")
    related.attach(invoices)
    ready = []
    for invoice in invoices:
        stale = stale_refusal(invoice, expected_status)
        try:
            if stale is not None:
                raise TransitionRefused(stale)
            action_check("issue", invoice, user=user, actor=actor)
        except BillingError as error:
            refused[invoice.pk] = error
            continue
        ready.append(invoice)
    sums = invoices_lines_sums([invoice.pk for invoice in ready])
    contacts = related.default_contacts(
        [i.customer_id for i in ready if i.kind == Invoice.Kind.AR and not i.billing_contact_id]
    )
    prepared = {}
    for invoice in ready:
        invoice_totals_apply(invoice, sums.get(invoice.pk, NO_LINES))
        try:
            issue_fill(
                invoice,
                issue_date=issue_date or related.today(invoice.partner),
                default_contact=lambda invoice=invoice: contacts.get(invoice.customer_id),
                now=now,
            )
        except BillingError as error:
            refused[invoice.pk] = error
            continue
        prepared[invoice.pk] = invoice
    return prepared


def _lock(ids) -> list[Invoice]:
    """The drafts ``ids`` that exist, locked in ascending id (the lock order of ``invoicing.locking``), every column
    read. On PostgreSQL the ids go as one array parameter and the rows become instances without ``Model.__init__``
    (``_instances``), when nothing tells them apart from the ORM's."""
    if connection.vendor != "postgresql" or not _plain_instances(Invoice):
        return list(Invoice.objects.select_for_update(of=("self",)).filter(_ids_in(ids)).order_by("pk"))
    quote = connection.ops.quote_name
    table = quote(Invoice._meta.db_table)
    columns = ", ".join(quote(f.column) for f in Invoice._meta.concrete_fields)
    sql = f"SELECT {columns} FROM {table} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids_array(ids)])
        return _instances(Invoice, cursor.fetchall())


def _instances(model, rows) -> list:
    """Instances of ``model`` from rows of its concrete columns (in their order) as the database gives them, the
    same as ``Model.from_db`` makes them (``_plain_instances``: no value to convert, no init signal to send): the
    values in the instance's ``__dict__``, its state saved and from this database. Without ``__init__``'s
    per-field descriptor calls (a fifth of a whole run's Python)."""
    attnames = [f.attname for f in model._meta.concrete_fields]
    db = connection.alias
    new = model.__new__
    made = []
    for row in rows:
        instance = new(model)
        state = ModelState()
        state.adding = False
        state.db = db
        values = instance.__dict__
        values["_state"] = state
        values.update(zip(attnames, row, strict=True))
        made.append(instance)
    return made


def _plain_instances(model) -> bool:
    """Whether ``_instances`` makes ``model``'s instances as the ORM would: nothing listens to their init and the
    database's values of its columns are its attributes' values as they are."""
    return (
        _no_converters(model, connection.vendor)
        and not pre_init.has_listeners(model)
        and not post_init.has_listeners(model)
    )


@cache
def _no_converters(model, vendor: str) -> bool:
    """No ``from_db_value`` or backend converter on any of ``model``'s columns (``vendor``: the connection's)."""
    return not any(
        f.get_db_converters(connection) or connection.ops.get_db_converters(f.get_col(model._meta.db_table))
        for f in model._meta.concrete_fields
    )


def _ids_in(ids, name: str = "pk") -> Q:
    """``name`` in ``ids``: on PostgreSQL one array parameter (``= ANY``), not a placeholder per id to bind."""
    if connection.vendor == "postgresql":
        return Q(**{f"{name}__in": RawSQL("SELECT unnest(%s::bigint[])", [ids_array(ids)])})
    return Q(**{f"{name}__in": ids})


class _Related:
    """The partners, customers, providers and billing contacts of a call's drafts, each read once per call (a
    run's chunks share customers), and put in place on each invoice."""

    def __init__(self):
        self.partners: dict[int, Partner] = {}
        self.customers: dict[int, Customer] = {}
        self.providers: dict[int, Provider] = {}
        self.contacts: dict[int, BillingContact] = {}
        self.defaults: dict[int, BillingContact | None] = {}  # by customer id; None: it has no default
        self.todays: dict[int, datetime.date] = {}  # by partner id

    def today(self, partner: Partner) -> datetime.date:
        """The partner's today (its time zone), taken once per call: the issue date of drafts given none."""
        if partner.pk not in self.todays:
            self.todays[partner.pk] = timezone.localdate(timezone=partner.tzinfo)
        return self.todays[partner.pk]

    def attach(self, invoices: list[Invoice]) -> None:
        for known, model, attname in (
            (self.partners, Partner, "partner_id"),
            (self.customers, Customer, "customer_id"),
            (self.providers, Provider, "provider_id"),
            (self.contacts, BillingContact, "billing_contact_id"),
        ):
            missing = {pk for i in invoices if (pk := getattr(i, attname)) is not None and pk not in known}
            if missing:
                known.update({obj.pk: obj for obj in model.objects.filter(_ids_in(missing))})
        cache = [
            (Invoice.partner.field, self.partners, "partner_id"),
            (Invoice.customer.field, self.customers, "customer_id"),
            (Invoice.provider.field, self.providers, "provider_id"),
            (Invoice.billing_contact.field, self.contacts, "billing_contact_id"),
        ]
        for invoice in invoices:
            for field_, known, attname in cache:  # the ids are the invoice's own: only the cache is filled
                pk = getattr(invoice, attname)
                field_.set_cached_value(invoice, known.get(pk) if pk is not None else None)

    def default_contacts(self, customer_ids) -> dict[int, BillingContact]:
        """Each customer's default billing contact (read once per call), by customer id; none left out."""
        missing = set(customer_ids) - self.defaults.keys()
        if missing:
            self.defaults.update(dict.fromkeys(missing))
            rows = BillingContact.objects.filter(_ids_in(missing, "customer_id"), is_default=True)
            self.defaults.update({contact.customer_id: contact for contact in rows})
        return {pk: self.defaults[pk] for pk in customer_ids if self.defaults[pk] is not None}


def issue_outbox_add(invoices: list[Invoice], *, deliver: bool = True) -> None:
    """Each issued invoice's delivery work (the issue action's effects), as ``outbox.outbox_add`` writes it (one
    job per kind, an existing one left), in one INSERT; the one-by-one issue adds its own through here too."""
    now = timezone.now()
    jobs = [
        {"partner_id": invoice.partner_id, "invoice_id": invoice.pk, "kind": kind, "key": job_key(kind, invoice.pk)}
        for invoice in invoices
        for kind in action_effect_kinds("issue", invoice, deliver=deliver)
    ]
    if not jobs:
        return
    if connection.vendor == "postgresql":
        _pg_insert(OutboxJob, jobs, now=now, constant={"run_after": now}, ignore_conflicts=True)
    else:
        OutboxJob.objects.bulk_create([OutboxJob(**job, run_after=now) for job in jobs], ignore_conflicts=True)
    outbox_nudge_on_commit()


def _numbers_take(invoices: list[Invoice]) -> None:
    """One block of numbers per partner and series, handed out in the order given."""
    groups: dict[tuple[int, str], list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        groups[(invoice.partner_id, invoice.kind)].append(invoice)  # "ar" / "ap" are also the counter series
    for (_partner_id, series), members in sorted(groups.items()):  # one order for the counter rows too
        partner = members[0].partner
        block = number_take(partner=partner, series=series, on_date=members[0].issue_date, count=len(members))
        prefix = series_prefix(partner, series)
        for invoice, (sequence, _number) in zip(members, block, strict=True):
            invoice.sequence = sequence
            invoice.number = format_number(prefix, invoice.issue_date.year, sequence)  # its own issue year


def issue_write(invoices: list[Invoice], *, user=None, now: datetime.datetime | None = None) -> None:
    """Write issued invoices (numbered, filled in by ``lifecycle.issue_fill``): their issue's columns
    (``lifecycle.ISSUE_FIELDS``, as ``save(update_fields=...)`` writes them) and one ``issue`` audit row each (as
    ``audit_record`` writes it). On PostgreSQL one statement (``UPDATE ... FROM json_to_recordset`` with the audit
    rows' INSERT), the rows sent as JSON, each parsed once into typed columns; elsewhere ``executemany`` and
    ``rows_insert``. The one-by-one issue (``lifecycle.invoice_issue``) writes through here too."""
    now = now or timezone.now()
    for invoice in invoices:
        invoice.updated_at = now  # auto_now, as save() would set it
    events = [
        audit_fields(
            target=invoice,
            action="issue",
            actor=user,
            from_status=Status.DRAFT,
            to_status=invoice.status,
            data=issue_audit_data(invoice),
        )
        for invoice in invoices
    ]
    if connection.vendor != "postgresql":
        _invoices_update(invoices, now)
        rows_insert(AuditEvent, [AuditEvent(**event) for event in events])
        return
    rows = []
    for event in events:
        actor, target_type = event.pop("actor"), event.pop("target_type")
        rows.append({**event, "actor_id": actor.pk if actor else None, "target_type_id": target_type.pk})
    update, update_params = _update_sql(invoices, now)
    insert, insert_params = _insert_sql(AuditEvent, rows, now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH issued AS ({update}) {insert}", [*update_params, *insert_params])


_UPDATE_FIELDS = [Invoice._meta.get_field(name) for name in ISSUE_FIELDS if name != "updated_at"]


def _update_sql(invoices: list[Invoice], now: datetime.datetime) -> tuple[str, list]:
    """The UPDATE of the issue's columns, for PostgreSQL: a column with the same value in every row is one
    parameter; the others come from one JSON array of the rows (``json_to_recordset``)."""
    quote = connection.ops.quote_name
    table = quote(Invoice._meta.db_table)
    values = {f: [getattr(invoice, f.attname) for invoice in invoices] for f in _UPDATE_FIELDS}
    same = {f: column[0] for f, column in values.items() if _all_same(column)}
    varying = [f for f in _UPDATE_FIELDS if f not in same]
    sets = [f"{quote(f.column)} = v.{quote(f.column)}" for f in varying]
    sets += [f"{quote(f.column)} = %s" for f in [*same, Invoice._meta.get_field("updated_at")]]
    typed = ", ".join(["id bigint", *(f"{quote(f.column)} {f.db_type(connection)}" for f in varying)])
    names = ["id", *(f.column for f in varying)]
    pks = [invoice.pk for invoice in invoices]
    rows = [dict(zip(names, row, strict=True)) for row in zip(pks, *map(values.get, varying), strict=True)]
    sql = (
        f"UPDATE {table} SET {', '.join(sets)} "  # noqa: S608 (names only)
        f"FROM json_to_recordset(%s::json) AS v({typed}) WHERE {table}.id = v.id"
    )
    params = [f.get_db_prep_save(value, connection) for f, value in same.items()]
    return sql, [*params, now, _json(rows)]


def _invoices_update(invoices: list[Invoice], now: datetime.datetime) -> None:
    """The issue's columns of each invoice, ``executemany`` (where there is no ``UPDATE ... FROM``)."""
    quote = connection.ops.quote_name
    updated_at = Invoice._meta.get_field("updated_at")
    sets = ", ".join(f"{quote(f.column)} = %s" for f in [*_UPDATE_FIELDS, updated_at])
    rows = [
        [
            *(f.get_db_prep_save(getattr(invoice, f.attname), connection) for f in _UPDATE_FIELDS),
            updated_at.get_db_prep_save(now, connection),
            invoice.pk,
        ]
        for invoice in invoices
    ]
    table = quote(Invoice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", rows)  # noqa: S608 (names only)


def _all_same(values: list) -> bool:
    first = values[0]
    kind = type(first)
    return all(type(value) is kind and value == first for value in values)


def _json(rows) -> str:
    return json.dumps(rows, default=str, separators=(",", ":"))  # dates as ISO text


def _pg_insert(model, rows: list[dict], *, now, constant: dict | None = None, ignore_conflicts: bool = False):
    sql, params = _insert_sql(model, rows, now=now, constant=constant, ignore_conflicts=ignore_conflicts)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_sql(model, rows: list[dict], *, now, constant: dict | None = None, ignore_conflicts: bool = False):
    """Insert ``rows`` (dicts of attnames, the same keys in each) in one statement, the rows sent as one JSON array
    of objects read as typed records (``json_to_recordset``: each row parsed once); every other column gets what
    ``bulk_create`` would give it: ``constant``'s value, ``now`` for ``auto_now``/``auto_now_add``, else the
    field's default. No model instances: a tenth of bulk_create's cost."""
    quote = connection.ops.quote_name
    constant = dict(constant or {})
    for key in list(rows[0]):
        column = [row[key] for row in rows]
        if _all_same(column):  # the same in every row: one parameter, not a value per row
            constant[key] = column[0]
    keys = [key for key in rows[0] if key not in constant]
    if not keys:  # one row per record is still needed: the first column stays in them
        keys = [next(iter(rows[0]))]
        del constant[keys[0]]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    by_attname = {f.attname: f for f in fields}
    given = [by_attname[key] for key in keys]
    rest = [f for f in fields if f.attname not in keys]
    params = []
    for f in rest:
        if f.attname in constant:
            value = constant[f.attname]
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now
        else:
            value = f.get_default()
        params.append(f.get_db_prep_save(value, connection))
    names = ", ".join(quote(f.column) for f in [*given, *rest])
    typed = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in given)
    values = ", ".join([*(f"r.{quote(f.column)}" for f in given), *(f"%s::{f.db_type(connection)}" for f in rest)])
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608 (names only)
        f"SELECT {values} FROM json_to_recordset(%s::json) AS r({typed}){conflict}"
    )
    columns = {key: f.column for key, f in zip(keys, given, strict=True)}
    payload = _json([{columns[key]: row[key] for key in keys} for row in rows])
    return sql, [*params, payload]


__all__ = ["BulkIssue", "invoices_issue_bulk"]
