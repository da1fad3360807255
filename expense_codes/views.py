"""The expense-codes page the office (a customer's page) and the customer portal (Settings → Expense codes) share.

Plain helpers taking (request, customer, ...): the caller has already scoped the customer (the office through the
partner, the portal through the signed-in user's membership) and owns the URL, the template and the frame around
the page; the actions, their messages and the page's context are here, once.

Every POST names one action (``CODE_ACTIONS``). A user who may not manage the customer's labels
(``expense_codes.labels.labels_can_manage``) gets a 403 before anything is read or changed; a label or code of
another customer is a 404; what the user can fix comes back on the form it came from, and nothing is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from octoo_billing.forms import apply_errors

from . import labels as code_labels
from .forms import DefaultCodeForm, LabelForm
from .models import AppliedExpenseCode, ExpenseCodeLabel

CODE_ACTIONS = (
    "label_create",
    "label_rename",
    "label_deactivate",
    "label_activate",
    "label_require",
    "label_unrequire",
    "code_add",
    "code_remove",
)


@dataclass
class CodeForms:
    """The page's forms. After a refused action the one that was submitted carries its errors."""

    new_label: LabelForm
    new_code: DefaultCodeForm
    rename: dict[int, LabelForm] = field(default_factory=dict)


@dataclass
class LabelRow:
    """A label as the page lists it, with its rename form."""

    label: ExpenseCodeLabel
    rename_form: LabelForm

    @property
    def pk(self) -> int:
        return self.label.pk


def _labels(customer):
    return ExpenseCodeLabel.objects.filter(customer=customer)


def _active_labels(customer):
    return _labels(customer).filter(is_active=True).order_by("name")


def code_forms(customer) -> CodeForms:
    return CodeForms(
        new_label=LabelForm(prefix="new"), new_code=DefaultCodeForm(prefix="code", labels=_active_labels(customer))
    )


def _posted(request, queryset, name: str):
    """The object of ``queryset`` whose id is POSTed as ``name``, or 404 (also for an id that is no number)."""
    value = request.POST.get(name, "")
    if not (value.isascii() and value.isdecimal() and len(value) < 18):
        raise Http404("No such item.")
    return get_object_or_404(queryset, pk=int(value))


def expense_codes_action(request, customer) -> CodeForms | None:
    """Run the POSTed action on ``customer``'s labels or auto-applied codes. Returns None when the page should
    redirect (done, or an unknown action with its message), else the forms to show again with the errors."""
    user = request.user
    if not code_labels.labels_can_manage(user=user, customer=customer):
        raise PermissionDenied("You do not have permission to change these expense codes.")
    action = request.POST.get("action")
    if action not in CODE_ACTIONS:
        messages.error(request, "Unknown action: reload the page and try again.")
        return None
    forms = code_forms(customer)

    if action == "label_create":
        form = forms.new_label = LabelForm(request.POST, prefix="new")
        if form.is_valid():
            try:
                created = code_labels.label_create(customer=customer, user=user, name=form.cleaned_data["name"])
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"The label “{created.name}” was added.")
                return None
        return forms

    if action == "code_add":
        form = forms.new_code = DefaultCodeForm(request.POST, prefix="code", labels=_active_labels(customer))
        if form.is_valid():
            try:
                code = code_labels.default_code_add(customer=customer, user=user, **form.cleaned_data)
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"“{code}” will be applied to every new request.")
                return None
        return forms

    if action == "code_remove":
        code = _posted(request, AppliedExpenseCode.objects.filter(default_for=customer), "code_id")
        code_labels.default_code_remove(code=code, user=user)
        messages.success(request, f"“{code}” is no longer applied to new requests. Requests that have it keep it.")
        return None

    label = _posted(request, _labels(customer), "label_id")
    if action == "label_rename":
        form = forms.rename[label.pk] = LabelForm(request.POST, prefix=f"l{label.pk}")
        if form.is_valid():
            try:
                renamed = code_labels.label_rename(label=label, user=user, name=form.cleaned_data["name"])
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"The label is now called “{renamed.name}”.")
                return None
        return forms
    if action == "label_deactivate":
        removed = code_labels.label_deactivate(label=label, user=user)
        note = f", with its {removed} auto-applied code{'s' if removed != 1 else ''}" if removed else ""
        messages.success(
            request,
            f"“{label.name}” was removed{note}: it is no longer offered on new requests. "
            "Codes already on requests and invoices stay as they are.",
        )
    elif action == "label_activate":
        code_labels.label_activate(label=label, user=user)
        messages.success(request, f"“{label.name}” is offered on new requests again.")
    else:
        required = action == "label_require"
        try:
            code_labels.label_set_required(label=label, user=user, required=required)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            if required:
                messages.success(request, f"New requests cannot be submitted without a “{label.name}” code.")
            else:
                messages.success(request, f"A “{label.name}” code is no longer required on new requests.")
    return None


def expense_codes_context(request, customer, forms: CodeForms | None = None) -> dict:
    """What the page shows: the labels (each with its rename form), the auto-applied codes, the add forms, and
    whether the signed-in user may change them (``can_manage``; the page is read-only otherwise)."""
    forms = forms or code_forms(customer)
    can_manage = code_labels.labels_can_manage(user=request.user, customer=customer)
    labels = _labels(customer).order_by("-is_active", "name")
    if not can_manage:
        labels = labels.filter(is_active=True)  # a removed label is history: only managers may add it back
    rows = [
        LabelRow(label, forms.rename.get(label.pk) or LabelForm(prefix=f"l{label.pk}", initial={"name": label.name}))
        for label in labels
    ]
    return {
        "customer": customer,
        "can_manage": can_manage,
        "labels": rows,
        "default_codes": list(AppliedExpenseCode.objects.filter(default_for=customer)),
        "new_label": forms.new_label,
        "new_code": forms.new_code,
        "has_active_labels": any(row.label.is_active for row in rows),
    }


def expense_codes_page(request, customer, *, template: str, done_url: str, extra_context: dict | None = None):
    """The whole page: GET shows it; a POST runs one action, then redirects to ``done_url`` or shows the page
    again with the refused form's errors."""
    forms = None
    if request.method == "POST":
        forms = expense_codes_action(request, customer)
        if forms is None:
            return redirect(done_url)
    context = {**expense_codes_context(request, customer, forms), **(extra_context or {})}
    return render(request, template, context)
