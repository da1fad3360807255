"""Forms for expense-code labels and a customer's auto-applied default codes.

The rules (unique names per customer, active labels only, no duplicate defaults) are checked by
expense_codes.labels, whose ``ValidationError`` the views put back on these forms.
"""

from __future__ import annotations

from django import forms

from .models import AppliedExpenseCode, ExpenseCodeLabel


class LabelForm(forms.Form):
    name = forms.CharField(
        label="New label",
        max_length=ExpenseCodeLabel._meta.get_field("name").max_length,
        error_messages={"required": "Enter the label's name, for example “Purchase order”."},
        widget=forms.TextInput(attrs={"placeholder": "Purchase order"}),
    )


class DefaultCodeForm(forms.Form):
    """A (label, value) pair applied to every new request of the customer."""

    label = forms.ModelChoiceField(
        label="Label",
        queryset=ExpenseCodeLabel.objects.none(),
        empty_label=None,
        error_messages={
            "required": "Choose a label.",
            "invalid_choice": "Choose one of this customer's active labels.",
        },
    )
    value = forms.CharField(
        label="Code",
        max_length=AppliedExpenseCode._meta.get_field("value").max_length,
        error_messages={"required": "Enter the code, for example ABC123."},
        widget=forms.TextInput(attrs={"placeholder": "ABC123"}),
    )

    def __init__(self, *args, labels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].queryset = labels
