"""Office forms for expense codes as staff enter them: one input per label of the customer's (as in the portal)
and free "other code" label/value pairs for one-off labels, on a new request (``office.forms.intake``) and on the
codes page of a request or a service.
"""

from __future__ import annotations

from django import forms

from expense_codes.forms import CodesForm
from expense_codes.models import AppliedExpenseCode

OTHER_CODE_ROWS = 2  # empty "other code" rows a form offers
LABEL_NAME_MAX = 100
CODE_VALUE_MAX = AppliedExpenseCode._meta.get_field("value").max_length


class OtherCodesMixin:
    """(For a ``BootstrapForm``.) Free "other code" label/value pairs for one-off labels staff type; a name that is
    one of the customer's labels is that label (``invoicing.request_codes`` resolves it)."""

    other_count = 0

    def other_codes_add(self, pairs=(), *, blank: int = OTHER_CODE_ROWS) -> None:
        pairs = list(pairs)
        self.other_count = len(pairs) + blank
        for index in range(self.other_count):
            label, value = pairs[index] if index < len(pairs) else ("", "")
            fields = {
                f"other_label_{index}": forms.CharField(
                    label="Label", required=False, max_length=LABEL_NAME_MAX, initial=label
                ),
                f"other_value_{index}": forms.CharField(
                    label="Code", required=False, max_length=CODE_VALUE_MAX, initial=value
                ),
            }
            for name, field in fields.items():
                field.widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
                self._style(field)
                self.fields[name] = field

    def other_rows(self) -> list[tuple]:
        return [(self[f"other_label_{i}"], self[f"other_value_{i}"]) for i in range(self.other_count)]

    def other_codes_check(self) -> None:
        for index in range(self.other_count):
            label = (self.cleaned_data.get(f"other_label_{index}") or "").strip()
            value = (self.cleaned_data.get(f"other_value_{index}") or "").strip()
            if value and not label:
                self.add_error(f"other_label_{index}", "Name the label of this code, e.g. “Project”.")

    def other_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for index in range(self.other_count):
            label = (self.cleaned_data.get(f"other_label_{index}") or "").strip()
            value = (self.cleaned_data.get(f"other_value_{index}") or "").strip()
            if value:
                pairs.append((label, value))
        return pairs


class StaffCodesForm(OtherCodesMixin, CodesForm):
    """The codes of a request or a service, as staff change them: one input per active label (as in the portal)
    and the one-off labels as editable pairs, with room for new ones."""

    def __init__(self, *args, customer, codes, **kwargs):
        super().__init__(*args, customer=customer, codes=codes, **kwargs)
        self.other_codes_add([(code.label_name, code.value) for code in self.kept])
        self.kept = []  # editable above, not kept as they are

    def clean(self):
        cleaned = super().clean()
        self.other_codes_check()
        return cleaned

    def codes(self) -> list[tuple]:
        return [*self.code_pairs(), *self.other_pairs()]
