from django.db import models
from django.db.models import Q


class NumberCounter(models.Model):
    """One counter row per partner and series (AR, AP, proforma), locked and bumped at issue.

    Never reset (the year in PREFIX-YYYY-NNNNN is the issue year, the sequence runs on), never reused.
    """

    class Series(models.TextChoices):
        AR = "ar", "AR invoices"
        AP = "ap", "AP invoices"
        PROFORMA = "pf", "Proformas"
        CREDIT_NOTE = "cn", "Credit notes"

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="number_counters")
    series = models.CharField(max_length=2, choices=Series.choices)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "series"], name="number_counter_unique"),
            models.CheckConstraint(condition=Q(last_value__gte=0), name="number_counter_not_negative"),
        ]

    def __str__(self):
        return f"{self.partner} {self.series}: {self.last_value}"
