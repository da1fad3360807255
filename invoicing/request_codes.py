"""Expense codes on requests and services, checked as they are entered and changed until they are invoiced.

What is entered is resolved against the customer's labels (seed 000: auto-applied codes join every new request,
a label the customer requires must have a code): ``request_codes_resolve`` for a submitted request or an
imported one, ``request_codes_check`` for the Django admin's form. Codes on a request or a service can be
changed (``request_codes_set``, ``service_codes_set``) until the service is on an issued invoice (seed 000's
"Edit expense code"); after that they are frozen with the invoice, and ``*_codes_frozen`` say why.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from audit.recording import audit_record
from expense_codes.applying import codes_apply, codes_pairs
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel, codes_key

from .errors import BillingRuleError
from .lifecycle import invoice_delete_draft
from .locking import proforma_lock
from .models import Invoice, InvoiceProforma, Proforma, Service, ServiceRequest
from .pricing import invoice_totals_refresh
from .quotes import may_act_for

VALUE_MAX = AppliedExpenseCode._meta.get_field("value").max_length


@dataclass
class ResolvedCode:
    """An entered code resolved to one of the customer's labels (or, with no label, a one-off label name)."""

    label: ExpenseCodeLabel | None
    label_name: str
    value: str

    @property
    def pair(self) -> tuple[str, str]:
        return (self.label_name, self.value)

    def row(self, **carrier) -> AppliedExpenseCode:
        """The code as an unsaved ``AppliedExpenseCode`` on ``carrier`` (``request=...`` or ``service=...``)."""
        return AppliedExpenseCode(label=self.label, label_name=self.label_name, value=self.value, **carrier)


@dataclass(frozen=True)
class CodeRules:
    """What checking a customer's codes needs, loaded once (``code_rules_load``): all its labels by id, active or
    not, and its auto-applied codes."""

    customer: object
    labels: dict[int, ExpenseCodeLabel]
    defaults: tuple[ResolvedCode, ...]


@dataclass
class ResolvedCodes:
    """``request_codes_resolve``'s answer: the request's codes, each service's own codes, and the errors keyed by
    form field (``code_<label id>``, ``codes``), empty when all is well."""

    request: list[ResolvedCode]
    services: list[list[ResolvedCode]]
    errors: dict[str, str]


def request_labels(customer) -> list[ExpenseCodeLabel]:
    """The customer's active labels, each with ``defaults``: the values applied to every new request (a form shows
    one input per label, pre-filled with them; ``is_required`` ones are marked)."""
    labels = list(ExpenseCodeLabel.objects.filter(customer=customer, is_active=True).order_by("name"))
    defaults: dict[int, list[str]] = {}
    for label_id, value in AppliedExpenseCode.objects.filter(default_for=customer).values_list("label_id", "value"):
        defaults.setdefault(label_id, []).append(value)
    for label in labels:
        label.defaults = defaults.get(label.pk, [])
    return labels


def _code_field(label: ExpenseCodeLabel | None) -> str:
    return f"code_{label.pk}" if label is not None else "codes"


def _resolve_codes(
    customer, pairs, labels: dict[int, ExpenseCodeLabel], errors: dict, *, prefix: str = "", kept=frozenset()
):
    """Turn entered (label, value) pairs into codes of this customer's labels. A label is an ``ExpenseCodeLabel``,
    its id, or a name (a name that is none of the customer's labels is kept as typed: staff may use one-off
    labels). Empty values are skipped; the rest are checked. A removed label takes no new code, but a code it
    already has (``kept``: (label name, value) pairs already on the record being edited) may stay."""
    by_name = {label.name.casefold(): label for label in labels.values()}
    codes: list[ResolvedCode] = []
    for label, value in pairs:
        value = " ".join(str(value or "").split())
        if not value:
            continue
        if isinstance(label, ExpenseCodeLabel) or (isinstance(label, int) and not isinstance(label, bool)):
            label_id = label.pk if isinstance(label, ExpenseCodeLabel) else label
            found = labels.get(label_id)
            if found is None:
                errors.setdefault("codes", f"{prefix}That expense-code label is not one of {customer}'s labels.")
                continue
            label = found
        else:
            name = " ".join(str(label or "").split())
            if not name:
                errors.setdefault("codes", f"{prefix}Say which label the code “{value}” is for.")
                continue
            label = by_name.get(name.casefold()) or name
        if isinstance(label, ExpenseCodeLabel) and not label.is_active and (label.name, value) not in kept:
            errors.setdefault(_code_field(label), f"{prefix}The label “{label.name}” is no longer in use.")
            continue
        if len(value) > VALUE_MAX:
            errors.setdefault(
                _code_field(label if isinstance(label, ExpenseCodeLabel) else None),
                f"{prefix}Keep each code to {VALUE_MAX} characters or fewer.",
            )
            continue
        if isinstance(label, ExpenseCodeLabel):
            codes.append(ResolvedCode(label, label.name, value))
        else:
            codes.append(ResolvedCode(None, label[:100], value))
    return _unique(codes)


def _unique(codes: list[ResolvedCode]) -> list[ResolvedCode]:
    seen, kept = set(), []
    for code in codes:
        if code.pair not in seen:
            seen.add(code.pair)
            kept.append(code)
    return kept


def _labels_missing(
    labels, request_codes: list[ResolvedCode], service_codes: list[list[ResolvedCode]]
) -> list[ExpenseCodeLabel]:
    """Required labels with no code on the request (nor on every one of its services)."""
    missing = []
    for label in labels:
        if not (label.is_active and label.is_required):
            continue

        def has(codes, label=label):
            return any(c.label_name.casefold() == label.name.casefold() for c in codes)

        if has(request_codes) or (service_codes and all(has(codes) for codes in service_codes)):
            continue
        missing.append(label)
    return missing


def _required_errors(customer, labels, request_codes, service_codes, errors: dict) -> None:
    for label in _labels_missing(labels, request_codes, service_codes):
        errors.setdefault(_code_field(label), f"Enter the {label.name}: {customer} requires one on every request.")
    if customer.require_expense_code and not request_codes and not any(service_codes):
        errors.setdefault("codes", f"An expense code is required: {customer} requires one on every request.")


def _customer_labels(customer) -> dict[int, ExpenseCodeLabel]:
    return {label.pk: label for label in ExpenseCodeLabel.objects.filter(customer=customer)}


def code_rules_load(customers) -> dict[int, CodeRules]:
    """The expense-code rules of each of ``customers``, by customer id: two queries however many they are (an
    import checks thousands of requests with them)."""
    customers = {customer.pk: customer for customer in customers}
    labels: dict[int, dict[int, ExpenseCodeLabel]] = {pk: {} for pk in customers}
    for label in ExpenseCodeLabel.objects.filter(customer_id__in=list(customers)):
        labels[label.customer_id][label.pk] = label
    defaults: dict[int, list[ResolvedCode]] = {pk: [] for pk in customers}
    rows = AppliedExpenseCode.objects.filter(default_for_id__in=list(customers)).values_list(
        "default_for_id", "label_id", "label_name", "value"
    )
    for customer_id, label_id, name, value in rows:
        defaults[customer_id].append(ResolvedCode(labels[customer_id].get(label_id), name, value))
    return {pk: CodeRules(customer, labels[pk], tuple(defaults[pk])) for pk, customer in customers.items()}


def request_codes_resolve(
    rules: CodeRules, *, codes, service_codes=(), new: bool = True, name_services: bool = False
) -> ResolvedCodes:
    """Resolve a request's entered codes (and each service's) against the customer's ``rules``, as
    ``request_submit`` does: a ``new`` request also gets the auto-applied codes, and a label the customer requires
    must have a code (or the customer's "require a code" policy any code). With ``name_services``, an error in a
    service's codes says which service ("Service 2: ...") when there are several. No query; nothing raised: the
    errors are in the answer."""
    customer, labels = rules.customer, rules.labels
    errors: dict[str, str] = {}
    resolved = _resolve_codes(customer, codes, labels, errors)
    if new:
        resolved = _unique([*resolved, *rules.defaults])
    service_codes = list(service_codes)
    named = name_services and len(service_codes) > 1
    per_service = [
        _resolve_codes(customer, pairs, labels, errors, prefix=f"Service {i}: " if named else "")
        for i, pairs in enumerate(service_codes, start=1)
    ]
    _required_errors(customer, labels.values(), resolved, per_service, errors)
    return ResolvedCodes(resolved, per_service, errors)


def request_codes_check(*, customer, codes, service_codes=(), new: bool = True) -> list[tuple[str, str]]:
    """The codes a ``new`` request of ``customer`` gets (entered plus auto-applied; an existing request's: as
    entered), or a ``ValidationError`` when one is not the customer's or a required one is missing. The Django
    admin's request form checks with this before it saves through ``request_submit`` or ``request_codes_set``."""
    resolved = request_codes_resolve(
        code_rules_load([customer])[customer.pk], codes=codes, service_codes=service_codes, new=new
    )
    if resolved.errors:
        raise ValidationError(resolved.errors)
    return [code.pair for code in resolved.request]


def _codes_rows(codes: list[ResolvedCode], **carrier) -> list[AppliedExpenseCode]:
    return [code.row(**carrier) for code in codes]


# --------------------------------------------------------------------------------------------------
# Changing the codes of a request or a service until it is on an issued invoice


def _frozen_by(*, request_id: int, service=None) -> str:
    """Why codes can no longer change ("" while they can): an issued invoice bills the service (or, for the whole
    request, any of its services) through its proforma, or bills the booking's quote. Two queries at most."""
    issued = ~Q(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID])
    billing = {"proforma__service": service} if service is not None else {"proforma__service__request_id": request_id}
    invoice = (
        Invoice.objects.filter(issued)
        .filter(
            Exists(
                InvoiceProforma.objects.filter(invoice=OuterRef("pk"), kind=Invoice.Kind.AR, is_active=True, **billing)
            )
        )
        .only("number")
        .first()
    ) or Invoice.objects.filter(issued, from_quote__request_id=request_id).only("number").first()
    if invoice is None:
        return ""
    return f"It is billed on invoice {invoice.number}, already issued: the codes stay as they were invoiced."


def service_codes_frozen(service: Service) -> str:
    """Why the service's codes can no longer change ("" while they can): it is on an issued invoice."""
    return _frozen_by(request_id=service.request_id, service=service)


def request_codes_frozen(service_request: ServiceRequest) -> str:
    """Why the request's codes can no longer change ("" while they can): one of its services is invoiced."""
    return _frozen_by(request_id=service_request.pk)


def codes_can_edit(*, user, customer) -> bool:
    """May ``user`` change the codes on ``customer``'s requests and services? Its own portal users and the partner's
    staff may (and the system, and platform support with the permission in the Django admin)."""
    if user is not None and user.has_perm("expense_codes.change_appliedexpensecode"):
        return True
    return may_act_for(user, customer)


@transaction.atomic
def request_codes_set(*, service_request: ServiceRequest, user=None, codes) -> list[AppliedExpenseCode]:
    """Replace the request's codes (and those its uninvoiced proformas carry). Required labels still apply."""
    service_request = ServiceRequest.objects.select_for_update(of=("self",)).get(pk=service_request.pk)
    return _codes_replace(service_request, None, user=user, codes=codes)


@transaction.atomic
def service_codes_set(*, service: Service, user=None, codes) -> list[AppliedExpenseCode]:
    """Replace the codes of one service (shown at the end of its line, seed 000) until it is invoiced."""
    service = Service.objects.select_related("request").get(pk=service.pk)
    service_request = ServiceRequest.objects.select_for_update(of=("self",)).get(pk=service.request_id)
    return _codes_replace(service_request, service, user=user, codes=codes)


def _codes_replace(service_request, service, *, user, codes) -> list[AppliedExpenseCode]:
    customer = service_request.customer
    if not codes_can_edit(user=user, customer=customer):
        raise PermissionDenied("You cannot change this request's expense codes.")
    services = [service] if service is not None else list(Service.objects.filter(request=service_request))
    proforma_ids = list(Proforma.objects.filter(service__in=services).values_list("pk", flat=True))
    locked = [proforma_lock(pk) for pk in sorted(proforma_ids)]  # invoices, then the proforma: locking order
    reason = service_codes_frozen(service) if service is not None else request_codes_frozen(service_request)
    if reason:
        raise BillingRuleError(f"These codes can no longer change. {reason}", field="codes")
    labels = _customer_labels(customer)
    errors: dict = {}
    carrier = {"service": service} if service is not None else {"request": service_request}
    before = codes_pairs(**carrier)
    new = _resolve_codes(customer, codes, labels, errors, kept=frozenset(before))
    if service is None:
        per_service = [_resolve_codes(customer, codes_pairs(service=s), labels, errors) for s in services]
        _required_errors(customer, labels.values(), new, per_service, errors)
    else:
        request_codes = [ResolvedCode(None, n, v) for n, v in codes_pairs(request=service_request)]
        others = [
            _resolve_codes(customer, codes_pairs(service=s), labels, errors)
            for s in Service.objects.filter(request=service_request).exclude(pk=service.pk)
        ]
        _required_errors(customer, labels.values(), request_codes, [new, *others], errors)
    if errors:
        raise ValidationError(errors)
    AppliedExpenseCode.objects.filter(**carrier).delete()
    rows = AppliedExpenseCode.objects.bulk_create(_codes_rows(new, **carrier))
    for proforma, invoices in locked:
        _proforma_codes_follow(proforma, invoices)
    for invoice in Invoice.objects.filter(from_quote__request=service_request, status=Invoice.Status.DRAFT):
        AppliedExpenseCode.objects.filter(invoice=invoice).delete()
        codes_apply(pairs=codes_pairs(request=service_request), invoice=invoice)
    audit_record(
        target=service_request,
        action="codes_change",
        actor=user,
        data={
            "service_id": service.pk if service is not None else None,
            "before": [f"{n}: {v}" for n, v in before],
            "after": [f"{c.label_name}: {c.value}" for c in new],
        },
    )
    return rows


def _proforma_codes_follow(proforma: Proforma, invoices: dict[int, Invoice]) -> None:
    """A proforma not yet on an issued invoice carries its service's new codes. If a draft invoice holds it in a
    group of other codes, it leaves that draft (whose totals are refreshed; an emptied generated draft is removed)
    and the next run puts it on the right invoice."""
    service = proforma.service
    codes = [*codes_pairs(request_id=service.request_id), *codes_pairs(service=service)]
    labels = dict(ExpenseCodeLabel.objects.filter(customer_id=proforma.customer_id).values_list("name", "pk"))
    AppliedExpenseCode.objects.filter(proforma=proforma).delete()
    codes_apply(pairs=codes, label_ids=labels, proforma=proforma)
    proforma.expense_code_key = codes_key(codes)
    proforma.save(update_fields=["expense_code_key"])
    for invoice in invoices.values():
        if invoice.kind != Invoice.Kind.AR or invoice.status != Invoice.Status.DRAFT:
            continue
        grouped = invoice.expense_code_mode == Invoice.ExpenseCodeMode.GROUPED
        if not grouped or invoice.expense_code_key == proforma.expense_code_key:
            continue
        InvoiceProforma.objects.filter(invoice=invoice, proforma=proforma).delete()
        if invoice.generation_key and not invoice.proforma_links.exists() and not invoice.direct_slips.exists():
            invoice_delete_draft(invoice=invoice)
        else:
            invoice_totals_refresh(invoice)
            audit_record(
                target=invoice,
                action="proforma_removed",
                from_status="draft",
                to_status="draft",
                data={"proforma_id": proforma.pk, "reason": "its expense codes changed"},
            )
