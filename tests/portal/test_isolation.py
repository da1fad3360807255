"""Every portal page is scoped to the signed-in customer.

The URL patterns are read from the portal's URL conf, so a page added later is walked too. Each is requested,
GET and POST, by a user of another customer of the same partner, by a user of another partner's customer and
anonymously, pointing at the victim's objects. A page about one object answers 404 (or 405 for a method it takes
from no one; anonymous: the login page); a page without one (a list, a form, settings) shows none of the victim's
data. No request changes anything of the victim's.
"""

import datetime
from decimal import Decimal

import pytest
from django.urls import get_resolver, reverse
from django.utils import timezone

from customers.models import BillingContact, Customer
from expense_codes.models import AppliedExpenseCode, ExpenseCodeLabel
from invoicing.booking import ServiceInput, request_book
from invoicing.credits import credit_note_issue
from invoicing.models import Invoice, Quote, Rate, Service, ServiceRequest, SupportingDocument
from tests import factories
from tests.support.documents import upload

pytestmark = pytest.mark.django_db

VICTIM_MARKERS = ("Victim Hospital", "VICTIM-PO-77", "Victim deposition", "victim.billing@example.com")


def portal_patterns():
    """(name, route, kwarg names) of every portal URL pattern, enumerated from the resolver."""
    resolver = get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        if getattr(pattern, "namespace", None) != "portal":
            continue
        for inner in pattern.url_patterns:
            found.append((inner.name, str(inner.pattern), sorted(inner.pattern.converters)))
    assert len(found) >= 10, "the portal's URL conf was not found"
    return found


PATTERNS = portal_patterns()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def victim(db):
    """A customer with one of everything a portal page can show or change."""
    partner = factories.PartnerFactory()
    stype = factories.ServiceTypeFactory(partner=partner)
    Rate.objects.create(partner=partner, slip_type="service", pay_schedule="weekday", bill_rate_units=Decimal(8000))
    customer = factories.CustomerFactory(
        partner=partner, name="Victim Hospital", zone=factories.ZoneFactory(partner=partner)
    )
    contact = customer.contacts.get()
    BillingContact.objects.filter(pk=contact.pk).update(email="victim.billing@example.com")
    second = factories.BillingContactFactory(customer=customer, is_default=False)
    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order")
    AppliedExpenseCode.objects.create(default_for=customer, label=label, label_name=label.name, value="VICTIM-PO-77")
    day = timezone.localdate() + datetime.timedelta(days=7)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))
    service = ServiceInput(service_type=stype, starts_at=start, ends_at=start + datetime.timedelta(hours=2))
    invoiced = request_book(
        customer=customer, title="Victim deposition", services=[service], documents=[upload("po.pdf")]
    )
    Customer.objects.filter(pk=customer.pk).update(payment_terms="no_payment", auto_invoice_on_booking=False)
    customer.refresh_from_db()
    quoted = request_book(customer=customer, title="Victim deposition 2", services=[service])
    invoice = invoiced.quote.invoice
    note = credit_note_issue(invoice=invoice, amount_units=100, reason="Victim credit")
    objects = {
        ("invoices", "pk"): invoice.pk,
        ("invoices", "document_pk"): invoiced.documents.get().pk,
        ("requests", "pk"): quoted.pk,
        ("requests", "service_pk"): quoted.services.get().pk,
        ("requests", "document_pk"): invoiced.documents.get().pk,
        ("settings", "contact_pk"): second.pk,
        ("credit-notes", "pk"): note.pk,
    }
    return {"customer": customer, "objects": objects, "invoice": invoice, "label": label, "contact": second}


def victim_state(customer):
    """Everything of the victim's a portal POST could change."""
    return {
        "requests": list(ServiceRequest.objects.filter(customer=customer).values().order_by("pk")),
        "services": list(Service.objects.filter(request__customer=customer).values().order_by("pk")),
        "quotes": list(Quote.objects.filter(request__customer=customer).values().order_by("pk")),
        "codes": sorted(AppliedExpenseCode.objects.filter(default_for=customer).values_list("label_name", "value"))
        + sorted(AppliedExpenseCode.objects.filter(request__customer=customer).values_list("label_name", "value"))
        + sorted(AppliedExpenseCode.objects.filter(service__request__customer=customer).values_list("pk", "value")),
        "labels": list(ExpenseCodeLabel.objects.filter(customer=customer).values().order_by("pk")),
        "contacts": list(BillingContact.objects.filter(customer=customer).values().order_by("pk")),
        "invoices": list(Invoice.objects.filter(customer=customer).values().order_by("pk")),
        "documents": list(SupportingDocument.objects.filter(request__customer=customer).values().order_by("pk")),
        "customer": Customer.objects.filter(pk=customer.pk).values().get(),
    }


def url_for(route: str, kwargs: list[str], objects: dict) -> str:
    area = route.split("/", 1)[0]
    values = {}
    for name in kwargs:
        key = (area, name)
        assert key in objects, f"add the victim's object for <{name}> in /portal/{route} to the fixture"
        values[name] = objects[key]
    return route_reverse(route, values)


def route_reverse(route: str, values: dict) -> str:
    name = next(n for n, r, _ in PATTERNS if r == route)
    return reverse(f"portal:{name}", kwargs=values)


def post_data(victim) -> dict:
    """A POST that would change something on any portal form, pointed at the victim's records."""
    label, contact = victim["label"], victim["contact"]
    return {
        "customer": victim["customer"].pk,
        "customer_id": victim["customer"].pk,
        "action": "label_rename",
        "label_id": label.pk,
        "code_id": AppliedExpenseCode.objects.filter(default_for=victim["customer"]).first().pk,
        "contact_id": contact.pk,
        "name": "Hijacked",
        f"code_{label.pk}": "HIJACK",
        "value": "HIJACK",
        "email": "attacker@example.com",
        "pay_key": "k" * 22,
        "reason": "hijack",
    }


@pytest.fixture(params=["same_partner", "other_partner", "anonymous"])
def attacker(request, client, victim):
    if request.param == "anonymous":
        return request.param, client
    partner = victim["customer"].partner if request.param == "same_partner" else factories.PartnerFactory()
    member = factories.CustomerMembershipFactory(
        customer=factories.CustomerFactory(partner=partner), can_manage_expense_codes=True
    )
    client.force_login(member.user)
    return request.param, client


@pytest.mark.parametrize(("name", "route", "kwargs"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_no_portal_page_shows_or_changes_another_customers_data(attacker, victim, name, route, kwargs):
    who, client = attacker
    url = url_for(route, kwargs, victim["objects"])
    before = victim_state(victim["customer"])

    for method in ("get", "post"):
        response = getattr(client, method)(url, post_data(victim) if method == "post" else None)
        body = response.content.decode(errors="replace")
        if who == "anonymous":
            assert response.status_code == 302 and response["Location"].startswith(reverse("login")), (method, url)
        elif kwargs:  # not found (405: the page does not take this method from anyone)
            assert response.status_code in (404, 405), (method, url, response.status_code)
        else:  # the attacker's own page, or a refusal (404: the victim's label or contact named in the POST)
            assert response.status_code in (200, 302, 400, 403, 404, 405), (method, url, response.status_code)
        assert not any(marker in body for marker in VICTIM_MARKERS), (method, url)

    assert victim_state(victim["customer"]) == before
