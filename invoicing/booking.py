"""Requests and bookings: the one way in for work, from the portal, the office and the Django admin alike.

``request_submit`` takes a request with its services (and their extras and codes), its expense codes and its
supporting documents, checks all of it against the customer's rules (the codes by ``invoicing.request_codes``;
seed 003: documents are plain PDF, PNG or JPG) and saves it in one transaction, or saves nothing and raises a
``ValidationError`` keyed by the form field to fix.

A booking (by default, a request submitted in the portal) is priced into a quote at once
(``invoicing.quotes``), which may become an issued invoice straight away (seed 002).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.recording import audit_record
from expense_codes.models import AppliedExpenseCode
from octoo_billing.money import MAX_QUANTITY

from .coupons import coupon_for_code, coupon_redeem, coupon_scope
from .errors import BillingRuleError
from .models import ExtraOffer, Service, ServiceExtra, ServiceRequest
from .quotes import quote_create
from .recurring import occurrence_starts, occurrences_expand, recurrence_read
from .request_codes import code_rules_load, request_codes_resolve
from .uploads import supporting_document_add, supporting_document_inspect
from .zones import partner_areas, service_zone_assign

TITLE_MAX = ServiceRequest._meta.get_field("title").max_length
NOTES_MAX = 5000
ADDRESS_MAX = 1000
REGION_MAX = Service._meta.get_field("region").max_length
POSTAL_MAX = Service._meta.get_field("postal_code").max_length
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
    zone: object = None  # chosen for the service (staff, or a portal "area"); None: from the address (invoicing.zones)
    country: str = ""
    region: str = ""
    postal_code: str = ""
    provider: object = None
    notes: str = ""
    extras: list[ExtraInput] = field(default_factory=list)
    codes: list[tuple] = field(default_factory=list)  # (label or label name, value) pairs for this service only


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
    country = (service.country or "").strip()
    if country and not (len(country) == 2 and country.isalpha()):
        refuse("country", "Enter the country as its two-letter code, such as US or CA.")
    if len((service.region or "").strip()) > REGION_MAX:
        refuse("region", f"Keep the state or province to {REGION_MAX} characters or fewer.")
    if len((service.postal_code or "").strip()) > POSTAL_MAX:
        refuse("postal_code", f"Keep the postal code to {POSTAL_MAX} characters or fewer.")
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


def service_row(service_request: ServiceRequest, given: ServiceInput, *, areas=None) -> Service:
    """The service ``given`` describes on ``service_request``, unsaved and without its extras and codes, its zone
    chosen or resolved from its address (else the customer's default): what ``request_submit`` and
    ``intake.service_add`` save."""
    service = Service(
        partner_id=service_request.partner_id,
        request=service_request,
        service_type=given.service_type,
        provider=given.provider,
        starts_at=given.starts_at,
        ends_at=given.ends_at,
        address=(given.address or "").strip(),
        country=(given.country or "").strip().upper(),
        region=(given.region or "").strip().upper(),
        postal_code=" ".join((given.postal_code or "").split()).upper(),
        notes=(given.notes or "").strip(),
    )
    service.partner = service_request.customer.partner
    service_zone_assign(service, chosen=given.zone, areas=areas)
    return service


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
    coupon_code: str = "",
    repeat: str = "",
    repeat_until: datetime.date | None = None,
    repeat_count: int | None = None,
    recurring_invoicing: str = "",
) -> ServiceRequest:
    """Submit a request with its services, codes and documents: all of it is saved, or nothing.

    ``codes`` are (label, value) pairs (see ``request_codes``); the customer's auto-applied codes are added. A
    ``book``ing (the default for ``source="portal"``) needs at least one service, in the future, and is priced into
    a quote, which becomes an issued invoice at once when the customer's flag says so. Raises ``ValidationError``
    keyed by field: ``title``, ``service_type``, ``starts_at``, ``ends_at``, ``address``, ``country``, ``region``,
    ``postal_code``, ``zone``, ``provider``, ``notes``, ``extras``, ``code_<label id>``, ``codes``, ``documents``,
    ``customer``, ``coupon``.

    A ``coupon_code`` is checked with the others and redeemed with the request, under the coupon's lock: a
    percentage applies to every service, a fixed amount to the first one it applies to.

    A recurring booking (``repeat`` weekly or monthly, with ``repeat_until`` or ``repeat_count``, and how it is
    invoiced, ``recurring_invoicing``) needs a customer that allows them and exactly one service: that service is
    saved as its occurrences (``invoicing.recurring``), each its own service numbered by ``occurrence``; refusals
    are keyed ``repeat``, ``repeat_until``, ``repeat_count`` and ``recurring_invoicing``. A coupon is used once for
    the booking: a percentage on every occurrence, a fixed amount on the first.
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
    recurrence, starts = None, []
    try:
        recurrence = recurrence_read(
            customer=customer,
            services_count=len(services),
            repeat=repeat,
            repeat_until=repeat_until,
            repeat_count=repeat_count,
            recurring_invoicing=recurring_invoicing,
        )
        if recurrence is not None and not errors.keys() & {"service_type", "starts_at", "ends_at"}:
            starts = occurrence_starts(
                services[0].starts_at,
                recurrence.repeat,
                until=recurrence.until,
                count=recurrence.count,
                tz=customer.partner.tzinfo,
                latest=now + datetime.timedelta(days=BOOKING_HORIZON_DAYS),
            )
    except ValidationError as error:
        for key, messages in error.message_dict.items():
            errors.setdefault(key, messages[0])
    resolved = request_codes_resolve(
        code_rules_load([customer])[customer.pk],
        codes=codes,
        service_codes=[s.codes for s in services],
        name_services=True,
    )
    request_codes, service_codes = resolved.request, resolved.services
    for key, message in resolved.errors.items():
        errors.setdefault(key, message)
    coupon = None
    if (coupon_code or "").strip() and not errors:
        try:
            coupon = coupon_for_code(
                partner=customer.partner,
                code=coupon_code,
                customer=customer,
                on_date=timezone.localdate(now, customer.partner.tzinfo),
                service_type_ids=[s.service_type.pk for s in services],
                extra_offer_ids=[e.offer.pk for s in services for e in s.extras if e.offer is not None],
            )
        except BillingRuleError as error:
            errors["coupon"] = error.message
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
    recurring = {}
    if recurrence is not None:  # the one service becomes its occurrences, each with the same codes
        recurring = recurrence.fields()
        services = occurrences_expand(services[0], starts)
        service_codes = service_codes * len(services)
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
                is_recurring=is_recurring or recurrence is not None,
                status=status,
                **recurring,
            )
            if coupon is not None:
                _coupon_redeem(coupon, service_request, services)
            for document, inspected in checked:
                stored.append(
                    supporting_document_add(
                        service_request=service_request, uploaded_file=document, user=user, checked=inspected
                    )
                )
            if book:
                quote_create(service_request=service_request, user=user)
    except BaseException:
        for document in stored:  # the rows were rolled back: do not leave their files behind
            document.file.delete(save=False)
        raise
    return ServiceRequest.objects.select_related("quote__invoice").get(pk=service_request.pk)


def _coupon_redeem(coupon, service_request: ServiceRequest, services: list[ServiceInput]) -> None:
    """Count the coupon's use on the request and put it on its services: a percentage on all of them, a fixed
    amount on the first (by start) it applies to. Refused (used up meanwhile): a ``ValidationError`` on
    ``coupon`` that rolls the whole request back."""
    try:
        coupon_redeem(coupon=coupon, customer=service_request.customer, request=service_request)
    except BillingRuleError as error:
        raise ValidationError({"coupon": error.message}) from None
    rows = Service.objects.filter(request=service_request)
    if coupon.amount_off_units is not None:
        scope = coupon_scope(coupon)
        first = None
        for row in rows.prefetch_related("extras").order_by("starts_at", "pk"):
            offers = {extra.offer_id for extra in row.extras.all()}
            if scope.is_open or row.service_type_id in scope.service_type_ids or offers & scope.extra_offer_ids:
                first = row
                break
        rows = rows.filter(pk=first.pk) if first is not None else rows.none()
    rows.update(coupon=coupon)


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
    AppliedExpenseCode.objects.bulk_create([code.row(request=service_request) for code in request_codes])
    extras, codes = [], []
    areas = partner_areas(customer.partner_id)
    for index, (given, own_codes) in enumerate(zip(services, service_codes, strict=True), start=1):
        service = service_row(service_request, given, areas=areas)
        if service_request.repeat:
            service.occurrence = index  # its place in the recurring booking
        service.save()
        extras.extend(extra_row(service, extra) for extra in given.extras)
        codes.extend(code.row(service=service) for code in own_codes)
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
