"""Forms for expense-code labels and a customer's auto-applied default codes, and the code inputs of a request
or a service (one per label; the portal's booking and codes pages and the office's request pages share them).

The rules (unique names per customer, active labels only, no duplicate defaults) are checked by
expense_codes.labels, and those of the codes on a request by invoicing.request_codes, whose ``ValidationError`` the
views put back on these forms.
"""

from __future__ import annotations

from django import forms

from octoo_billing.forms import BootstrapForm

from .models import AppliedExpenseCode, ExpenseCodeLabel

CODES_INPUT_MAX = 1000  # several codes, separated by commas; each is bounded by the domain (VALUE_MAX)


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


# --- codes on a request or a service: one input per label (portal and office) -------------------------------


def codes_split(text: str) -> list[str]:
    """The codes typed in one label's input: several are separated by commas; blanks are dropped."""
    return [code for code in (" ".join(part.split()) for part in (text or "").split(",")) if code]


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
