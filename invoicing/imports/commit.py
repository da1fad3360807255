"""Importing a checked file: all of its new services saved in one transaction, or none.

The file is checked again here (``services_import_check``: the import never trusts what the preview said), then
the requests, services and codes are bulk inserted (``octoo_billing.bulk.rows_insert``: COPY on PostgreSQL, three
times as fast as ``bulk_create``).

Each service keeps the scheduling system's id (``Service.external_ref``, unique per partner): a row whose id is
already imported is skipped, so importing the same file again creates nothing twice, and the database's unique
constraint refuses a second import of the same rows running at the same time (its COPY of the services fails
with an ``IntegrityError``, once the first import has committed: that import saves nothing and says so).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from audit.recording import audit_record
from expense_codes.models import AppliedExpenseCode
from octoo_billing.bulk import rows_insert

from ..models import Service, ServiceRequest
from .checking import services_already_imported, services_import_check
from .files import Column, ImportRefused


@dataclass(frozen=True)
class ImportResult:
    requests: int
    services: int
    skipped: int
    request_ids: list[int]


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
        if services_already_imported(partner, refs):
            raise ImportRefused(
                "Some of these services were imported meanwhile (by another import of the same rows): nothing was "
                "imported this time. Preview the file again to see what is left.",
                field="file",
            ) from None
        raise
    return ImportResult(
        requests=len(requests), services=len(services), skipped=check.duplicate_count, request_ids=request_ids
    )
