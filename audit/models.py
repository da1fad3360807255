"""The audit trail: one row per state change of anything a partner's staff, its customers or the system change.

The model came from the invoicing app with its table, ``invoicing_auditevent``, which kept its name (and its
rows, its index and its guard triggers): see migrations/0001_initial.py.
"""

import pgtrigger
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from octoo_billing.triggers import plpgsql_refuse


class AuditEvent(models.Model):
    """A row per state change: who, when, what, from which status to which, and why. Append-only: the
    database refuses any UPDATE or DELETE of these rows."""

    # A partner with an audit trail is not deleted (the rows could not go with it).
    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="audit_events")
    # The actor's id and name stay when the user is deleted: no database link to clear, no row to change.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="The actor's username when it acted.")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    target_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "invoicing_auditevent"  # its name from when invoicing held the model
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-at"])]
        triggers = [
            pgtrigger.Trigger(
                name="audit_append_only",
                when=pgtrigger.Before,
                operation=pgtrigger.Update | pgtrigger.Delete,
                func=plpgsql_refuse(
                    "audit event % cannot be changed or deleted: the audit trail is append-only", "OLD.id"
                ),
            ),
        ]

    def __str__(self):
        return f"{self.action} {self.from_status}->{self.to_status}"
