"""Office company settings page (billing admins), and every page shown in the partner's time zone."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from customers.models import Partner
from invoicing.models import NumberCounter
from tests.factories import (
    CustomerMembershipFactory,
    ServiceFactory,
    ServiceRequestFactory,
    issued_invoice,
)

pytestmark = pytest.mark.django_db

URL = "/office/settings/company/"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40"/></svg>'


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def fresh(partner) -> Partner:
    return Partner.objects.get(pk=partner.pk)


def form_data(partner, **overrides) -> dict:
    """The form as the page posts it, from the partner's current values (next numbers as shown)."""
    counters = dict(NumberCounter.objects.filter(partner=partner).values_list("series", "last_value"))
    data = {
        "name": partner.name,
        "legal_name": partner.legal_name,
        "address": partner.address,
        "tax_id": partner.tax_id,
        "phone": partner.phone,
        "ar_prefix": partner.ar_prefix,
        "ap_prefix": partner.ap_prefix,
        "proforma_prefix": partner.proforma_prefix,
        "next_ar_number": counters.get("ar", 0) + 1,
        "initial-next_ar_number": counters.get("ar", 0) + 1,
        "next_ap_number": counters.get("ap", 0) + 1,
        "initial-next_ap_number": counters.get("ap", 0) + 1,
        "default_payment_terms_days": partner.default_payment_terms_days,
        "remittance": partner.remittance,
        "bank_name": partner.bank_name,
        "bank_account_name": partner.bank_account_name,
        "bank_account_number": partner.bank_account_number,
        "bank_routing": partner.bank_routing,
        "email": partner.email,
        "email_sender_name": partner.email_sender_name,
        "time_zone": partner.time_zone,
        "locale": partner.locale,
        "reminder_days": ", ".join(str(day) for day in partner.reminder_days),
    }
    if partner.issue_generated_invoices:
        data["issue_generated_invoices"] = "on"
    data.update(overrides)
    return data


def test_it_shows_the_sections_and_the_next_numbers(client, partner, staff_user, customer):
    issued_invoice(customer)
    client.force_login(staff_user)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for section in ("Company", "Invoices &amp; numbering", "Payment &amp; remittance", "E-mail", "Time zone"):
        assert section in html
    year = datetime.date.today().year
    assert f"INV-{year}-00002" in html  # the next AR number
    assert f"BILL-{year}-00001" in html
    assert 'name="initial-next_ar_number" value="2"' in html


def test_it_saves_and_says_so(client, partner, staff_user):
    client.force_login(staff_user)
    data = form_data(
        partner,
        remittance="Pay by ACH to the account below.",
        bank_name="Harbor Bank",
        bank_account_number="123456789",
        email_sender_name="Harbor Billing",
        time_zone="America/Los_Angeles",
        next_ar_number=100,
    )
    response = client.post(URL, {**data, "logo": SimpleUploadedFile("logo.svg", SVG.encode())}, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "The company settings were saved." in response.content.decode()
    partner = fresh(partner)
    assert (partner.remittance, partner.bank_name, partner.email_sender_name, partner.time_zone) == (
        "Pay by ACH to the account below.",
        "Harbor Bank",
        "Harbor Billing",
        "America/Los_Angeles",
    )
    assert partner.logo.name.endswith(".svg")
    assert NumberCounter.objects.get(partner=partner, series="ar").last_value == 99
    assert 'src="data:image/svg+xml;base64,' in response.content.decode()  # the logo shown on the page
    assert AuditEvent.objects.filter(action="company_settings", actor=staff_user).count() == 1


def test_errors_are_shown_on_their_fields_and_nothing_is_saved(client, partner, staff_user, customer):
    issued_invoice(customer)
    issued_invoice(customer)
    client.force_login(staff_user)
    data = form_data(partner, name="Renamed", ar_prefix="IN V", next_ar_number=2, time_zone="Mars/Base")
    response = client.post(URL, {**data, "logo": SimpleUploadedFile("logo.svg", b"<svg onload='x'/>")})
    assert response.status_code == 200
    form = response.context["form"]
    # The form refuses the time zone itself; the domain adds the rest, each on its field.
    assert set(form.errors) == {"time_zone"}
    data["time_zone"] = "UTC"
    response = client.post(URL, {**data, "logo": SimpleUploadedFile("logo.svg", b"<svg onload='x'/>")})
    form = response.context["form"]
    assert set(form.errors) == {"ar_prefix", "next_ar_number", "logo"}
    assert "the lowest allowed is 3" in form.errors["next_ar_number"][0]
    html = response.content.decode()
    assert "Nothing was saved" in html
    partner = fresh(partner)
    assert partner.name != "Renamed" and not partner.logo
    assert NumberCounter.objects.get(partner=partner, series="ar").last_value == 2


def test_a_next_number_left_as_shown_is_not_an_error_after_an_issue_meanwhile(client, partner, staff_user, customer):
    client.force_login(staff_user)
    data = form_data(partner, remittance="Pay by check.")  # the page showed next AR number 1
    issued_invoice(customer)  # ... and someone issued one since
    response = client.post(URL, data)
    assert response.status_code == 302
    assert fresh(partner).remittance == "Pay by check."
    assert NumberCounter.objects.get(partner=partner, series="ar").last_value == 1


def test_a_clerk_gets_403_and_sees_no_link(client, partner, clerk_user):
    client.force_login(clerk_user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, form_data(partner, name="Clerk Co")).status_code == 403
    assert fresh(partner).name != "Clerk Co"
    assert URL not in client.get(reverse("office:dashboard")).content.decode()


def test_a_billing_admin_sees_the_link(client, staff_user):
    client.force_login(staff_user)
    assert f'href="{URL}"' in client.get(reverse("office:dashboard")).content.decode()


def test_a_customer_user_gets_403(client, customer_user):
    client.force_login(customer_user)
    assert client.get(URL).status_code == 403


# --- every page in the partner's time zone ---------------------------------------------------------------


def winter_service(partner):
    """A service at 17:00 UTC on a January day: 09:00 in Los Angeles (PST, UTC-8), 12:00 in New York."""
    starts = datetime.datetime(2026, 1, 14, 17, 0, tzinfo=datetime.UTC)
    request = ServiceRequestFactory(customer__partner=partner)
    return ServiceFactory(request=request, starts_at=starts, ends_at=starts + datetime.timedelta(hours=2))


def test_office_pages_show_times_in_the_partners_zone_and_say_which(client, partner, staff_user):
    partner.time_zone = "America/Los_Angeles"
    partner.save()
    service = winter_service(partner)
    client.force_login(staff_user)
    html = client.get(reverse("office:request_detail", args=[service.request_id])).content.decode()
    assert "Jan 14, 2026, 09:00–11:00 PST" in html
    assert "17:00" not in html
    assert "Times in America/Los_Angeles (P" in html  # PST or PDT, depending on today


def test_the_same_service_shows_in_another_partners_zone(client, partner, staff_user):
    partner.time_zone = "America/New_York"
    partner.save()
    service = winter_service(partner)
    client.force_login(staff_user)
    html = client.get(reverse("office:request_detail", args=[service.request_id])).content.decode()
    assert "Jan 14, 2026, 12:00–14:00 EST" in html


def test_portal_pages_show_times_in_the_customers_partners_zone(client, partner, customer):
    partner.time_zone = "America/Los_Angeles"
    partner.save()
    service = winter_service(partner)
    user = CustomerMembershipFactory(customer=service.request.customer).user
    client.force_login(user)
    html = client.get(reverse("portal:request_detail", args=[service.request_id])).content.decode()
    assert "09:00–11:00" in html
    assert "Times in America/Los_Angeles" in html


def test_signed_out_pages_use_the_projects_zone_and_say_nothing(client):
    html = client.get(reverse("login")).content.decode()
    assert "Times in" not in html
