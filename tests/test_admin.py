"""Every model registered in the Django admin: its changelist, add page and one change page render."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from audit.recording import audit_record
from expense_codes.applying import codes_apply
from expense_codes.models import AppliedExpenseCode
from invoicing.lifecycle import invoice_issue
from invoicing.models import (
    BillingRun,
    BillingRunItem,
    Coupon,
    ExtraOffer,
    Holiday,
    InvoiceProforma,
    Quote,
    QuoteLine,
    Rate,
    ServiceExtra,
    Shift,
    SupportingDocument,
    TimePolicy,
)
from invoicing.numbering import counters_ensure
from invoicing.payments import payment_record
from ops.models import WorkerHeartbeat
from tests import factories

REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)
MODEL_IDS = [m._meta.label for m in REGISTERED]


@pytest.fixture
def superuser(db):
    return factories.UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def world(db, superuser):
    """A full little world: at least one row of every model the admin shows."""
    partner = factories.PartnerFactory()
    counters_ensure(partner=partner)
    zone = factories.ZoneFactory(partner=partner)
    customer = factories.CustomerFactory(partner=partner, zone=zone)
    factories.BillingContactFactory(customer=customer, receives_invoices=True)
    provider = factories.ProviderFactory(partner=partner)
    service_type = factories.ServiceTypeFactory(partner=partner)
    Rate.objects.create(
        partner=partner,
        service_type=service_type,
        slip_type="service",
        pay_schedule="weekday",
        bill_rate_units=Decimal(9000),
        pay_rate_units=Decimal(5500),
    )
    TimePolicy.objects.create(partner=partner, customer=customer, minimum_hours=Decimal(2), rounding_minutes=15)
    Holiday.objects.create(partner=partner, date=datetime.date(2026, 12, 25), name="Christmas")
    Coupon.objects.create(partner=partner, code="WELCOME10", percent_off=Decimal(10))
    ExtraOffer.objects.create(partner=partner, name="Printed transcript", bill_rate_units=Decimal(2500))

    label = factories.ExpenseCodeLabelFactory(customer=customer, name="Purchase order")
    AppliedExpenseCode.objects.create(label=label, label_name=label.name, value="PO-DEFAULT", default_for=customer)
    request = factories.ServiceRequestFactory(customer=customer, created_by=superuser)
    codes_apply(pairs=[("Purchase order", "PO-1"), ("Cost center", "CC-9")], request=request)
    SupportingDocument.objects.create(
        request=request, file="supporting/po.pdf", name="po.pdf", content_type="application/pdf", size=1024
    )
    now = timezone.now().replace(microsecond=0)
    shift = Shift.objects.create(
        partner=partner, name="Night shift", starts_at=now, ends_at=now + datetime.timedelta(hours=8)
    )
    service = factories.ServiceFactory(
        request=request, provider=provider, service_type=service_type, zone=zone, shift=shift, mileage=Decimal("12.5")
    )
    ServiceExtra.objects.create(service=service, description="Parking", bill_rate_units=Decimal(1500))
    quote = Quote.objects.create(request=factories.ServiceRequestFactory(customer=customer))
    QuoteLine.objects.create(quote=quote, description="Interpreting", quantity=2, unit_price_units=Decimal(7500))

    proforma = factories.ProformaFactory(customer=customer, provider=provider, service=service, number="PF-2026-00001")
    factories.SlipFactory(proforma=proforma, slip_type="service", pay_schedule="weekday", quantity=Decimal(2))
    factories.SlipFactory(proforma=proforma, slip_type="mileage", quantity=Decimal("12.5"), bill_rate_units=65)

    factories.draft_invoice(customer, [5000], user=superuser)
    ar = invoice_issue(invoice=factories.draft_with_proformas(customer=customer, proformas=[proforma]), user=superuser)
    payment_record(invoice=ar, amount_units=1000, method="check", reference="1001", user=superuser)
    ap = factories.draft_with_proformas(provider=provider, proformas=[proforma])
    assert InvoiceProforma.objects.filter(invoice=ap).exists()
    audit_record(target=customer, action="note", actor=superuser, partner_id=partner.pk, reason="checked")

    factories.StaffMembershipFactory(partner=partner)
    factories.CustomerMembershipFactory(customer=customer)
    Group.objects.create(name="Billing clerks")
    run = BillingRun.objects.create(
        partner=partner, kind="zip", status="done", started_by=superuser, finished_at=timezone.now()
    )
    BillingRunItem.objects.create(run=run, invoice=ar, label=ar.number, outcome="done")
    _django_q_rows()
    return partner


def _django_q_rows():
    from django_q.models import OrmQ, Schedule, Task
    from django_q.signing import SignedPackage

    now = timezone.now()
    for success in (True, False):
        Task.objects.create(
            id=uuid.uuid4().hex,
            name=f"task-{success}",
            func="invoicing.tasks.outbox_task",
            args=(),
            kwargs={},
            result="ok" if success else "boom",
            started=now,
            stopped=now,
            success=success,
        )
    Schedule.objects.create(name="mark overdue", func="invoicing.lifecycle.invoices_mark_overdue")
    WorkerHeartbeat.objects.create(name="worker-1", seen_at=now)
    task = {"id": uuid.uuid4().hex, "name": "queued", "func": "invoicing.tasks.outbox_task", "args": ()}
    OrmQ.objects.create(key="octoo", payload=SignedPackage.dumps(task))


def test_admin_has_the_billing_models_registered():
    labels = set(MODEL_IDS)
    expected = {"customers.Partner", "customers.Customer", "invoicing.Invoice", "invoicing.Payment"}
    assert expected <= labels, f"not registered in the admin: {sorted(expected - labels)}"


@pytest.mark.parametrize("model", REGISTERED, ids=MODEL_IDS)
def test_admin_pages_render_for_a_superuser(client, superuser, world, model):
    client.force_login(superuser)
    model_admin = admin.site._registry[model]
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    request = RequestFactory().get("/admin/")
    request.user = superuser

    response = client.get(reverse(f"{prefix}_changelist"))
    assert response.status_code == 200, f"changelist of {model._meta.label}"

    if model_admin.has_add_permission(request):
        response = client.get(reverse(f"{prefix}_add"))
        assert response.status_code == 200, f"add page of {model._meta.label}"

    obj = model_admin.get_queryset(request).first()
    assert obj is not None, f"the world fixture has no {model._meta.label}: build one so its change page is tested"
    response = client.get(reverse(f"{prefix}_change", args=[obj.pk]))
    assert response.status_code == 200, f"change page of {model._meta.label} #{obj.pk}"
