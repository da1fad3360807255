"""A clerk enters a request with two services in a real browser: the customer picker reloads the form with the
customer's labels, "Add another service" adds a row (static/js/formset.js, no inline script), and the request is
saved with both services and its required code; the service page then finishes the shift it is on."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.models import Proforma, Rate, Service, ServiceRequest
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def weekday_at(hour: int, days: int = -7) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=days)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def office(db):
    partner = factories.PartnerFactory(name="Northwind Interpreting")
    customer = factories.CustomerFactory(partner=partner, name="Harborview Medical")
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order", is_required=True)
    stype = factories.ServiceTypeFactory(partner=partner, name="Interpreting")
    Rate.objects.create(partner=partner, slip_type="service", pay_schedule="weekday", bill_rate_units=Decimal(8000))
    factories.StaffMembershipFactory(partner=partner, role="billing_clerk", user__username="clerk")
    return {"partner": partner, "customer": customer, "label": label, "stype": stype}


def test_a_clerk_enters_a_request_with_two_services_then_finishes_a_shift(page, office):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, "clerk", factories.PASSWORD)
    page.goto("/office/requests/new/")
    page.select_option("#pick_customer", str(office["customer"].pk))  # submits itself
    page.wait_for_selector(f"[name=code_{office['label'].pk}]")

    page.fill("[name=title]", "Smith v. Jones")
    page.fill(f"[name=code_{office['label'].pk}]", "PO-77")
    page.select_option("[name=services-0-service_type]", str(office["stype"].pk))
    page.fill("[name=services-0-starts_at]", local(weekday_at(9)))
    page.fill("[name=services-0-ends_at]", local(weekday_at(11)))
    page.click("button:has-text('Add another service')")
    page.select_option("[name=services-1-service_type]", str(office["stype"].pk))
    page.fill("[name=services-1-starts_at]", local(weekday_at(13)))
    page.fill("[name=services-1-ends_at]", local(weekday_at(15)))
    page.click("button:has-text('Save request')")
    page.wait_for_url("**/office/requests/*/")

    service_request = ServiceRequest.objects.get()
    assert service_request.services.count() == 2 and "Smith v. Jones" in page.content()
    assert "Purchase order: PO-77" in page.content()

    shift = factories.ShiftFactory(partner=office["partner"], name="Day shift")
    service = service_request.services.order_by("starts_at").first()
    Service.objects.filter(pk=service.pk).update(shift=shift)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"/office/services/{service.pk}/")
    page.click("button:has-text('Finish shift')")
    page.wait_for_load_state()
    assert Proforma.objects.filter(service=service).exists() and "1 proforma made" in page.content()
    assert not [e for e in errors if "Content Security Policy" in e]
