"""Proforma generation from services, AR and AP invoice runs: the seeds' examples, idempotency, races."""

import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone

from customers.models import Customer
from expense_codes.models import AppliedExpenseCode
from invoicing import invoice_runs
from invoicing.errors import PricingError
from invoicing.invoice_runs import ar_run
from invoicing.invoices_from_proformas import ap_invoices_generate, ar_invoices_generate
from invoicing.lifecycle import invoice_issue, invoice_void
from invoicing.models import Holiday, Invoice, InvoiceProforma, Proforma, Rate, Service, Shift, Slip, TimePolicy
from invoicing.proformas import proformas_sweep, service_publish_outcome
from invoicing.schedules import closed_period
from tests import factories

NOV = (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
RATES = {
    "weekday": ("8500", "5500"),
    "weeknight": ("9500", "6000"),
    "weekend": ("11000", "7000"),
    "holiday": ("12000", "8000"),
}


def at(day, hour, minute=0):
    return timezone.make_aware(datetime.datetime(2026, 11, day, hour, minute))


@pytest.fixture
def world(db):
    partner = factories.PartnerFactory()
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal("8.250"))
    service_type = factories.ServiceTypeFactory(partner=partner)
    for schedule, (bill, pay) in RATES.items():
        Rate.objects.create(
            partner=partner,
            slip_type="service",
            pay_schedule=schedule,
            bill_rate_units=Decimal(bill),
            pay_rate_units=Decimal(pay),
        )
    Rate.objects.create(
        partner=partner, slip_type="mileage", bill_rate_units=Decimal("67"), pay_rate_units=Decimal("60")
    )
    customer = factories.CustomerFactory(partner=partner, zone=zone)
    provider = factories.ProviderFactory(partner=partner)
    return {"partner": partner, "zone": zone, "service_type": service_type, "customer": customer, "provider": provider}


def make_service(world, *, day=2, start=9, hours=2, codes=(), customer=None, provider=None, request=None, **extra):
    customer = customer or world["customer"]
    if request is None:
        request = factories.ServiceRequestFactory(customer=customer, partner=customer.partner)
        for label, value in codes:
            AppliedExpenseCode.objects.create(request=request, label_name=label, value=value)
    return Service.objects.create(
        partner=customer.partner,
        request=request,
        provider=provider or world["provider"],
        service_type=world["service_type"],
        zone=world["zone"],
        starts_at=at(day, start),
        ends_at=at(day, start) + datetime.timedelta(hours=hours),
        **extra,
    )


def test_publishing_an_outcome_creates_one_priced_proforma(world):
    service = make_service(world, day=2, start=9, hours=2, mileage=Decimal("10"))  # Monday 9-11
    proforma = service_publish_outcome(service=service)
    service.refresh_from_db()
    assert service.status == Service.Status.COMPLETED and service.outcome_published_at
    slips = {s.slip_type: s for s in proforma.slips.all()}
    assert slips["service"].pay_schedule == "weekday"
    assert slips["service"].quantity == Decimal("2")
    assert slips["service"].bill_amount_units == 17000
    assert slips["service"].bill_tax_units == 1403  # 8.25 % of 170.00 = 14.025 -> 14.03
    assert slips["mileage"].bill_amount_units == 670
    assert proforma.bill_total_units == sum(s.bill_total_units for s in slips.values())
    assert proforma.pay_total_units == 11000 + 600
    assert proforma.number.startswith("PF-")
    assert service_publish_outcome(service=service).pk == proforma.pk  # idempotent
    assert Proforma.objects.count() == 1


def test_a_service_crossing_the_weeknight_boundary_is_split(world):
    service = make_service(world, day=3, start=16, hours=3.5)  # Tuesday 16:00-19:30
    proforma = service_publish_outcome(service=service)
    by_schedule = {s.pay_schedule: s.quantity for s in proforma.slips.filter(slip_type="service")}
    assert by_schedule == {"weekday": Decimal("2"), "weeknight": Decimal("1.5")}


def test_weekend_and_holiday_rates_apply(world):
    Holiday.objects.create(partner=world["partner"], date=datetime.date(2026, 11, 26), name="Thanksgiving")
    weekend = service_publish_outcome(service=make_service(world, day=7, start=10))  # Saturday
    holiday = service_publish_outcome(service=make_service(world, day=26, start=10))  # Thursday, holiday
    assert {s.pay_schedule for s in weekend.slips.all()} == {"weekend"}
    assert {s.pay_schedule for s in holiday.slips.all()} == {"holiday"}
    assert holiday.slips.get().bill_rate_units == Decimal("12000")


def test_customer_and_provider_overrides_win_over_defaults(world):
    Rate.objects.create(
        partner=world["partner"],
        slip_type="service",
        pay_schedule="weekday",
        customer=world["customer"],
        bill_rate_units=Decimal("7000"),
    )
    Rate.objects.create(
        partner=world["partner"],
        slip_type="service",
        pay_schedule="weekday",
        provider=world["provider"],
        pay_rate_units=Decimal("5000"),
    )
    slip = service_publish_outcome(service=make_service(world)).slips.get()
    assert (slip.bill_rate_units, slip.pay_rate_units) == (Decimal("7000"), Decimal("5000"))


def test_time_policy_rounds_up_to_the_minimum(world):
    TimePolicy.objects.create(partner=world["partner"], minimum_hours=Decimal("2"), rounding_minutes=15)
    service = make_service(world, hours=1)
    slip = service_publish_outcome(service=service).slips.get()
    assert slip.quantity == Decimal("2")


def test_service_without_a_rate_records_a_pricing_error_and_the_sweep_goes_on(world):
    Rate.objects.filter(pay_schedule="weekend").delete()
    bad = make_service(world, day=7)  # Saturday: no weekend rate
    good = make_service(world, day=2)
    with pytest.raises(PricingError):
        service_publish_outcome(service=bad)
    report = proformas_sweep(partner=world["partner"], now=at(28, 0))
    assert report["created"] == 1 and bad.pk in report["errors"]
    bad.refresh_from_db()
    assert "weekend" in bad.pricing_error
    assert Proforma.objects.filter(service=good).exists() and not Proforma.objects.filter(service=bad).exists()
    # once the rate exists, the next sweep prices it and clears the error
    Rate.objects.create(
        partner=world["partner"],
        slip_type="service",
        pay_schedule="weekend",
        bill_rate_units=Decimal("11000"),
        pay_rate_units=Decimal("7000"),
    )
    assert proformas_sweep(partner=world["partner"], now=at(28, 0))["created"] == 1
    bad.refresh_from_db()
    assert bad.pricing_error == ""


def test_sweep_covers_past_services_and_finished_shifts_only_once(world):
    past = make_service(world, day=2)
    future = make_service(world, day=29)
    shift = Shift.objects.create(
        partner=world["partner"], name="Night shift", starts_at=at(29, 0), ends_at=at(29, 8), finished_at=at(29, 8)
    )
    on_shift = make_service(world, day=29, start=1, shift=shift)
    now = at(28, 12)
    report = proformas_sweep(partner=world["partner"], now=now)
    assert report["created"] == 2
    assert set(Proforma.objects.values_list("service_id", flat=True)) == {past.pk, on_shift.pk}
    assert not Proforma.objects.filter(service=future).exists()
    assert proformas_sweep(partner=world["partner"], now=now)["created"] == 0


def test_expense_codes_flow_from_request_and_service_to_proforma(world):
    service = make_service(world, codes=[("Authorization code", "ABC123")])
    AppliedExpenseCode.objects.create(service=service, label_name="Cost center", value="CC-7")
    proforma = service_publish_outcome(service=service)
    assert set(proforma.expense_codes.values_list("label_name", "value")) == {
        ("Authorization code", "ABC123"),
        ("Cost center", "CC-7"),
    }
    assert proforma.expense_code_key == "Authorization code: ABC123 | Cost center: CC-7"


def test_november_services_are_grouped_by_expense_code(world):
    """Seed 000: the ABC123 requests land on one invoice, the other codes on another."""
    for day in (2, 9, 16):
        service_publish_outcome(service=make_service(world, day=day, codes=[("Authorization code", "ABC123")]))
    service_publish_outcome(service=make_service(world, day=10, codes=[("Authorization code", "XYZ789")]))
    service_publish_outcome(service=make_service(world, day=11))
    invoices = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1])
    by_key = {inv.expense_code_key: inv for inv in invoices}
    assert set(by_key) == {"Authorization code: ABC123", "Authorization code: XYZ789", ""}
    abc = by_key["Authorization code: ABC123"]
    assert abc.proforma_links.count() == 3
    assert list(abc.expense_codes.values_list("value", flat=True)) == ["ABC123"]
    assert abc.total_units == sum(p.bill_total_units for p in Proforma.objects.filter(invoice_links__invoice=abc))
    assert all(inv.status == Invoice.Status.DRAFT and inv.number is None for inv in invoices)
    assert abc.billing_contact == world["customer"].contacts.get(is_default=True)


def test_per_proforma_mode_makes_one_invoice_whose_lines_keep_their_codes(world):
    customer = world["customer"]
    customer.expense_code_mode = Customer.ExpenseCodeMode.PER_PROFORMA
    customer.save()
    for value in ("REQ-1", "REQ-2", "REQ-3"):
        service_publish_outcome(service=make_service(world, codes=[("Request #", value)]))
    [invoice] = ar_invoices_generate(customer=customer, period_start=NOV[0], period_end=NOV[1])
    lines = [link.proforma.expense_code_key for link in invoice.proforma_links.select_related("proforma")]
    assert lines == ["Request #: REQ-1", "Request #: REQ-2", "Request #: REQ-3"]
    assert invoice.expense_code_mode == Invoice.ExpenseCodeMode.PER_PROFORMA


def test_after_each_service_customers_get_one_invoice_per_proforma(world):
    customer = world["customer"]
    customer.invoicing_schedule = Customer.Schedule.AFTER_SERVICE
    customer.save()
    for day in (2, 3):
        service_publish_outcome(service=make_service(world, day=day))
    assert len(ar_run(on_date=datetime.date(2026, 11, 4), partner=world["partner"]).invoice_ids) == 2
    assert ar_run(on_date=datetime.date(2026, 11, 5), partner=world["partner"]).invoice_ids == []


def test_ar_generation_twice_creates_nothing_new(world):
    for day in (2, 3):
        service_publish_outcome(service=make_service(world, day=day))
    first = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1])
    assert len(first) == 1
    assert ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1]) == []
    assert Invoice.objects.count() == 1 and InvoiceProforma.objects.count() == 2


def test_a_late_proforma_joins_the_periods_draft(world):
    service_publish_outcome(service=make_service(world, day=2))
    [draft] = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1])
    late = service_publish_outcome(service=make_service(world, day=20))
    [again] = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1])
    assert again.pk == draft.pk
    again.refresh_from_db()
    assert again.proforma_links.count() == 2
    assert again.total_units == draft.total_units + late.bill_total_units


def test_a_voided_invoices_proformas_are_invoiced_again(world):
    service_publish_outcome(service=make_service(world, day=2))
    [invoice] = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1], issue=True)
    invoice_void(invoice=invoice, reason="wrong customer contact")
    [again] = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1])
    assert again.pk != invoice.pk and again.total_units == invoice.total_units
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.VOID and invoice.number


def test_period_excludes_other_months_and_unconfirmed_proformas(world):
    service_publish_outcome(service=make_service(world, day=2))
    draft_pf = service_publish_outcome(service=make_service(world, day=3))
    Proforma.objects.filter(pk=draft_pf.pk).update(status=Proforma.Status.DRAFT)
    invoices = ar_invoices_generate(
        customer=world["customer"], period_start=datetime.date(2026, 10, 1), period_end=datetime.date(2026, 10, 31)
    )
    assert invoices == []
    [invoice] = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1])
    assert invoice.proforma_links.count() == 1


def test_no_payment_customers_get_invoices_without_a_due_date(world):
    customer = world["customer"]
    customer.payment_terms = Customer.PaymentTerms.NO_PAYMENT
    customer.save()
    service_publish_outcome(service=make_service(world))
    [invoice] = ar_invoices_generate(customer=customer, period_start=NOV[0], period_end=NOV[1], issue=True)
    assert invoice.status == Invoice.Status.PENDING and invoice.due_date is None


def test_partner_setting_issues_generated_invoices_at_once(world):
    world["partner"].issue_generated_invoices = True
    world["partner"].save()
    service_publish_outcome(service=make_service(world))
    [invoice] = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1])
    assert invoice.status == Invoice.Status.PENDING and invoice.number.startswith("INV-")


def test_ap_run_bills_the_pay_side_per_provider(world):
    other = factories.ProviderFactory(partner=world["partner"])
    service_publish_outcome(service=make_service(world, day=2))
    service_publish_outcome(service=make_service(world, day=3))
    service_publish_outcome(service=make_service(world, day=4, provider=other))
    [bill] = ap_invoices_generate(provider=world["provider"], period_start=NOV[0], period_end=NOV[1])
    assert bill.kind == Invoice.Kind.AP and bill.total_units == 2 * 11000 and bill.tax_units == 0
    assert ap_invoices_generate(provider=world["provider"], period_start=NOV[0], period_end=NOV[1]) == []
    issued = invoice_issue(invoice=bill)
    assert issued.number.startswith("BILL-")
    # the same proformas still go on an AR invoice: one AR and one AP invoice per proforma
    [ar] = ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1])
    assert ar.proforma_links.count() == 3


def test_closed_periods_follow_the_schedule():
    day = datetime.date(2026, 11, 18)  # a Wednesday
    assert closed_period("daily", day) == (datetime.date(2026, 11, 17), datetime.date(2026, 11, 17))
    assert closed_period("weekly", day) == (datetime.date(2026, 11, 9), datetime.date(2026, 11, 15))
    assert closed_period("monthly", day) == (datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))
    assert closed_period("monthly", datetime.date(2026, 1, 5)) == (
        datetime.date(2025, 12, 1),
        datetime.date(2025, 12, 31),
    )


def test_ar_run_isolates_a_failing_customer(world, monkeypatch):
    other = factories.CustomerFactory(partner=world["partner"], zone=world["zone"])
    service_publish_outcome(service=make_service(world))
    service_publish_outcome(service=make_service(world, customer=other))
    real = invoice_runs.ar_invoices_generate_many

    def flaky(**kwargs):
        if world["customer"].pk in kwargs["customer_ids"]:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(invoice_runs, "ar_invoices_generate_many", flaky)
    run = ar_run(on_date=datetime.date(2026, 12, 1), partner=world["partner"])
    assert len(run.invoice_ids) == 1 and run.invoices().get().customer == other
    assert "disk full" in run.errors[str(world["customer"])]
    assert not Invoice.objects.filter(customer=world["customer"]).exists()  # nothing half-made


def test_generate_invoices_command_reports_and_refuses_bad_input(world, capsys):
    service_publish_outcome(service=make_service(world))
    call_command("generate_invoices", "--kind", "ar", "--period", "2026-11")
    out = capsys.readouterr().out
    assert "1 invoices made" in out
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("generate_invoices", "--kind", "ar", "--period", "2026-13")
    with pytest.raises(CommandError, match="No customer"):
        call_command("generate_invoices", "--kind", "ar", "--customer", "999999")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("generate_invoices", "--kind", "ap", "--date", "yesterday")


def test_generate_proformas_command_prints_pricing_errors(world, capsys):
    Rate.objects.filter(pay_schedule="weekend").delete()
    make_service(world, day=7)
    make_service(world, day=2)
    call_command("generate_proformas")
    out = capsys.readouterr().out
    assert "Proformas created: 1" in out and "could not be priced: 1" in out and "weekend" in out


def test_setup_schedules_is_idempotent(db):
    from django_q.models import Schedule

    call_command("setup_schedules")
    call_command("setup_schedules")
    from invoicing.management.commands.setup_schedules import SCHEDULES

    assert sorted(Schedule.objects.values_list("name", flat=True)) == sorted(SCHEDULES)
    outbox = Schedule.objects.get(func="invoicing.tasks.outbox_task")  # drains what the after-commit nudge missed
    assert outbox.schedule_type == Schedule.MINUTES and outbox.minutes == 1 and outbox.repeats == -1
    assert not Schedule.objects.filter(func="invoicing.tasks.pdf_sweep_task").exists()  # retired


def test_setup_schedules_removes_the_retired_pdf_sweep(db):
    """A database set up before the outbox still has the PDF sweep's schedule, whose task no longer exists."""
    from django_q.models import Schedule

    Schedule.objects.create(
        name="Render missing invoice PDFs",
        func="invoicing.tasks.pdf_sweep_task",
        schedule_type=Schedule.MINUTES,
        minutes=15,
        repeats=-1,
    )

    out = io.StringIO()
    call_command("setup_schedules", stdout=out)

    assert not Schedule.objects.filter(func="invoicing.tasks.pdf_sweep_task").exists()
    assert "removed: Render missing invoice PDFs (invoicing.tasks.pdf_sweep_task)" in out.getvalue()
    assert Schedule.objects.filter(func="invoicing.tasks.outbox_task").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ar_runs_invoice_each_proforma_once(world):
    customers = [factories.CustomerFactory(partner=world["partner"], zone=world["zone"]) for _ in range(6)]
    for customer in customers:
        for day in (2, 3, 4):
            service_publish_outcome(service=make_service(world, day=day, customer=customer))
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait()
            ar_run(on_date=datetime.date(2026, 12, 1), partner=world["partner"])
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert InvoiceProforma.objects.filter(kind="ar", is_active=True).count() == 18
    assert Invoice.objects.filter(kind="ar").count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_create_each_proforma_once(world):
    for day in range(2, 22):
        make_service(world, day=day)
    barrier = threading.Barrier(2)
    reports = []

    def worker():
        try:
            barrier.wait()
            reports.append(proformas_sweep(partner=world["partner"], now=at(28, 0)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["created"] for r in reports) == 20
    assert Proforma.objects.count() == 20
    numbers = list(Proforma.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 20
    assert Slip.objects.filter(proforma__isnull=False).count() == 20


def test_a_booking_billed_through_its_quote_is_not_billed_again_but_the_provider_is_paid(world):
    from invoicing.manual import quote_convert
    from invoicing.models import Quote, QuoteLine

    service = make_service(world, day=2)
    quote = Quote.objects.create(request=service.request)
    QuoteLine.objects.create(
        quote=quote, description="Interpreting, 2 h", quantity=Decimal("2"), unit_price_units=Decimal("8500")
    )
    quote_convert(quote=quote)
    service_publish_outcome(service=service)
    assert ar_invoices_generate(customer=world["customer"], period_start=NOV[0], period_end=NOV[1]) == []
    [bill] = ap_invoices_generate(provider=world["provider"], period_start=NOV[0], period_end=NOV[1])
    assert bill.total_units == 11000
