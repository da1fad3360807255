"""Requests and services after they came in (invoicing.intake): adding and changing services with the checks of
``request_submit``, what stays once a price was made (proforma, quote) or an invoice issued, cancelling, reservation
shifts (added and changed until finished, services put on them or taken off) and finishing one, which makes its
proformas (seed 003)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.recording import audit_trail
from customers.models import Customer
from expense_codes.models import AppliedExpenseCode
from invoicing.booking import ExtraInput, ServiceInput, request_book, request_submit
from invoicing.editable import request_editable, service_editable
from invoicing.errors import BillingRuleError, InvalidTransition
from invoicing.intake import (
    extras_as_given,
    request_cancel,
    request_update,
    service_add,
    service_cancel,
    service_update,
)
from invoicing.invoices_from_proformas import ar_invoices_generate
from invoicing.lifecycle import invoice_issue
from invoicing.manual import quote_convert
from invoicing.models import Proforma, Quote, Rate, Service, ServiceExtra, ServiceRequest, Shift
from invoicing.proformas import proforma_generate
from invoicing.shifts import service_shift_set, shift_create, shift_finish, shift_update
from tests import factories

pytestmark = pytest.mark.django_db

FAR = datetime.date(2099, 1, 1)


def weekday_at(hour: int, days: int = -7) -> datetime.datetime:
    """A weekday about ``days`` from today (past by default), at ``hour`` local time: weekday rates."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


@pytest.fixture
def world(db):
    partner = factories.PartnerFactory()
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal("10"))
    stype = factories.ServiceTypeFactory(partner=partner)
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal("8000"),
        pay_rate_units=Decimal("5000"),
    )
    customer = factories.CustomerFactory(partner=partner, zone=zone, auto_send=False)
    staff = factories.StaffMembershipFactory(partner=partner, role="billing_clerk").user
    return customer, stype, staff


def two_hours(stype, start=None, **kwargs) -> ServiceInput:
    start = start or weekday_at(9)
    return ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=2), **kwargs)


def given_as_is(service: Service, **changes) -> ServiceInput:
    """The service as an edit form would send it back unchanged, with ``changes``."""
    extras = extras_as_given(service)
    values = {
        "service_type": service.service_type,
        "starts_at": service.starts_at,
        "ends_at": service.ends_at,
        "address": service.address,
        "zone": service.zone,
        "provider": service.provider,
        "notes": service.notes,
        "extras": extras,
    }
    values.update(changes)
    return ServiceInput(**values)


def submitted(customer, stype, staff, **kwargs) -> ServiceRequest:
    kwargs.setdefault("services", [two_hours(stype)])
    return request_submit(customer=customer, user=staff, title="Hearing", **kwargs)


def quote_customer(customer):
    Customer.objects.filter(pk=customer.pk).update(payment_terms="no_payment", auto_invoice_on_booking=False)
    customer.refresh_from_db()
    return customer


def actions(target) -> list[str]:
    return [event.action for event in audit_trail(target)]


# --- adding a service -------------------------------------------------------------------------------------------


def test_an_added_service_is_saved_with_its_extras_codes_and_an_audit_row(world):
    customer, stype, staff = world
    request = submitted(customer, stype, staff)
    offer = factories.ExtraOfferFactory(partner=customer.partner, name="Transcript")
    given = two_hours(
        stype,
        weekday_at(13),
        address="12 Court St",
        extras=[ExtraInput(offer=offer, quantity=2)],
        codes=[("Task", "T-4")],
    )

    service = service_add(service_request=request, user=staff, given=given)

    assert service.request_id == request.pk and service.zone == customer.zone and service.address == "12 Court St"
    extra = service.extras.get()
    assert (extra.description, extra.quantity, extra.bill_rate_units) == ("Transcript", 2, Decimal(2500))
    assert list(AppliedExpenseCode.objects.filter(service=service).values_list("label_name", "value")) == [
        ("Task", "T-4")
    ]
    assert actions(service) == ["add"]


@pytest.mark.parametrize(
    ("change", "field"),
    [("ends_before", "ends_at"), ("foreign_type", "service_type"), ("foreign_provider", "provider")],
)
def test_an_added_service_is_checked_like_a_submitted_one_and_nothing_is_saved(world, change, field):
    customer, stype, staff = world
    request = submitted(customer, stype, staff)
    given = two_hours(stype, weekday_at(13))
    other = factories.PartnerFactory()
    if change == "ends_before":
        given.ends_at = given.starts_at - datetime.timedelta(hours=1)
    elif change == "foreign_type":
        given.service_type = factories.ServiceTypeFactory(partner=other)
    else:
        given.provider = factories.ProviderFactory(partner=other)

    with pytest.raises(ValidationError) as error:
        service_add(service_request=request, user=staff, given=given)

    assert field in error.value.message_dict
    assert request.services.count() == 1


def test_an_added_service_must_keep_the_customers_required_label(world):
    customer, stype, staff = world
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Case number", is_required=True)
    # the request carries no code of the label: each of its services does
    request = submitted(customer, stype, staff, services=[two_hours(stype, codes=[(label, "C-1")])])

    with pytest.raises(ValidationError) as error:
        service_add(service_request=request, user=staff, given=two_hours(stype, weekday_at(13)))
    assert "Case number" in error.value.message_dict[f"code_{label.pk}"][0]
    assert request.services.count() == 1

    service_add(service_request=request, user=staff, given=two_hours(stype, weekday_at(13), codes=[(label, "C-2")]))
    assert request.services.count() == 2


def test_no_service_is_added_to_a_cancelled_or_quoted_request(world):
    customer, stype, staff = world
    cancelled = submitted(customer, stype, staff)
    request_cancel(service_request=cancelled, user=staff)
    with pytest.raises(BillingRuleError, match="cancelled"):
        service_add(service_request=cancelled, user=staff, given=two_hours(stype))

    booking = request_book(customer=quote_customer(customer), services=[two_hours(stype, weekday_at(9, days=7))])
    with pytest.raises(BillingRuleError, match="quote"):
        service_add(service_request=booking, user=staff, given=two_hours(stype))
    assert "quote" in request_editable(booking).add


# --- changing a service -----------------------------------------------------------------------------------------


def test_a_service_changes_freely_until_it_has_a_proforma(world):
    customer, stype, staff = world
    service = submitted(customer, stype, staff).services.get()
    other_type = factories.ServiceTypeFactory(partner=customer.partner)
    provider = factories.ProviderFactory(partner=customer.partner)
    start = weekday_at(10, days=-14)

    service_update(
        service=service,
        user=staff,
        given=given_as_is(
            service,
            service_type=other_type,
            provider=provider,
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=3),
            notes="Bring the file",
        ),
    )

    service.refresh_from_db()
    assert (service.service_type, service.provider, service.starts_at) == (other_type, provider, start)
    assert service.hours == Decimal("3.00") and service.notes == "Bring the file"
    [event] = [e for e in audit_trail(service) if e.action == "update"]
    assert event.actor == staff and "starts_at" in event.data["changed"] and "provider" in event.data["changed"]


def test_a_priced_service_keeps_its_times_type_zone_extras_and_provider(world):
    customer, stype, staff = world
    service = submitted(customer, stype, staff).services.get()
    proforma = proforma_generate(service=service)
    hour = datetime.timedelta(hours=1)

    with pytest.raises(BillingRuleError) as error:
        service_update(
            service=service,
            user=staff,
            given=given_as_is(service, starts_at=service.starts_at + hour, ends_at=service.ends_at + hour),
        )
    assert error.value.field == "starts_at"
    with pytest.raises(BillingRuleError) as error:
        service_update(
            service=service,
            user=staff,
            given=given_as_is(service, ends_at=service.ends_at + datetime.timedelta(hours=1)),
        )
    assert error.value.field == "ends_at" and str(proforma) in error.value.message
    with pytest.raises(BillingRuleError) as error:
        service_update(
            service=service,
            user=staff,
            given=given_as_is(service, zone=factories.ZoneFactory(partner=customer.partner)),
        )
    assert error.value.field == "zone"
    with pytest.raises(BillingRuleError) as error:
        service_update(
            service=service,
            user=staff,
            given=given_as_is(service, provider=factories.ProviderFactory(partner=customer.partner)),
        )
    assert error.value.field == "provider"

    service_update(service=service, user=staff, given=given_as_is(service, address="Room 4", notes="Moved rooms"))
    service.refresh_from_db()
    assert (service.address, service.notes) == ("Room 4", "Moved rooms")
    assert "adjustment" in service_editable(service).priced


def test_a_quoted_service_keeps_its_priced_fields_but_takes_a_provider(world):
    customer, stype, staff = world
    booking = request_book(customer=quote_customer(customer), services=[two_hours(stype, weekday_at(9, days=7))])
    service = booking.services.get()
    provider = factories.ProviderFactory(partner=customer.partner)

    with pytest.raises(BillingRuleError, match="quote"):
        service_update(
            service=service,
            user=staff,
            given=given_as_is(service, ends_at=service.ends_at + datetime.timedelta(hours=1)),
        )
    service_update(service=service, user=staff, given=given_as_is(service, provider=provider))
    service.refresh_from_db()
    assert service.provider == provider


def test_extras_given_back_unchanged_stay_as_they_were_priced(world):
    customer, stype, staff = world
    offer = factories.ExtraOfferFactory(partner=customer.partner, name="Transcript", bill_rate_units=Decimal(2500))
    request = submitted(
        customer, stype, staff, services=[two_hours(stype, extras=[ExtraInput(offer=offer, quantity=1)])]
    )
    service = request.services.get()
    kept = service.extras.get()
    offer.bill_rate_units = Decimal(9999)
    offer.save()

    typed = ExtraInput(kind="reimbursement", description="Parking", quantity=1, bill_rate_units=Decimal(1200))
    service_update(
        service=service, user=staff, given=given_as_is(service, extras=[*given_as_is(service).extras, typed])
    )

    rows = list(service.extras.order_by("pk"))
    assert rows[0].pk == kept.pk and rows[0].bill_rate_units == Decimal(2500)  # not re-copied at the new rate
    assert (rows[1].description, rows[1].bill_rate_units) == ("Parking", Decimal(1200))

    service_update(service=service, user=staff, given=given_as_is(service, extras=[typed]))
    assert [e.description for e in service.extras.all()] == ["Parking"]

    proforma_generate(service=service)
    with pytest.raises(BillingRuleError) as error:
        service_update(service=service, user=staff, given=given_as_is(service, extras=[]))
    assert error.value.field == "extras"
    service_update(service=service, user=staff, given=given_as_is(service))  # unchanged: fine
    assert ServiceExtra.objects.filter(service=service).count() == 1


def test_a_service_on_an_issued_invoice_cannot_change_at_all(world):
    customer, stype, staff = world
    request = submitted(customer, stype, staff)
    service = request.services.get()
    proforma_generate(service=service)
    [draft] = ar_invoices_generate(customer=customer, period_start=None, period_end=FAR)
    invoice = invoice_issue(invoice=draft)

    editable = service_editable(service)
    assert invoice.number in editable.frozen and not editable.can_edit
    with pytest.raises(BillingRuleError, match="can no longer change"):
        service_update(service=service, user=staff, given=given_as_is(service, notes="Late note"))
    with pytest.raises(BillingRuleError, match=invoice.number):
        request_update(service_request=request, user=staff, title="Renamed")
    assert Service.objects.get(pk=service.pk).notes == ""


# --- the request's title and description --------------------------------------------------------------------


def test_a_request_title_and_description_change_with_an_audit_row(world):
    customer, stype, staff = world
    request = submitted(customer, stype, staff)
    with pytest.raises(ValidationError) as error:
        request_update(service_request=request, user=staff, title="  ", description="x")
    assert "title" in error.value.message_dict

    request_update(service_request=request, user=staff, title="Hearing, day two", description="Room 4")

    request.refresh_from_db()
    assert (request.title, request.description) == ("Hearing, day two", "Room 4")
    assert actions(request)[-1] == "update"


# --- cancelling ---------------------------------------------------------------------------------------------------


def test_a_service_without_a_proforma_is_cancelled_and_one_with_a_proforma_is_not(world):
    customer, stype, staff = world
    request = submitted(customer, stype, staff, services=[two_hours(stype), two_hours(stype, weekday_at(13))])
    first, second = request.services.order_by("starts_at")
    proforma = proforma_generate(service=first)

    service_cancel(service=second, user=staff, reason="Not needed")
    with pytest.raises(InvalidTransition, match=str(proforma)):
        service_cancel(service=first, user=staff)
    with pytest.raises(InvalidTransition, match="already cancelled"):
        service_cancel(service=second, user=staff)

    assert Service.objects.get(pk=second.pk).status == Service.Status.CANCELLED
    assert Service.objects.get(pk=first.pk).status == Service.Status.SCHEDULED
    [event] = [e for e in audit_trail(second) if e.action == "cancel"]
    assert event.reason == "Not needed" and event.to_status == "cancelled"


def test_cancelling_a_request_cancels_its_services_and_declines_its_quote(world):
    customer, stype, staff = world
    booking = request_book(
        customer=quote_customer(customer),
        services=[two_hours(stype, weekday_at(9, days=7)), two_hours(stype, weekday_at(13, days=7))],
    )

    request_cancel(service_request=booking, user=staff, reason="Customer called")

    booking.refresh_from_db()
    assert booking.status == ServiceRequest.Status.CANCELLED
    assert set(booking.services.values_list("status", flat=True)) == {Service.Status.CANCELLED}
    assert Quote.objects.get(request=booking).status == Quote.Status.DECLINED
    assert actions(booking)[-1] == "cancel"
    with pytest.raises(InvalidTransition, match="already cancelled"):
        request_cancel(service_request=booking, user=staff)


def test_a_request_with_a_proforma_or_invoiced_from_its_quote_is_not_cancelled(world):
    customer, stype, staff = world
    priced = submitted(customer, stype, staff)
    proforma_generate(service=priced.services.get())
    with pytest.raises(InvalidTransition, match="already has proforma"):
        request_cancel(service_request=priced, user=staff)

    booking = request_book(customer=quote_customer(customer), services=[two_hours(stype, weekday_at(9, days=7))])
    invoice = quote_convert(quote=booking.quote)
    with pytest.raises(InvalidTransition, match="invoiced from its quote"):
        request_cancel(service_request=booking, user=staff)
    with pytest.raises(InvalidTransition, match="invoiced from its quote"):
        service_cancel(service=booking.services.get(), user=staff)
    assert invoice.pk and ServiceRequest.objects.get(pk=booking.pk).status != ServiceRequest.Status.CANCELLED


# --- shifts (seed 003: proformas follow once a reservation shift is finished) ----------------------------------


def test_finishing_a_shift_completes_its_services_and_makes_their_proformas(world):
    customer, stype, staff = world
    shift = factories.ShiftFactory(partner=customer.partner)
    start = weekday_at(9, days=7)  # scheduled ahead: no other trigger would price them yet
    request = submitted(customer, stype, staff, services=[two_hours(stype, start), two_hours(stype, start)])
    on_shift, cancelled = request.services.order_by("pk")
    Service.objects.filter(pk__in=[on_shift.pk, cancelled.pk]).update(shift=shift)
    service_cancel(service=cancelled, user=staff)
    outside = submitted(customer, stype, staff, services=[two_hours(stype, start)]).services.get()

    finished = shift_finish(shift=shift, user=staff)

    assert Shift.objects.get(pk=shift.pk).finished_at is not None and finished.completed == 1
    assert [p.service_id for p in finished.run.created] == [on_shift.pk]
    assert Service.objects.get(pk=on_shift.pk).status == Service.Status.COMPLETED
    assert not Proforma.objects.filter(service__in=[cancelled, outside]).exists()
    assert "finish" in actions(shift)


def test_a_shift_is_not_finished_before_it_starts(world):
    customer, stype, staff = world
    shift = factories.ShiftFactory(partner=customer.partner, starts_at=timezone.now() + datetime.timedelta(hours=2))
    with pytest.raises(InvalidTransition, match="not started"):
        shift_finish(shift=shift, user=staff)
    assert Shift.objects.get(pk=shift.pk).finished_at is None


def test_finishing_a_shift_again_makes_the_proformas_that_could_not_be_priced_before(world):
    customer, stype, staff = world
    shift = factories.ShiftFactory(partner=customer.partner)
    request = submitted(customer, stype, staff, services=[two_hours(stype, weekday_at(9, days=7))])
    service = request.services.get()
    Service.objects.filter(pk=service.pk).update(shift=shift)
    rates = list(Rate.objects.all().values())
    Rate.objects.all().delete()

    first = shift_finish(shift=shift, user=staff)
    assert first.run.errors and not first.run.created
    finished_at = Shift.objects.get(pk=shift.pk).finished_at
    assert "bill rate" in Service.objects.get(pk=service.pk).pricing_error

    Rate.objects.bulk_create([Rate(**row) for row in rates])
    again = shift_finish(shift=shift, user=staff)
    assert [p.service_id for p in again.run.created] == [service.pk] and again.completed == 0
    assert Shift.objects.get(pk=shift.pk).finished_at == finished_at


# --- shifts: added, changed until finished, services put on them or taken off -----------------------------------

HOUR = datetime.timedelta(hours=1)


def shift_around(service: Service, name: str = "Day shift", before=HOUR, after=HOUR, **kwargs) -> Shift:
    """A shift of the service's partner whose window holds it, ``before`` its start to ``after`` its end."""
    partner = kwargs.pop("partner", service.partner)
    return shift_create(
        partner=partner, name=name, starts_at=service.starts_at - before, ends_at=service.ends_at + after, **kwargs
    )


def shift_error(excinfo) -> dict:
    return excinfo.value.message_dict


def test_a_shift_is_added_with_its_name_tidied_and_an_audit_row(world):
    customer, _, staff = world
    start = weekday_at(8)

    shift = shift_create(
        partner=customer.partner, user=staff, name="  Night   shift ", starts_at=start, ends_at=start + 8 * HOUR
    )

    shift.refresh_from_db()
    assert (shift.name, shift.partner, shift.finished_at) == ("Night shift", customer.partner, None)
    assert actions(shift) == ["create"] and audit_trail(shift).get().actor == staff


@pytest.mark.parametrize(
    "name, hours, field, message",
    [
        ("", 8, "name", "Name the shift"),
        ("x" * 101, 8, "name", "100 characters"),
        ("Day", 0, "ends_at", "end after it starts"),
        ("Day", -2, "ends_at", "end after it starts"),
        ("Day", 7 * 24 + 1, "ends_at", "at most 7 days"),
    ],
)
def test_a_shift_needs_a_name_and_ends_after_it_starts_within_a_week(world, name, hours, field, message):
    customer, _, staff = world
    start = weekday_at(8)

    with pytest.raises(ValidationError) as excinfo:
        shift_create(partner=customer.partner, user=staff, name=name, starts_at=start, ends_at=start + hours * HOUR)

    assert message in " ".join(shift_error(excinfo)[field])
    assert not Shift.objects.exists()


def test_a_shift_changes_until_it_is_finished(world):
    customer, _, staff = world
    start = weekday_at(8)
    shift = shift_create(partner=customer.partner, user=staff, name="Day", starts_at=start, ends_at=start + 8 * HOUR)

    shift_update(shift=shift, user=staff, name="Long day", starts_at=start, ends_at=start + 10 * HOUR)
    shift.refresh_from_db()
    assert (shift.name, shift.ends_at) == ("Long day", start + 10 * HOUR)
    assert actions(shift) == ["create", "update"]
    assert sorted(audit_trail(shift).last().data["changed"]) == ["ends_at", "name"]

    with pytest.raises(ValidationError) as excinfo:
        shift_update(shift=shift, user=staff, name="Long day", starts_at=start, ends_at=start + 8 * 24 * HOUR)
    assert "ends_at" in shift_error(excinfo)

    shift_finish(shift=shift, user=staff)
    with pytest.raises(BillingRuleError, match="finished"):
        shift_update(shift=shift, user=staff, name="Renamed", starts_at=start, ends_at=start + 8 * HOUR)
    assert Shift.objects.get(pk=shift.pk).name == "Long day"


def test_a_shifts_times_keep_holding_the_services_on_it(world):
    customer, stype, staff = world
    service = submitted(customer, stype, staff).services.get()
    shift = shift_around(service, user=staff)
    service_shift_set(service=service, user=staff, shift=shift)

    with pytest.raises(ValidationError) as excinfo:
        shift_update(
            shift=shift, user=staff, name=shift.name, starts_at=service.starts_at + HOUR, ends_at=shift.ends_at
        )

    assert f"S-{service.pk} on this shift runs" in " ".join(shift_error(excinfo)["starts_at"])
    assert Shift.objects.get(pk=shift.pk).starts_at == shift.starts_at
    # A cancelled service on it does not hold the shift's times.
    service_cancel(service=service, user=staff)
    shift_update(shift=shift, user=staff, name=shift.name, starts_at=service.starts_at + HOUR, ends_at=shift.ends_at)


def test_a_service_goes_on_a_shift_that_holds_it_and_comes_off_it(world):
    customer, stype, staff = world
    service = submitted(customer, stype, staff).services.get()
    first, second = shift_around(service, "First"), shift_around(service, "Second", before=2 * HOUR)
    elsewhere = shift_create(
        partner=customer.partner, name="Elsewhere", starts_at=service.ends_at, ends_at=service.ends_at + 4 * HOUR
    )
    assert service_editable(service).shifts == (second, first)  # by start; not the one whose window misses it

    service_shift_set(service=service, user=staff, shift=first)
    assert Service.objects.get(pk=service.pk).shift == first
    assert service_editable(Service.objects.get(pk=service.pk)).shifts == (second,)

    service_shift_set(service=service, user=staff, shift=second)  # moved
    service_shift_set(service=service, user=staff, shift=None)  # taken off
    assert Service.objects.get(pk=service.pk).shift is None
    assert actions(service)[-3:] == ["put_on_shift", "put_on_shift", "take_off_shift"]
    assert audit_trail(service).last().data == {"from_shift": second.pk, "to_shift": None}
    assert elsewhere not in service_editable(service).shifts


def test_a_service_outside_the_shifts_window_is_refused_with_the_window(world):
    customer, stype, staff = world
    service = submitted(customer, stype, staff).services.get()
    early = shift_create(
        partner=customer.partner,
        name="Early",
        starts_at=service.starts_at - 4 * HOUR,
        ends_at=service.starts_at + HOUR,  # ends an hour into the service
    )

    with pytest.raises(ValidationError) as excinfo:
        service_shift_set(service=service, user=staff, shift=early)

    message = " ".join(shift_error(excinfo)["shift"])
    window = (
        timezone.localtime(early.starts_at).strftime("%H:%M")
        + "–"
        + timezone.localtime(early.ends_at).strftime("%H:%M")
    )
    assert "outside the shift Early" in message and window in message
    assert Service.objects.get(pk=service.pk).shift is None and "put_on_shift" not in actions(service)


def test_no_service_goes_on_a_finished_shift_or_another_partners(world):
    customer, stype, staff = world
    service = submitted(customer, stype, staff).services.get()
    finished = shift_around(service, "Done")
    shift_finish(shift=finished, user=staff)
    stranger = shift_around(service, "Theirs", partner=factories.PartnerFactory())

    with pytest.raises(BillingRuleError, match="is finished") as excinfo:
        service_shift_set(service=service, user=staff, shift=finished)
    assert excinfo.value.field == "shift"
    with pytest.raises(ValidationError, match="one of your shifts"):
        service_shift_set(service=service, user=staff, shift=stranger)

    assert Service.objects.get(pk=service.pk).shift is None
    assert service_editable(service).shifts == ()


def test_a_cancelled_service_one_with_a_proforma_or_on_a_finished_shift_keeps_its_shift(world):
    customer, stype, staff = world
    cancelled, priced, finished_on = submitted(
        customer, stype, staff, services=[two_hours(stype), two_hours(stype), two_hours(stype)]
    ).services.order_by("pk")
    shift = shift_around(cancelled)
    service_shift_set(service=finished_on, user=staff, shift=shift)
    service_cancel(service=cancelled, user=staff)
    proforma_generate(service=priced)
    other = shift_around(priced, "Other")

    with pytest.raises(BillingRuleError, match="It is cancelled"):
        service_shift_set(service=cancelled, user=staff, shift=shift)
    with pytest.raises(BillingRuleError, match="already has proforma") as excinfo:
        service_shift_set(service=priced, user=staff, shift=shift)
    assert excinfo.value.field == "shift"
    Rate.objects.all().delete()  # finished, but its proforma could not be made: it stays on the shift all the same
    assert shift_finish(shift=shift, user=staff).run.errors
    for target in (other, None):
        with pytest.raises(BillingRuleError, match="is finished"):
            service_shift_set(service=finished_on, user=staff, shift=target)

    assert [s.shift_id for s in Service.objects.order_by("pk")] == [None, None, shift.pk]
    assert "already has proforma" in service_editable(priced).shift and service_editable(priced).shifts == ()


def test_a_service_on_a_shift_cannot_be_moved_out_of_the_shifts_times(db):
    service = factories.ServiceFactory()
    shift = factories.ShiftFactory(
        partner=service.partner,
        starts_at=service.starts_at - datetime.timedelta(hours=1),
        ends_at=service.ends_at + datetime.timedelta(hours=1),
    )
    Service.objects.filter(pk=service.pk).update(shift=shift)
    service.refresh_from_db()
    given = ServiceInput(
        service_type=service.service_type,
        starts_at=service.starts_at,
        ends_at=service.ends_at + datetime.timedelta(hours=3),
        extras=extras_as_given(service),
    )
    with pytest.raises(ValidationError) as error:
        service_update(service=service, given=given)
    assert "keep it within the shift's times" in error.value.message_dict["ends_at"][0]
    assert Service.objects.get(pk=service.pk).ends_at == service.ends_at
