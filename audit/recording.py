"""Writing the audit trail: one row per state change."""

from django.contrib.contenttypes.models import ContentType

from audit.models import AuditEvent


def audit_record(
    *,
    target,
    action: str,
    actor=None,
    from_status: str = "",
    to_status: str = "",
    reason: str = "",
    data: dict | None = None,
    partner_id: int | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        **audit_fields(
            target=target,
            action=action,
            actor=actor,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            data=data,
            partner_id=partner_id,
        )
    )


def audit_fields(*, target, action, actor=None, from_status="", to_status="", reason="", data=None, partner_id=None):
    """The fields of an audit row, for bulk_create in runs that change many documents. The actor's name is kept
    with its id: the row outlives the user."""
    actor = actor if actor is not None and actor.is_authenticated else None
    return {
        "partner_id": partner_id or target.partner_id,
        "actor": actor,
        "actor_name": actor.get_username() if actor is not None else "",
        "target_type": ContentType.objects.get_for_model(type(target)),
        "target_id": target.pk,
        "action": action,
        "from_status": from_status or "",
        "to_status": to_status or "",
        "reason": reason or "",
        "data": data or {},
    }


def audit_trail(target):
    return (
        AuditEvent.objects.filter(target_type=ContentType.objects.get_for_model(type(target)), target_id=target.pk)
        .select_related("actor")
        .order_by("at", "id")
    )
