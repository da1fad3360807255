"""Office forms for requests and services: a new request (its services as formset rows), a request's title and
description, a service added or changed with its extras, cancelling. The codes of a request or a service are
``office.forms.codes``; reservation shifts ``office.forms.shifts``.

As in the portal, the forms only read and bound what is typed; every rule is ``invoicing.booking``'s and
``invoicing.intake``'s, whose ``ValidationError`` names these forms' fields (``title``, ``service_type``,
``starts_at``, ``code_<label id>``...) so that a view puts each message next to its input.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.db.models import Q
from django.template.defaultfilters import filesizeformat

from customers.models import Customer, Provider
from expense_codes.forms import CodeFieldsMixin
from expense_codes.models import AppliedExpenseCode
from invoicing.booking import (
    ADDRESS_MAX,
    MAX_SERVICES,
    NOTES_MAX,
    TITLE_MAX,
    ExtraInput,
    ServiceInput,
)
from invoicing.form_fields import country_default, country_field, coupon_field, postal_code_field, region_field
from invoicing.intake import REASON_MAX
from invoicing.models import ExtraOffer, Service, ServiceExtra, ServiceType, Zone
from invoicing.request_codes import request_labels
from invoicing.templatetags.money import qty, rate
from invoicing.uploads import max_upload_bytes
from octoo_billing.forms import BootstrapForm, MultipleFileField, QuantityField, RateField

from .codes import OtherCodesMixin

EXTRA_DESCRIPTION_MAX = ServiceExtra._meta.get_field("description").max_length
MAX_EXTRAS = 50
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def datetime_field(label: str, required_message: str) -> forms.DateTimeField:
    """A date-and-time input (the browser's ``datetime-local``), with plain messages."""
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        error_messages={"required": required_message, "invalid": "Enter a date and time like 2026-03-31 09:30."},
    )


# --- a new request ----------------------------------------------------------------------------------------------


class RequestForm(CodeFieldsMixin, OtherCodesMixin, BootstrapForm):
    """A request entered by staff: for which customer, what it is, its codes and supporting documents (its services
    are the rows of ``service_formset``)."""

    customer = forms.ModelChoiceField(
        label="Customer",
        queryset=Customer.objects.none(),
        widget=forms.HiddenInput,  # chosen first (invoicing.forms.CustomerPickForm), which reloads with ?customer=ID
        error_messages={
            "required": "Choose the customer first.",
            "invalid_choice": "Choose one of your active customers.",
        },
    )
    title = forms.CharField(
        label="Title",
        max_length=TITLE_MAX,
        required=False,
        help_text="What the request is for, e.g. “Deposition Smith v. Jones”. Left empty, the first service's name.",
    )
    description = forms.CharField(
        label="Details", max_length=NOTES_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    documents = MultipleFileField(label="Supporting documents", required=False)
    coupon = coupon_field("Checked and counted when the request is saved; its discount follows on the services' lines.")

    def __init__(self, *args, partner, customer: Customer | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["customer"].queryset = Customer.objects.filter(partner=partner, is_active=True)
        self.fields["documents"].help_text = (
            f"PDF, PNG or JPG, up to {filesizeformat(max_upload_bytes())} each; choose several at once. They go out "
            "with the request's invoices."
        )
        self.other_defaults: list[AppliedExpenseCode] = []
        if customer is None:
            self.code_fields_add([], {})
        else:
            self.fields["customer"].initial = customer.pk
            labels = request_labels(customer)
            self.code_fields_add(labels, {label.pk: label.defaults for label in labels}, defaults=True)
            self.other_defaults = list(
                AppliedExpenseCode.objects.filter(default_for=customer)
                .exclude(label_id__in=[label.pk for label in labels])
                .order_by("label_name", "value")
            )
        self.other_codes_add()

    def clean(self):
        cleaned = super().clean()
        self.other_codes_check()
        return cleaned

    def submission(self) -> dict:
        """The keyword arguments of ``request_submit`` (besides customer, user, source and services)."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data["description"],
            "codes": [*self.code_pairs(), *self.other_pairs()],
            "documents": data["documents"],
            "coupon_code": data["coupon"],
        }


class RequestEditForm(BootstrapForm):
    title = forms.CharField(label="Title", max_length=TITLE_MAX, error_messages={"required": "Say what it is for."})
    description = forms.CharField(
        label="Details", max_length=NOTES_MAX, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


class CancelForm(BootstrapForm):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the history.",
    )


# --- a service ----------------------------------------------------------------------------------------------------


class ServiceForm(BootstrapForm):
    """A service's type, provider, times, place, notes, and the partner's offered extras as quantities (typed extras
    and those already on a service: ``extra_formset``)."""

    service_type = forms.ModelChoiceField(
        label="Service",
        queryset=ServiceType.objects.none(),
        empty_label="Choose a service",
        error_messages={"required": "Choose the service.", "invalid_choice": "Choose one of the services offered."},
    )
    provider = forms.ModelChoiceField(
        label="Provider",
        queryset=Provider.objects.none(),
        required=False,
        empty_label="Not assigned yet",
        error_messages={"invalid_choice": "Choose one of your providers."},
    )
    starts_at = datetime_field("Starts", "Enter when the service starts.")
    ends_at = datetime_field("Ends", "Enter when the service ends.")
    address = forms.CharField(
        label="Address or location", max_length=ADDRESS_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # The tax zone is found from these (invoicing.zones); ``zone`` overrides it.
    country = country_field()
    region = region_field()
    postal_code = postal_code_field()
    zone = forms.ModelChoiceField(
        label="Zone (override)",
        queryset=Zone.objects.none(),
        required=False,
        error_messages={"invalid_choice": "Choose one of your tax zones."},
    )
    notes = forms.CharField(
        label="Notes for the provider", max_length=NOTES_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, partner, customer: Customer | None, offers=(), service: Service | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = partner.currency
        self.fields["service_type"].queryset = ServiceType.objects.filter(partner=partner).order_by("name")
        active = Q(is_active=True) | Q(pk=service.provider_id) if service is not None else Q(is_active=True)
        self.fields["provider"].queryset = Provider.objects.filter(active, partner=partner).order_by("name")
        zone = self.fields["zone"]
        zone.queryset = Zone.objects.filter(partner=partner).order_by("name")
        zone.label_from_instance = lambda z: z.name
        usual = customer.zone.name if customer is not None and customer.zone_id else "none"
        zone.empty_label = "From the address"
        zone.help_text = f"Leave empty to use the zone of the address (if none matches: the customer's, {usual})."
        country_default(self, partner)
        self.offers = list(offers)
        for offer in self.offers:
            field = QuantityField(
                label=offer.name,
                required=False,
                help_text=f"{rate(offer.bill_rate_units, self.currency)} each. Empty for none.",
            )
            self._style(field)
            self.fields[self.offer_field_name(offer)] = field

    @staticmethod
    def offer_field_name(offer: ExtraOffer) -> str:
        return f"offer_{offer.pk}"

    def offer_bound_fields(self):
        return [self[self.offer_field_name(offer)] for offer in self.offers]

    def offer_extras(self) -> list[ExtraInput]:
        data = self.cleaned_data
        return [
            ExtraInput(offer=offer, quantity=data[self.offer_field_name(offer)])
            for offer in self.offers
            if data.get(self.offer_field_name(offer))
        ]

    def service_input(self, *, extras=(), codes=()) -> ServiceInput:
        """What was typed, as ``invoicing.booking`` and ``invoicing.intake`` take it (the offered extras first, then
        ``extras``)."""
        data = self.cleaned_data
        return ServiceInput(
            service_type=data.get("service_type"),
            starts_at=data.get("starts_at"),
            ends_at=data.get("ends_at"),
            address=data.get("address") or "",
            country=data.get("country") or "",
            region=data.get("region") or "",
            postal_code=data.get("postal_code") or "",
            zone=data.get("zone"),
            provider=data.get("provider"),
            notes=data.get("notes") or "",
            extras=[*self.offer_extras(), *extras],
            codes=list(codes),
        )

    @staticmethod
    def initial_of(service: Service) -> dict:
        return {
            "service_type": service.service_type_id,
            "provider": service.provider_id,
            "starts_at": service.starts_at,
            "ends_at": service.ends_at,
            "address": service.address,
            "country": service.country,
            "region": service.region,
            "postal_code": service.postal_code,
            # An override stays one (as does a zone stored before zones were found from addresses); a zone found
            # from the address or the customer is found again on save.
            "zone": service.zone_id if service.zone_source in (Service.ZoneSource.CHOSEN, "") else None,
            "notes": service.notes,
        }


class BaseServiceFormSet(forms.BaseFormSet):
    """The services of a new request: one row at least; rows added and left empty are skipped."""

    default_error_messages = {
        "too_few_forms": "Add at least one service.",
        "too_many_forms": f"A request has at most {MAX_SERVICES} services: enter more as another request.",
    }

    def kept_forms(self) -> list[ServiceForm]:
        kept = []
        for index, form in enumerate(self.forms):
            if self.can_delete and self._should_delete_form(form):
                continue
            if index >= self.min_num and not form.has_changed():
                continue
            kept.append(form)
        return kept


def service_formset():
    return forms.formset_factory(
        ServiceForm,
        formset=BaseServiceFormSet,
        extra=0,
        min_num=1,
        validate_min=True,
        max_num=MAX_SERVICES,
        absolute_max=MAX_SERVICES,
        validate_max=True,
        can_delete=True,
    )


class ExtraForm(BootstrapForm):
    """An extra on a service: one already there from an offer (only its quantity changes), or one typed by staff
    with its description and rates."""

    offer = forms.ModelChoiceField(queryset=ExtraOffer.objects.none(), required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(label="Kind", choices=ServiceExtra.Kind.choices, initial=ServiceExtra.Kind.GENERAL)
    description = forms.CharField(label="Description", max_length=EXTRA_DESCRIPTION_MAX, required=False)
    quantity = QuantityField(label="Quantity", required=False)
    bill_rate = RateField(label="Bill rate", required=False)
    pay_rate = RateField(label="Pay rate", required=False)

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = ExtraOffer.objects.filter(partner=partner)
        self.fields["bill_rate"].currency = self.fields["pay_rate"].currency = partner.currency

    @property
    def from_offer(self) -> bool:
        return bool(self.initial.get("offer"))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("quantity") is None and not self.errors:
            self.add_error("quantity", "Enter a quantity, or remove the extra.")
        if cleaned.get("offer") is None and not self.errors:
            if not (cleaned.get("description") or "").strip():
                self.add_error("description", "Describe the extra.")
            if cleaned.get("bill_rate") is None:
                self.add_error("bill_rate", "Enter what the customer is charged per unit (0 for nothing).")
        return cleaned

    def extra_input(self) -> ExtraInput:
        data = self.cleaned_data
        if data.get("offer") is not None:
            return ExtraInput(offer=data["offer"], quantity=data["quantity"])
        return ExtraInput(
            kind=data["kind"],
            description=data["description"].strip(),
            quantity=data["quantity"],
            bill_rate_units=data["bill_rate"],
            pay_rate_units=data["pay_rate"] or Decimal(0),
        )

    @staticmethod
    def initial_of(extra: ServiceExtra) -> dict:
        return {
            "offer": extra.offer_id,
            "kind": extra.kind,
            "description": extra.description,
            "quantity": qty(extra.quantity),
            "bill_rate": extra.bill_rate_units,
            "pay_rate": extra.pay_rate_units,
        }


class BaseExtraFormSet(forms.BaseFormSet):
    default_error_messages = {"too_many_forms": f"A service has at most {MAX_EXTRAS} extras."}

    def extras(self) -> list[ExtraInput]:
        """The extras to keep: every row not removed, and the empty rows that were filled in."""
        kept = []
        for index, form in enumerate(self.forms):
            if self._should_delete_form(form):
                continue
            if index >= self.initial_form_count() and not form.has_changed():
                continue
            kept.append(form.extra_input())
        return kept


def extra_formset(*, extra: int = 2):
    return forms.formset_factory(
        ExtraForm,
        formset=BaseExtraFormSet,
        extra=extra,
        can_delete=True,
        max_num=MAX_EXTRAS,
        absolute_max=MAX_EXTRAS,
        validate_max=True,
    )
