"""Pricing tables: zones (tax and price rule), service types, pay schedules, rates, policies, coupons."""

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce


class PaySchedule(models.TextChoices):
    WEEKDAY = "weekday", "Weekday"
    WEEKNIGHT = "weeknight", "Weeknight"
    WEEKEND = "weekend", "Weekend"
    HOLIDAY = "holiday", "Holiday"


class Zone(models.Model):
    """A service area: its tax rate and its price rule (a multiplier and a flat surcharge per service)."""

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="zones")
    name = models.CharField(max_length=100)
    tax_rate = models.DecimalField("tax rate %", max_digits=6, decimal_places=3, default=0)
    price_multiplier = models.DecimalField(max_digits=6, decimal_places=4, default=1)
    surcharge_units = models.BigIntegerField(default=0, help_text="Flat amount in cents added per service.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name"], name="zone_name_unique_per_partner"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=100), name="zone_tax_rate_range"),
            models.CheckConstraint(condition=Q(price_multiplier__gt=0), name="zone_multiplier_positive"),
            models.CheckConstraint(condition=Q(surcharge_units__gte=0), name="zone_surcharge_not_negative"),
        ]

    def __str__(self):
        return f"{self.name} ({self.tax_rate.normalize():f}%)"


class ZoneArea(models.Model):
    """Where a zone applies: a country, optionally one of its regions (state, province), optionally postal codes
    matching a pattern (``10001``, ``100*``). A service's address is matched against every area of its partner;
    the most specific match wins (``invoicing.zones``)."""

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="areas")
    country = models.CharField(max_length=2, help_text="ISO country code, e.g. US.")
    region = models.CharField(max_length=60, blank=True, help_text="State or province code, e.g. NY; empty: all.")
    postal_pattern = models.CharField(
        max_length=20, blank=True, help_text="A postal code, or its start followed by * (100*); empty: all."
    )

    class Meta:
        ordering = ["country", "region", "postal_pattern"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "country", "region", "postal_pattern"], name="zone_area_unique"),
            models.CheckConstraint(condition=~Q(country=""), name="zone_area_country_required"),
        ]

    def __str__(self):
        return " ".join(part for part in (self.country, self.region, self.postal_pattern) if part)


class ServiceType(models.Model):
    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="service_types")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["partner", "code"], name="service_type_code_unique")]

    def __str__(self):
        return self.name


class Rate(models.Model):
    """A price per unit for a slip type (and pay schedule), by partner, optionally per customer or provider.

    ``bill_rate_units`` is what the customer is charged, ``pay_rate_units`` what the provider earns,
    both in minor units per unit of quantity (Decimal, so 65.5 cents per mile is exact). A row with a
    customer overrides the bill side for that customer, one with a provider the pay side for that provider.
    """

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="rates")
    service_type = models.ForeignKey(ServiceType, on_delete=models.CASCADE, null=True, blank=True)
    slip_type = models.CharField(max_length=20)
    pay_schedule = models.CharField(max_length=10, choices=PaySchedule.choices, blank=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, null=True, blank=True)
    provider = models.ForeignKey("customers.Provider", on_delete=models.CASCADE, null=True, blank=True)
    bill_rate_units = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    pay_rate_units = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(customer__isnull=True) | Q(provider__isnull=True), name="rate_customer_or_provider"
            ),
            models.CheckConstraint(
                condition=Q(bill_rate_units__isnull=True) | Q(bill_rate_units__gte=0), name="rate_bill_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(pay_rate_units__isnull=True) | Q(pay_rate_units__gte=0), name="rate_pay_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(bill_rate_units__isnull=False) | Q(pay_rate_units__isnull=False), name="rate_has_a_side"
            ),
            # One rate per scope; Coalesce makes "no service type/customer/provider" count as one value.
            models.UniqueConstraint(
                "partner",
                Coalesce("service_type", Value(0)),
                "slip_type",
                "pay_schedule",
                Coalesce("customer", Value(0)),
                Coalesce("provider", Value(0)),
                name="rate_unique_per_scope",
            ),
        ]
        indexes = [models.Index(fields=["partner", "slip_type"])]

    def __str__(self):
        scope = self.customer or self.provider or "default"
        return f"{self.slip_type}/{self.pay_schedule or '-'} ({scope})"


class TimePolicy(models.Model):
    """An agreement's time-based policy (seed 003): minimum billable hours, rounding of worked time and the
    multipliers of after-hours (weeknight), weekend and holiday time. A customer's policy prices the bill side of
    its services, a provider's the pay side; a policy with neither is the partner's default for either side."""

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="time_policies")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, null=True, blank=True)
    provider = models.ForeignKey("customers.Provider", on_delete=models.CASCADE, null=True, blank=True)
    minimum_hours = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    rounding_minutes = models.PositiveSmallIntegerField(default=0, help_text="Round worked time up to this step.")
    after_hours_multiplier = models.DecimalField(
        max_digits=5, decimal_places=3, default=1, help_text="Applied to the rate of weeknight time."
    )
    weekend_multiplier = models.DecimalField(
        max_digits=5, decimal_places=3, default=1, help_text="Applied to the rate of weekend time."
    )
    holiday_multiplier = models.DecimalField(
        max_digits=5, decimal_places=3, default=1, help_text="Applied to the rate of holiday time."
    )

    class Meta:
        verbose_name_plural = "time policies"
        constraints = [
            models.CheckConstraint(condition=Q(minimum_hours__gte=0), name="time_policy_minimum_not_negative"),
            models.CheckConstraint(
                condition=Q(customer__isnull=True) | Q(provider__isnull=True), name="time_policy_one_side"
            ),
            models.CheckConstraint(
                condition=Q(after_hours_multiplier__gt=0) & Q(weekend_multiplier__gt=0) & Q(holiday_multiplier__gt=0),
                name="time_policy_multipliers_positive",
            ),
            models.UniqueConstraint(
                "partner",
                Coalesce("customer", Value(0)),
                Coalesce("provider", Value(0)),
                name="time_policy_unique_per_scope",
            ),
        ]

    def __str__(self):
        scope = self.customer or self.provider or "default"
        return f"min {self.minimum_hours} h, round {self.rounding_minutes} min ({scope})"

    def multiplier(self, schedule: str):
        """The multiplier of time worked under ``schedule`` (a PaySchedule value)."""
        return {
            PaySchedule.WEEKNIGHT: self.after_hours_multiplier,
            PaySchedule.WEEKEND: self.weekend_multiplier,
            PaySchedule.HOLIDAY: self.holiday_multiplier,
        }.get(schedule, 1)


class Holiday(models.Model):
    """One of the partner's own holidays, on top of the public holidays of its country and region (``holidays``
    package, ``Partner.country``/``region``): time worked on it is priced at the holiday rate."""

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["partner", "date"], name="holiday_unique_per_day")]

    def __str__(self):
        return f"{self.date} {self.name}"


class Coupon(models.Model):
    """A discount code (seed 001: "discounts (coupons, subscription) are applied"): a percentage or a fixed amount
    off the lines it applies to, shown as its own discount line before tax (``invoicing.coupons``).

    With no service types and no extras chosen it applies to every discountable line; otherwise to the time of
    services of the chosen types and to the chosen extras. ``redeemed_count`` is counted under a row lock, and the
    database refuses a count above ``max_redemptions``."""

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(max_length=40)
    description = models.CharField(max_length=200, blank=True)
    percent_off = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount_off_units = models.BigIntegerField(null=True, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    service_types = models.ManyToManyField(ServiceType, blank=True, related_name="coupons")
    extra_offers = models.ManyToManyField("invoicing.ExtraOffer", blank=True, related_name="coupons")
    max_redemptions = models.PositiveIntegerField(null=True, blank=True, help_text="In all; empty: no limit.")
    max_per_customer = models.PositiveIntegerField(null=True, blank=True, help_text="Per customer; empty: no limit.")
    redeemed_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "code"], name="coupon_code_unique"),
            models.CheckConstraint(
                condition=Q(max_redemptions__isnull=True) | Q(redeemed_count__lte=F("max_redemptions")),
                name="coupon_redemptions_within_limit",
            ),
            models.CheckConstraint(
                condition=(Q(percent_off__isnull=False) & Q(amount_off_units__isnull=True))
                | (Q(percent_off__isnull=True) & Q(amount_off_units__isnull=False)),
                name="coupon_percent_xor_amount",
            ),
            models.CheckConstraint(
                condition=Q(percent_off__isnull=True) | (Q(percent_off__gt=0) & Q(percent_off__lte=100)),
                name="coupon_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(amount_off_units__isnull=True) | Q(amount_off_units__gt=0), name="coupon_amount_positive"
            ),
        ]

    def __str__(self):
        return self.code


class CouponRedemption(models.Model):
    """One use of a coupon: on a booking (request) or on a manual invoice."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="coupon_redemptions")
    request = models.ForeignKey(
        "invoicing.ServiceRequest", on_delete=models.CASCADE, null=True, blank=True, related_name="coupon_redemptions"
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.CASCADE, null=True, blank=True, related_name="coupon_redemptions"
    )
    redeemed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-redeemed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(request__isnull=False) | Q(invoice__isnull=False), name="coupon_redemption_has_document"
            ),
            models.UniqueConstraint(
                fields=["coupon", "request"], condition=Q(request__isnull=False), name="coupon_once_per_request"
            ),
            models.UniqueConstraint(
                fields=["coupon", "invoice"], condition=Q(invoice__isnull=False), name="coupon_once_per_invoice"
            ),
        ]
        indexes = [models.Index(fields=["coupon", "customer"])]

    def __str__(self):
        return f"{self.coupon} for {self.customer}"


class ExtraOffer(models.Model):
    """An extra the partner offers when a service is booked (a product, a reimbursement, a fee), priced per
    unit. Booking one copies its name and rates onto the service, so later price changes leave bookings alone."""

    class Kind(models.TextChoices):
        PRODUCT = "product", "Product"
        REIMBURSEMENT = "reimbursement", "Reimbursement"
        GENERAL = "general", "Other"

    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="extra_offers")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PRODUCT)
    bill_rate_units = models.DecimalField(max_digits=14, decimal_places=4, help_text="Charged per unit (cents).")
    pay_rate_units = models.DecimalField(
        max_digits=14, decimal_places=4, default=0, help_text="Paid to the provider per unit (cents)."
    )
    max_quantity = models.PositiveIntegerField(default=10, help_text="The most a customer may book at once.")
    is_active = models.BooleanField(default=True, help_text="Offered on new bookings.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name"], name="extra_offer_name_unique"),
            models.CheckConstraint(
                condition=Q(bill_rate_units__gte=0) & Q(pay_rate_units__gte=0), name="extra_offer_rates_not_negative"
            ),
            models.CheckConstraint(condition=Q(max_quantity__gte=1), name="extra_offer_max_quantity_positive"),
        ]

    def __str__(self):
        return self.name
