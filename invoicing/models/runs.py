"""Billing runs: a partner-wide AR or AP run, or a bulk action on a selection of invoices, with its progress.

A run is started from the office (or by the worker's schedule), executed by a django-q2 task in chunks, and its
row is updated after each chunk in its own short transaction, so the run's page shows the progress as it goes
(``invoicing.runs``). At most one AR and one AP run per partner is queued or running at a time (a partial unique
index), so a second start while one runs is refused instead of doing the work twice. A bulk action keeps one
``BillingRunItem`` per selected invoice with that row's own result.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .invoice import Invoice


class BillingRun(models.Model):
    class Kind(models.TextChoices):
        AR = "ar", "AR invoice run"
        AP = "ap", "AP invoice run"
        ISSUE = "issue", "Issue drafts"
        RESEND = "resend", "Resend by e-mail"
        ZIP = "zip", "Download PDFs (ZIP)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # Runs over every customer or provider of the partner: one open at a time per partner and kind.
    GENERATION_KINDS = (Kind.AR, Kind.AP)
    BULK_KINDS = (Kind.ISSUE, Kind.RESEND, Kind.ZIP)
    OPEN_STATUSES = (Status.QUEUED, Status.RUNNING)

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="billing_runs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    invoice_kind = models.CharField(
        max_length=2, choices=Invoice.Kind.choices, help_text="AR or AP: the invoices this run makes or acts on."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="billing_runs"
    )
    started_by_name = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    schedule_name = models.CharField(max_length=100, blank=True, help_text="The worker's schedule that started it.")
    drafts_only = models.BooleanField(
        default=False, help_text="Generated invoices stay drafts (a billing clerk started it)."
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True, help_text="Empty: each party's latest closed period.")
    # Generation runs count customers or providers with work; bulk actions count the selected invoices.
    parties_total = models.PositiveIntegerField(default=0)
    parties_done = models.PositiveIntegerField(default=0)
    invoices_made = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{party_id, party_name, message}, ...]")
    message = models.TextField(blank=True, help_text="Why the run failed as a whole.")
    result_file = models.FileField(upload_to="runs/%Y/%m/", blank=True, max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now_add=True, help_text="Last progress: a running run silent too long died.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "kind"],
                condition=Q(status__in=["queued", "running"], kind__in=["ar", "ap"]),
                name="billing_run_one_open_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(parties_done__lte=models.F("parties_total")), name="billing_run_done_le_total"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["done", "failed"]) | Q(finished_at__isnull=False),
                name="billing_run_finished_has_time",
            ),
        ]
        indexes = [models.Index(fields=["partner", "-created_at"], name="billing_run_partner_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_generation(self) -> bool:
        return self.kind in self.GENERATION_KINDS

    @property
    def party_noun(self) -> str:
        return "customer" if self.invoice_kind == "ar" else "provider"

    @property
    def started_by_label(self) -> str:
        if self.schedule_name:
            return f"Schedule: {self.schedule_name}"
        return self.started_by_name or "—"


class BillingRunItem(models.Model):
    """One selected invoice of a bulk action and its own result."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Not done yet"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="items")
    invoice = models.ForeignKey("invoicing.Invoice", null=True, on_delete=models.SET_NULL, related_name="+")
    label = models.CharField(max_length=200, help_text="The invoice as it was selected (number or draft id).")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "outcome"], name="billing_run_item_idx")]

    def __str__(self):
        return f"{self.label}: {self.get_outcome_display()}"
