"""A partner's locale (Partner.locale): money and dates on its pages, PDFs and e-mails are written the way its
language and region write them, times labelled with their zone; en_US, the default, writes what it always did."""

import datetime
import zoneinfo

import pytest
from babel.dates import format_date as babel_format_date
from django.core import mail
from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from customers.company import company_settings_update
from customers.formats import partner_formats
from customers.forms import RunPeriodForm
from customers.models import Partner
from invoicing.delivery import invoice_send
from invoicing.models import Holiday
from invoicing.paylinks import pay_link_url
from invoicing.pdf.documents import invoice_pdf_bytes
from invoicing.pdf.statements import period_label as statement_period_label
from invoicing.ratecards import holiday_dates
from octoo_billing import locale as formats
from octoo_billing.money import format_units
from office.views.customers import run_period
from tests.factories import (
    CustomerFactory,
    CustomerMembershipFactory,
    PartnerFactory,
    StaffMembershipFactory,
    draft_invoice,
    issued_invoice,
)
from tests.invoicing.test_pdf import pdf_text

NBSP = "\u00a0"
NNBSP = "\u202f"  # French groups thousands with a narrow no-break space
MOMENT = datetime.datetime(2026, 12, 1, 14, 30, tzinfo=datetime.UTC)
ISSUED = datetime.date(2026, 11, 24)  # net 30: due December 24


# --- the formatters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "€12,345.67"),
        ("en_GB", "€12,345.67"),
        ("fr_FR", f"12{NNBSP}345,67{NBSP}€"),
        ("de_DE", f"12.345,67{NBSP}€"),
    ],
)
def test_money_is_written_the_way_the_locale_writes_it(locale, expected):
    assert format_units(1234567, "EUR", locale) == expected
    with formats.override(locale):
        assert format_units(1234567, "EUR") == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "-$1,234.50"),
        ("en_GB", "-US$1,234.50"),
        ("fr_FR", f"-1{NNBSP}234,50{NBSP}$US"),
        ("de_DE", f"-1.234,50{NBSP}$"),
    ],
)
def test_a_negative_dollar_amount_in_each_locale(locale, expected):
    with formats.override(locale):
        assert format_units(-123450, "USD") == expected


def test_money_with_no_active_locale_is_written_in_en_us():
    assert formats.get_locale() == "en_US"
    assert format_units(123450, "USD") == "$1,234.50"


def test_a_plain_amount_is_machine_readable_in_every_locale():
    with formats.override("de_DE"):
        assert format_units(-123450, "EUR", plain=True) == "-1234.50"


@pytest.mark.parametrize(
    ("locale", "date", "day_month", "month"),
    [
        ("en_US", "Nov 24, 2026", "Nov 4", "November 2026"),
        ("en_GB", "24 Nov 2026", "4 Nov", "November 2026"),
        ("fr_FR", "24 nov. 2026", "4 nov.", "novembre 2026"),
        ("de_DE", "24.11.2026", "4. Nov.", "November 2026"),
    ],
)
def test_dates_are_written_the_way_the_locale_writes_them(locale, date, day_month, month):
    with formats.override(locale):
        assert formats.format_date(ISSUED) == date
        assert formats.format_day_month(datetime.date(2026, 11, 4)) == day_month
        assert formats.format_month(ISSUED) == month


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("en_US", "America/New_York", "Dec 1, 2026, 09:30 EST"),
        ("en_US", "America/Los_Angeles", "Dec 1, 2026, 06:30 PST"),
        ("en_US", "UTC", "Dec 1, 2026, 14:30 UTC"),
        ("en_US", "Asia/Kolkata", "Dec 1, 2026, 20:00 UTC+5:30"),
        ("en_GB", "Europe/London", "1 Dec 2026, 14:30 GMT"),
        ("fr_FR", "Europe/Paris", "1 déc. 2026, 15:30 UTC+1"),
        ("de_DE", "Europe/Berlin", "01.12.2026, 15:30 MEZ"),
    ],
)
def test_a_moment_is_shown_in_the_active_zone_and_labelled_with_it(locale, zone, expected):
    with timezone.override(zoneinfo.ZoneInfo(zone)), formats.override(locale):
        assert formats.format_datetime(MOMENT) == expected


def test_a_zone_west_of_utc_without_an_abbreviation_gets_a_minus_sign():
    with timezone.override(zoneinfo.ZoneInfo("America/Sao_Paulo")):
        assert formats.format_datetime(MOMENT, "en_US") == "Dec 1, 2026, 11:30 UTC−3"


def test_an_aware_moment_is_dated_on_its_day_in_the_active_zone():
    late = datetime.datetime(2026, 12, 2, 3, 0, tzinfo=datetime.UTC)  # Dec 1, 19:00 in Los Angeles
    with timezone.override(zoneinfo.ZoneInfo("America/Los_Angeles")):
        assert formats.format_date(late) == "Dec 1, 2026"


def test_nothing_to_show_is_empty():
    assert formats.format_date(None) == formats.format_datetime(None) == formats.format_month(None) == ""


def test_override_restores_what_was_active():
    with formats.override("fr_FR"):
        with formats.override("de_DE"):
            assert formats.get_locale() == "de_DE"
        assert formats.get_locale() == "fr_FR"
    assert formats.get_locale() == "en_US"


def test_an_unknown_locale_falls_back_to_en_us():
    with formats.override("xx_YY"):
        assert formats.get_locale() == "en_US"


# --- the setting ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_partner_writes_in_en_us():
    assert Partner.objects.create(name="Fresh", slug="fresh").locale == "en_US"


@pytest.mark.django_db
def test_a_billing_admin_sets_the_locale_and_it_is_audited(partner, staff_user):
    partner = company_settings_update(partner=partner, user=staff_user, locale="fr_FR")
    assert Partner.objects.get(pk=partner.pk).locale == "fr_FR"


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["xx_YY", "fr", "en_ZZ", "French", ""])
def test_a_locale_not_offered_is_refused(partner, staff_user, value):
    with pytest.raises(ValidationError) as raised:
        company_settings_update(partner=partner, user=staff_user, locale=value)
    assert list(raised.value.message_dict) == ["locale"]
    assert Partner.objects.get(pk=partner.pk).locale == "en_US"


def test_validate_locale_accepts_every_offered_locale():
    for code in formats.LOCALES:
        formats.validate_locale(code)


@pytest.mark.django_db
def test_the_settings_page_offers_the_locales(client, partner, staff_user):
    client.force_login(staff_user)
    html = client.get("/office/settings/company/").content.decode()
    assert '<option value="fr_FR">Français (France)</option>' in html
    assert '<option value="en_US" selected>English (United States)</option>' in html


# --- a French partner's pages, PDF and e-mail --------------------------------------------------------------


@pytest.fixture
def french(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    partner = PartnerFactory(locale="fr_FR", time_zone="Europe/Paris")
    customer = CustomerFactory(partner=partner, auto_send=True)
    invoice = issued_invoice(customer, [123450], issue_date=ISSUED, deliver=False)
    return invoice


def test_a_french_partners_staff_see_the_invoice_list_in_french(client, french):
    client.force_login(StaffMembershipFactory(partner=french.partner).user)
    html = client.get(reverse("office:ar_invoice_list")).content.decode()
    assert "24 nov. 2026" in html and "24 déc. 2026" in html  # issued and due
    assert f"1{NNBSP}234,50{NBSP}$US" in html
    assert "Nov 24, 2026" not in html and "$1,234.50" not in html


def test_a_french_partners_customer_sees_the_invoice_in_french(client, french):
    client.force_login(CustomerMembershipFactory(customer=french.customer).user)
    html = client.get(reverse("portal:invoice_detail", args=[french.pk])).content.decode()
    assert "24 nov. 2026" in html and f"1{NNBSP}234,50{NBSP}$US" in html


def test_the_pay_link_page_is_in_its_invoices_partners_locale(client, french):
    html = client.get(pay_link_url(french)).content.decode()
    assert "24 nov. 2026" in html and f"1{NNBSP}234,50{NBSP}$US" in html


def test_a_request_leaves_no_locale_behind(client, french):
    client.force_login(StaffMembershipFactory(partner=french.partner).user)
    client.get(reverse("office:ar_invoice_list"))
    assert formats.get_locale() == "en_US"


def test_an_en_us_partners_list_is_written_as_before(client, customer, staff_user):
    issued_invoice(customer, [123450], issue_date=ISSUED, deliver=False)
    client.force_login(staff_user)
    html = client.get(reverse("office:ar_invoice_list")).content.decode()
    assert "Nov 24, 2026" in html and "Dec 24, 2026" in html and "$1,234.50" in html


def test_a_french_partners_invoice_pdf_is_in_french(french):
    _reader, pages = pdf_text(invoice_pdf_bytes(invoice=french))
    text = " ".join(" ".join(page.split()) for page in pages)
    assert "24 nov. 2026" in text and "24 déc. 2026" in text
    assert "1 234,50 $US" in text.replace(NNBSP, " ").replace(NBSP, " ")
    assert "Nov 24, 2026" not in text


def test_the_pdf_is_french_even_when_rendered_for_someone_else(french):
    """The worker, a platform admin or an en_US page: the document speaks for its own partner."""
    with formats.override("en_US"), timezone.override(zoneinfo.ZoneInfo("UTC")):
        _reader, pages = pdf_text(invoice_pdf_bytes(invoice=french))
    assert "24 nov. 2026" in " ".join(pages)


def test_a_french_partners_invoice_email_is_in_french(french):
    invoice_send(invoice=french)  # what the worker runs, with no partner active
    message = mail.outbox[-1]
    assert "Issue date:     24 nov. 2026" in message.body
    assert "Due date:       24 déc. 2026" in message.body
    assert f"Total:          1{NNBSP}234,50{NBSP}$US" in message.body
    html = message.alternatives[0][0]
    assert "24 déc. 2026" in html and f"1{NNBSP}234,50" in html
    assert formats.get_locale() == "en_US"


def test_partner_formats_sets_zone_and_locale_together(french):
    with partner_formats(french.partner):
        assert formats.get_locale() == "fr_FR"
        assert timezone.get_current_timezone_name() == "Europe/Paris"
    assert formats.get_locale() == "en_US"


# --- weekdays and times of day, and dates written in Python ----------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "with_year", "without_year"),
    [
        ("en_US", "Mon, Nov 2, 2026", "Mon, Nov 2"),
        ("en_GB", "Mon, 2 Nov 2026", "Mon 2 Nov"),
        ("fr_FR", "lun. 2 nov. 2026", "lun. 2 nov."),
        ("de_DE", "Mo., 2. Nov. 2026", "Mo., 2. Nov."),
    ],
)
def test_a_weekday_is_written_the_way_the_locale_writes_it(locale, with_year, without_year):
    monday = datetime.date(2026, 11, 2)
    with formats.override(locale):
        assert formats.format_weekday(monday) == with_year
        assert formats.format_weekday(monday, year=False) == without_year


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en_US", f"9:30{NNBSP}AM"), ("en_GB", "09:30"), ("fr_FR", "09:30"), ("de_DE", "09:30")],
)
def test_a_time_of_day_is_written_the_way_the_locale_writes_it_in_the_active_zone(locale, expected):
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")), formats.override(locale):
        assert formats.format_time_of_day(MOMENT) == expected  # 14:30 UTC is 09:30 in New York
        assert formats.format_time_of_day(datetime.time(21, 5)) == {"en_US": f"9:05{NNBSP}PM"}.get(locale, "21:05")


def test_a_weekday_and_time_of_day_in_the_active_zone_on_a_page():
    """The filters the service, shift and booking pages use: the weekday of the day in the partner's zone, the
    app's 24-hour clock with no zone label (the page's footer names the zone); ``localtimeofday`` is the locale's
    own clock."""
    late = datetime.datetime(2026, 11, 3, 2, 0, tzinfo=datetime.UTC)  # Mon Nov 2, 18:00 in Los Angeles
    page = Template('{% load money %}{{ moment|localweekday }}, {{ moment|localclock:"nozone" }}')
    short = Template('{% load money %}{{ moment|localweekday:"noyear" }} {{ moment|localtimeofday }}')
    with timezone.override(zoneinfo.ZoneInfo("America/Los_Angeles")):
        with formats.override("en_US"):
            assert page.render(Context({"moment": late})) == "Mon, Nov 2, 2026, 18:00"
            assert short.render(Context({"moment": late})) == f"Mon, Nov 2 6:00{NNBSP}PM"
        with formats.override("fr_FR"):
            assert page.render(Context({"moment": late})) == "lun. 2 nov. 2026, 18:00"
            assert short.render(Context({"moment": late})) == "lun. 2 nov. 18:00"
    assert Template("{% load money %}[{{ none|localweekday }}{{ none|localtimeofday }}]").render(Context()) == "[]"


@pytest.mark.parametrize(
    ("locale", "month", "latest"),
    [
        ("en_US", "February 2026", "Nov 1 – Nov 30, 2026 (and anything earlier not yet invoiced)"),
        ("fr_FR", "février 2026", "1 nov. – 30 nov. 2026 (and anything earlier not yet invoiced)"),
    ],
)
def test_the_run_now_period_is_named_in_the_partners_locale(locale, month, latest):
    chosen = RunPeriodForm({"period": RunPeriodForm.MONTH, "month": "2026-02"})
    closed = RunPeriodForm({"period": RunPeriodForm.LATEST})
    assert chosen.is_valid() and closed.is_valid()
    with formats.override(locale):
        assert run_period(chosen, "monthly", datetime.date(2026, 12, 3))[3] == month
        assert run_period(closed, "monthly", datetime.date(2026, 12, 3))[3] == latest


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "There is already a holiday on Dec 25, 2026: Christmas. One a day."),
        ("de_DE", "There is already a holiday on 25.12.2026: Christmas. One a day."),
    ],
)
def test_a_form_error_dates_its_day_in_the_partners_locale(locale, expected):
    with formats.override(locale):
        refusal = holiday_dates._holiday_taken(datetime.date(2026, 12, 25), Holiday(name="Christmas"))
    assert refusal == {"date": expected}


def test_the_issued_message_dates_the_due_date_in_the_partners_locale(db, client):
    partner = PartnerFactory(locale="fr_FR", time_zone="Europe/Paris")
    draft = draft_invoice(CustomerFactory(partner=partner))
    client.force_login(StaffMembershipFactory(partner=partner).user)
    response = client.post(reverse("office:invoice_issue", args=[draft.pk]), {"expected_status": "draft"}, follow=True)
    draft.refresh_from_db()
    french_due = babel_format_date(draft.due_date, "medium", locale="fr_FR")  # e.g. "31 déc. 2026"
    shown = " ".join(str(message) for message in response.context["messages"])
    assert f"Issued as {draft.number}, due {french_due}." in shown
    assert f"{draft.due_date:%b} {draft.due_date.day}," not in shown


@pytest.mark.parametrize(
    ("locale", "short_month", "period", "across_years"),
    [
        ("en_US", "Nov 2026", "Mar 1 – Mar 31, 2026", "Dec 1, 2025 – Jan 31, 2026"),
        ("fr_FR", "nov. 2026", "1 mars – 31 mars 2026", "1 déc. 2025 – 31 janv. 2026"),
    ],
)
def test_chart_months_and_statement_periods_are_written_in_the_locale(locale, short_month, period, across_years):
    with formats.override(locale):
        assert formats.format_short_month(ISSUED) == short_month
        assert statement_period_label(datetime.date(2026, 3, 1), datetime.date(2026, 3, 31)) == period
        assert statement_period_label(datetime.date(2025, 12, 1), datetime.date(2026, 1, 31)) == across_years
