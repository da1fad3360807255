"""Expense codes: customer-defined labels and the (label, value) codes applied to billing documents."""

from django.db import models
from django.db.models import Q


class ExpenseCodeLabel(models.Model):
    """A customer's kind of code ("Purchase order", "Cost center"). None by default."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="expense_code_labels")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    is_required = models.BooleanField(
        default=False, help_text="A request cannot be submitted without a code for this label."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "name"], name="expense_code_label_unique_per_customer"),
            models.CheckConstraint(condition=~Q(name=""), name="expense_code_label_not_empty"),
        ]

    def __str__(self):
        return self.name


OWNER_FIELDS = ("default_for", "request", "service", "proforma", "invoice")


class AppliedExpenseCode(models.Model):
    """A (label, value) pair applied to exactly one carrier: a customer's auto-applied defaults, a request,
    a service, a proforma or an invoice. The label's name is copied so codes on issued documents stay frozen
    even if the label is renamed or removed later."""

    label = models.ForeignKey(ExpenseCodeLabel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    label_name = models.CharField(max_length=100)
    value = models.CharField(max_length=100)
    default_for = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="default_expense_codes"
    )
    request = models.ForeignKey(
        "invoicing.ServiceRequest", on_delete=models.CASCADE, null=True, blank=True, related_name="expense_codes"
    )
    service = models.ForeignKey(
        "invoicing.Service", on_delete=models.CASCADE, null=True, blank=True, related_name="expense_codes"
    )
    proforma = models.ForeignKey(
        "invoicing.Proforma", on_delete=models.CASCADE, null=True, blank=True, related_name="expense_codes"
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.CASCADE, null=True, blank=True, related_name="expense_codes"
    )

    class Meta:
        ordering = ["label_name", "value"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(default_for__isnull=False, request=None, service=None, proforma=None, invoice=None)
                    | Q(default_for=None, request__isnull=False, service=None, proforma=None, invoice=None)
                    | Q(default_for=None, request=None, service__isnull=False, proforma=None, invoice=None)
                    | Q(default_for=None, request=None, service=None, proforma__isnull=False, invoice=None)
                    | Q(default_for=None, request=None, service=None, proforma=None, invoice__isnull=False)
                ),
                name="expense_code_on_exactly_one_carrier",
            ),
            models.CheckConstraint(condition=~Q(value="") & ~Q(label_name=""), name="expense_code_not_empty"),
        ]
        indexes = [models.Index(fields=["value"])]

    def __str__(self):
        return f"{self.label_name}: {self.value}"


def codes_key(pairs) -> str:
    """Canonical, order-independent form of a set of (label, value) pairs, used to group invoices."""
    return " | ".join(f"{label}: {value}" for label, value in sorted(set(pairs)))
