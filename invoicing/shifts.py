"""Reservation shifts: created, renamed or moved in time until finished, services put on them or taken off,
and finished.

Finishing a shift makes the proformas of its services (seed 003's second trigger), as the worker's sweep would
(``proformas.sweep_candidates``, ``proformas.proformas_create``). A shift's name and window change until it is
finished, and its window always holds the services on it. Lock order: shifts by id, then a service's request,
then the service (``intake.service_lock``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_fields, audit_record

from .editable import service_shift_refusal, shift_holds, window_text
from .errors import BillingRuleError, InvalidTransition
from .intake import service_lock
from .models import Proforma, Service, Shift
from .proformas import ProformaRun, proformas_create, sweep_candidates

SHIFT_NAME_MAX = Shift._meta.get_field("name").max_length
SHIFT_LONGEST = datetime.timedelta(days=7)


def _shift_input(name: str, starts_at, ends_at) -> str:
    """The name as it is saved; raises ``ValidationError`` keyed ``name``/``starts_at``/``ends_at``."""
    name = " ".join((name or "").split())
    errors = {}
    if not name:
        errors["name"] = "Name the shift, e.g. “Night shift, Courtroom 4”."
    elif len(name) > SHIFT_NAME_MAX:
        errors["name"] = f"Keep the name to {SHIFT_NAME_MAX} characters or fewer."
    if starts_at is None:
        errors["starts_at"] = "Enter when the shift starts."
    if ends_at is None:
        errors["ends_at"] = "Enter when the shift ends."
    elif starts_at is not None and ends_at <= starts_at:
        errors["ends_at"] = "The shift must end after it starts."
    elif starts_at is not None and ends_at - starts_at > SHIFT_LONGEST:
        errors["ends_at"] = f"A shift lasts at most {SHIFT_LONGEST.days} days: split longer work into several."
    if errors:
        raise ValidationError(errors)
    return name


def _shifts_lock(shift_ids) -> dict[int, Shift]:
    """Lock shifts by id, in ascending order (the lock order); returns them fresh, by id."""
    ids = sorted(set(shift_ids) - {None})
    if not ids:
        return {}
    return {
        shift.pk: shift for shift in Shift.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    }


@transaction.atomic
def shift_create(*, partner, user=None, name: str, starts_at: datetime.datetime, ends_at: datetime.datetime) -> Shift:
    """A new reservation shift of ``partner``: named, ending after it starts and lasting at most ``SHIFT_LONGEST``.
    Raises ``ValidationError`` keyed ``name``/``starts_at``/``ends_at``."""
    name = _shift_input(name, starts_at, ends_at)
    shift = Shift.objects.create(partner=partner, name=name, starts_at=starts_at, ends_at=ends_at)
    audit_record(
        target=shift,
        action="create",
        actor=user,
        data={"name": name, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
    )
    return shift


@transaction.atomic
def shift_update(
    *, shift: Shift, user=None, name: str, starts_at: datetime.datetime, ends_at: datetime.datetime
) -> Shift:
    """Rename a shift or change its window, until it is finished (``BillingRuleError`` then). Raises
    ``ValidationError`` keyed ``name``/``starts_at``/``ends_at`` for bad input, or for a window that no longer
    holds a service on the shift."""
    shift = Shift.objects.select_for_update(of=("self",)).get(pk=shift.pk)
    if shift.finished_at is not None:
        raise BillingRuleError("This shift is finished: its name and times stay as they are.")
    name = _shift_input(name, starts_at, ends_at)
    # The services on it cannot join or leave meanwhile (that takes this shift's lock).
    outside = (
        Service.objects.filter(shift=shift)
        .exclude(status=Service.Status.CANCELLED)
        .exclude(starts_at__gte=starts_at, ends_at__lte=ends_at)
        .order_by("starts_at", "pk")
        .first()
    )
    if outside is not None:
        field = "starts_at" if outside.starts_at < starts_at else "ends_at"
        raise ValidationError(
            {
                field: f"S-{outside.pk} on this shift runs {window_text(outside.starts_at, outside.ends_at)}: keep the "
                "shift's times around it, or take it off the shift first."
            }
        )
    before = {"name": shift.name, "starts_at": shift.starts_at, "ends_at": shift.ends_at}
    after = {"name": name, "starts_at": starts_at, "ends_at": ends_at}
    changed = [field for field in before if before[field] != after[field]]
    if not changed:
        return shift
    for field in changed:
        setattr(shift, field, after[field])
    shift.save(update_fields=changed)
    audit_record(
        target=shift,
        action="update",
        actor=user,
        data={"changed": changed, "before": {field: str(before[field]) for field in changed}},
    )
    return shift


@transaction.atomic
def service_shift_set(*, service: Service, user=None, shift: Shift | None) -> Service:
    """Put ``service`` on ``shift``, one of its partner's that is not finished and whose window holds the service's
    times (finishing the shift then makes its proforma, seed 003), or take it off its shift (``shift=None``).

    Raises ``ValidationError`` keyed ``shift`` for a shift that is not the partner's or does not hold the service,
    and ``BillingRuleError`` (``field="shift"``) when the shift is finished, or the service is cancelled, has a
    proforma or is on a finished shift. Locks the shifts (the one it is on and the new one, by id), then the
    service's request and the service."""
    current_id = Service.objects.filter(pk=service.pk).values_list("shift_id", flat=True).get()
    shifts = _shifts_lock([current_id, shift.pk if shift is not None else None])
    _, service = service_lock(service)
    if service.shift_id != current_id:
        raise BillingRuleError(
            f"S-{service.pk} was just moved to another shift. Reload the page and try again.", field="shift"
        )
    target = shifts.get(shift.pk) if shift is not None else None
    if shift is not None and (target is None or target.partner_id != service.partner_id):
        raise ValidationError({"shift": "Choose one of your shifts."})
    if (target.pk if target is not None else None) == service.shift_id:
        return service
    service.shift = shifts.get(current_id)
    proforma = Proforma.objects.filter(service_id=service.pk).only("pk", "number").first()
    refusal = service_shift_refusal(service, proforma)
    if refusal:
        raise BillingRuleError(f"The shift of S-{service.pk} can no longer change. {refusal}", field="shift")
    if target is not None:
        if target.finished_at is not None:
            raise BillingRuleError(
                f"The shift {target} is finished: put S-{service.pk} on one that is not.", field="shift"
            )
        if not shift_holds(target, service):
            raise ValidationError(
                {
                    "shift": f"S-{service.pk} runs {window_text(service.starts_at, service.ends_at)}, outside "
                    f"the shift {target} ({window_text(target.starts_at, target.ends_at)}): choose a shift whose "
                    "times hold it, or change the shift's times first."
                }
            )
    from_id = service.shift_id
    service.shift = target
    service.save(update_fields=["shift"])
    audit_record(
        target=service,
        action="put_on_shift" if target is not None else "take_off_shift",
        actor=user,
        data={"from_shift": from_id, "to_shift": target.pk if target is not None else None},
    )
    return service


@dataclass(frozen=True)
class ShiftFinished:
    """``shift_finish``'s answer: the shift, and the proformas made for its services (with the pricing errors of
    those that could not be priced, recorded on them for the sweep to retry)."""

    shift: Shift
    run: ProformaRun
    completed: int  # services marked completed by finishing it


def shift_finish(*, shift: Shift, user=None) -> ShiftFinished:
    """Finish a reservation shift (once it has started): its scheduled services are completed, and the proformas of
    its services follow (seed 003), as the worker's sweep makes them. Finishing it again makes those still missing
    (after a pricing error was fixed) and changes nothing else.

    The proformas are made after the finish has committed, as ``proformas.service_publish_outcome`` does: a
    service that cannot be priced keeps its error and the shift stays finished."""
    completed = 0
    with transaction.atomic():
        shift = Shift.objects.select_for_update(of=("self",)).select_related("partner").get(pk=shift.pk)
        if shift.finished_at is None:
            now = timezone.now()
            if shift.starts_at > now:
                raise InvalidTransition("This shift has not started yet: finish it once its work is done.")
            shift.finished_at = now
            shift.save(update_fields=["finished_at"])
            open_services = list(
                Service.objects.select_for_update(of=("self",))
                .filter(shift=shift, status__in=[Service.Status.SCHEDULED, Service.Status.IN_PROGRESS])
                .order_by("pk")
            )
            Service.objects.filter(pk__in=[s.pk for s in open_services]).update(status=Service.Status.COMPLETED)
            AuditEvent.objects.bulk_create(
                [
                    AuditEvent(
                        **audit_fields(
                            target=service,
                            action="shift_finish",
                            actor=user,
                            from_status=service.status,
                            to_status=Service.Status.COMPLETED,
                            data={"shift_id": shift.pk},
                        )
                    )
                    for service in open_services
                ]
            )
            completed = len(open_services)
            audit_record(target=shift, action="finish", actor=user, data={"services_completed": completed})
    ids = sweep_candidates(partner=shift.partner, shift=shift)
    run = proformas_create(service_ids=ids, partner=shift.partner) if ids else ProformaRun()
    return ShiftFinished(shift=shift, run=run, completed=completed)
