"""What of a request or a service may change now, and why not: ``service_editable`` and ``request_editable``
answer with the reasons (pages show them read-only; ``invoicing.intake`` and ``invoicing.shifts`` refuse with
them).

- Nothing of a service changes once it is on an issued invoice (``request_codes.service_codes_frozen`` says
  which), nor once it is cancelled; likewise a request's title and description
  (``request_codes.request_codes_frozen``).
- What a price was made from stays as it was: the times, type, zone and extras of a service that has a proforma,
  or whose request has a quote that was not declined; and the provider of a service that has a proforma (its pay
  side and its AP invoice were made for that provider). A price is corrected with an adjustment on the proforma.
- Only a request or a service with no proforma yet is cancelled; a request invoiced from its quote is not
  cancelled (its invoice is voided or credited instead).
- A service goes on a shift of its partner (or comes off it) while neither it has a proforma nor its shift is
  finished, and only on a shift whose window holds its times.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import dateformat, timezone

from .models import Invoice, Proforma, Quote, Service, ServiceRequest, Shift
from .request_codes import request_codes_frozen, service_codes_frozen

LIVE_QUOTE = (Quote.Status.OPEN, Quote.Status.ACCEPTED, Quote.Status.CONVERTED)


@dataclass(frozen=True)
class ServiceEditable:
    """Why a service, or a part of it, can no longer change ("" for each that still can). Pages show the reasons
    read-only; the domain functions below refuse with them."""

    frozen: str  # nothing changes: it is on an issued invoice, or cancelled
    priced: str  # its times, type, zone and extras stay: a proforma or a quote was priced from them
    provider: str  # its provider stays: its proforma was made for that provider
    cancel: str  # it cannot be cancelled
    shift: str  # it can neither be put on a shift nor taken off its own
    shifts: tuple[Shift, ...]  # the unfinished shifts of its partner whose window holds it (besides its own)

    @property
    def can_edit(self) -> bool:
        return not self.frozen


@dataclass(frozen=True)
class RequestEditable:
    """Why a request's title, description and codes can no longer change, why no service can be added to it and
    why it cannot be cancelled ("" for each that still can)."""

    frozen: str
    add: str
    cancel: str

    @property
    def can_edit(self) -> bool:
        return not self.frozen


def _live_quote(request_id: int) -> Quote | None:
    return Quote.objects.filter(request_id=request_id, status__in=LIVE_QUOTE).select_related("invoice").first()


def _quote_invoice_live(quote: Quote | None) -> Invoice | None:
    """The invoice made from ``quote``, unless it was voided."""
    if quote is None or quote.status != Quote.Status.CONVERTED or quote.invoice is None:
        return None
    return None if quote.invoice.status == Invoice.Status.VOID else quote.invoice


def _invoice_name(invoice: Invoice) -> str:
    return invoice.number or "a draft invoice"


def service_shift_refusal(service: Service, proforma: Proforma | None) -> str:
    """Why ``service`` can neither go on a shift nor come off its own ("" if it can)."""
    if service.status == Service.Status.CANCELLED:
        return "It is cancelled."
    if proforma is not None:
        return f"It already has proforma {proforma}, which a shift no longer changes."
    if service.shift_id is not None and service.shift.finished_at is not None:
        return f"Its shift {service.shift} is finished."
    return ""


def shift_holds(shift: Shift, service: Service) -> bool:
    """Whether the shift's window holds the service's times."""
    return shift.starts_at <= service.starts_at and service.ends_at <= shift.ends_at


def window_text(starts_at: datetime.datetime, ends_at: datetime.datetime) -> str:
    """A window as the pages show it, in local time: Mar 3, 2026 09:00–17:00 (both dates when it ends on another
    day)."""
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    end_format = "H:i" if start.date() == end.date() else "M j, Y H:i"
    return f"{dateformat.format(start, 'M j, Y H:i')}–{dateformat.format(end, end_format)}"


def service_shift_choices(service: Service) -> list[Shift]:
    """The unfinished shifts of the service's partner whose window holds its times, besides the one it is on."""
    shifts = Shift.objects.filter(
        partner_id=service.partner_id,
        finished_at__isnull=True,
        starts_at__lte=service.starts_at,
        ends_at__gte=service.ends_at,
    )
    if service.shift_id is not None:
        shifts = shifts.exclude(pk=service.shift_id)
    return list(shifts.order_by("starts_at", "pk"))


def service_editable(service: Service) -> ServiceEditable:
    """What of ``service`` may change now, and why not, with the shifts it may go on (at most six queries)."""
    proforma = Proforma.objects.filter(service_id=service.pk).only("pk", "number").first()
    quote = _live_quote(service.request_id)
    invoiced = _quote_invoice_live(quote)
    if service.status == Service.Status.CANCELLED:
        frozen = "It is cancelled."
    else:
        frozen = service_codes_frozen(service)
    if proforma is not None:
        priced = (
            f"Its proforma {proforma} was priced from its times, type, zone and extras, which stay as they are: "
            "correct the price with an adjustment on the proforma."
        )
        provider = f"Its proforma {proforma} was made for this provider (what they earn, their AP invoice)."
    elif quote is not None:
        priced = "Its request's quote was priced from its times, type, zone and extras, which stay as they are."
        provider = ""
    else:
        priced = provider = ""
    if service.status == Service.Status.CANCELLED:
        cancel = "It is already cancelled."
    elif proforma is not None:
        cancel = f"It already has proforma {proforma}: correct or credit what it billed instead."
    elif invoiced is not None:
        cancel = f"Its request was invoiced from its quote on {_invoice_name(invoiced)}."
    else:
        cancel = ""
    shift = service_shift_refusal(service, proforma)
    shifts = () if shift else tuple(service_shift_choices(service))
    return ServiceEditable(frozen=frozen, priced=priced, provider=provider, cancel=cancel, shift=shift, shifts=shifts)


def request_editable(service_request: ServiceRequest) -> RequestEditable:
    """What of ``service_request`` may change now, and why not (at most four queries)."""
    cancelled = service_request.status == ServiceRequest.Status.CANCELLED
    quote = _live_quote(service_request.pk)
    invoiced = _quote_invoice_live(quote)
    proforma = (
        Proforma.objects.filter(service__request_id=service_request.pk).only("pk", "number", "service_id").first()
    )
    frozen = "It is cancelled." if cancelled else request_codes_frozen(service_request)
    if cancelled:
        add = "It is cancelled."
    elif quote is not None:
        add = "Its services were priced into its quote: book further work as a new request."
    else:
        add = ""
    if cancelled:
        cancel = "It is already cancelled."
    elif proforma is not None:
        cancel = (
            f"Its service S-{proforma.service_id} already has proforma {proforma}: cancel the services that have "
            "none one by one, and correct or credit what was billed."
        )
    elif invoiced is not None:
        cancel = f"It was invoiced from its quote on {_invoice_name(invoiced)}: void or credit that invoice instead."
    else:
        cancel = ""
    return RequestEditable(frozen=frozen, add=add, cancel=cancel)
