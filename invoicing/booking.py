"""Requests and bookings: the one way in for work, from the portal, the office and the Django admin alike.

``request_submit`` takes a request with its services (and their extras and codes), its expense codes and its
supporting documents, checks all of it against the customer's rules (seed 000: auto-applied codes join every new
request, a label the customer requires must have a code; seed 003: documents are plain PDF, PNG or JPG) and saves
it in one transaction, or saves nothing and raises a ``ValidationError`` keyed by the form field to fix.

A booking (by default, a request submitted in the portal) is priced into a quote at once. With the customer's
"generate invoices automatically when the booking is created" flag on (and recurring bookings off) the quote
becomes an invoice that is issued straight away: numbered, e-mailed and charged like any other (seed 002).
Otherwise the customer sees the quote on the booking and accepts or declines it; staff generate the invoice from
it (``manual.quote_convert``).

Codes on a request or a service can be changed until the service is on an issued invoice (seed 000's "Edit
expense code"); after that they are frozen with the invoice.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from customers.access import customer_membership, staff_membership
from expense_codes.applying import codes_apply, codes_pairs
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel, codes_key
from octoo_billing.money import MAX_QUANTITY

from .audit import audit_record
from .errors import BillingRuleError, InvalidTransition, PricingError
from .generation import RateBook, service_slips
from .lifecycle import invoice_delete_draft
from .locking import proforma_lock
from .manual import quote_convert
from .models import (
    ExtraOffer,
    Invoice,
    InvoiceProforma,
    Proforma,
    Quote,
    QuoteLine,
    Service,
    ServiceExtra,
    ServiceRequest,
)
from .pricing import invoice_totals_refresh, line_amounts
from .uploads import supporting_document_add, supporting_document_inspect

TITLE_MAX = ServiceRequest._meta.get_field("title").max_length
VALUE_MAX = AppliedExpenseCode._meta.get_field("value").max_length
NOTES_MAX = 5000
ADDRESS_MAX = 1000
MAX_SERVICES = 50
MAX_DOCUMENTS = 10
BOOKING_MAX_HOURS = 24
BOOKING_HORIZON_DAYS = 730


@dataclass
class ExtraInput:
    """An extra on a service: one of the partner's offers (its name and rates are copied), or, for staff, a
    typed one with its own description and rates."""

    quantity: Decimal | int | str = 1
    offer: ExtraOffer | None = None
    kind: str = ServiceExtra.Kind.GENERAL
    description: str = ""
    bill_rate_units: Decimal | None = None
    pay_rate_units: Decimal | None = None


@dataclass
class ServiceInput:
    service_type: object
    starts_at: datetime.datetime | None
    ends_at: datetime.datetime | None
    address: str = ""
    zone: object = None
    provider: object = None
    notes: str = ""
    extras: list[ExtraInput] = field(default_factory=list)
    codes: list[tuple] = field(default_factory=list)  # (label or label name, value) pairs for this service only


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


# --------------------------------------------------------------------------------------------------
# Expense codes: resolving what was entered, the customer's defaults and required labels


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


def request_codes_resolve(rules: CodeRules, *, codes, service_codes=(), new: bool = True) -> ResolvedCodes:
    """Resolve a request's entered codes (and each service's) against the customer's ``rules``, as
    ``request_submit`` does: a ``new`` request also gets the auto-applied codes, and a label the customer requires
    must have a code (or the customer's "require a code" policy any code). No query; nothing raised: the errors are
    in the answer."""
    customer, labels = rules.customer, rules.labels
    errors: dict[str, str] = {}
    resolved = _resolve_codes(customer, codes, labels, errors)
    if new:
        resolved = _unique([*resolved, *rules.defaults])
    per_service = [_resolve_codes(customer, pairs, labels, errors) for pairs in service_codes]
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


def _with_defaults(customer, codes: list[ResolvedCode], labels: dict[int, ExpenseCodeLabel]) -> list[ResolvedCode]:
    defaults = [
        ResolvedCode(labels.get(label_id), name, value)
        for label_id, name, value in AppliedExpenseCode.objects.filter(default_for=customer).values_list(
            "label_id", "label_name", "value"
        )
    ]
    return _unique([*codes, *defaults])


def _codes_rows(codes: list[ResolvedCode], **carrier) -> list[AppliedExpenseCode]:
    return [code.row(**carrier) for code in codes]


# --------------------------------------------------------------------------------------------------
# Submitting a request


def _service_errors(customer, index: int, count: int, service: ServiceInput, *, booking: bool, now, errors) -> None:
    prefix = f"Service {index}: " if count > 1 else ""

    def refuse(field_name, message):
        errors.setdefault(field_name, prefix + message)

    partner_id = customer.partner_id
    stype = service.service_type
    if stype is None or getattr(stype, "partner_id", None) != partner_id:
        refuse("service_type", "Choose one of the services offered.")
    starts, ends = service.starts_at, service.ends_at
    if starts is None:
        refuse("starts_at", "Enter when the service starts.")
    if ends is None:
        refuse("ends_at", "Enter when the service ends.")
    if starts is not None and ends is not None:
        if ends <= starts:
            refuse("ends_at", "The service must end after it starts.")
        elif booking and ends - starts > datetime.timedelta(hours=BOOKING_MAX_HOURS):
            refuse("ends_at", f"A booking can last at most {BOOKING_MAX_HOURS} hours; book longer work as several.")
        if booking and starts < now:
            refuse("starts_at", "Choose a time from now on: a booking cannot start in the past.")
        elif booking and starts > now + datetime.timedelta(days=BOOKING_HORIZON_DAYS):
            refuse("starts_at", "Bookings can be made up to two years ahead.")
    if service.zone is not None and service.zone.partner_id != partner_id:
        refuse("zone", "Choose one of the partner's tax zones.")
    if service.provider is not None and service.provider.partner_id != partner_id:
        refuse("provider", "Choose one of your own providers.")
    if len(service.address or "") > ADDRESS_MAX:
        refuse("address", f"Keep the address to {ADDRESS_MAX} characters or fewer.")
    if len(service.notes or "") > NOTES_MAX:
        refuse("notes", f"Keep the notes to {NOTES_MAX} characters or fewer.")
    for extra in service.extras:
        try:
            quantity = Decimal(str(extra.quantity))
        except (InvalidOperation, ValueError):
            quantity = None
        if quantity is None or not quantity.is_finite() or quantity <= 0 or quantity > MAX_QUANTITY:
            refuse("extras", "Enter a quantity above zero for each extra.")
            continue
        extra.quantity = quantity
        if extra.offer is not None:
            offer = extra.offer
            if offer.partner_id != partner_id or not offer.is_active:
                refuse("extras", "That extra is not offered.")
            elif booking and quantity > offer.max_quantity:
                refuse("extras", f"At most {offer.max_quantity} × {offer.name} can be booked at once.")
            elif booking and quantity != quantity.to_integral_value():
                refuse("extras", f"Book whole units of {offer.name}.")
        elif booking:
            refuse("extras", "Choose extras from the list offered.")
        elif not (extra.description or "").strip() or extra.bill_rate_units is None or extra.bill_rate_units < 0:
            refuse("extras", "Give each extra a description and a rate of zero or more.")


def service_input_errors(customer, service: ServiceInput, *, booking: bool = False, now=None) -> dict[str, str]:
    """What ``request_submit`` finds wrong with one service of ``customer``'s (its type, times, zone, provider,
    address, notes and extras), keyed by form field; empty when nothing is. No query when the service's type, zone
    and provider are loaded objects."""
    errors: dict[str, str] = {}
    _service_errors(customer, 1, 1, service, booking=booking, now=now or timezone.now(), errors=errors)
    return errors


def service_row(service_request: ServiceRequest, given: ServiceInput) -> Service:
    """The service ``given`` describes on ``service_request``, unsaved and without its extras and codes (the
    customer's zone when none is given): what ``request_submit`` and ``intake.service_add`` save."""
    return Service(
        partner_id=service_request.partner_id,
        request=service_request,
        service_type=given.service_type,
        provider=given.provider,
        starts_at=given.starts_at,
        ends_at=given.ends_at,
        address=(given.address or "").strip(),
        zone=given.zone or service_request.customer.zone,
        notes=(given.notes or "").strip(),
    )


def extra_row(service: Service, extra: ExtraInput) -> ServiceExtra:
    """The extra as an unsaved row of ``service``: an offer's name and rates are copied."""
    offer = extra.offer
    if offer is not None:
        return ServiceExtra(
            service=service,
            offer=offer,
            kind=offer.kind,
            description=offer.name,
            quantity=extra.quantity,
            bill_rate_units=offer.bill_rate_units,
            pay_rate_units=offer.pay_rate_units,
        )
    return ServiceExtra(
        service=service,
        kind=extra.kind,
        description=extra.description.strip()[:200],
        quantity=extra.quantity,
        bill_rate_units=extra.bill_rate_units,
        pay_rate_units=extra.pay_rate_units or Decimal(0),
    )


def request_submit(
    *,
    customer,
    user=None,
    source: str = ServiceRequest.Source.OFFICE,
    title: str = "",
    description: str = "",
    services: list[ServiceInput] = (),
    codes=(),
    documents=(),
    is_recurring: bool = False,
    status: str = ServiceRequest.Status.SUBMITTED,
    book: bool | None = None,
) -> ServiceRequest:
    """Submit a request with its services, codes and documents: all of it is saved, or nothing.

    ``codes`` are (label, value) pairs (see ``_resolve_codes``); the customer's auto-applied codes are added. A
    ``book``ing (the default for ``source="portal"``) needs at least one service, in the future, and is priced into
    a quote, which becomes an issued invoice at once when the customer's flag says so. Raises ``ValidationError``
    keyed by field: ``title``, ``service_type``, ``starts_at``, ``ends_at``, ``address``, ``zone``, ``provider``,
    ``notes``, ``extras``, ``code_<label id>``, ``codes``, ``documents``, ``customer``.
    """
    book = source == ServiceRequest.Source.PORTAL if book is None else book
    services = list(services)
    errors: dict[str, str] = {}
    if customer is None or not customer.is_active:
        raise ValidationError({"customer": "Choose an active customer."})
    title = " ".join((title or "").split())
    if not title and services and services[0].service_type is not None:
        title = str(services[0].service_type)
    if not title:
        errors["title"] = "Say what the request is for."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Keep the title to {TITLE_MAX} characters or fewer."
    if len(description or "") > NOTES_MAX:
        errors["description"] = f"Keep the description to {NOTES_MAX} characters or fewer."
    if book and not services:
        errors["service_type"] = "Choose the service to book."
    if len(services) > MAX_SERVICES:
        errors["services"] = f"A request can have at most {MAX_SERVICES} services."
    now = timezone.now()
    for index, service in enumerate(services, start=1):
        _service_errors(customer, index, len(services), service, booking=book, now=now, errors=errors)
    labels = _customer_labels(customer)
    request_codes = _with_defaults(customer, _resolve_codes(customer, codes, labels, errors), labels)
    service_codes = [
        _resolve_codes(customer, s.codes, labels, errors, prefix=f"Service {i}: " if len(services) > 1 else "")
        for i, s in enumerate(services, start=1)
    ]
    _required_errors(customer, labels.values(), request_codes, service_codes, errors)
    documents = [d for d in documents if d]
    checked = []
    if len(documents) > MAX_DOCUMENTS:
        errors["documents"] = f"Attach at most {MAX_DOCUMENTS} documents to a request."
    else:
        for document in documents:
            try:
                checked.append((document, supporting_document_inspect(document)))
            except ValidationError as error:
                errors.setdefault("documents", " ".join(error.messages))
    if errors:
        raise ValidationError(errors)
    stored = []
    try:
        with transaction.atomic():
            service_request = _request_save(
                customer=customer,
                user=user,
                source=source,
                title=title,
                description=description or "",
                services=services,
                request_codes=request_codes,
                service_codes=service_codes,
                is_recurring=is_recurring,
                status=status,
            )
            for document, inspected in checked:
                stored.append(
                    supporting_document_add(
                        service_request=service_request, uploaded_file=document, user=user, checked=inspected
                    )
                )
            if book:
                _book(service_request, user=user)
    except BaseException:
        for document in stored:  # the rows were rolled back: do not leave their files behind
            document.file.delete(save=False)
        raise
    return ServiceRequest.objects.select_related("quote__invoice").get(pk=service_request.pk)


def _request_save(*, customer, user, source, title, description, services, request_codes, service_codes, **fields):
    actor = user if user is not None and user.is_authenticated else None
    service_request = ServiceRequest.objects.create(
        partner_id=customer.partner_id,
        customer=customer,
        title=title,
        description=description.strip(),
        source=source,
        created_by=actor,
        **fields,
    )
    AppliedExpenseCode.objects.bulk_create(_codes_rows(request_codes, request=service_request))
    extras, codes = [], []
    for given, own_codes in zip(services, service_codes, strict=True):
        service = service_row(service_request, given)
        service.save()
        extras.extend(extra_row(service, extra) for extra in given.extras)
        codes.extend(_codes_rows(own_codes, service=service))
    ServiceExtra.objects.bulk_create(extras)
    AppliedExpenseCode.objects.bulk_create(codes)
    audit_record(
        target=service_request,
        action="submit",
        actor=user,
        to_status=service_request.status,
        data={
            "source": source,
            "services": len(services),
            "codes": [f"{c.label_name}: {c.value}" for c in request_codes],
        },
    )
    return service_request


def _book(service_request: ServiceRequest, *, user) -> Quote:
    """Price the booking into a quote; invoice and issue it at once when the customer's flag says so."""
    customer = service_request.customer
    quote = Quote.objects.create(request=service_request)
    book = RateBook(customer.partner)
    tz = customer.partner.tzinfo  # service dates as the partner reads them, whoever books
    lines = []
    services = Service.objects.filter(request=service_request).select_related("request__customer", "zone")
    for service in services.prefetch_related("extras").order_by("starts_at", "pk"):
        try:
            slips = service_slips(service, book)
        except PricingError as error:
            raise ValidationError(
                {"service_type": f"This service cannot be booked online yet ({error.message}). Please contact us."}
            ) from None
        lines.extend(
            QuoteLine(
                quote=quote,
                description=f"{timezone.localtime(service.starts_at, tz):%b %d} {slip.description}"[:200],
                quantity=slip.quantity,
                unit_price_units=slip.bill_rate_units,
                tax_rate=slip.tax_rate,
                discount_units=slip.line_discount_units,
            )
            for slip in slips
        )
    QuoteLine.objects.bulk_create(lines)
    if customer.auto_invoice_on_booking and not customer.allow_recurring_bookings:
        invoice = quote_convert(quote=quote, user=user, source=Invoice.Source.BOOKING, issue=True)
        ServiceRequest.objects.filter(pk=service_request.pk).update(status=ServiceRequest.Status.CONFIRMED)
        audit_record(
            target=service_request,
            action="invoiced_on_booking",
            actor=user,
            from_status=service_request.status,
            to_status=ServiceRequest.Status.CONFIRMED,
            data={"invoice_id": invoice.pk, "number": invoice.number},
        )
    return quote


def request_book(*, customer, title: str = "", services, codes=(), description: str = "", user=None, **kwargs):
    """A booking: ``request_submit`` with ``book=True`` (from the portal unless ``source`` says otherwise)."""
    kwargs.setdefault("source", ServiceRequest.Source.PORTAL)
    return request_submit(
        customer=customer,
        title=title,
        services=services,
        codes=codes,
        description=description,
        user=user,
        book=True,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------------
# Quotes: totals, accept, decline


@dataclass(frozen=True)
class QuoteTotals:
    subtotal_units: int
    discount_units: int
    tax_units: int
    total_units: int


def quote_totals(quote: Quote, lines=None) -> QuoteTotals:
    """The quote's totals, line by line as an invoice of the same lines would add them up. Each of ``lines`` (the
    quote's, by default) gets its ``amounts`` (``pricing.LineAmounts``) for display."""
    lines = list(quote.lines.order_by("id") if lines is None else lines)
    for line in lines:
        line.amounts = line_amounts(
            quantity=line.quantity,
            unit_price_units=line.unit_price_units,
            tax_rate=line.tax_rate,
            discount_units=line.discount_units,
        )
    amounts = [line.amounts for line in lines]
    return QuoteTotals(
        subtotal_units=sum(a.amount_units for a in amounts),
        discount_units=sum(a.discount_units for a in amounts),
        tax_units=sum(a.tax_units for a in amounts),
        total_units=sum(a.total_units for a in amounts),
    )


def _may_act_for(user, customer) -> bool:
    if user is None:
        return True
    staff = staff_membership(user)
    if staff is not None:
        return staff.partner_id == customer.partner_id
    member = customer_membership(user)
    return member is not None and member.customer_id == customer.pk


def _quote_for_answer(quote: Quote, user) -> Quote:
    quote = Quote.objects.select_for_update(of=("self",)).select_related("request__customer").get(pk=quote.pk)
    if not _may_act_for(user, quote.request.customer):
        raise PermissionDenied("This quote is not yours to answer.")
    if quote.status != Quote.Status.OPEN:
        raise InvalidTransition(f"This quote was already {quote.get_status_display().lower()}.")
    return quote


@transaction.atomic
def quote_accept(*, quote: Quote, user=None) -> Quote:
    """The customer accepts the quote: the booking is confirmed and staff generate its invoice."""
    quote = _quote_for_answer(quote, user)
    quote.status = Quote.Status.ACCEPTED
    quote.save(update_fields=["status"])
    request = quote.request
    ServiceRequest.objects.filter(pk=request.pk).update(status=ServiceRequest.Status.CONFIRMED)
    audit_record(
        target=request,
        action="quote_accept",
        actor=user,
        from_status=request.status,
        to_status=ServiceRequest.Status.CONFIRMED,
        data={"quote_id": quote.pk},
    )
    return quote


@transaction.atomic
def quote_decline(*, quote: Quote, user=None, reason: str = "") -> Quote:
    """The customer declines the quote: the booking and its services not yet rendered are cancelled."""
    quote = _quote_for_answer(quote, user)
    quote.status = Quote.Status.DECLINED
    quote.save(update_fields=["status"])
    request = quote.request
    ServiceRequest.objects.filter(pk=request.pk).update(status=ServiceRequest.Status.CANCELLED)
    cancelled = (
        Service.objects.filter(request=request, proforma__isnull=True)
        .exclude(status__in=[Service.Status.COMPLETED, Service.Status.CANCELLED])
        .update(status=Service.Status.CANCELLED)
    )
    audit_record(
        target=request,
        action="quote_decline",
        actor=user,
        from_status=request.status,
        to_status=ServiceRequest.Status.CANCELLED,
        reason=(reason or "").strip()[:500],
        data={"quote_id": quote.pk, "services_cancelled": cancelled},
    )
    return quote


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
    return _may_act_for(user, customer)


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
        grouped = invoice.expense_code_mode == invoice.customer.ExpenseCodeMode.GROUPED
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


__all__ = [
    "CodeRules",
    "ExtraInput",
    "QuoteTotals",
    "ResolvedCode",
    "ResolvedCodes",
    "ServiceInput",
    "code_rules_load",
    "codes_can_edit",
    "extra_row",
    "quote_accept",
    "quote_decline",
    "quote_totals",
    "request_book",
    "request_codes_check",
    "request_codes_frozen",
    "request_codes_resolve",
    "request_codes_set",
    "request_labels",
    "request_submit",
    "service_codes_frozen",
    "service_codes_set",
    "service_input_errors",
    "service_row",
]
