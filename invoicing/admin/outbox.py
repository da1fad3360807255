"""The delivery outbox (read-only rows written by the issue, with an action to queue failed work again) and the
billing runs and bulk actions the office and the worker start (read-only)."""

from django.contrib import admin, messages

from octoo_billing.admin_files import stored_file_column

from ..models import BillingRun, BillingRunItem, Invoice, OutboxJob
from ..outbox import outbox_jobs_retry
from .common import ReadOnlyAdmin


@admin.register(OutboxJob)
class OutboxJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "invoice", "kind", "status", "attempts", "run_after", "done_at", "short_error", "partner"]
    list_filter = ["status", "kind", "partner"]
    search_fields = ["=invoice__number", "key", "last_error"]
    list_select_related = ["invoice", "partner"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["retry_failed"]
    fields = [
        "partner",
        "invoice",
        "kind",
        "key",
        "status",
        "attempts",
        "max_attempts",
        "run_after",
        "lease_until",
        "claimed_by",
        "result",
        "last_error",
        "created_at",
        "updated_at",
        "done_at",
    ]
    readonly_fields = fields

    @admin.display(description="Last error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.action(description="Queue the failed work of these jobs' invoices again")
    def retry_failed(self, request, queryset):
        invoices = Invoice.objects.filter(pk__in=queryset.filter(status=OutboxJob.Status.FAILED).values("invoice_id"))
        count = sum(outbox_jobs_retry(invoice=invoice, user=request.user) for invoice in invoices)
        messages.success(request, f"{count} failed job(s) queued again.")

    def has_change_permission(self, request, obj=None):
        return False


class BillingRunItemInline(admin.TabularInline):
    model = BillingRunItem
    fields = ["label", "invoice", "outcome", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    """Partner-wide runs and bulk actions, started in the office or by the worker's schedules: read-only here."""

    list_display = ["id", "kind", "status", "partner", "started_by_name", "schedule_name", "parties_done", "created_at"]
    list_filter = ["kind", "status", "partner"]
    list_select_related = ["partner"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    # The result file through the app (octoo_billing.admin_files), not as a link to the storage's URL.
    fields = readonly_fields = [
        "stored_result_file" if f.name == "result_file" else f.name for f in BillingRun._meta.concrete_fields
    ]
    inlines = [BillingRunItemInline]
    stored_result_file = stored_file_column("result_file", "Result file")

    def has_change_permission(self, request, obj=None):
        return False
