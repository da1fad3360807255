"""invoicing.fast_writes: rows written from tuples (COPY on PostgreSQL, bulk_create on SQLite) come out as the
rows bulk_create writes from model instances; the run's audit rows carry the same fields as audit_fields gives."""

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.forms.models import model_to_dict

from audit.models import AuditEvent
from audit.recording import audit_fields
from invoicing.fast_writes import AUDIT_FIELDS, STALE_MIN_ROWS, rows_write, tables_analyze_stale
from invoicing.models import Proforma, Slip
from invoicing.proformas import SLIP_FIELDS


def _row(obj, skip=("id", "created_at", "at")):
    return {k: v for k, v in model_to_dict(obj).items() if k not in skip}


def test_rows_write_returns_keys_in_row_order_and_writes_what_bulk_create_writes(partner, customer):
    proforma = Proforma.objects.create(
        partner=partner, customer=customer, service_date="2025-01-31", number="PF-1", status="confirmed"
    )
    fields = {
        "proforma_id": proforma.pk,
        "partner_id": partner.pk,
        "position": 2,
        "slip_type": Slip.Type.MILEAGE,
        "pay_schedule": "",
        "description": "Mileage (12.5 mi)",
        "quantity": Decimal("12.5"),
        "pay_quantity": None,
        "bill_rate_units": Decimal("67"),
        "pay_rate_units": Decimal("60"),
        "tax_rate": Decimal("8.25"),
        "bill_amount_units": 838,
        "line_discount_units": 0,
        "invoice_discount_units": 0,
        "bill_tax_units": 69,
        "bill_total_units": 907,
        "pay_total_units": 750,
    }
    plain = Slip.objects.bulk_create([Slip(**fields)])[0]
    names = ("proforma_id", *SLIP_FIELDS)
    keys = rows_write(Slip, names, [tuple(fields[name] for name in names)] * 3, returning=True)
    assert keys == sorted(keys) and len(set(keys)) == 3
    for key in keys:
        assert _row(Slip.objects.get(pk=key)) == _row(Slip.objects.get(pk=plain.pk))
    assert rows_write(Slip, names, []) == []


def test_a_run_audit_row_matches_audit_fields(partner, customer):
    proforma = Proforma.objects.create(
        partner=partner, customer=customer, service_date="2025-01-31", number="PF-1", status="confirmed"
    )
    plain = AuditEvent.objects.create(
        **audit_fields(target=proforma, action="generate", to_status="confirmed", data={"service_id": 7})
    )
    target_type = ContentType.objects.get_for_model(Proforma).pk
    rows_write(
        AuditEvent, AUDIT_FIELDS, [(partner.pk, target_type, proforma.pk, "generate", "confirmed", {"service_id": 7})]
    )
    fast = AuditEvent.objects.exclude(pk=plain.pk).get(action="generate", target_id=proforma.pk)
    assert _row(fast) == _row(plain)
    assert fast.at is not None and fast.data == {"service_id": 7}


def _audit_rows_load(partner, proforma, count: int) -> None:
    target_type = ContentType.objects.get_for_model(Proforma).pk
    rows_write(AuditEvent, AUDIT_FIELDS, [(partner.pk, target_type, proforma.pk, "generate", "confirmed", {})] * count)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # the counts of this backend, visible at once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_table_loaded_past_its_statistics_is_analysed_once_until_it_grows_again(partner, customer):
    proforma = Proforma.objects.create(
        partner=partner, customer=customer, service_date="2025-01-31", number="PF-1", status="confirmed"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE invoicing_auditevent")
    _audit_rows_load(partner, proforma, STALE_MIN_ROWS // 2)
    assert tables_analyze_stale(AuditEvent, Proforma) == []  # a few rows more: its statistics still hold

    _audit_rows_load(partner, proforma, STALE_MIN_ROWS)
    with transaction.atomic():  # never inside a transaction (ANALYZE would hold its lock until COMMIT)
        assert tables_analyze_stale(AuditEvent) == []
    assert tables_analyze_stale(AuditEvent, Proforma) == ["invoicing_auditevent"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'invoicing_auditevent'")
        assert cursor.fetchone()[0] >= STALE_MIN_ROWS
    assert tables_analyze_stale(AuditEvent, Proforma) == []
