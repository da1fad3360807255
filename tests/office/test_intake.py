"""Requests and services entered and changed in the office (office.views.intake): a new request with its services,
codes and documents through ``request_submit``; editing a request, its codes, its services and theirs until they
are invoiced (then read-only, with the reason); cancelling; shifts added and changed, services put on them or taken
off from their pages, and finishing shifts (seed 003: the proformas follow); the request and service lists'
filters; and partner scoping (another partner's object is a 404)."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.recording import audit_trail
from expense_codes.models import AppliedExpenseCode
from invoicing.booking import ServiceInput, request_book, request_submit
from invoicing.invoices_from_proformas import ar_invoices_generate
from invoicing.lifecycle import invoice_issue
from invoicing.models import (
    Proforma,
    Quote,
    Rate,
    Service,
    ServiceExtra,
    ServiceRequest,
    Shift,
    SupportingDocument,
)
from invoicing.proformas import proforma_generate
from invoicing.shifts import service_shift_set, shift_create, shift_finish
from tests import factories
from tests.support.documents import upload

pytestmark = pytest.mark.django_db

MANAGEMENT = {"INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def stype(partner):
    return factories.ServiceTypeFactory(partner=partner, name="Interpreting")


@pytest.fixture
def rates(partner):
    Rate.objects.create(
        partner=partner,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal(8000),
        pay_rate_units=Decimal(5000),
    )


def weekday_at(hour: int, days: int = -7) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=days)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def formset(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), **{f"{prefix}-{k}": v for k, v in MANAGEMENT.items()}}
    data[f"{prefix}-INITIAL_FORMS"] = str(initial)
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def service_fields(stype, start: datetime.datetime, hours: int = 2, **extra) -> dict:
    return {
        "service_type": stype.pk,
        "starts_at": local(start),
        "ends_at": local(start + datetime.timedelta(hours=hours)),
        "address": "12 Court St",
        **extra,
    }


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def submitted(customer, stype, **kwargs) -> ServiceRequest:
    start = kwargs.pop("start", weekday_at(9))
    services = kwargs.pop(
        "services", [ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=2))]
    )
    return request_submit(customer=customer, title="Hearing", services=services, **kwargs)


# --- a new request ------------------------------------------------------------------------------------------------


def test_the_new_request_page_asks_for_the_customer_then_shows_its_labels(client, clerk_user, customer, stype):
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name=label.name, value="PO-AUTO")
    client.force_login(clerk_user)
    url = reverse("office:request_create")

    first = client.get(url)
    assert first.status_code == 200 and b"Choose the customer first" in first.content

    body = client.get(url, {"customer": customer.pk}).content.decode()
    assert f'name="code_{label.pk}"' in body and "Purchase order" in body and "Required" in body
    assert "PO-AUTO" in body  # the auto-applied code, pre-filled
    assert 'name="services-0-starts_at"' in body and 'type="datetime-local"' in body
    assert "js/formset.js" in body and "<script>" not in body


def test_the_list_and_the_customer_page_offer_a_new_request(client, clerk_user, customer):
    client.force_login(clerk_user)
    create = reverse("office:request_create")
    assert create.encode() in client.get(reverse("office:request_list")).content
    customer_page = client.get(reverse("office:customer_detail", args=[customer.pk])).content.decode()
    assert f"{create}?customer={customer.pk}" in customer_page


def test_staff_submit_a_request_with_services_codes_and_documents(client, clerk_user, customer, stype):
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    cost = factories.ExpenseCodeLabelFactory(customer=customer, name="Cost center")
    AppliedExpenseCode.objects.create(default_for=customer, label=cost, label_name=cost.name, value="CC-9")
    offer = factories.ExtraOfferFactory(partner=customer.partner, name="Transcript")
    provider = factories.ProviderFactory(partner=customer.partner)
    client.force_login(clerk_user)
    data = {
        "customer": customer.pk,
        "title": "Smith v. Jones",
        "description": "Two days of hearings",
        f"code_{label.pk}": "PO-1, PO-2",
        "other_label_0": "Project",
        "other_value_0": "Q-12",
        "documents": [upload("authorization.pdf"), upload("order.pdf")],
        **formset(
            "services",
            [
                service_fields(stype, weekday_at(9), provider=provider.pk, **{f"offer_{offer.pk}": "2"}),
                service_fields(stype, weekday_at(9, days=-6), hours=3),
            ],
        ),
    }

    response = client.post(reverse("office:request_create"), data)

    service_request = ServiceRequest.objects.get()
    assert response.status_code == 302 and response.url == reverse("office:request_detail", args=[service_request.pk])
    assert (service_request.title, service_request.source, service_request.created_by) == (
        "Smith v. Jones",
        ServiceRequest.Source.OFFICE,
        clerk_user,
    )
    codes = sorted(AppliedExpenseCode.objects.filter(request=service_request).values_list("label_name", "value"))
    assert codes == [
        ("Cost center", "CC-9"),
        ("Project", "Q-12"),
        ("Purchase order", "PO-1"),
        ("Purchase order", "PO-2"),
    ]
    first, second = service_request.services.order_by("starts_at")
    assert first.provider == provider and first.zone == customer.zone and second.hours == Decimal("3.00")
    assert first.extras.get().quantity == 2
    assert sorted(SupportingDocument.objects.values_list("name", flat=True)) == ["authorization.pdf", "order.pdf"]
    assert not Quote.objects.exists()  # office requests are not quoted


def test_a_required_code_left_empty_is_refused_next_to_its_label_and_nothing_is_saved(
    client, clerk_user, customer, stype
):
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    client.force_login(clerk_user)
    data = {"customer": customer.pk, "title": "x", **formset("services", [service_fields(stype, weekday_at(9))])}

    response = client.post(reverse("office:request_create"), {**data, "documents": [upload("po.pdf")]})

    assert response.status_code == 400
    assert "Purchase order" in response.context["form"].errors[f"code_{label.pk}"][0]
    assert b"Nothing was saved" in response.content and b"choose them again" in response.content
    assert not ServiceRequest.objects.exists() and not SupportingDocument.objects.exists()


def test_a_forged_customer_of_another_partner_is_refused_on_the_form(client, clerk_user, stype):
    stranger = factories.CustomerFactory(partner=factories.PartnerFactory())
    client.force_login(clerk_user)
    data = {"customer": stranger.pk, "title": "x", **formset("services", [service_fields(stype, weekday_at(9))])}

    response = client.post(reverse("office:request_create"), data)

    assert response.status_code == 400
    assert response.context["form"].errors["customer"] == ["Choose one of your active customers."]
    assert not ServiceRequest.objects.exists()
    assert stranger.name.encode() not in client.get(reverse("office:request_create"), {"customer": stranger.pk}).content


def test_a_bad_service_row_is_refused_on_that_row(client, clerk_user, customer, stype):
    client.force_login(clerk_user)
    foreign_zone = factories.ZoneFactory(partner=factories.PartnerFactory())
    good = service_fields(stype, weekday_at(9))
    backwards = {**service_fields(stype, weekday_at(13)), "ends_at": local(weekday_at(12))}
    data = {"customer": customer.pk, "title": "x", **formset("services", [good, backwards])}

    response = client.post(reverse("office:request_create"), data)
    assert response.status_code == 400
    rows = response.context["formset"].forms
    assert not rows[0].errors and "must end after it starts" in rows[1].errors["ends_at"][0]

    data = {"customer": customer.pk, "title": "x", **formset("services", [{**good, "zone": foreign_zone.pk}])}
    response = client.post(reverse("office:request_create"), data)
    assert response.status_code == 400 and "zone" in response.context["formset"].forms[0].errors
    assert not ServiceRequest.objects.exists()


# --- a request: edit, codes, cancel -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["billing_clerk", "billing_admin"])
def test_staff_edit_a_request_and_its_codes(client, partner, customer, stype, role):
    user = factories.StaffMembershipFactory(partner=partner, role=role).user
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order")
    service_request = submitted(customer, stype, codes=[("One-off", "X-1")])
    client.force_login(user)

    response = client.post(
        reverse("office:request_edit", args=[service_request.pk]), {"title": "Renamed", "description": "Room 4"}
    )
    assert response.status_code == 302
    service_request.refresh_from_db()
    assert (service_request.title, service_request.description) == ("Renamed", "Room 4")

    codes_url = reverse("office:request_codes", args=[service_request.pk])
    page = client.get(codes_url).content.decode()
    assert 'value="One-off"' in page and 'value="X-1"' in page  # a one-off code is editable as a pair
    response = client.post(
        codes_url,
        {f"code_{label.pk}": "PO-7", "other_label_0": "One-off", "other_value_0": "", "other_label_1": "Task"},
    )
    assert response.status_code == 302
    assert list(AppliedExpenseCode.objects.filter(request=service_request).values_list("label_name", "value")) == [
        ("Purchase order", "PO-7")
    ]
    refused = client.post(codes_url, {"other_value_0": "orphan"})
    assert refused.status_code == 400 and "other_label_0" in refused.context["form"].errors


def test_once_invoiced_a_request_and_its_service_are_read_only_with_the_reason(
    client, clerk_user, customer, stype, rates
):
    service_request = submitted(customer, stype, codes=[("PO", "1")])
    service = service_request.services.get()
    proforma_generate(service=service)
    [draft] = ar_invoices_generate(customer=customer, period_start=None, period_end=datetime.date(2099, 1, 1))
    invoice = invoice_issue(invoice=draft)
    client.force_login(clerk_user)

    for name, pk in [
        ("office:request_codes", service_request.pk),
        ("office:request_edit", service_request.pk),
        ("office:service_edit", service.pk),
        ("office:service_codes", service.pk),
    ]:
        page = client.get(reverse(name, args=[pk]))
        assert page.status_code == 200 and invoice.number.encode() in page.content, name
        assert b"can no longer change" in page.content and b'type="submit"' not in page.content.split(b"<main")[-1]
    response = client.post(reverse("office:request_codes", args=[service_request.pk]), {"other_label_0": "PO"})
    assert response.status_code == 302 and "can no longer change" in messages_of(client.get(response.url))
    response = client.post(reverse("office:service_edit", args=[service.pk]), {"notes": "late"})
    assert response.status_code == 302 and Service.objects.get(pk=service.pk).notes == ""
    detail = client.get(reverse("office:service_detail", args=[service.pk])).content.decode()
    assert invoice.number in detail and reverse("office:service_edit", args=[service.pk]) not in detail


def test_cancel_a_request_from_its_page(client, clerk_user, customer, stype):
    service_request = submitted(customer, stype)
    client.force_login(clerk_user)
    page = client.get(reverse("office:request_detail", args=[service_request.pk])).content.decode()
    assert reverse("office:request_cancel", args=[service_request.pk]) in page

    response = client.post(reverse("office:request_cancel", args=[service_request.pk]), {"reason": "Called off"})

    assert response.status_code == 302
    service_request.refresh_from_db()
    assert service_request.status == ServiceRequest.Status.CANCELLED
    assert service_request.services.get().status == Service.Status.CANCELLED
    assert client.get(reverse("office:request_cancel", args=[service_request.pk])).status_code == 405


def test_a_request_whose_service_has_a_proforma_is_not_cancelled(client, clerk_user, customer, stype, rates):
    service_request = submitted(customer, stype)
    proforma = proforma_generate(service=service_request.services.get())
    client.force_login(clerk_user)
    page = client.get(reverse("office:request_detail", args=[service_request.pk])).content.decode()
    assert reverse("office:request_cancel", args=[service_request.pk]) not in page and str(proforma) in page

    response = client.post(reverse("office:request_cancel", args=[service_request.pk]), follow=True)

    assert "already has proforma" in messages_of(response)
    assert ServiceRequest.objects.get(pk=service_request.pk).status == ServiceRequest.Status.SUBMITTED


# --- services: add, edit, cancel --------------------------------------------------------------------------------


def test_add_a_service_with_a_typed_extra_and_its_own_code(client, clerk_user, customer, stype):
    service_request = submitted(customer, stype)
    client.force_login(clerk_user)
    url = reverse("office:service_create", args=[service_request.pk])
    assert client.get(url).status_code == 200
    data = {
        **service_fields(stype, weekday_at(14)),
        **formset("extras", [{"kind": "reimbursement", "description": "Parking", "quantity": "1", "bill_rate": "12"}]),
        "codes-other_label_0": "Task",
        "codes-other_value_0": "T-4",
    }

    response = client.post(url, data)

    assert response.status_code == 302
    added = service_request.services.order_by("pk").last()
    extra = added.extras.get()
    assert (extra.kind, extra.description, extra.bill_rate_units) == ("reimbursement", "Parking", Decimal(1200))
    assert list(AppliedExpenseCode.objects.filter(service=added).values_list("label_name", "value")) == [
        ("Task", "T-4")
    ]


def test_an_added_service_without_the_required_code_is_refused_on_the_code(client, clerk_user, customer, stype):
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Case", is_required=True)
    start = weekday_at(9)
    service_request = submitted(
        customer,
        stype,
        services=[
            ServiceInput(
                service_type=stype,
                starts_at=start,
                ends_at=start + datetime.timedelta(hours=1),
                codes=[(label, "C-1")],
            )
        ],
    )
    client.force_login(clerk_user)
    url = reverse("office:service_create", args=[service_request.pk])

    response = client.post(url, {**service_fields(stype, weekday_at(14)), **formset("extras", [])})

    assert response.status_code == 400 and "Case" in response.context["codes_form"].errors[f"code_{label.pk}"][0]
    assert service_request.services.count() == 1


def test_edit_a_service_then_once_priced_its_times_are_shown_not_editable(client, clerk_user, customer, stype, rates):
    service_request = submitted(customer, stype)
    service = service_request.services.get()
    provider = factories.ProviderFactory(partner=customer.partner)
    client.force_login(clerk_user)
    url = reverse("office:service_edit", args=[service.pk])
    later = weekday_at(10)
    data = {
        **service_fields(stype, later, hours=3, provider=provider.pk, notes="Bring the file"),
        **formset("extras", [{"kind": "general", "description": "Binder", "quantity": "2", "bill_rate": "5"}]),
    }

    assert client.post(url, data).status_code == 302
    service.refresh_from_db()
    assert (service.starts_at, service.provider, service.notes) == (later, provider, "Bring the file")
    assert service.extras.get().description == "Binder"

    proforma = proforma_generate(service=service)
    page = client.get(url)
    assert page.context["form"].fields["starts_at"].disabled and page.context["form"].fields["provider"].disabled
    assert str(proforma) in page.content.decode() and page.context["extras"] is None
    moved = {**service_fields(stype, weekday_at(15), provider=provider.pk), "notes": "Room 4", "address": "Annex"}
    assert client.post(url, moved).status_code == 302
    service.refresh_from_db()
    assert (service.starts_at, service.notes, service.address) == (later, "Room 4", "Annex")  # times kept
    assert ServiceExtra.objects.filter(service=service).count() == 1


def test_a_service_is_cancelled_until_it_has_a_proforma(client, clerk_user, customer, stype, rates):
    service_request = submitted(customer, stype)
    service = service_request.services.get()
    client.force_login(clerk_user)
    cancel = reverse("office:service_cancel", args=[service.pk])
    assert cancel in client.get(reverse("office:service_detail", args=[service.pk])).content.decode()

    assert client.post(cancel, {"reason": "Not needed"}).status_code == 302
    assert Service.objects.get(pk=service.pk).status == Service.Status.CANCELLED

    priced = submitted(customer, stype).services.get()
    proforma_generate(service=priced)
    response = client.post(reverse("office:service_cancel", args=[priced.pk]), follow=True)
    assert "already has proforma" in messages_of(response)
    assert Service.objects.get(pk=priced.pk).status != Service.Status.CANCELLED


def test_a_booked_request_takes_a_provider_but_no_new_service(client, clerk_user, customer, stype, rates):
    customer.payment_terms, customer.auto_invoice_on_booking = "no_payment", False
    customer.save()
    start = weekday_at(9, days=7)
    booking = request_book(
        customer=customer,
        services=[ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=2))],
    )
    client.force_login(clerk_user)
    page = client.get(reverse("office:request_detail", args=[booking.pk])).content.decode()
    assert reverse("office:service_create", args=[booking.pk]) not in page and "priced into its quote" in page
    service = booking.services.get()
    provider = factories.ProviderFactory(partner=customer.partner)

    response = client.post(
        reverse("office:service_edit", args=[service.pk]), {**service_fields(stype, start), "provider": provider.pk}
    )

    assert response.status_code == 302 and Service.objects.get(pk=service.pk).provider == provider


# --- shifts (seed 003) -----------------------------------------------------------------------------------------


def test_finishing_a_shift_makes_the_proformas_of_its_services(client, clerk_user, customer, stype, rates):
    shift = factories.ShiftFactory(partner=customer.partner, name="Night shift")
    service = submitted(customer, stype, start=weekday_at(9, days=7)).services.get()
    Service.objects.filter(pk=service.pk).update(shift=shift)
    client.force_login(clerk_user)
    listing = client.get(reverse("office:shift_list")).content.decode()
    assert "Night shift" in listing and reverse("office:shift_finish", args=[shift.pk]) in listing
    detail = client.get(reverse("office:service_detail", args=[service.pk])).content.decode()
    assert reverse("office:shift_finish", args=[shift.pk]) in detail

    response = client.post(reverse("office:shift_finish", args=[shift.pk]), {"service": service.pk}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("office:service_detail", args=[service.pk])
    assert "1 proforma made" in messages_of(response)
    assert Shift.objects.get(pk=shift.pk).finished_at is not None
    assert Proforma.objects.filter(service=service).exists()
    assert Service.objects.get(pk=service.pk).status == Service.Status.COMPLETED


HOUR = datetime.timedelta(hours=1)


def shift_fields(name: str, start: datetime.datetime, hours: int = 8) -> dict:
    return {"name": name, "starts_at": local(start), "ends_at": local(start + hours * HOUR)}


def shift_around(service: Service, name: str = "Day shift", **kwargs) -> Shift:
    return shift_create(
        partner=kwargs.pop("partner", service.partner),
        name=name,
        starts_at=kwargs.pop("starts_at", service.starts_at - HOUR),
        ends_at=kwargs.pop("ends_at", service.ends_at + HOUR),
    )


def test_staff_add_a_shift_from_the_shifts_page(client, clerk_user, partner):
    client.force_login(clerk_user)
    assert reverse("office:shift_create") in client.get(reverse("office:shift_list")).content.decode()
    url = reverse("office:shift_create")
    assert client.get(url).status_code == 200
    start = weekday_at(8)

    refused = client.post(url, {**shift_fields("Night shift", start), "ends_at": local(start - HOUR)})
    assert refused.status_code == 400 and "The shift must end after it starts." in refused.content.decode()
    too_long = client.post(url, shift_fields("Night shift", start, hours=8 * 24))
    assert too_long.status_code == 400 and "at most 7 days" in too_long.content.decode()
    assert not Shift.objects.exists()

    response = client.post(url, shift_fields("Night shift", start), follow=True)

    shift = Shift.objects.get()
    assert (shift.partner, shift.name, shift.starts_at, shift.ends_at) == (
        partner,
        "Night shift",
        start,
        start + 8 * HOUR,
    )
    assert response.redirect_chain[-1][0] == reverse("office:shift_list") and "Night shift added" in messages_of(
        response
    )
    assert reverse("office:shift_edit", args=[shift.pk]) in response.content.decode()


def test_a_shift_is_edited_until_it_is_finished(client, clerk_user, partner, customer, stype):
    service = submitted(customer, stype).services.get()
    shift = shift_around(service, "Day shift")
    service_shift_set(service=service, shift=shift)
    client.force_login(clerk_user)
    url = reverse("office:shift_edit", args=[shift.pk])
    page = client.get(url).content.decode()
    assert 'value="Day shift"' in page and f"S-{service.pk}" in page  # the services on it, listed

    narrowed = client.post(url, shift_fields("Day shift", service.starts_at + HOUR))
    assert narrowed.status_code == 400 and f"S-{service.pk} on this shift runs" in narrowed.content.decode()

    response = client.post(url, shift_fields("Long day", service.starts_at - 2 * HOUR, hours=12))
    assert response.status_code == 302
    assert Shift.objects.get(pk=shift.pk).name == "Long day"

    shift_finish(shift=shift)
    finished = client.get(url).content.decode()
    assert "This shift can no longer change. It is finished." in finished and 'name="name"' not in finished
    response = client.post(url, shift_fields("Renamed", service.starts_at), follow=True)
    assert "can no longer change" in messages_of(response) and Shift.objects.get(pk=shift.pk).name == "Long day"


def test_put_a_service_on_a_shift_from_its_page_then_take_it_off(client, clerk_user, customer, stype):
    service = submitted(customer, stype).services.get()
    holding = shift_around(service, "Holding shift")
    missing = shift_around(service, "Missing shift", starts_at=service.ends_at, ends_at=service.ends_at + 4 * HOUR)
    theirs = shift_around(service, "Their shift", partner=factories.PartnerFactory())
    client.force_login(clerk_user)
    detail_url = reverse("office:service_detail", args=[service.pk])
    url = reverse("office:service_shift", args=[service.pk])

    page = client.get(detail_url).content.decode()
    assert url in page and f'<option value="{holding.pk}">Holding shift' in page
    assert missing.name not in page and theirs.name not in page and "Take off the shift" not in page

    response = client.post(url, {"shift": holding.pk}, follow=True)
    assert response.redirect_chain[-1][0] == detail_url
    assert f"S-{service.pk} is on the shift Holding shift." in messages_of(response)
    assert Service.objects.get(pk=service.pk).shift == holding
    page = response.content.decode()
    assert "Take off the shift" in page and reverse("office:shift_finish", args=[holding.pk]) in page

    response = client.post(url, {"take_off": "1"}, follow=True)
    assert "taken off the shift Holding shift" in messages_of(response)
    assert Service.objects.get(pk=service.pk).shift is None


def test_a_shift_that_misses_the_service_is_finished_or_another_partners_is_refused(
    client, clerk_user, customer, stype
):
    service = submitted(customer, stype).services.get()
    missing = shift_around(service, "Missing shift", starts_at=service.starts_at + HOUR)
    finished = shift_around(service, "Finished shift")
    shift_finish(shift=finished)
    theirs = shift_around(service, "Their shift", partner=factories.PartnerFactory())
    client.force_login(clerk_user)
    url = reverse("office:service_shift", args=[service.pk])

    for shift, message in [
        (missing, "outside the shift Missing shift ("),
        (finished, "The shift Finished shift is finished"),
        (theirs, "Choose one of your shifts."),
        (None, "Choose the shift to put it on."),
    ]:
        response = client.post(url, {"shift": shift.pk if shift else ""}, follow=True)
        assert response.redirect_chain[-1][0] == reverse("office:service_detail", args=[service.pk])
        assert message in messages_of(response), message
    assert Service.objects.get(pk=service.pk).shift is None
    assert "put_on_shift" not in [e.action for e in audit_trail(service)]


def test_a_service_with_a_proforma_says_why_its_shift_stays(client, clerk_user, customer, stype, rates):
    service = submitted(customer, stype).services.get()
    shift = shift_around(service)
    proforma = proforma_generate(service=service)
    client.force_login(clerk_user)

    page = client.get(reverse("office:service_detail", args=[service.pk])).content.decode()
    assert f"Not put on a shift: It already has proforma {proforma}" in page
    assert reverse("office:service_shift", args=[service.pk]) not in page

    response = client.post(reverse("office:service_shift", args=[service.pk]), {"shift": shift.pk}, follow=True)
    assert "already has proforma" in messages_of(response) and Service.objects.get(pk=service.pk).shift is None


def test_a_shift_added_in_the_office_makes_the_proformas_of_the_services_put_on_it(client, clerk_user, customer, stype):
    for schedule in ("weekday", "weeknight", "weekend"):  # the shift runs now, whatever day and hour that is
        Rate.objects.create(
            partner=customer.partner,
            slip_type="service",
            pay_schedule=schedule,
            bill_rate_units=Decimal(8000),
            pay_rate_units=Decimal(5000),
        )
    now = timezone.now().replace(second=0, microsecond=0)
    start = now + HOUR  # ends ahead: only finishing the shift makes its proforma now
    on_it, off_it = submitted(
        customer,
        stype,
        services=[ServiceInput(service_type=stype, starts_at=start, ends_at=start + 2 * HOUR)] * 2,
    ).services.order_by("pk")
    client.force_login(clerk_user)
    client.post(reverse("office:shift_create"), shift_fields("Office shift", now - HOUR))
    shift = Shift.objects.get(name="Office shift")
    assert client.post(reverse("office:service_shift", args=[on_it.pk]), {"shift": shift.pk}).status_code == 302

    response = client.post(reverse("office:shift_finish", args=[shift.pk]), follow=True)

    assert "1 proforma made" in messages_of(response)
    assert list(Proforma.objects.values_list("service_id", flat=True)) == [on_it.pk]
    assert Service.objects.get(pk=on_it.pk).status == Service.Status.COMPLETED
    assert Service.objects.get(pk=off_it.pk).status == Service.Status.SCHEDULED


# --- lists ------------------------------------------------------------------------------------------------------


def test_the_request_list_finds_a_code_of_one_of_its_services_and_its_export_follows(client, clerk_user, customer):
    service = factories.ServiceFactory(request=factories.ServiceRequestFactory(customer=customer))
    factories.ServiceFactory(request=factories.ServiceRequestFactory(customer=customer))
    AppliedExpenseCode.objects.create(service=service, label_name="Task", value="TASK-88")
    client.force_login(clerk_user)

    response = client.get(reverse("office:request_list"), {"code": "task-8"})
    assert [row.pk for row in response.context["rows"]] == [service.request_id]

    export = client.get(reverse("office:request_export"), {"code": "task-8"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert [row["Request"] for row in rows] == [f"R-{service.request_id}"]


def test_the_service_list_filters_by_provider_status_and_dates(client, clerk_user, customer):
    early = factories.ServiceFactory(
        request__customer=customer, starts_at=timezone.make_aware(datetime.datetime(2026, 2, 2, 9))
    )
    late = factories.ServiceFactory(
        request__customer=customer,
        starts_at=timezone.make_aware(datetime.datetime(2026, 5, 4, 9)),
        status=Service.Status.SCHEDULED,
    )
    client.force_login(clerk_user)
    url = reverse("office:service_list")

    def ids(**params):
        return [row.pk for row in client.get(url, params).context["rows"]]

    assert ids(provider=early.provider_id) == [early.pk]
    assert ids(status="scheduled") == [late.pk]
    assert ids(date_from="2026-04-01") == [late.pk] and ids(date_to="2026-04-01") == [early.pk]
    export = client.get(reverse("office:service_export"), {"status": "scheduled"})
    assert f"S-{late.pk}" in b"".join(export.streaming_content).decode()


# --- scoping and access ------------------------------------------------------------------------------------------


def test_another_partners_request_service_and_shift_are_404(client, clerk_user):
    stranger = factories.CustomerFactory(partner=factories.PartnerFactory())
    service = factories.ServiceFactory(request=factories.ServiceRequestFactory(customer=stranger), status="scheduled")
    shift = factories.ShiftFactory(partner=stranger.partner)
    client.force_login(clerk_user)
    request_pk, service_pk = service.request_id, service.pk
    for name, pk in [
        ("office:request_edit", request_pk),
        ("office:request_codes", request_pk),
        ("office:request_cancel", request_pk),
        ("office:service_create", request_pk),
        ("office:service_edit", service_pk),
        ("office:service_codes", service_pk),
        ("office:service_cancel", service_pk),
        ("office:shift_finish", shift.pk),
        ("office:shift_edit", shift.pk),
        ("office:service_shift", service_pk),
    ]:
        url = reverse(name, args=[pk])
        assert client.post(url, {"title": "x", "reason": "x"}).status_code == 404, name
        assert client.get(url).status_code in (404, 405), name
    assert ServiceRequest.objects.get(pk=request_pk).status == ServiceRequest.Status.SUBMITTED
    assert Service.objects.get(pk=service_pk).status == Service.Status.SCHEDULED
    assert Shift.objects.get(pk=shift.pk).finished_at is None
    assert shift.name.encode() not in client.get(reverse("office:shift_list")).content


def test_intake_pages_are_for_staff_only(client, customer_user, customer):
    service = factories.ServiceFactory(request=factories.ServiceRequestFactory(customer=customer))
    urls = [
        reverse("office:request_create"),
        reverse("office:request_edit", args=[service.request_id]),
        reverse("office:service_edit", args=[service.pk]),
        reverse("office:shift_list"),
        reverse("office:shift_create"),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(customer_user)
    for url in urls:
        assert client.get(url).status_code == 403
