"""Office forms for reservation shifts: a shift's name and times, and the shift a service is on."""

from __future__ import annotations

from django import forms

from invoicing.models import Shift
from invoicing.shifts import SHIFT_NAME_MAX
from octoo_billing.forms import BootstrapForm

from .intake import datetime_field


class ShiftForm(BootstrapForm):
    """A shift's name and times (``invoicing.shifts.shift_create``/``shift_update`` check how long it lasts and that
    it holds its services)."""

    name = forms.CharField(
        label="Name",
        max_length=SHIFT_NAME_MAX,
        error_messages={"required": "Name the shift."},
        help_text="What staff know it by, e.g. “Night shift, Courtroom 4”.",
    )
    starts_at = datetime_field("Starts", "Enter when the shift starts.")
    ends_at = datetime_field("Ends", "Enter when the shift ends.")

    @staticmethod
    def initial_of(shift: Shift) -> dict:
        return {"name": shift.name, "starts_at": shift.starts_at, "ends_at": shift.ends_at}


class ServiceShiftForm(forms.Form):
    """The shift to put a service on (one of the partner's: another's is not a choice), or ``take_off``."""

    shift = forms.ModelChoiceField(
        queryset=Shift.objects.none(),
        required=False,
        error_messages={"invalid_choice": "Choose one of your shifts."},
    )
    take_off = forms.BooleanField(required=False)

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shift"].queryset = Shift.objects.filter(partner=partner)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("take_off") and cleaned.get("shift") is None and not self.errors:
            self.add_error("shift", "Choose the shift to put it on.")
        return cleaned

    def chosen(self) -> Shift | None:
        """The shift to put it on, or None to take it off its shift."""
        return None if self.cleaned_data["take_off"] else self.cleaned_data["shift"]
