from django.conf import settings
from django.db import models
from django.db.models import F, Q

from octoo_billing.money import format_units

from .figures import payment_figures_triggers


class Payment(models.Model):
    """Money received against an AR invoice (or paid out on an AP one). Partial payments are allowed."""

    class Method(models.TextChoices):
        CHECK = "check", "Check"
        CARD = "card", "Card"
        TRANSFER = "transfer", "Bank transfer"

    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="payments")
    amount_units = models.BigIntegerField()
    refunded_units = models.BigIntegerField(default=0, help_text="Paid back on this payment (refunds made).")
    method = models.CharField(max_length=10, choices=Method.choices)
    reference = models.CharField(max_length=100, blank=True, help_text="Check number or transaction reference.")
    received_on = models.DateField()
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_units__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_units__gte=0) & Q(refunded_units__lte=F("amount_units")),
                name="payment_refunds_within_amount",
            ),
            models.CheckConstraint(condition=~Q(method="check") | ~Q(reference=""), name="payment_check_has_number"),
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="payment_idempotency_key_unique",
            ),
        ]
        indexes = [
            # Money in and out by month (cash basis, the dashboard): an index-only scan of the range of days.
            models.Index(
                fields=["partner", "received_on"],
                include=["id", "amount_units", "invoice"],
                name="payment_received_idx",
            )
        ]
        triggers = payment_figures_triggers()

    def __str__(self):
        invoice = self.invoice
        return f"{self.get_method_display()} {format_units(self.amount_units, invoice.currency)} on {invoice}"
