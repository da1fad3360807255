"""Recurring bookings (seed 002): one service booked to repeat every week or every month, until a date or a number
of times. Each occurrence becomes its own ``Service`` (same type, provider, duration, address, zone, extras and
codes; ``occurrence`` 1..n), saved with the request by ``invoicing.booking.request_submit`` in one transaction.

- ``recurrence_read`` checks the request's recurring fields (the customer must allow recurring bookings, one
  service to repeat, an end date or a number of times, how it is invoiced) and returns a ``Recurrence``;
- ``occurrence_starts`` gives the start of each occurrence, in the partner's time zone: weekly, 7 days apart;
  monthly, on the first occurrence's day of the month, or the month's last day when it is shorter (Jan 31, Feb 28,
  Mar 31). 10:00 stays 10:00 across daylight saving time. At most ``MAX_OCCURRENCES``, and none later than the
  booking horizon the caller gives: beyond either, the booking is refused, never cut short;
- ``occurrences_expand`` turns the one service into its occurrences;
- ``recurrence_words`` says it in words ("Every week, 10 times, an invoice for each occurrence").

How the occurrences are invoiced (``ServiceRequest.recurring_invoicing``: each occurrence, or one invoice per
calendar month) is ``invoicing.invoices_from_proformas``'s; ``recurring_cutoffs`` gives the dates it works to.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils import timezone

from octoo_billing import locale as formats

from .models import ServiceRequest

if TYPE_CHECKING:  # booking imports this module: only the type, no import at run time
    from .booking import ServiceInput

# Two years of weekly occurrences; the booking horizon (invoicing.booking.BOOKING_HORIZON_DAYS) bounds the dates too.
MAX_OCCURRENCES = 104

Repeat = ServiceRequest.Repeat
RecurringInvoicing = ServiceRequest.RecurringInvoicing


@dataclasses.dataclass(frozen=True)
class Recurrence:
    """A booking's recurrence as checked by ``recurrence_read``: exactly one of ``until`` and ``count``."""

    repeat: str
    invoicing: str
    until: datetime.date | None = None
    count: int | None = None

    def fields(self) -> dict:
        """The ``ServiceRequest`` fields that record it (besides ``is_recurring``)."""
        return {
            "repeat": self.repeat,
            "repeat_until": self.until,
            "repeat_count": self.count,
            "recurring_invoicing": self.invoicing,
        }


def _day(date: datetime.date) -> str:
    """A date in a message, as the partner's locale writes it: "Nov 3, 2026" (en_US), "3 nov. 2026" (fr_FR)."""
    return formats.format_date(date)


def recurrence_read(
    *,
    customer,
    services_count: int,
    repeat: str = "",
    repeat_until: datetime.date | None = None,
    repeat_count: int | None = None,
    recurring_invoicing: str = "",
) -> Recurrence | None:
    """The recurrence asked for, or None for a booking that does not repeat. Raises ``ValidationError`` keyed by
    ``repeat``, ``repeat_until``, ``repeat_count`` or ``recurring_invoicing`` (the booking forms' field names)."""
    repeat = repeat or ""
    if not repeat:
        if repeat_until is not None or repeat_count is not None:
            raise ValidationError(
                {"repeat": "Choose how often the service repeats, or leave the end empty for a single booking."}
            )
        return None
    if not customer.allow_recurring_bookings:
        raise ValidationError({"repeat": "Recurring bookings are not allowed for this customer."})
    errors: dict[str, str] = {}
    if repeat not in Repeat.values:
        errors["repeat"] = "Choose every week or every month."
    elif services_count != 1:
        errors["repeat"] = (
            "Choose the service to repeat."
            if services_count == 0
            else "A recurring booking repeats one service: book the others as another request."
        )
    if recurring_invoicing not in RecurringInvoicing.values:
        errors["recurring_invoicing"] = "Choose how the occurrences are invoiced."
    if repeat_until is not None and repeat_count is not None:
        errors["repeat_count"] = "Give an end date or a number of times, not both."
    elif repeat_until is None and repeat_count is None:
        errors["repeat_until"] = "Say when it stops: an end date or a number of times."
    elif repeat_count is not None and not 1 <= repeat_count <= MAX_OCCURRENCES:
        errors["repeat_count"] = f"Enter a number of times from 1 to {MAX_OCCURRENCES}."
    if errors:
        raise ValidationError(errors)
    return Recurrence(repeat=repeat, invoicing=recurring_invoicing, until=repeat_until, count=repeat_count)


def _nth(first: datetime.datetime, repeat: str, n: int) -> datetime.datetime:
    """The ``n``th occurrence after ``first`` (a naive local time): ``n`` weeks later, or ``n`` months later on the
    same day of the month, clamped to the month's last day."""
    if repeat == Repeat.WEEKLY:
        return first + datetime.timedelta(weeks=n)
    months = first.month - 1 + n
    year, month = first.year + months // 12, months % 12 + 1
    return first.replace(year=year, month=month, day=min(first.day, calendar.monthrange(year, month)[1]))


def occurrence_starts(
    first_start: datetime.datetime,
    repeat: str,
    *,
    until: datetime.date | None = None,
    count: int | None = None,
    tz=None,
    latest: datetime.datetime | None = None,
) -> list[datetime.datetime]:
    """When each occurrence starts, the first at ``first_start``: ``count`` of them, or every one whose day (in
    ``tz``, the partner's time zone; the current one by default) is on or before ``until``. The local time of day is
    kept across daylight saving time.

    Refused with a ``ValidationError`` (on ``repeat_until`` or ``repeat_count``, whichever set the end) when
    ``until`` is before the first day, when it would make more than ``MAX_OCCURRENCES``, or when an occurrence would
    start after ``latest`` (the booking horizon)."""
    if repeat not in Repeat.values:
        raise ValidationError({"repeat": "Choose every week or every month."})
    if (until is None) == (count is None):
        raise ValidationError({"repeat_until": "Say when it stops: an end date or a number of times."})
    field = "repeat_until" if until is not None else "repeat_count"
    tz = tz or timezone.get_current_timezone()
    first = timezone.localtime(first_start, tz).replace(tzinfo=None)
    if until is not None and until < first.date():
        raise ValidationError({field: f"Choose an end date on or after the first date ({_day(first.date())})."})
    if count is not None and not 1 <= count <= MAX_OCCURRENCES:
        raise ValidationError({field: f"Enter a number of times from 1 to {MAX_OCCURRENCES}."})
    starts: list[datetime.datetime] = []
    while count is None or len(starts) < count:
        local = _nth(first, repeat, len(starts))
        if until is not None and local.date() > until:
            break
        if len(starts) == MAX_OCCURRENCES:
            raise ValidationError(
                {field: f"A recurring booking has at most {MAX_OCCURRENCES} occurrences: choose an earlier end date."}
            )
        start = timezone.make_aware(local, tz)
        if latest is not None and start > latest:
            raise ValidationError(
                {
                    field: f"Bookings can be made up to {_day(timezone.localdate(latest, tz))}: the occurrence of "
                    f"{_day(local.date())} would be later. Choose an earlier end or fewer times."
                }
            )
        starts.append(start)
    return starts


def occurrences_expand(given: ServiceInput, starts: list[datetime.datetime]) -> list[ServiceInput]:
    """The service ``given`` (its first occurrence) as one service per start: the same type, provider, duration,
    place, notes, extras and codes."""
    duration = given.ends_at - given.starts_at
    return [
        dataclasses.replace(
            given,
            starts_at=start,
            ends_at=start + duration,
            extras=[dataclasses.replace(extra) for extra in given.extras],
            codes=list(given.codes),
        )
        for start in starts
    ]


def recurrence_words(service_request: ServiceRequest) -> str:
    """ "Every week, 10 times, an invoice for each occurrence"; "" for a request that does not repeat."""
    if not service_request.repeat:
        return ""
    parts = [service_request.get_repeat_display()]
    if service_request.repeat_count is not None:
        count = service_request.repeat_count
        parts.append("once" if count == 1 else f"{count} times")
    elif service_request.repeat_until is not None:
        parts.append(f"until {_day(service_request.repeat_until)}")
    invoicing = service_request.get_recurring_invoicing_display()
    if invoicing:
        parts.append(invoicing[:1].lower() + invoicing[1:])
    return ", ".join(parts)


# --- invoicing the occurrences ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RecurringCutoffs:
    """The last service dates an invoice run takes occurrences up to: one by one (``each``), and by calendar
    month (``monthly``: the last day of the latest month that has ended)."""

    each: datetime.date
    monthly: datetime.date

    def for_mode(self, mode: str) -> datetime.date | None:
        if mode == RecurringInvoicing.EACH:
            return self.each
        if mode == RecurringInvoicing.MONTHLY:
            return self.monthly
        return None


def recurring_cutoffs(*, period_end: datetime.date, on_date: datetime.date | None, today: datetime.date):
    """What a run invoices of recurring bookings: each occurrence as soon as its proforma exists, up to the period's
    end or, on a scheduled run, its date (``on_date``); by month, the months ended by the run's date (or
    ``today``, in the partner's time zone) and within that same end."""
    each = max(period_end, on_date) if on_date is not None else period_end
    month_start = (on_date or today).replace(day=1)
    return RecurringCutoffs(each=each, monthly=min(each, month_start - datetime.timedelta(days=1)))
