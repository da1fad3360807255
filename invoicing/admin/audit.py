"""The audit trail and the number counters: both written only by domain functions, so read-only."""

import json

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from audit.models import AuditEvent

from ..models import NumberCounter
from .common import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "target_link", "transition", "actor_display", "partner", "short_reason"]
    list_filter = ["action", "target_type", "partner"]
    search_fields = ["action", "reason", "=target_id", "actor_name"]
    date_hierarchy = "at"
    list_select_related = ["partner", "target_type"]
    show_full_result_count = False
    fields = [
        "at",
        "partner",
        "actor_display",
        "target_link",
        "action",
        "from_status",
        "to_status",
        "reason",
        "pretty_data",
    ]
    readonly_fields = fields

    @admin.display(description="Target")
    def target_link(self, obj):
        model = obj.target_type.model_class()
        label = f"{obj.target_type.name} #{obj.target_id}"
        if model is None:
            return label
        opts = model._meta
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.target_id])
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="Actor", ordering="actor_name")
    def actor_display(self, obj):
        """The name kept on the row: still there once the user is deleted."""
        if obj.actor_id is None:
            return "system"
        return obj.actor_name or f"user #{obj.actor_id}"

    @admin.display(description="Status change")
    def transition(self, obj):
        if obj.from_status or obj.to_status:
            return f"{obj.from_status or '—'} → {obj.to_status or '—'}"
        return ""

    @admin.display(description="Reason")
    def short_reason(self, obj):
        return obj.reason if len(obj.reason) <= 60 else obj.reason[:59] + "…"

    @admin.display(description="Data")
    def pretty_data(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.data, indent=2, sort_keys=True, ensure_ascii=False))


@admin.register(NumberCounter)
class NumberCounterAdmin(ReadOnlyAdmin):
    """Bumped under a row lock when a document is issued; never edited by hand (no gaps, no reuse)."""

    list_display = ["partner", "series", "last_value"]
    list_filter = ["series", "partner"]
    search_fields = ["partner__name"]
    list_select_related = ["partner"]
