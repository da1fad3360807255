"""Issuing many drafts at once: the same result as ``lifecycle.invoice_issue`` on each, in a few statements per chunk.

``invoices_issue_bulk(invoice_ids=[...])`` issues the drafts in the order given, exactly as issuing them one by one
in that order would (the same totals, numbers in that order, issue and due dates, billing-contact snapshots, audit
rows and outbox rows), and refuses each draft the one-by-one issue would refuse, with the same error, without
stopping the others (``strict=True``: the first refusal is raised and nothing is issued, as a run that issues
its drafts expects).

Per chunk of ``CHUNK`` drafts it runs: one locking SELECT of the invoices (ascending id: the lock order of
``invoicing.locking``), one read each of their customers, providers, partners and billing contacts, one grouped
sums query over their lines; then, for the whole call, the outbox rows (one INSERT per chunk), the numbers as one
block per partner and series (one UPDATE of the counter), the invoices' issue columns (one ``UPDATE ... FROM
unnest`` per chunk on PostgreSQL, ``executemany`` elsewhere) and the audit rows (one COPY per chunk on
PostgreSQL). The numbers are taken last, so the counter row stays locked only through the invoice UPDATE, the
audit rows and the COMMIT. The checks are the workflow's own (``action_check("issue", ...)``, the stale-status
check) and the fields are set by ``lifecycle.issue_fill``, the code the one-by-one issue runs.

Used by the office's bulk issue (``invoicing.bulk``), by runs that issue what they generate
(``invoicing.invoices_from_proformas``) and by the benchmark (``bench/issuing.py``).
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_fields
from customers.models import BillingContact, Customer, Partner, Provider
from octoo_billing.bulk import rows_insert

from .errors import BillingError, BillingRuleError
from .lifecycle import ISSUE_FIELDS, issue_audit_data, issue_fill
from .models import Invoice, OutboxJob
from .numbering import format_number, number_take, series_prefix
from .outbox import job_key, outbox_nudge_on_commit
from .pricing import NO_LINES, invoice_totals_apply, invoices_lines_sums
from .workflow import Actor, TransitionRefused, action_check, action_effect_kinds, stale_refusal

Status = Invoice.Status
CHUNK = 400  # drafts per statement (the sums query binds each id twice: within SQLite's 999 parameters)


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
    ready: dict[int, Invoice] = {}
    ids = sorted(order)
    for start in range(0, len(ids), CHUNK):
        ready.update(_prepare(ids[start : start + CHUNK], user, issue_date, expected_status, actor, result.refused))
    if strict and result.refused:
        raise next(result.refused[pk] for pk in order if pk in result.refused)
    issued = [ready[pk] for pk in order if pk in ready]
    if not issued:
        return result
    for start in range(0, len(issued), CHUNK):
        _outbox_add(issued[start : start + CHUNK], deliver)
    _numbers_take(issued)  # last but the writes: the counter rows stay locked from here to COMMIT
    now = timezone.now()
    for start in range(0, len(issued), CHUNK):
        chunk = issued[start : start + CHUNK]
        _invoices_update(chunk, now)
        _audit_add(chunk, user)
    result.issued = issued
    return result


def _prepare(ids, user, issue_date, expected_status, actor, refused) -> dict[int, Invoice]:
    """Lock a chunk of drafts (ascending id), read what their issue needs, check them and fill them in."""
    locked = {
        invoice.pk: invoice
        for invoice in Invoice.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    }
    for pk in ids:
        if pk not in locked:
            refused[pk] = _Missing(f"Invoice #{pk} no longer exists.")
    invoices = list(locked.values())
    _related_attach(invoices)
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
    contacts = _default_contacts(
        [i.customer_id for i in ready if i.kind == Invoice.Kind.AR and not i.billing_contact_id]
    )
    prepared = {}
    for invoice in ready:
        invoice_totals_apply(invoice, sums.get(invoice.pk, NO_LINES))
        try:
            issue_fill(
                invoice,
                issue_date=issue_date or timezone.localdate(timezone=invoice.partner.tzinfo),
                default_contact=lambda invoice=invoice: contacts.get(invoice.customer_id),
            )
        except BillingError as error:
            refused[invoice.pk] = error
            continue
        prepared[invoice.pk] = invoice
    return prepared


def _related_attach(invoices: list[Invoice]) -> None:
    """Put each invoice's partner, customer, provider and billing contact in place, read once per chunk."""
    partners = Partner.objects.in_bulk({i.partner_id for i in invoices})
    customers = Customer.objects.in_bulk({i.customer_id for i in invoices if i.customer_id})
    providers = Provider.objects.in_bulk({i.provider_id for i in invoices if i.provider_id})
    contacts = BillingContact.objects.in_bulk({i.billing_contact_id for i in invoices if i.billing_contact_id})
    for invoice in invoices:
        invoice.partner = partners[invoice.partner_id]
        invoice.customer = customers.get(invoice.customer_id)
        invoice.provider = providers.get(invoice.provider_id)
        invoice.billing_contact = contacts.get(invoice.billing_contact_id)


def _default_contacts(customer_ids) -> dict[int, BillingContact]:
    if not customer_ids:
        return {}
    rows = BillingContact.objects.filter(customer_id__in=set(customer_ids), is_default=True)
    return {contact.customer_id: contact for contact in rows}


def _outbox_add(invoices: list[Invoice], deliver: bool) -> None:
    """Each invoice's delivery work, as ``outbox.outbox_add`` writes it (one job per kind, an existing one left)."""
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


_UPDATE_FIELDS = [name for name in ISSUE_FIELDS if name != "updated_at"]


def _invoices_update(invoices: list[Invoice], now: datetime.datetime) -> None:
    """Write the issue's columns (``lifecycle.ISSUE_FIELDS``, as ``save(update_fields=...)`` does) of a chunk:
    one ``UPDATE ... FROM`` the rows sent as one JSON array on PostgreSQL, ``executemany`` elsewhere."""
    meta = Invoice._meta
    fields = [meta.get_field(name) for name in _UPDATE_FIELDS]
    updated_at = meta.get_field("updated_at")
    for invoice in invoices:
        invoice.updated_at = now  # auto_now, as save() would set it
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    if connection.vendor == "postgresql":
        columns = [quote(f.column) for f in fields]
        rows = [[invoice.pk, *(getattr(invoice, f.attname) for f in fields)] for invoice in invoices]
        values = ", ".join(
            [
                "(r->>0)::bigint AS id",
                *(
                    f"(r->>{i})::{f.db_type(connection)} AS {c}"
                    for i, (f, c) in enumerate(zip(fields, columns, strict=True), 1)
                ),
            ]
        )
        sets = ", ".join(f"{column} = v.{column}" for column in columns)
        sql = (
            f"UPDATE {table} SET {sets}, {quote(updated_at.column)} = %s "  # noqa: S608 (names only)
            f"FROM (SELECT {values} FROM json_array_elements(%s::json) AS r) AS v WHERE {table}.id = v.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, _json(rows)])
        return
    sets = ", ".join(f"{quote(f.column)} = %s" for f in [*fields, updated_at])
    rows = [
        [
            *(f.get_db_prep_save(getattr(invoice, f.attname), connection) for f in fields),
            updated_at.get_db_prep_save(now, connection),
            invoice.pk,
        ]
        for invoice in invoices
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", rows)  # noqa: S608 (names only)


def _audit_add(invoices: list[Invoice], user) -> None:
    """One ``issue`` audit row per invoice, as ``audit_record`` writes it (one INSERT on PostgreSQL)."""
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
        rows_insert(AuditEvent, [AuditEvent(**event) for event in events])
        return
    rows = []
    for event in events:
        actor, target_type = event.pop("actor"), event.pop("target_type")
        rows.append({**event, "actor_id": actor.pk if actor else None, "target_type_id": target_type.pk})
    _pg_insert(AuditEvent, rows, now=timezone.now())


def _json(rows) -> str:
    return json.dumps(rows, default=str, separators=(",", ":"))  # dates as ISO text


def _pg_insert(model, rows: list[dict], *, now, constant: dict | None = None, ignore_conflicts: bool = False):
    """Insert ``rows`` (dicts of attnames, the same keys in each) in one statement, the rows sent as one JSON
    array; every other column gets what ``bulk_create`` would give it: ``constant``'s value, ``now`` for
    ``auto_now``/``auto_now_add``, else the field's default. No model instances: a tenth of bulk_create's cost."""
    quote = connection.ops.quote_name
    keys = list(rows[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    by_attname = {f.attname: f for f in fields}
    given = [by_attname[key] for key in keys]
    rest = [f for f in fields if f.attname not in keys]
    constant = constant or {}
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
    values = ", ".join(
        [
            *(f"(r->>{i})::{f.db_type(connection)}" for i, f in enumerate(given)),
            *(f"%s::{f.db_type(connection)}" for f in rest),
        ]
    )
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608 (names only)
        f"SELECT {values} FROM json_array_elements(%s::json) AS r{conflict}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _json([[row[key] for key in keys] for row in rows])])


__all__ = ["BulkIssue", "invoices_issue_bulk"]
