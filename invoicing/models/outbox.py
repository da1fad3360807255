"""Outbox: after-commit work (render the PDF, e-mail, charge) written in the same transaction as the change.

A row is the promise that the work will be done: the worker claims due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), records the attempt before the side effect, runs an idempotent handler, and marks the row done,
or schedules a retry with backoff, or gives up as failed. A worker killed mid-job leaves the row claimed with
a lease that runs out, so another worker picks it up; nothing is lost (see ``invoicing.outbox``).
"""

from django.db import models
from django.db.models import Q


class OutboxJob(models.Model):
    class Kind(models.TextChoices):
        PDF = "pdf", "Render and store the PDF"
        EMAIL = "email", "E-mail the invoice"
        CHARGE = "charge", "Charge the card on file"
        RESEND = "resend", "E-mail the invoice again"
        CREDIT_NOTE = "credit_note", "Render and e-mail the credit note"
        REFUND = "refund", "Refund through the gateway"
        RECEIPT = "receipt", "E-mail the receipt"
        REMINDER = "reminder", "E-mail a payment reminder"
        STATEMENT = "statement", "E-mail the statement of account"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="outbox_jobs")
    # What the work is about: the invoice (every job but a statement), and for some kinds one of its documents.
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="outbox_jobs"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="outbox_jobs"
    )
    payment = models.ForeignKey("invoicing.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    refund = models.ForeignKey("invoicing.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    credit_note = models.ForeignKey(
        "invoicing.CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reminder = models.ForeignKey(
        "invoicing.InvoiceReminder", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # One job per piece of work: a retried job keeps its key, so its side effect (the e-mail's Message-ID, the
    # gateway's idempotency key) is the same on every attempt.
    key = models.CharField(max_length=120, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=8)
    run_after = models.DateTimeField(help_text="Not claimed before this time (backoff after a failure).")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A running job not done by then is re-run.")
    claimed_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    result = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="running") | Q(lease_until__isnull=False), name="outbox_running_has_lease"
            ),
            models.CheckConstraint(condition=~Q(status="done") | Q(done_at__isnull=False), name="outbox_done_has_time"),
            models.CheckConstraint(
                condition=Q(invoice__isnull=False) | Q(customer__isnull=False), name="outbox_job_has_subject"
            ),
        ]
        indexes = [
            # The worker's claim: open jobs by due time.
            models.Index(
                fields=["run_after", "id"],
                condition=Q(status__in=["pending", "running"]),
                name="outbox_due_idx",
            ),
            models.Index(fields=["invoice", "id"], name="outbox_invoice_idx"),
        ]

    def __str__(self):
        subject = f"invoice #{self.invoice_id}" if self.invoice_id else f"customer #{self.customer_id}"
        return f"{self.get_kind_display()} for {subject} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)
