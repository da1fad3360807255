"""Credit notes and refunds: money taken back from what an AR invoice billed, and money paid back to a customer.

A credit note is its own numbered document (series CN, gapless, assigned at issue) against one issued AR invoice.
Its total first lowers that invoice's balance (a ``CreditApplication`` to it, up to what is still owed); what is
left (the invoice was already paid) is the customer's credit, applied to another of their invoices or refunded.
A ``Refund`` pays money back on a payment: through the gateway for a card payment (pending until the gateway
answers), recorded for a check or a transfer. Refunds are money out; payments are money in.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q

from octoo_billing.money import format_units

from .figures import credit_note_figures_triggers, credit_note_line_figures_triggers, refund_figures_triggers

# What an issued credit note may still change: how its credit is used, and its delivery. The database refuses
# any other change, and its deletion (these triggers on PostgreSQL; migration 0012 on SQLite).
CREDIT_NOTE_WRITABLE_FIELDS = ("applied_units", "refunded_units", "pdf", "sent_at", "created_by")


class CreditNote(models.Model):
    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="credit_notes")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=30)
    sequence = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    issue_date = models.DateField()
    issued_at = models.DateTimeField()
    reason = models.TextField()
    subtotal_units = models.BigIntegerField(default=0)
    tax_units = models.BigIntegerField(default=0)
    total_units = models.BigIntegerField()
    applied_units = models.BigIntegerField(default=0, help_text="Applied to invoice balances (its own first).")
    refunded_units = models.BigIntegerField(default=0, help_text="Paid back to the customer.")
    pdf = models.FileField(upload_to="credit-notes/%Y/%m/", blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "number"], name="credit_note_number_unique"),
            models.UniqueConstraint(fields=["partner", "sequence"], name="credit_note_sequence_unique"),
            models.CheckConstraint(condition=Q(total_units__gt=0), name="credit_note_total_positive"),
            models.CheckConstraint(
                condition=Q(total_units=F("subtotal_units") + F("tax_units")), name="credit_note_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(applied_units__gte=0) & Q(refunded_units__gte=0), name="credit_note_used_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(applied_units__lte=F("total_units") - F("refunded_units")),
                name="credit_note_not_overused",
            ),
        ]
        indexes = [models.Index(fields=["partner", "-issue_date"]), models.Index(fields=["partner", "customer"])]
        triggers = [
            pgtrigger.ReadOnly(name="credit_note_frozen", exclude=list(CREDIT_NOTE_WRITABLE_FIELDS)),
            pgtrigger.Protect(name="credit_note_kept", operation=pgtrigger.Delete),
            *credit_note_figures_triggers(),
        ]

    def __str__(self):
        return self.number

    @property
    def credit_left_units(self) -> int:
        """The customer's credit still to apply or refund."""
        return self.total_units - self.applied_units - self.refunded_units


class CreditNoteLine(models.Model):
    """A line taken back: one of the invoice's lines (``slip``), or an amount."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    slip = models.ForeignKey("invoicing.Slip", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    position = models.PositiveSmallIntegerField(default=1)
    description = models.CharField(max_length=500)
    amount_units = models.BigIntegerField(help_text="Before tax.")
    tax_units = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_units__gte=0) & Q(tax_units__gte=0), name="cn_line_positive"),
        ]
        triggers = [
            pgtrigger.Protect(name="credit_note_line_kept", operation=pgtrigger.Update | pgtrigger.Delete),
            *credit_note_line_figures_triggers(),
        ]

    @property
    def total_units(self) -> int:
        return self.amount_units + self.tax_units


class CreditApplication(models.Model):
    """Part of a credit note lowering an invoice's balance: its own invoice, or another of the customer's."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="applications")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="credit_applications")
    amount_units = models.BigIntegerField()
    applied_on = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(amount_units__gt=0), name="credit_application_positive")]
        # What was applied after a date (AR aging as of that date).
        indexes = [models.Index(fields=["applied_on", "invoice"], name="credit_application_date_idx")]


class Refund(models.Model):
    """Money paid back on a payment. A card refund goes through the gateway (pending until it answers; a failed
    one is shown and retried); a check or transfer refund is recorded as made. ``credit_note``: paid out of a
    credit note's remaining credit (the invoice stays settled); without one, the invoice owes the amount again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Refunded"
        FAILED = "failed", "Failed"

    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey("invoicing.Payment", on_delete=models.PROTECT, related_name="refunds")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="refunds")
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds")
    amount_units = models.BigIntegerField()
    method = models.CharField(max_length=10)  # the payment's method
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(max_length=100, blank=True, help_text="Check number or the gateway's reference.")
    reason = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    refunded_on = models.DateField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_units__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(refunded_on__isnull=False), name="refund_succeeded_has_date"
            ),
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="refund_idempotency_key_unique",
            ),
        ]
        indexes = [models.Index(fields=["partner", "-refunded_on"])]
        triggers = refund_figures_triggers()

    def __str__(self):
        invoice = self.invoice
        return f"Refund of {format_units(self.amount_units, invoice.currency)} on {invoice}"


class InvoiceReminder(models.Model):
    """A payment reminder of an invoice: one per step of the partner's schedule (``days`` from the due date),
    ever; the row is made with its outbox job, so a task run twice or by two workers sends it once."""

    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.CASCADE, related_name="reminders")
    days = models.SmallIntegerField(help_text="Days from the due date: negative before it.")
    amount_due_units = models.BigIntegerField(default=0, help_text="What was due when it was queued.")
    queued_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    skipped = models.CharField(max_length=200, blank=True, help_text="Why it was not sent (paid meanwhile...).")

    class Meta:
        ordering = ["invoice", "days"]
        constraints = [models.UniqueConstraint(fields=["invoice", "days"], name="invoice_reminder_once")]
