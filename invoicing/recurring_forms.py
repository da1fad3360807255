"""The recurrence of a booking, as the portal's booking form and the office's new-request form show it: "Repeat",
"Until" or "Number of times", and "Invoicing". Offered only to a customer that allows recurring bookings
(``RecurrenceForm.for_customer`` is None otherwise, and nothing posted for it is read).

The form only reads what is typed; the rules are ``invoicing.recurring``'s, whose ``ValidationError`` names these
fields, so a view puts each refusal next to its input (``octoo_billing.forms.apply_errors(form, error,
recurrence_form)``).
"""

from __future__ import annotations

from django import forms

from octoo_billing.forms import BootstrapForm

from .models import ServiceRequest
from .recurring import MAX_OCCURRENCES


class RecurrenceForm(BootstrapForm):
    repeat = forms.ChoiceField(
        label="Repeat",
        required=False,
        choices=[("", "Does not repeat"), *ServiceRequest.Repeat.choices],
        error_messages={"invalid_choice": "Choose every week or every month."},
    )
    repeat_until = forms.DateField(
        label="Until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The last day it may take place.",
        error_messages={"invalid": "Enter a date like 2026-12-31."},
    )
    repeat_count = forms.IntegerField(
        label="Number of times",
        required=False,
        min_value=1,
        max_value=MAX_OCCURRENCES,
        help_text="Or how many times in all, the first one included.",
        error_messages={
            "invalid": "Enter a whole number of times.",
            "min_value": f"Enter a number of times from 1 to {MAX_OCCURRENCES}.",
            "max_value": f"Enter a number of times from 1 to {MAX_OCCURRENCES}.",
        },
    )
    recurring_invoicing = forms.ChoiceField(
        label="Invoicing",
        required=False,
        choices=ServiceRequest.RecurringInvoicing.choices,
        initial=ServiceRequest.RecurringInvoicing.EACH,
        error_messages={"invalid_choice": "Choose how the occurrences are invoiced."},
    )

    @classmethod
    def for_customer(cls, customer, data=None) -> RecurrenceForm | None:
        """The form for ``customer`` (bound to ``data`` when given), or None when it may not book recurring work."""
        if customer is None or not customer.allow_recurring_bookings:
            return None
        return cls(data)

    def recurrence(self) -> dict:
        """The keyword arguments of ``request_submit`` for what was typed (none when it does not repeat)."""
        data = self.cleaned_data
        if not data.get("repeat") and data.get("repeat_until") is None and data.get("repeat_count") is None:
            return {}
        return {
            "repeat": data.get("repeat") or "",
            "repeat_until": data.get("repeat_until"),
            "repeat_count": data.get("repeat_count"),
            "recurring_invoicing": data.get("recurring_invoicing") or "",
        }
