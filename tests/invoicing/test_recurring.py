"""Recurring bookings (seed 002; invoicing.recurring): the occurrence dates (weekly, monthly clamped to the month's
end, local time kept across daylight saving time, the caps), a booking saved as its occurrences (extras, codes and
coupons on each), its quote, and how its occurrences are invoiced (each occurrence, or one invoice per month once
the month has ended) while other requests keep their customer's schedule."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.models import Customer
from expense_codes.models import AppliedExpenseCode
from invoicing.booking import ExtraInput, ServiceInput, request_book, request_submit
from invoicing.errors import BillingRuleError
from invoicing.invoice_runs import ar_run
from invoicing.invoices_from_proformas import ar_invoices_generate
from invoicing.manual import quote_convert
from invoicing.models import Invoice, InvoiceProforma, Quote, Rate, Service, ServiceExtra, ServiceRequest
from invoicing.proformas import service_publish_outcome
from invoicing.recurring import MAX_OCCURRENCES, occurrence_starts, recurrence_words
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
EACH, MONTHLY = ServiceRequest.RecurringInvoicing.EACH, ServiceRequest.RecurringInvoicing.MONTHLY


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def days(starts, tz=UTC) -> list[str]:
    return [timezone.localtime(s, tz).strftime("%Y-%m-%d %H:%M") for s in starts]


@pytest.fixture
def world(db):
    partner = factories.PartnerFactory()
    for schedule in ("weekday", "weeknight", "weekend"):
        Rate.objects.create(
            partner=partner,
            slip_type="service",
            pay_schedule=schedule,
            bill_rate_units=Decimal("8000"),
            pay_rate_units=Decimal("5000"),
        )
    zone = factories.ZoneFactory(partner=partner, tax_rate=Decimal("0"))
    customer = factories.CustomerFactory(partner=partner, zone=zone, allow_recurring_bookings=True, auto_send=False)
    stype = factories.ServiceTypeFactory(partner=partner, name="Interpreting")
    provider = factories.ProviderFactory(partner=partner)
    return {"partner": partner, "customer": customer, "stype": stype, "provider": provider}


def service(world, start: datetime.datetime, hours: int = 2, **kwargs) -> ServiceInput:
    return ServiceInput(
        service_type=world["stype"],
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=hours),
        address="1 Court St",
        provider=world["provider"],
        **kwargs,
    )


def recurring(world, start, *, invoicing=EACH, **repeat) -> ServiceRequest:
    """A recurring request entered in the office (past dates allowed)."""
    repeat.setdefault("repeat", "weekly")
    return request_submit(
        customer=world["customer"],
        title="Weekly hearing",
        services=[service(world, start)],
        book=False,
        recurring_invoicing=invoicing,
        **repeat,
    )


def refusal(call) -> dict:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


# --- the dates -----------------------------------------------------------------------------------------------


def test_weekly_four_times_is_seven_days_apart():
    starts = occurrence_starts(utc(2027, 3, 1, 10), "weekly", count=4, tz=UTC)
    assert days(starts) == ["2027-03-01 10:00", "2027-03-08 10:00", "2027-03-15 10:00", "2027-03-22 10:00"]


def test_monthly_from_jan_31_keeps_its_day_and_clamps_to_the_months_end():
    starts = occurrence_starts(utc(2027, 1, 31, 9), "monthly", until=datetime.date(2027, 5, 31), tz=UTC)
    assert days(starts) == [
        "2027-01-31 09:00",
        "2027-02-28 09:00",  # February is shorter: its last day
        "2027-03-31 09:00",  # and back to the 31st, not the 28th
        "2027-04-30 09:00",
        "2027-05-31 09:00",
    ]
    leap = occurrence_starts(utc(2028, 1, 30, 9), "monthly", count=2, tz=UTC)
    assert days(leap) == ["2028-01-30 09:00", "2028-02-29 09:00"]


def test_until_is_the_last_day_an_occurrence_may_start_and_count_is_the_number_in_all():
    by_date = occurrence_starts(utc(2027, 3, 1, 10), "weekly", until=datetime.date(2027, 3, 21), tz=UTC)
    by_count = occurrence_starts(utc(2027, 3, 1, 10), "weekly", count=3, tz=UTC)
    assert by_date == by_count and len(by_date) == 3
    assert len(occurrence_starts(utc(2027, 3, 1, 10), "weekly", until=datetime.date(2027, 3, 22), tz=UTC)) == 4
    assert len(occurrence_starts(utc(2027, 3, 1, 10), "weekly", until=datetime.date(2027, 3, 1), tz=UTC)) == 1


def test_ten_oclock_stays_ten_oclock_across_daylight_saving_time():
    first = datetime.datetime(2027, 3, 8, 10, tzinfo=NEW_YORK)  # EST; clocks go forward on March 14
    starts = occurrence_starts(first, "weekly", count=3, tz=NEW_YORK)
    assert days(starts, NEW_YORK) == ["2027-03-08 10:00", "2027-03-15 10:00", "2027-03-22 10:00"]
    assert days(starts) == ["2027-03-08 15:00", "2027-03-15 14:00", "2027-03-22 14:00"]
    autumn = occurrence_starts(datetime.datetime(2027, 10, 31, 10, tzinfo=NEW_YORK), "monthly", count=2, tz=NEW_YORK)
    assert days(autumn, NEW_YORK) == ["2027-10-31 10:00", "2027-11-30 10:00"]


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"count": MAX_OCCURRENCES + 1}, "repeat_count", f"from 1 to {MAX_OCCURRENCES}"),
        ({"count": 0}, "repeat_count", "from 1 to"),
        ({"until": datetime.date(2029, 12, 31)}, "repeat_until", f"at most {MAX_OCCURRENCES} occurrences"),
        ({"until": datetime.date(2027, 2, 28)}, "repeat_until", "on or after the first date (Mar 1, 2027)"),
        ({}, "repeat_until", "an end date or a number of times"),
        ({"count": 2, "until": datetime.date(2027, 6, 1)}, "repeat_until", "an end date or a number of times"),
    ],
)
def test_the_caps_and_a_missing_or_bad_end_are_refused_in_plain_words(kwargs, field, words):
    errors = refusal(lambda: occurrence_starts(utc(2027, 3, 1, 10), "weekly", tz=UTC, **kwargs))
    assert list(errors) == [field] and words in errors[field][0]


def test_an_occurrence_beyond_the_booking_horizon_is_refused_not_cut_short():
    latest = utc(2027, 6, 1, 12)
    errors = refusal(lambda: occurrence_starts(utc(2027, 3, 1, 10), "monthly", count=5, tz=UTC, latest=latest))
    assert (
        "Bookings can be made up to Jun 1, 2027: the occurrence of Jul 1, 2027 would be later"
        in (errors["repeat_count"][0])
    )
    assert len(occurrence_starts(utc(2027, 3, 1, 10), "monthly", count=4, tz=UTC, latest=latest)) == 4


# --- booking it ----------------------------------------------------------------------------------------------


def test_a_recurring_request_is_saved_as_its_occurrences_with_extras_and_codes(world):
    customer = world["customer"]
    offer = factories.ExtraOfferFactory(partner=world["partner"], name="Transcript")
    start = utc(2026, 11, 2, 9)
    request = request_submit(
        customer=customer,
        title="Weekly hearing",
        services=[
            service(
                world,
                start,
                extras=[
                    ExtraInput(offer=offer, quantity=2),
                    ExtraInput(description="Parking", bill_rate_units=Decimal("500"), quantity=1),
                ],
                codes=[("Matter", "M-7")],
            )
        ],
        codes=[("PO", "4711")],
        book=False,
        repeat="weekly",
        repeat_count=4,
        recurring_invoicing=MONTHLY,
    )
    request.refresh_from_db()
    assert request.is_recurring and request.repeat == "weekly" and request.repeat_count == 4
    assert request.repeat_until is None and request.recurring_invoicing == MONTHLY
    occurrences = list(request.services.order_by("starts_at"))
    assert [s.occurrence for s in occurrences] == [1, 2, 3, 4]
    assert days([s.starts_at for s in occurrences]) == [
        "2026-11-02 09:00",
        "2026-11-09 09:00",
        "2026-11-16 09:00",
        "2026-11-23 09:00",
    ]
    for occurrence in occurrences:
        assert occurrence.ends_at - occurrence.starts_at == datetime.timedelta(hours=2)
        assert occurrence.service_type == world["stype"] and occurrence.provider == world["provider"]
        assert occurrence.address == "1 Court St" and occurrence.zone_id == customer.zone_id
        extras = sorted(occurrence.extras.values_list("description", "quantity", "bill_rate_units"))
        assert extras == [("Parking", Decimal("1"), Decimal("500")), ("Transcript", Decimal("2"), Decimal("2500"))]
        codes = list(AppliedExpenseCode.objects.filter(service=occurrence).values_list("label_name", "value"))
        assert codes == [("Matter", "M-7")]
    assert ServiceExtra.objects.filter(service__request=request).count() == 8
    assert list(AppliedExpenseCode.objects.filter(request=request).values_list("value", flat=True)) == ["4711"]
    assert recurrence_words(request) == "Every week, 4 times, one invoice per month"


def test_the_recurrence_in_words_with_an_end_date(world):
    request = recurring(world, utc(2026, 11, 30, 9), repeat="monthly", repeat_until=datetime.date(2027, 3, 31))
    assert recurrence_words(request) == "Every month, until Mar 31, 2027, an invoice for each occurrence"
    assert request.services.count() == 5
    assert recurrence_words(factories.ServiceRequestFactory(customer=world["customer"])) == ""


def test_a_customer_that_does_not_allow_recurring_bookings_is_refused_and_nothing_is_saved(world):
    customer = world["customer"]
    Customer.objects.filter(pk=customer.pk).update(allow_recurring_bookings=False)
    customer.refresh_from_db()
    errors = refusal(lambda: recurring(world, utc(2026, 11, 2, 9), repeat_count=4))
    assert errors == {"repeat": ["Recurring bookings are not allowed for this customer."]}
    assert not ServiceRequest.objects.exists() and not Service.objects.exists()


@pytest.mark.parametrize(
    ("repeat", "field", "words"),
    [
        ({"repeat": "daily", "repeat_count": 3}, "repeat", "every week or every month"),
        ({"repeat_count": 3, "repeat_until": datetime.date(2026, 12, 31)}, "repeat_count", "not both"),
        ({}, "repeat_until", "an end date or a number of times"),
        ({"repeat_until": datetime.date(2026, 10, 1)}, "repeat_until", "on or after the first date"),
        ({"repeat_count": 200}, "repeat_count", f"from 1 to {MAX_OCCURRENCES}"),
        ({"repeat": "", "repeat_count": 3}, "repeat", "Choose how often"),
    ],
)
def test_a_bad_recurrence_is_refused_on_its_field_and_nothing_is_saved(world, repeat, field, words):
    errors = refusal(lambda: recurring(world, utc(2026, 11, 2, 9), **repeat))
    assert field in errors and words in errors[field][0]
    assert not ServiceRequest.objects.exists()


def test_a_recurrence_needs_one_service_and_its_invoicing(world):
    customer, start = world["customer"], utc(2026, 11, 2, 9)
    errors = refusal(
        lambda: request_submit(
            customer=customer,
            services=[service(world, start), service(world, start + datetime.timedelta(days=1))],
            book=False,
            repeat="weekly",
            repeat_count=3,
            recurring_invoicing=EACH,
        )
    )
    assert "repeats one service" in errors["repeat"][0]
    errors = refusal(lambda: recurring(world, start, invoicing="", repeat_count=3))
    assert errors == {"recurring_invoicing": ["Choose how the occurrences are invoiced."]}


def test_a_booking_too_far_ahead_is_refused_on_its_end(world):
    start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=30)
    errors = refusal(lambda: recurring(world, start, repeat="weekly", repeat_count=MAX_OCCURRENCES))
    assert "Bookings can be made up to" in errors["repeat_count"][0]


def test_a_percentage_coupon_applies_to_every_occurrence_and_a_fixed_amount_to_the_first(world):
    partner, customer = world["partner"], world["customer"]
    percent = factories.CouponFactory(partner=partner, code="TENOFF", percent_off=Decimal("10"))
    fixed = factories.CouponFactory(partner=partner, code="FIVER", percent_off=None, amount_off_units=500)
    start = timezone.now().replace(microsecond=0, second=0, minute=0) + datetime.timedelta(days=3)

    def book(code):
        return request_submit(
            customer=customer,
            services=[service(world, start)],
            book=False,
            coupon_code=code,
            repeat="weekly",
            repeat_count=3,
            recurring_invoicing=EACH,
        )

    with_percent = book("TENOFF")
    assert list(with_percent.services.order_by("occurrence").values_list("coupon", flat=True)) == [percent.pk] * 3
    with_fixed = book("FIVER")
    assert list(with_fixed.services.order_by("occurrence").values_list("coupon", flat=True)) == [fixed.pk, None, None]
    percent.refresh_from_db()
    assert percent.redeemed_count == 1  # one booking, one use


def test_a_recurring_portal_booking_gets_a_quote_of_every_occurrence_never_an_invoice(world):
    customer = world["customer"]
    assert customer.auto_invoice_on_booking  # the flag is on, but recurring bookings carry their own invoicing
    day = timezone.localdate() + datetime.timedelta(days=7)
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))
    request = request_book(
        customer=customer,
        services=[service(world, start)],
        repeat="weekly",
        repeat_count=3,
        recurring_invoicing=EACH,
    )
    quote = request.quote
    assert quote.status == Quote.Status.OPEN and quote.invoice is None and not Invoice.objects.exists()
    lines = list(quote.lines.order_by("id"))
    assert len(lines) == 3 and all(line.unit_price_units == Decimal("8000") for line in lines)
    assert [line.description[:6] for line in lines] == [
        f"{timezone.localtime(s.starts_at):%b %d}" for s in request.services.order_by("starts_at")
    ]
    with pytest.raises(BillingRuleError, match="recurring booking is invoiced as it says"):
        quote_convert(quote=quote)
    assert not Invoice.objects.exists()


# --- invoicing the occurrences ------------------------------------------------------------------------------


def published(request) -> None:
    for occurrence in request.services.order_by("starts_at"):
        service_publish_outcome(service=occurrence)


def proformas_of(invoice) -> list[datetime.date]:
    return sorted(InvoiceProforma.objects.filter(invoice=invoice).values_list("proforma__service_date", flat=True))


def test_each_occurrence_gets_its_own_invoice_as_soon_as_its_proforma_exists(world):
    """A monthly customer: its other work waits for the month's end, the occurrences do not."""
    partner = world["partner"]
    request = recurring(world, utc(2026, 11, 2, 9), repeat_count=4, invoicing=EACH)
    published(request)
    single = request_submit(customer=world["customer"], services=[service(world, utc(2026, 11, 3, 9))], book=False)
    published(single)

    run = ar_run(on_date=datetime.date(2026, 11, 25), partner=partner)  # November has not ended
    assert len(run.invoice_ids) == 4
    made = list(run.invoices())
    assert sorted(proformas_of(inv)[0] for inv in made) == [datetime.date(2026, 11, d) for d in (2, 9, 16, 23)]
    assert all(len(proformas_of(inv)) == 1 for inv in made)
    assert ar_run(on_date=datetime.date(2026, 11, 26), partner=partner).invoice_ids == []  # made once

    [monthly] = ar_run(on_date=datetime.date(2026, 12, 1), partner=partner).invoices()  # the customer's schedule
    assert proformas_of(monthly) == [datetime.date(2026, 11, 3)]
    assert (monthly.period_start, monthly.period_end) == (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))


def test_monthly_puts_a_months_occurrences_on_one_invoice_once_the_month_has_ended(world):
    partner, customer = world["partner"], world["customer"]
    Customer.objects.filter(pk=customer.pk).update(invoicing_schedule=Customer.Schedule.AFTER_SERVICE)
    request = recurring(world, utc(2026, 11, 16, 9), repeat_count=4, invoicing=MONTHLY)  # Nov 16, 23, 30, Dec 7
    published(request)

    assert ar_run(on_date=datetime.date(2026, 11, 30), partner=partner).invoice_ids == []  # November is not over
    [november] = ar_run(on_date=datetime.date(2026, 12, 8), partner=partner).invoices()
    assert proformas_of(november) == [datetime.date(2026, 11, d) for d in (16, 23, 30)]
    assert (november.period_start, november.period_end) == (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
    assert november.total_units == 3 * 16000
    assert ar_run(on_date=datetime.date(2026, 12, 31), partner=partner).invoice_ids == []  # December is not over
    [december] = ar_run(on_date=datetime.date(2027, 1, 1), partner=partner).invoices()
    assert proformas_of(december) == [datetime.date(2026, 12, 7)]


def test_monthly_recurring_bookings_are_invoiced_one_per_booking_and_month(world):
    partner = world["partner"]
    first = recurring(world, utc(2026, 11, 2, 9), repeat_count=2, invoicing=MONTHLY)
    second = recurring(world, utc(2026, 11, 3, 9), repeat_count=2, invoicing=MONTHLY)
    published(first)
    published(second)
    invoices = ar_run(on_date=datetime.date(2026, 12, 1), partner=partner).invoices()
    assert sorted(proformas_of(inv) for inv in invoices) == [
        [datetime.date(2026, 11, 2), datetime.date(2026, 11, 9)],
        [datetime.date(2026, 11, 3), datetime.date(2026, 11, 10)],
    ]


def test_a_run_for_a_given_period_invoices_that_periods_occurrences_by_their_option(world):
    customer = world["customer"]
    each = recurring(world, utc(2026, 11, 2, 9), repeat_count=2, invoicing=EACH)
    by_month = recurring(world, utc(2026, 11, 4, 9), repeat_count=2, invoicing=MONTHLY)
    published(each)
    published(by_month)
    period = (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
    invoices = ar_invoices_generate(customer=customer, period_start=period[0], period_end=period[1])
    assert sorted(len(proformas_of(inv)) for inv in invoices) == [1, 1, 2]  # November has ended (Dec 1 today)
    assert ar_invoices_generate(customer=customer, period_start=period[0], period_end=period[1]) == []


def test_requests_that_do_not_repeat_keep_their_customers_schedule(world):
    """A weekly customer's work of the week is invoiced once the week is over, on one invoice, as before; a request
    only marked recurring (without a repeat) is invoiced with it."""
    partner, customer = world["partner"], world["customer"]
    Customer.objects.filter(pk=customer.pk).update(invoicing_schedule=Customer.Schedule.WEEKLY)
    legacy = request_submit(
        customer=customer,
        services=[service(world, utc(2026, 11, 2, 9)), service(world, utc(2026, 11, 4, 9))],
        book=False,
        is_recurring=True,
    )
    assert legacy.repeat == "" and set(legacy.services.values_list("occurrence", flat=True)) == {None}
    published(legacy)
    assert ar_run(on_date=datetime.date(2026, 11, 8), partner=partner).invoice_ids == []  # the week is not over
    [week] = ar_run(on_date=datetime.date(2026, 11, 9), partner=partner).invoices()
    assert proformas_of(week) == [datetime.date(2026, 11, 2), datetime.date(2026, 11, 4)]
    assert week.generation_key.startswith(f"ar:c{customer.pk}:2026-11-08:")
    assert (week.period_start, week.period_end) == (datetime.date(2026, 11, 2), datetime.date(2026, 11, 8))
