"""Portal forms for requests and bookings: booking a service, declining a quote, and the request list's filters
(changing the codes of a request or of one of its services: ``expense_codes.forms.CodesForm``, re-exported here).

The forms only read and bound what is typed; every rule (whose service type, zone or label it is, required and
auto-applied codes, the booking window, the documents' content) is ``invoicing.booking``'s, which refuses with a
``ValidationError`` keyed by these forms' field names (``service_type``, ``starts_at``, ``ends_at``, ``code_<label
id>``...) so that a view can put each message on its field.
"""

from __future__ import annotations

import datetime

from django import forms
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from expense_codes.forms import CodeFieldsMixin, CodesForm
from expense_codes.models import AppliedExpenseCode
from invoicing.booking import (
    ADDRESS_MAX,
    BOOKING_HORIZON_DAYS,
    NOTES_MAX,
    TITLE_MAX,
    ExtraInput,
    ServiceInput,
)
from invoicing.form_fields import country_default, country_field, coupon_field, postal_code_field, region_field
from invoicing.models import ExtraOffer, ServiceRequest, ServiceType, Zone
from invoicing.request_codes import request_labels
from invoicing.templatetags.money import rate
from invoicing.uploads import max_upload_bytes
from octoo_billing import locale as formats
from octoo_billing.forms import BootstrapForm, MultipleFileField

SEARCH_MAX = 100
DECLINE_REASON_MAX = 500
EARLIEST_FILTER_DATE = datetime.date(2000, 1, 1)

# The code inputs, the codes form and the several-files field are shared with the office (expense_codes.forms,
# octoo_billing.forms); ``CodesForm`` is imported from here by the portal's views.
__all__ = ["BookingForm", "CodesForm", "QuoteDeclineForm", "RequestFilterForm"]


# --- booking a service ---------------------------------------------------------------------------------------


class BookingForm(CodeFieldsMixin, BootstrapForm):
    """Book one service of the partner's: when, where, extras, expense codes and supporting documents."""

    service_type = forms.ModelChoiceField(
        label="Service",
        queryset=ServiceType.objects.none(),
        empty_label="Choose a service",
        error_messages={
            "required": "Choose the service to book.",
            "invalid_choice": "Choose one of the services offered.",
        },
    )
    date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Enter the date of the service.", "invalid": "Enter a date like 2026-03-31."},
    )
    starts_at = forms.TimeField(
        label="Start time",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": "Enter when the service starts.", "invalid": "Enter a time like 09:30."},
    )
    ends_at = forms.TimeField(
        label="End time",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": "Enter when the service ends.", "invalid": "Enter a time like 11:30."},
    )
    address = forms.CharField(
        label="Address or location",
        max_length=ADDRESS_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Where the service takes place, or how to join it if it is remote.",
        error_messages={"required": "Enter where the service takes place."},
    )
    # The tax zone is found from these (invoicing.zones).
    country = country_field()
    region = region_field()
    postal_code = postal_code_field()
    zone = forms.ModelChoiceField(
        label="Area",
        queryset=Zone.objects.none(),
        required=False,
        help_text="Found from the address unless you choose one.",
        error_messages={"invalid_choice": "Choose one of the areas listed."},
    )
    title = forms.CharField(
        label="What is it for",
        max_length=TITLE_MAX,
        required=False,
        help_text="A name for the booking, e.g. “Deposition Smith v. Jones”. Left empty, the service's name is used.",
    )
    notes = forms.CharField(
        label="Notes for the provider",
        max_length=NOTES_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    documents = MultipleFileField(label="Supporting documents", required=False)
    coupon = coupon_field("A discount code, if you have one.")

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        partner_id = customer.partner_id
        self.currency = customer.partner.currency
        self.fields["service_type"].queryset = ServiceType.objects.filter(partner_id=partner_id).order_by("name")
        zone = self.fields["zone"]
        zone.queryset = Zone.objects.filter(partner_id=partner_id).order_by("name")
        zone.empty_label = f"Your usual area ({customer.zone.name})" if customer.zone_id else "Your usual area"
        country_default(self, customer.partner)
        zone.label_from_instance = lambda z: z.name
        today = timezone.localdate()
        self.earliest = today - datetime.timedelta(days=1)  # a day of slack for time zones; the domain decides
        self.latest = today + datetime.timedelta(days=BOOKING_HORIZON_DAYS + 1)
        self.fields["date"].widget.attrs.update({"min": today.isoformat(), "max": self.latest.isoformat()})
        self.fields[
            "documents"
        ].help_text = f"PDF, PNG or JPG, up to {filesizeformat(max_upload_bytes())} each. You can choose several files."
        self.offers = list(ExtraOffer.objects.filter(partner_id=partner_id, is_active=True).order_by("name"))
        for offer in self.offers:
            field = forms.IntegerField(
                label=offer.name,
                required=False,
                min_value=0,
                max_value=offer.max_quantity,
                initial=0,
                help_text=f"{rate(offer.bill_rate_units, self.currency)} each · up to {offer.max_quantity}",
                error_messages={
                    "invalid": "Enter a whole number of items (0 for none).",
                    "min_value": "Enter 0 or more.",
                    "max_value": f"At most {offer.max_quantity} × {offer.name} can be booked at once.",
                },
            )
            field.widget.attrs.update({"inputmode": "numeric"})
            self._style(field)
            self.fields[self.extra_field_name(offer)] = field
        labels = request_labels(customer)
        self.code_fields_add(labels, {label.pk: label.defaults for label in labels}, defaults=True)
        labelled = {label.pk for label in labels}
        self.other_defaults = list(
            AppliedExpenseCode.objects.filter(default_for=customer)
            .exclude(label_id__in=labelled)
            .order_by("label_name", "value")
        )

    @staticmethod
    def extra_field_name(offer: ExtraOffer) -> str:
        return f"extra_{offer.pk}"

    def extra_bound_fields(self):
        return [self[self.extra_field_name(offer)] for offer in self.offers]

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date < self.earliest:
            raise forms.ValidationError("Choose a date from today on: a booking cannot be in the past.")
        if date > self.latest:
            raise forms.ValidationError("Bookings can be made up to two years ahead.")
        return date

    def _at(self, time: datetime.time | None) -> datetime.datetime | None:
        date = self.cleaned_data.get("date")
        if date is None or time is None:
            return None
        return timezone.make_aware(datetime.datetime.combine(date, time))

    def submission(self) -> dict:
        """The keyword arguments of ``request_submit`` (besides customer, user and source) for what was typed."""
        data = self.cleaned_data
        extras = [
            ExtraInput(offer=offer, quantity=data[self.extra_field_name(offer)])
            for offer in self.offers
            if data.get(self.extra_field_name(offer))
        ]
        service = ServiceInput(
            service_type=data["service_type"],
            starts_at=self._at(data["starts_at"]),
            ends_at=self._at(data["ends_at"]),
            address=data["address"],
            country=data["country"],
            region=data["region"],
            postal_code=data["postal_code"],
            zone=data["zone"],
            notes=data["notes"],
            extras=extras,
        )
        return {
            "title": data["title"],
            "services": [service],
            "codes": self.code_pairs(),
            "documents": data["documents"],
            "coupon_code": data["coupon"],
        }


# --- a quote ---------------------------------------------------------------------------------------------------


class QuoteDeclineForm(BootstrapForm):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=DECLINE_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# --- the request list's filters -------------------------------------------------------------------------------

STATUS_FILTERS = [
    (ServiceRequest.Status.SUBMITTED, "Submitted"),
    (ServiceRequest.Status.CONFIRMED, "Confirmed"),
    (ServiceRequest.Status.CANCELLED, "Cancelled"),
]


def _day(date: datetime.date) -> str:
    """A date in a message, as the partner's locale writes it: "Nov 3, 2026" (en_US), "3 nov. 2026" (fr_FR)."""
    return formats.format_date(date)


class RequestFilterForm(BootstrapForm):
    """Status, a search in titles and codes, and a range of creation dates. A filter that cannot be read is
    shown with its error and left out."""

    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *STATUS_FILTERS])
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=SEARCH_MAX,
        widget=forms.SearchInput(attrs={"placeholder": "Title, R-number or code"}),
    )
    created_from = forms.DateField(
        label="Created from",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date like 2026-03-01."},
    )
    created_to = forms.DateField(
        label="Created to",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date like 2026-03-31."},
    )

    def _bounded(self, name: str):
        date = self.cleaned_data.get(name)
        latest = timezone.localdate() + datetime.timedelta(days=366)
        if date is not None and not EARLIEST_FILTER_DATE <= date <= latest:
            raise forms.ValidationError(f"Enter a date between {_day(EARLIEST_FILTER_DATE)} and {_day(latest)}.")
        return date

    def clean_created_from(self):
        return self._bounded("created_from")

    def clean_created_to(self):
        return self._bounded("created_to")

    def clean(self):
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and end < start:
            self.add_error("created_to", "Choose a date on or after the “from” date.")
        return data

    def values(self) -> dict:
        """The filters that could be read (all empty when the form is not bound)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}
