"""Proforma (legacy name: service invoice): what one service earned and billed, as slips."""

from django.db import models
from django.db.models import F, Q

from .figures import proforma_figures_triggers


class Proforma(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"

    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="proformas")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="proformas")
    provider = models.ForeignKey(
        "customers.Provider", on_delete=models.PROTECT, null=True, blank=True, related_name="proformas"
    )
    service = models.OneToOneField(
        "invoicing.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="proforma"
    )
    number = models.CharField(max_length=30, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    service_date = models.DateField()
    expense_code_key = models.CharField(
        max_length=500, blank=True, default="", help_text="Canonical form of its expense codes, for grouping."
    )
    # Totals of its slips, kept by invoicing.pricing.document_totals_refresh (never in save()).
    bill_subtotal_units = models.BigIntegerField(default=0)
    bill_discount_units = models.BigIntegerField(default=0)
    bill_tax_units = models.BigIntegerField(default=0)
    bill_total_units = models.BigIntegerField(default=0)
    pay_total_units = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-service_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "number"], condition=Q(number__isnull=False), name="proforma_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(bill_total_units=F("bill_subtotal_units") - F("bill_discount_units") + F("bill_tax_units")),
                name="proforma_bill_total_adds_up",
            ),
            models.CheckConstraint(condition=Q(bill_discount_units__gte=0), name="proforma_discount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["partner", "customer", "status", "service_date"]),
            models.Index(fields=["partner", "provider", "status", "service_date"]),
        ]
        triggers = proforma_figures_triggers()

    def __str__(self):
        return self.number or f"Proforma #{self.pk}"
