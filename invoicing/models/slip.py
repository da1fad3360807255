"""Slip: a line item, on a proforma or directly on an invoice, with a bill side and a pay side."""

import pgtrigger
from django.db import models
from django.db.models import F, Q

from octoo_billing.triggers import plpgsql_refuse

from .invoice import issued_invoice_number
from .pricing import PaySchedule


def _refuse_if_on_issued_invoice(row: str) -> str:
    """Refuses if ``row`` (OLD or NEW) is a line of an issued invoice: directly, or through a live proforma link."""
    return "\n".join(
        [
            f'IF {row}."invoice_id" IS NOT NULL THEN',
            issued_invoice_number(f'{row}."invoice_id"'),
            "ELSE",
            'SELECT i."number" INTO _number FROM invoicing_invoiceproforma l',
            'JOIN invoicing_invoice i ON i.id = l."invoice_id"',
            f'WHERE l."proforma_id" = {row}."proforma_id" AND l."is_active" AND i."status" <> \'draft\' LIMIT 1;',
            "END IF;",
            "IF FOUND THEN",
            plpgsql_refuse("lines of issued invoice % cannot be added, changed or deleted", "_number"),
            "END IF;",
        ]
    )


# The lines of an issued invoice (its direct slips and those of its live proformas) are never added, changed or
# deleted: the old row and the new one are both checked, so a slip moves neither off nor onto an issued invoice.
SLIP_GUARD = "\n".join(
    [
        "IF TG_OP <> 'INSERT' THEN",
        _refuse_if_on_issued_invoice("OLD"),
        "END IF;",
        "IF TG_OP = 'DELETE' THEN",
        "RETURN OLD;",
        "END IF;",
        _refuse_if_on_issued_invoice("NEW"),
        "RETURN NEW;",
    ]
)


class Slip(models.Model):
    class Type(models.TextChoices):
        SERVICE = "service", "Service"
        MILEAGE = "mileage", "Mileage"
        REIMBURSEMENT = "reimbursement", "Reimbursement"
        TOLLS = "tolls", "Tolls"
        PREP_TIME = "prep_time", "Prep time"
        BOOKING_FEE = "booking_fee", "Booking fee"
        GENERAL = "general", "General"
        ADJUSTMENT = "adjustment", "Adjustment"
        CREDIT = "credit", "Credit"
        COUPON = "coupon", "Coupon discount"

    # Slip types priced from a pay-schedule rate: they must say which one.
    TYPES_REQUIRING_PAY_SCHEDULE = (Type.SERVICE, Type.PREP_TIME)
    # Slip types whose rates may be negative (reduced scope, credits, coupon discounts).
    TYPES_ALLOWING_NEGATIVE = (Type.ADJUSTMENT, Type.CREDIT, Type.COUPON)

    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="slips")
    proforma = models.ForeignKey(
        "invoicing.Proforma", on_delete=models.CASCADE, null=True, blank=True, related_name="slips"
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.CASCADE, null=True, blank=True, related_name="direct_slips"
    )
    position = models.PositiveIntegerField(default=0)
    slip_type = models.CharField(max_length=20, choices=Type.choices, default=Type.GENERAL)
    pay_schedule = models.CharField(max_length=10, choices=PaySchedule.choices, blank=True)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=12, decimal_places=4, default=1)
    # The provider's quantity when its time policy differs from the customer's (seed 003: each side has its own);
    # empty: the same as ``quantity``.
    pay_quantity = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    # Rates in minor units per unit of quantity (Decimal: 65.5 cents a mile is exact).
    bill_rate_units = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    pay_rate_units = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    tax_rate = models.DecimalField("tax rate %", max_digits=6, decimal_places=3, default=0)
    # Computed amounts (invoicing.pricing.slip_price), each rounded half-up to the minor unit.
    bill_amount_units = models.BigIntegerField(default=0, help_text="quantity x bill rate")
    line_discount_units = models.BigIntegerField(default=0, help_text="per-line discount")
    invoice_discount_units = models.BigIntegerField(default=0, help_text="share of the invoice-level discount")
    bill_tax_units = models.BigIntegerField(default=0)
    bill_total_units = models.BigIntegerField(default=0)
    pay_total_units = models.BigIntegerField(default=0, help_text="quantity x pay rate")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            # A slip belongs to exactly one document.
            models.CheckConstraint(
                condition=(Q(proforma__isnull=False) & Q(invoice__isnull=True))
                | (Q(proforma__isnull=True) & Q(invoice__isnull=False)),
                name="slip_on_exactly_one_document",
            ),
            models.CheckConstraint(
                condition=~Q(slip_type__in=["service", "prep_time"]) | ~Q(pay_schedule=""),
                name="slip_type_requires_pay_schedule",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="slip_quantity_positive"),
            models.CheckConstraint(
                condition=Q(pay_quantity__isnull=True) | Q(pay_quantity__gte=0), name="slip_pay_quantity_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(slip_type__in=["adjustment", "credit", "coupon"])
                | (Q(bill_rate_units__gte=0) & Q(pay_rate_units__gte=0)),
                name="slip_rates_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(slip_type="credit") | (Q(bill_rate_units__lte=0) & Q(pay_rate_units__lte=0)),
                name="slip_credit_not_positive",
            ),
            models.CheckConstraint(
                condition=~Q(slip_type="coupon") | (Q(bill_rate_units__lte=0) & Q(pay_rate_units=0)),
                name="slip_coupon_only_reduces_the_bill",
            ),
            models.CheckConstraint(
                condition=Q(line_discount_units__gte=0) & Q(invoice_discount_units__gte=0),
                name="slip_discounts_not_negative",
            ),
            models.CheckConstraint(condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=100), name="slip_tax_rate_range"),
            models.CheckConstraint(
                condition=Q(
                    bill_total_units=F("bill_amount_units")
                    - F("line_discount_units")
                    - F("invoice_discount_units")
                    + F("bill_tax_units")
                ),
                name="slip_total_adds_up",
            ),
        ]
        indexes = [models.Index(fields=["invoice", "position"]), models.Index(fields=["proforma", "position"])]
        triggers = [
            pgtrigger.Trigger(
                name="issued_invoice_lines_frozen",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                declare=[("_number", "varchar(30)")],
                func=SLIP_GUARD,
            ),
        ]

    def __str__(self):
        return self.description

    @property
    def paid_quantity(self):
        """The quantity the provider is paid for."""
        return self.quantity if self.pay_quantity is None else self.pay_quantity

    @property
    def discount_units(self) -> int:
        return self.line_discount_units + self.invoice_discount_units
