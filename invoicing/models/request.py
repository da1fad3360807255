"""Requests (bookings), the services rendered for them, their extras, quotes and supporting documents."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .pricing import ExtraOffer, PaySchedule  # noqa: F401  (PaySchedule re-exported for forms)


class ServiceRequest(models.Model):
    """A booking by a customer. Named so it never shadows Django's ``request``."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"

    class Repeat(models.TextChoices):
        WEEKLY = "weekly", "Every week"
        MONTHLY = "monthly", "Every month"

    class RecurringInvoicing(models.TextChoices):
        EACH = "each", "An invoice for each occurrence"
        MONTHLY = "monthly", "One invoice per month"

    class Source(models.TextChoices):
        OFFICE = "office", "Office"
        PORTAL = "portal", "Customer portal"
        IMPORT = "import", "Imported"

    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="requests")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="requests")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.OFFICE)
    is_recurring = models.BooleanField(default=False)
    # A recurring booking (seed 002): its services are the occurrences, each its own service.
    repeat = models.CharField(max_length=8, choices=Repeat.choices, blank=True)
    repeat_until = models.DateField(null=True, blank=True, help_text="The last day an occurrence may start.")
    repeat_count = models.PositiveSmallIntegerField(null=True, blank=True, help_text="How many occurrences.")
    recurring_invoicing = models.CharField(
        max_length=12, choices=RecurringInvoicing.choices, blank=True, help_text="How a recurring booking is invoiced."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["partner", "customer", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(repeat="") | Q(is_recurring=True), name="request_repeat_only_when_recurring"
            ),
            models.CheckConstraint(
                condition=Q(repeat="") | Q(repeat_until__isnull=False) | Q(repeat_count__isnull=False),
                name="request_repeat_has_an_end",
            ),
            models.CheckConstraint(
                condition=Q(repeat_count__isnull=True) | Q(repeat_count__gte=1), name="request_repeat_count_positive"
            ),
        ]

    def __str__(self):
        return f"R-{self.pk} {self.title}"


class Shift(models.Model):
    """A reservation shift: several services worked together. Proformas follow once it is finished."""

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="shifts")
    name = models.CharField(max_length=100)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start")]

    def __str__(self):
        return self.name


class Service(models.Model):
    """A unit of work rendered by a provider for a request."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class ZoneSource(models.TextChoices):
        ADDRESS = "address", "From the service address"
        CUSTOMER = "customer", "The customer's default zone"
        CHOSEN = "chosen", "Chosen for the service"

    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="services")
    request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="services")
    provider = models.ForeignKey(
        "customers.Provider", on_delete=models.PROTECT, null=True, blank=True, related_name="services"
    )
    service_type = models.ForeignKey("invoicing.ServiceType", on_delete=models.PROTECT, related_name="services")
    shift = models.ForeignKey(Shift, on_delete=models.SET_NULL, null=True, blank=True, related_name="services")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    address = models.TextField(blank=True)
    # The structured part of the address that tax zones are matched on (invoicing.zones).
    country = models.CharField(max_length=2, blank=True, help_text="ISO country code, e.g. US.")
    region = models.CharField(max_length=60, blank=True, help_text="State or province code, e.g. NY.")
    postal_code = models.CharField(max_length=20, blank=True)
    zone = models.ForeignKey("invoicing.Zone", on_delete=models.PROTECT, null=True, blank=True)
    zone_source = models.CharField(
        max_length=10, choices=ZoneSource.choices, blank=True, help_text="How the zone was found."
    )
    coupon = models.ForeignKey(
        "invoicing.Coupon", on_delete=models.PROTECT, null=True, blank=True, related_name="services"
    )
    occurrence = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Its place in a recurring booking (1 is the first)."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    outcome_published_at = models.DateTimeField(null=True, blank=True)
    # Recorded extras.
    mileage = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    tolls_units = models.BigIntegerField(default=0)
    prep_minutes = models.PositiveIntegerField(default=0)
    pricing_error = models.TextField(blank=True, help_text="Why a proforma could not be priced, if it could not.")
    notes = models.TextField(blank=True)
    # The scheduling system's id for the service (invoicing.imports): a file imported twice creates nothing twice.
    external_ref = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="service_ends_after_start"),
            models.UniqueConstraint(
                fields=["partner", "external_ref"],
                condition=~Q(external_ref=""),
                name="service_external_ref_unique",
            ),
            models.CheckConstraint(condition=Q(mileage__gte=0), name="service_mileage_not_negative"),
            models.CheckConstraint(condition=Q(tolls_units__gte=0), name="service_tolls_not_negative"),
        ]
        indexes = [
            models.Index(fields=["partner", "status", "ends_at"]),
            models.Index(fields=["partner", "-starts_at"]),
            # The few services whose pricing failed (the dashboard's "services without a price").
            models.Index(fields=["partner"], condition=~Q(pricing_error=""), name="service_unpriced_idx"),
        ]

    def __str__(self):
        return f"S-{self.pk} {self.service_type_id and self.service_type} {self.starts_at:%Y-%m-%d}"

    @property
    def hours(self):
        seconds = int((self.ends_at - self.starts_at).total_seconds())
        return (Decimal(seconds) / Decimal(3600)).quantize(Decimal("0.01"))


class ServiceExtra(models.Model):
    """A product, reimbursement or other extra recorded on a service (the seed's cart)."""

    Kind = ExtraOffer.Kind

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="extras")
    offer = models.ForeignKey(
        "invoicing.ExtraOffer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PRODUCT)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=12, decimal_places=4, default=1)
    bill_rate_units = models.DecimalField(max_digits=14, decimal_places=4)
    pay_rate_units = models.DecimalField(max_digits=14, decimal_places=4, default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="extra_quantity_positive"),
            models.CheckConstraint(
                condition=Q(bill_rate_units__gte=0) & Q(pay_rate_units__gte=0), name="extra_rates_not_negative"
            ),
        ]

    def __str__(self):
        return self.description


class Quote(models.Model):
    """The priced offer attached to a portal booking when the customer is not invoiced at once (seed 002)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        CONVERTED = "converted", "Converted to invoice"
        DECLINED = "declined", "Declined"

    request = models.OneToOneField(ServiceRequest, on_delete=models.CASCADE, related_name="quote")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    invoice = models.OneToOneField(
        "invoicing.Invoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="from_quote"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="converted") | Q(invoice__isnull=False), name="quote_converted_has_invoice"
            ),
        ]

    def __str__(self):
        return f"Quote for {self.request}"


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=12, decimal_places=4, default=1)
    unit_price_units = models.DecimalField(max_digits=14, decimal_places=4)
    tax_rate = models.DecimalField("tax rate %", max_digits=6, decimal_places=3, default=0)
    discount_units = models.BigIntegerField(default=0)
    slip_type = models.CharField(max_length=20, default="general", help_text="The invoice line it becomes.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="quote_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price_units__gte=0) | Q(slip_type="coupon"), name="quote_line_price_not_negative"
            ),
            models.CheckConstraint(condition=Q(discount_units__gte=0), name="quote_line_discount_not_negative"),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=100), name="quote_line_tax_rate_range"
            ),
        ]

    def __str__(self):
        return self.description


def supporting_document_path(instance, filename):
    return f"supporting/{instance.request.partner_id}/{instance.request_id}/{filename}"


class SupportingDocument(models.Model):
    """A financial document uploaded with a request (PDF, PNG, JPG); attached to its invoices' e-mails."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to=supporting_document_path)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=["application/pdf", "image/png", "image/jpeg"]),
                name="supporting_document_type_allowed",
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="supporting_document_not_empty"),
        ]

    def __str__(self):
        return self.name
