"""Tenants (partners), their customers, billing contacts, providers and memberships."""

import datetime
import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from octoo_billing.locale import DEFAULT_LOCALE, LOCALE_CHOICES, validate_locale

# "No payment" terms (seed 002: nothing is paid when the customer books, so a booking may wait for a quote):
# invoices have no due date, so they are never overdue, never reminded and never charged to a card on their own;
# their balance is still owed and shown as such, and the customer may pay it (by card in the portal, or by check)
# whenever it suits them. No page, e-mail or PDF says that nothing is due.
NO_PAYMENT_TERMS = "No payment terms (no due date)"

# Invoice prefixes: what PREFIX-YYYY-NNNNN starts with.
PREFIX_MAX_LENGTH = 10
PREFIX_RULE = "Use 1 to 10 letters, digits or dashes, with no dash first or last (e.g. INV or NW-AR)."
prefix_validator = RegexValidator(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?\Z", PREFIX_RULE, code="invalid_prefix"
)


@functools.lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names (``Europe/Paris``, ``UTC``), without the tz database's aliases for the server's
    own zone (``localtime``) and its internal files."""
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in ("localtime", "posixrules", "Factory") and not name.startswith(("posix/", "right/"))
    )


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            "“%(value)s” is not a time zone name. Use an IANA name such as America/Los_Angeles or Europe/Paris.",
            code="invalid_time_zone",
            params={"value": value},
        )


def default_time_zone() -> str:
    return settings.TIME_ZONE


def partner_logo_path(partner, filename: str) -> str:
    return f"logos/{partner.pk}/{filename}"


DEFAULT_REMINDER_DAYS = (-3, 1, 7, 14, 30)


def default_reminder_days() -> list[int]:
    """3 days before the due date, then 1, 7, 14 and 30 days overdue."""
    return list(DEFAULT_REMINDER_DAYS)


class Partner(models.Model):
    """The billing business: a tenant. Its staff only ever see its own data."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    legal_name = models.CharField(max_length=200, blank=True)
    address = models.TextField(blank=True, help_text="Printed on PDFs and check instructions.")
    tax_id = models.CharField("tax ID", max_length=50, blank=True)
    email = models.EmailField(blank=True, help_text="Invoices are sent from this address.")
    phone = models.CharField(max_length=40, blank=True)
    ar_prefix = models.CharField(
        "AR invoice prefix", max_length=PREFIX_MAX_LENGTH, default="INV", validators=[prefix_validator]
    )
    ap_prefix = models.CharField(
        "AP invoice prefix", max_length=PREFIX_MAX_LENGTH, default="BILL", validators=[prefix_validator]
    )
    proforma_prefix = models.CharField(max_length=PREFIX_MAX_LENGTH, default="PF", validators=[prefix_validator])
    default_payment_terms_days = models.PositiveSmallIntegerField(default=30)
    issue_generated_invoices = models.BooleanField(
        default=False, help_text="Issue generated invoices at once instead of leaving them as drafts."
    )
    weeknight_starts = models.TimeField(
        default=datetime.time(18, 0), help_text="Weekday hours from here on use the weeknight rate."
    )
    weeknight_ends = models.TimeField(
        default=datetime.time(6, 0), help_text="Weekday hours before this use the weeknight rate."
    )
    # Company settings (customers.company): the logo, how to pay and the sender name are printed on invoices and
    # e-mails; the time zone is the one every page, period and pay schedule of this partner is read in.
    logo = models.FileField(
        upload_to=partner_logo_path, max_length=200, blank=True, help_text="PNG or SVG, printed on PDFs."
    )
    remittance = models.TextField(
        "remittance instructions", blank=True, help_text="How to pay: printed on AR invoices."
    )
    bank_name = models.CharField(max_length=100, blank=True)
    bank_account_name = models.CharField("account holder", max_length=200, blank=True)
    bank_account_number = models.CharField("account number / IBAN", max_length=34, blank=True)
    bank_routing = models.CharField("routing number / SWIFT", max_length=40, blank=True)
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    # How money and dates are written on this partner's pages, PDFs, e-mails and CSV files (octoo_billing.locale).
    locale = models.CharField(
        max_length=10,
        choices=LOCALE_CHOICES,
        default=DEFAULT_LOCALE,
        validators=[validate_locale],
        help_text="How money and dates are written: 1,234.50 or 1.234,50; Nov 24, 2026 or 24 nov. 2026.",
    )
    # Public holidays (the ``holidays`` package) of this country and region are priced at the holiday rate, with
    # the partner's own holiday dates (invoicing.Holiday).
    country = models.CharField(max_length=2, default="US", help_text="ISO country code, e.g. US: its public holidays.")
    region = models.CharField(
        max_length=10, blank=True, help_text="State or province code, e.g. NY: its public holidays too."
    )
    public_holidays = models.BooleanField(
        default=True, help_text="Price work on the country's (and region's) public holidays at the holiday rate."
    )
    email_sender_name = models.CharField(
        "e-mail sender name",
        max_length=100,
        blank=True,
        help_text="The “From” name of invoice e-mails; the company name when empty.",
    )
    # Payment reminders (invoicing.reminders): days relative to the due date, negative before it.
    reminder_days = models.JSONField(
        default=default_reminder_days,
        blank=True,
        help_text="When reminders go out, in days from the due date: -3 is three days before, 7 a week after.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(ar_prefix=""), name="partner_ar_prefix_not_empty"),
            models.CheckConstraint(condition=~Q(ap_prefix=""), name="partner_ap_prefix_not_empty"),
            models.CheckConstraint(condition=~Q(proforma_prefix=""), name="partner_pf_prefix_not_empty"),
        ]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        """The partner's time zone (the project's when the stored name is unknown to this server)."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone or settings.TIME_ZONE)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class Customer(models.Model):
    class PaymentMethod(models.TextChoices):
        CHECK = "check", "Check"
        CARD = "card", "Credit card"

    class PaymentTerms(models.TextChoices):
        NET = "net", "Net N days"
        NO_PAYMENT = "no_payment", "No payment"

    class Schedule(models.TextChoices):
        AFTER_SERVICE = "after_service", "After each service"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    class ExpenseCodeMode(models.TextChoices):
        GROUPED = "grouped", "Group invoices by expense codes"
        PER_PROFORMA = "per_proforma", "Show each proforma's codes on its line"

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="customers")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    zone = models.ForeignKey(
        "invoicing.Zone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
        help_text="Default tax zone for manual invoices.",
    )
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices, default=PaymentMethod.CHECK)
    payment_terms = models.CharField(max_length=12, choices=PaymentTerms.choices, default=PaymentTerms.NET)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    invoicing_schedule = models.CharField(max_length=16, choices=Schedule.choices, default=Schedule.MONTHLY)
    expense_code_mode = models.CharField(
        max_length=16, choices=ExpenseCodeMode.choices, default=ExpenseCodeMode.GROUPED
    )
    require_expense_code = models.BooleanField(
        default=False, help_text="A request cannot be submitted without an expense code."
    )
    allow_recurring_bookings = models.BooleanField(default=False)
    auto_invoice_on_booking = models.BooleanField(
        default=True, help_text="Generate an invoice as soon as the customer books in the portal."
    )
    auto_send = models.BooleanField(default=True, help_text="E-mail invoices when they are issued.")
    auto_charge = models.BooleanField(default=False, help_text="Charge the card on file when an invoice is issued.")
    sends_reminders = models.BooleanField(
        "payment reminders", default=True, help_text="E-mail reminders before and after an invoice's due date."
    )
    monthly_statement = models.BooleanField(
        default=False, help_text="E-mail a statement of account at the start of each month."
    )
    # The card on file: the payment gateway's token and what may be shown of the card; never its number.
    card_token = models.CharField(max_length=100, blank=True, help_text="The payment gateway's token for the card.")
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField("card ending", max_length=4, blank=True)
    discount_percent = models.DecimalField(
        "subscription discount %",
        max_digits=5,
        decimal_places=2,
        default=0,
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name"], name="customer_name_unique_per_partner"),
            # Seed 002: with recurring bookings off, the auto-invoice flag may be off only on "no payment" terms.
            models.CheckConstraint(
                condition=Q(allow_recurring_bookings=True)
                | Q(payment_terms="no_payment")
                | Q(auto_invoice_on_booking=True),
                name="customer_auto_invoice_required_unless_no_payment",
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lte=100),
                name="customer_discount_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(payment_terms__in=["net", "no_payment"]), name="customer_payment_terms_valid"
            ),
            models.CheckConstraint(
                condition=(Q(card_token="") & Q(card_last4="")) | (~Q(card_token="") & ~Q(card_last4="")),
                name="customer_card_token_and_last4_together",
            ),
        ]
        indexes = [models.Index(fields=["partner", "invoicing_schedule"])]

    def __str__(self):
        return self.name

    @property
    def charges_automatically(self) -> bool:
        """Issued invoices are charged to the card on file (payment by card, auto-charge on)."""
        return self.auto_charge and self.payment_method == self.PaymentMethod.CARD

    @property
    def terms_label(self) -> str:
        if self.payment_terms == self.PaymentTerms.NO_PAYMENT:
            return NO_PAYMENT_TERMS
        return "Due on receipt" if self.payment_terms_days == 0 else f"Net {self.payment_terms_days}"


class BillingContact(models.Model):
    """Who receives a customer's invoices. Exactly one default per customer (database-enforced)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    receives_invoices = models.BooleanField(default=False, help_text="Copied (cc) on invoice e-mails.")

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_default=True), name="one_default_contact_per_customer"
            ),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class Provider(models.Model):
    """Renders services; paid by the partner through AP invoices."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="providers")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name"], name="provider_name_unique_per_partner"),
        ]

    def __str__(self):
        return self.name


class StaffMembership(models.Model):
    """A partner's staff user and their billing role."""

    class Role(models.TextChoices):
        BILLING_ADMIN = "billing_admin", "Billing admin"
        BILLING_CLERK = "billing_clerk", "Billing clerk"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_membership")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.BILLING_CLERK)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(role__in=["billing_admin", "billing_clerk"]), name="staff_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} at {self.partner}"

    @property
    def is_billing_admin(self) -> bool:
        return self.role == self.Role.BILLING_ADMIN


class CustomerMembership(models.Model):
    """A customer's portal user; may be allowed to manage expense-code labels."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_membership")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="members")
    can_manage_expense_codes = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.user} at {self.customer}"
