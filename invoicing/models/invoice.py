"""Invoice: AR (to a customer) or AP (from a provider), with its proformas, direct slips and frozen totals."""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import BigIntegerField, Case, F, Q, Value, When

from customers.models import Customer
from octoo_billing.triggers import plpgsql_refuse

from .figures import invoice_figures_triggers, open_balance_triggers

# What an issued invoice may still change, and what changes it. Issuing freezes every other column: the
# database refuses the change (the triggers below on PostgreSQL; migration 0005_integrity_guards on SQLite).
ISSUED_WRITABLE_FIELDS = (
    "status",  # payments, overdue, void, children (never back to draft, never out of void)
    "paid_units",  # payments and refunds
    "credited_units",  # credit notes applied to it
    "children_units",  # child invoices attached to or detached from this one
    "parent",  # this invoice attached to or detached from a parent
    "void_reason",  # void
    "voided_at",  # void
    "sent_at",  # e-mail delivery
    "send_error",  # e-mail delivery
    "pdf",  # the stored PDF, rendered after issue
    "pdf_error",  # the PDF render
    "charge_error",  # the automatic card charge
    "updated_at",
)
# Links the database clears (ON DELETE SET NULL) when the contact or the user is deleted: an issued invoice may
# lose them (its contact snapshot stays), never point them elsewhere.
ISSUED_CLEARABLE_FIELDS = ("billing_contact", "created_by")


class IssuedInvoiceFrozen(pgtrigger.Trigger):
    """An issued invoice changes only in ISSUED_WRITABLE_FIELDS and may lose ISSUED_CLEARABLE_FIELDS; it never
    goes back to draft and never leaves void. Issuing itself updates a draft: not checked."""

    when = pgtrigger.Before
    operation = pgtrigger.Update
    condition = pgtrigger.Condition("OLD.\"status\" <> 'draft'")

    def get_func(self, model):
        number = 'OLD."number"'
        lines = [
            "IF NEW.\"status\" = 'draft' THEN",
            plpgsql_refuse("issued invoice % cannot go back to draft", number),
            "END IF;",
            "IF OLD.\"status\" = 'void' AND NEW.\"status\" <> 'void' THEN",
            plpgsql_refuse("void invoice % cannot be reopened", number),
            "END IF;",
        ]
        for field in model._meta.concrete_fields:
            if field.name in ISSUED_WRITABLE_FIELDS:
                continue
            changed = f'OLD."{field.column}" IS DISTINCT FROM NEW."{field.column}"'
            if field.name in ISSUED_CLEARABLE_FIELDS:
                changed = f'NEW."{field.column}" IS NOT NULL AND {changed}'
            lines += [
                f"IF {changed} THEN",
                plpgsql_refuse(f"issued invoice % cannot be changed: column {field.column}", number),
                "END IF;",
            ]
        return "\n".join([*lines, "RETURN NEW;"])


def issued_invoice_triggers() -> list:
    return [
        IssuedInvoiceFrozen(name="issued_invoice_frozen"),
        pgtrigger.Trigger(
            name="issued_invoice_kept",
            when=pgtrigger.Before,
            operation=pgtrigger.Delete,
            condition=pgtrigger.Condition("OLD.\"status\" <> 'draft'"),
            func=plpgsql_refuse("issued invoice % cannot be deleted", 'OLD."number"'),
        ),
    ]


def issued_invoice_number(invoice_id: str) -> str:
    """Reads into ``_number`` the number of the invoice ``invoice_id`` (an SQL expression) if it is issued;
    FOUND tells whether it is."""
    return f'SELECT "number" INTO _number FROM invoicing_invoice WHERE id = {invoice_id} AND "status" <> \'draft\';'


def _refuse_if_issued(invoice_id: str, message: str) -> list[str]:
    return [issued_invoice_number(invoice_id), "IF FOUND THEN", plpgsql_refuse(message, "_number"), "END IF;"]


# The proforma links of an issued invoice: none added or deleted; the one change is the void's deactivation
# (is_active true -> false). A link is not moved onto an issued invoice either.
LINK_ONLY_DEACTIVATED = (
    '(NEW."id", NEW."invoice_id", NEW."proforma_id", NEW."kind", NEW."position")'
    ' IS NOT DISTINCT FROM (OLD."id", OLD."invoice_id", OLD."proforma_id", OLD."kind", OLD."position")'
    ' AND (OLD."is_active" OR NOT NEW."is_active")'
)
INVOICE_PROFORMA_GUARD = "\n".join(
    [
        "IF TG_OP = 'INSERT' THEN",
        *_refuse_if_issued('NEW."invoice_id"', "issued invoice % cannot take another proforma"),
        "RETURN NEW;",
        "END IF;",
        "IF TG_OP = 'DELETE' THEN",
        *_refuse_if_issued('OLD."invoice_id"', "proforma links of issued invoice % cannot be deleted"),
        "RETURN OLD;",
        "END IF;",
        f"IF NOT ({LINK_ONLY_DEACTIVATED}) THEN",
        *_refuse_if_issued('OLD."invoice_id"', "proforma links of issued invoice % cannot be changed"),
        *_refuse_if_issued('NEW."invoice_id"', "proforma links of issued invoice % cannot be changed"),
        "END IF;",
        "RETURN NEW;",
    ]
)


def list_balance_expression():
    """The balance lists show, sort and total: what is still owed on an issued invoice; nothing on a void
    invoice, nor on a draft (not owed until it is issued). An index on this very expression serves the lists'
    "outstanding" sort, so the lists and the index must both take it from here."""
    return Case(
        When(status__in=["draft", "void"], then=Value(0)),
        default=F("total_units") - F("paid_units") - F("children_units") - F("credited_units"),
        output_field=BigIntegerField(),
    )


class Invoice(models.Model):
    class Kind(models.TextChoices):
        AR = "ar", "AR (to customer)"
        AP = "ap", "AP (from provider)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Pending"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        OVERDUE = "overdue", "Overdue"
        CREDITED = "credited", "Credited"  # settled by credit notes, nothing paid
        VOID = "void", "Void"

    class Source(models.TextChoices):
        GENERATED = "generated", "Generated"
        MANUAL = "manual", "Manual"
        QUOTE = "quote", "From quote"
        BOOKING = "booking", "On booking"

    # One set of choices with the customer's setting, which an invoice copies when it is made.
    ExpenseCodeMode = Customer.ExpenseCodeMode

    OPEN_STATUSES = (Status.PENDING, Status.PARTIALLY_PAID, Status.OVERDUE)
    ISSUED_STATUSES = (
        Status.PENDING,
        Status.PARTIALLY_PAID,
        Status.PAID,
        Status.OVERDUE,
        Status.CREDITED,
        Status.VOID,
    )

    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(max_length=2, choices=Kind.choices, default=Kind.AR)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    provider = models.ForeignKey(
        "customers.Provider", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text="A child AR invoice shares the parent's bill: it lowers the parent's outstanding balance.",
    )
    # Numbering: assigned at issue (invoicing.numbering); drafts have none.
    number = models.CharField(max_length=30, null=True, blank=True)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(null=True, blank=True)
    no_payment = models.BooleanField(default=False, help_text="Customer on 'no payment' terms: no due date.")
    # Billing contact, and its snapshot frozen at issue.
    billing_contact = models.ForeignKey(
        "customers.BillingContact", on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices"
    )
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_address = models.TextField(blank=True)
    bill_to_name = models.CharField(max_length=200, blank=True)
    # Expense codes: per_proforma invoices show each line's codes; grouped ones carry one set.
    expense_code_mode = models.CharField(
        max_length=16, choices=ExpenseCodeMode.choices, default=ExpenseCodeMode.GROUPED
    )
    expense_code_key = models.CharField(max_length=500, blank=True, default="")
    generation_key = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        help_text="Identifies a generated invoice; a rerun never makes it twice.",
    )
    # Totals (frozen at issue): subtotal - discounts + tax = total.
    discount_units = models.BigIntegerField(default=0, help_text="Invoice-level discount, spread over lines.")
    # A coupon entered on a manual invoice: its discount lines are recomputed whenever the draft's lines change.
    coupon = models.ForeignKey("invoicing.Coupon", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    subtotal_units = models.BigIntegerField(default=0)
    discount_total_units = models.BigIntegerField(default=0)
    tax_units = models.BigIntegerField(default=0)
    total_units = models.BigIntegerField(default=0)
    paid_units = models.BigIntegerField(default=0)
    children_units = models.BigIntegerField(default=0, help_text="Sum of attached child AR invoices' totals.")
    credited_units = models.BigIntegerField(default=0, help_text="Credit notes applied to this invoice's balance.")
    notes = models.TextField(blank=True)
    void_reason = models.TextField(blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.TextField(blank=True)
    pdf = models.FileField(upload_to="invoices/%Y/%m/", blank=True)
    pdf_error = models.TextField(blank=True)
    charge_error = models.TextField(blank=True, help_text="Why the last automatic card charge failed, if it did.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "kind", "number"], condition=Q(number__isnull=False), name="invoice_number_unique"
            ),
            models.UniqueConstraint(
                fields=["partner", "kind", "sequence"],
                condition=Q(sequence__isnull=False),
                name="invoice_sequence_unique",
            ),
            models.UniqueConstraint(
                fields=["partner", "generation_key"],
                condition=Q(generation_key__isnull=False) & ~Q(status="void"),
                name="invoice_generation_key_unique",
            ),
            models.CheckConstraint(
                condition=(Q(kind="ar") & Q(customer__isnull=False) & Q(provider__isnull=True))
                | (Q(kind="ap") & Q(provider__isnull=False) & Q(customer__isnull=True)),
                name="invoice_party_matches_kind",
            ),
            # Drafts have no number; every issued invoice (void included) keeps one.
            models.CheckConstraint(
                condition=(Q(status="draft") & Q(number__isnull=True) & Q(sequence__isnull=True))
                | (
                    ~Q(status="draft")
                    & Q(number__isnull=False)
                    & Q(sequence__isnull=False)
                    & Q(issue_date__isnull=False)
                ),
                name="invoice_number_iff_issued",
            ),
            models.CheckConstraint(
                condition=Q(total_units=F("subtotal_units") - F("discount_total_units") + F("tax_units")),
                name="invoice_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(discount_units__gte=0) & Q(discount_total_units__gte=0),
                name="invoice_discount_not_negative",
            ),
            models.CheckConstraint(condition=Q(paid_units__gte=0), name="invoice_paid_not_negative"),
            models.CheckConstraint(condition=Q(children_units__gte=0), name="invoice_children_not_negative"),
            models.CheckConstraint(condition=Q(credited_units__gte=0), name="invoice_credited_not_negative"),
            models.CheckConstraint(
                condition=Q(status="void")
                | Q(paid_units__lte=F("total_units") - F("children_units") - F("credited_units")),
                name="invoice_not_overpaid",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | (Q(kind="ar") & ~Q(parent=F("id"))),
                name="invoice_child_is_ar_and_not_self",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["paid", "credited"])
                | Q(paid_units=F("total_units") - F("children_units") - F("credited_units")),
                name="invoice_paid_means_settled",
            ),
        ]
        indexes = [
            # Also covers the lists' totals (count, total, outstanding): an index-only scan, not a table scan
            # (on PostgreSQL; SQLite ignores INCLUDE).
            models.Index(
                fields=["partner", "kind", "status", "id"],
                include=["total_units", "paid_units", "children_units", "credited_units"],
                name="invoice_status_totals_idx",
            ),
            # The lists' sort orders (value, id), read off an index in either direction instead of sorting.
            models.Index(fields=["partner", "kind", "sequence", "id"], name="invoice_number_sort_idx"),
            models.Index(fields=["partner", "kind", "total_units", "id"], name="invoice_total_sort_idx"),
            models.Index(F("partner"), F("kind"), list_balance_expression(), F("id"), name="invoice_balance_sort_idx"),
            # The newest issued invoices first (the dashboard's recent list), without a sort of each day's rows.
            models.Index(fields=["partner", "kind", "-issue_date", "-id"], name="invoice_issue_date_idx"),
            models.Index(fields=["partner", "kind", "due_date"]),
            # The open invoices alone (a fifth of a large partner's), with every column the dashboard's open
            # figures and AR aging read: an index-only scan of those rows (PostgreSQL; SQLite ignores INCLUDE).
            models.Index(
                fields=["partner", "kind", "customer", "due_date"],
                include=["status", "issue_date", "id", "total_units", "paid_units", "children_units", "credited_units"],
                condition=Q(status__in=["pending", "partially_paid", "overdue"]),  # OPEN_STATUSES
                name="invoice_open_idx",
            ),
            # Revenue and billed by month over a range of issue dates, of the invoices the reports count (issued, not
            # void: reports.periods.COUNTED_STATUSES): an index-only scan of the range.
            models.Index(
                fields=["partner", "kind", "issue_date"],
                include=["id", "customer", "subtotal_units", "discount_total_units", "tax_units", "total_units"],
                condition=Q(status__in=["pending", "partially_paid", "paid", "overdue", "credited"]),
                name="invoice_counted_issue_idx",
            ),
            # The few invoices whose PDF, e-mail or card charge failed (the dashboard's counts, ?problem= lists).
            models.Index(
                fields=["partner", "kind"],
                condition=~Q(pdf_error="") | ~Q(send_error="") | ~Q(charge_error=""),
                name="invoice_delivery_problem_idx",
            ),
            # Void invoices by when they were voided (AR aging as of a date before the void).
            models.Index(
                fields=["partner", "kind", "voided_at"], condition=Q(status="void"), name="invoice_voided_idx"
            ),
            models.Index(fields=["partner", "customer", "status"]),
            models.Index(fields=["partner", "provider", "status"]),
        ]
        triggers = [*issued_invoice_triggers(), *invoice_figures_triggers(), *open_balance_triggers()]

    def __str__(self):
        return self.number or f"Draft {self.get_kind_display().split()[0]} #{self.pk}"

    @property
    def charged_on_issue(self) -> bool:
        """An AR invoice charged to the card on file when it is issued: the customer pays by card with automatic
        charging on, and the invoice has a due date ("no payment" terms are never charged on their own)."""
        return self.kind == self.Kind.AR and not self.no_payment and self.customer.charges_automatically

    @property
    def outstanding_units(self) -> int:
        """What is still owed: total - payments - attached children - credit notes (nothing on a void invoice)."""
        if self.status == self.Status.VOID:
            return 0
        return self.total_units - self.paid_units - self.children_units - self.credited_units

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def party(self):
        return self.customer if self.kind == self.Kind.AR else self.provider


class InvoiceProforma(models.Model):
    """A proforma on an invoice. A proforma is on at most one live AR and one live AP invoice;
    voiding an invoice deactivates its links (kept for the record), so the proformas are invoiceable again."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="proforma_links")
    proforma = models.ForeignKey("invoicing.Proforma", on_delete=models.PROTECT, related_name="invoice_links")
    kind = models.CharField(max_length=2, choices=Invoice.Kind.choices)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["proforma", "kind"], condition=Q(is_active=True), name="proforma_on_one_live_invoice_per_kind"
            ),
            models.UniqueConstraint(fields=["invoice", "proforma"], name="invoice_proforma_once"),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="issued_invoice_links_kept",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                declare=[("_number", "varchar(30)")],
                func=INVOICE_PROFORMA_GUARD,
            ),
        ]

    def __str__(self):
        return f"{self.proforma} on {self.invoice}"
