"""Portal forms for requests and bookings: booking a service, changing the expense codes of a request or of one of
its services, declining a quote, and the request list's filters.

The forms only read and bound what is typed; every rule (whose service type, zone or label it is, required and
auto-applied codes, the booking window, the documents' content) is ``invoicing.booking``'s, which refuses with a
``ValidationError`` keyed by these forms' field names (``service_type``, ``starts_at``, ``ends_at``, ``code_<label
id>``...) so that a view can put each message on its field.
"""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from invoicing.booking import (
    ADDRESS_MAX,
    BOOKING_HORIZON_DAYS,
    NOTES_MAX,
    TITLE_MAX,
    ExtraInput,
    ServiceInput,
    request_labels,
)
from invoicing.models import ExtraOffer, ServiceRequest, ServiceType, Zone
from invoicing.templatetags.money import rate
from invoicing.uploads import max_upload_bytes

CODES_INPUT_MAX = 1000  # several codes, separated by commas; each is bounded by the domain (VALUE_MAX)
SEARCH_MAX = 100
DECLINE_REASON_MAX = 500
FILE_NAME_MAX = 255
DOCUMENT_ACCEPT = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"
EARLIEST_FILTER_DATE = datetime.date(2000, 1, 1)


def codes_split(text: str) -> list[str]:
    """The codes typed in one label's input: several are separated by commas; blanks are dropped."""
    return [code for code in (" ".join(part.split()) for part in (text or "").split(",")) if code]


class BootstrapForm(forms.Form):
    """Bootstrap classes on every widget, and ``is-invalid`` on the fields with an error (the domain's too)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            self._style(field)

    @staticmethod
    def _style(field: forms.Field) -> None:
        widget = field.widget
        if isinstance(widget, forms.Select):
            css = "form-select"
        elif isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        else:
            css = "form-control"
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    @property
    def has_field_errors(self) -> bool:
        return any(name != NON_FIELD_ERRORS for name in self.errors)

    def mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
                widget.attrs["aria-invalid"] = "true"


class CodeField(forms.CharField):
    """The codes of one label; ``label_is_required`` shows the "Required" badge (the domain enforces it)."""

    def __init__(self, *, label_is_required: bool = False, **kwargs):
        self.label_is_required = label_is_required
        super().__init__(**kwargs)


class CodeFieldsMixin:
    """(For a ``BootstrapForm``.) One text input per active expense-code label, named ``code_<label id>`` as the
    domain names its errors.

    Only the signed-in customer's labels become fields: a ``code_<id>`` of anyone else's label in the POST is not
    a field, so it is never read."""

    labels: list[ExpenseCodeLabel]

    def code_fields_add(self, labels, values: dict[int, list[str]], *, defaults: bool = False) -> None:
        self.labels = list(labels)
        for label in self.labels:
            field = CodeField(
                label=label.name,
                label_is_required=label.is_required,
                required=False,  # the domain refuses a missing required code with a message naming the label
                max_length=CODES_INPUT_MAX,
                initial=", ".join(values.get(label.pk, [])),
                help_text=self._code_help(label, defaults=defaults),
            )
            field.widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
            if label.is_required and not (defaults and getattr(label, "defaults", None)):
                field.widget.attrs["required"] = True
            self._style(field)
            self.fields[self.code_field_name(label)] = field

    @staticmethod
    def code_field_name(label: ExpenseCodeLabel) -> str:
        return f"code_{label.pk}"

    @staticmethod
    def _code_help(label, *, defaults: bool) -> str:
        auto = getattr(label, "defaults", None) if defaults else None
        if auto:
            return f"Applied automatically to every request: {', '.join(auto)}. Separate several codes with commas."
        return "Separate several codes with commas."

    def code_pairs(self) -> list[tuple[ExpenseCodeLabel, str]]:
        """(label, value) pairs of what was typed, in label order."""
        pairs = []
        for label in self.labels:
            for value in codes_split(self.cleaned_data.get(self.code_field_name(label)) or ""):
                pairs.append((label, value))
        return pairs

    def code_bound_fields(self):
        return [self[self.code_field_name(label)] for label in self.labels]


# --- supporting documents: several files in one input (Django's "Uploading multiple files") -------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A list of uploaded files (possibly empty). Their content is checked by the domain, which names the file."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": DOCUMENT_ACCEPT}))
        kwargs.setdefault("allow_empty_file", True)  # refused by the domain, with the file's name
        kwargs.setdefault("max_length", FILE_NAME_MAX)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        clean_one = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        return [cleaned for cleaned in (clean_one(item, initial) for item in files if item) if cleaned]


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
    zone = forms.ModelChoiceField(
        label="Area",
        queryset=Zone.objects.none(),
        required=False,
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

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        partner_id = customer.partner_id
        self.currency = customer.partner.currency
        self.fields["service_type"].queryset = ServiceType.objects.filter(partner_id=partner_id).order_by("name")
        zone = self.fields["zone"]
        zone.queryset = Zone.objects.filter(partner_id=partner_id).order_by("name")
        zone.empty_label = f"Your usual area ({customer.zone.name})" if customer.zone_id else "Your usual area"
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
            zone=data["zone"],
            notes=data["notes"],
            extras=extras,
        )
        return {
            "title": data["title"],
            "services": [service],
            "codes": self.code_pairs(),
            "documents": data["documents"],
        }


# --- the codes of a request, or of one of its services --------------------------------------------------------


class CodesForm(CodeFieldsMixin, BootstrapForm):
    """One input per active label, holding the codes the request (or the service) carries now.

    Codes this form cannot show (on a label no longer in use, or a one-off label typed by staff) are listed
    beside it: one-off ones are kept as they are (``kept``); those of a label no longer in use are dropped when
    the form is saved (``dropped``), and the page says so."""

    def __init__(self, *args, customer, codes, **kwargs):
        super().__init__(*args, **kwargs)
        all_labels = list(ExpenseCodeLabel.objects.filter(customer=customer).order_by("name"))
        active = [label for label in all_labels if label.is_active]
        by_id = {label.pk: label for label in all_labels}
        by_name = {label.name.casefold(): label for label in all_labels}
        values: dict[int, list[str]] = {}
        self.kept: list[AppliedExpenseCode] = []
        self.dropped: list[AppliedExpenseCode] = []
        for code in codes:
            label = by_id.get(code.label_id) or by_name.get(code.label_name.casefold())
            if label is None:
                self.kept.append(code)
            elif label.is_active:
                values.setdefault(label.pk, []).append(code.value)
            else:
                self.dropped.append(code)
        self.code_fields_add(active, values)

    def codes(self) -> list[tuple]:
        """What the request (or service) carries once saved: the typed codes and the one-off ones kept."""
        return [*self.code_pairs(), *((code.label_name, code.value) for code in self.kept)]


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
    return f"{date:%b} {date.day}, {date.year}"


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
