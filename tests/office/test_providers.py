"""Office provider pages: detail, create/edit and "bill now" (the provider's AP run)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Provider
from invoicing.models import Invoice
from invoicing.schedules import closed_period
from tests.factories import CustomerFactory, ProviderFactory, proforma_with_slips

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"office:{name}", args=args)


def last_month_day():
    start, _ = closed_period("monthly", timezone.localdate())
    return start + datetime.timedelta(days=2)


def test_detail_shows_unbilled_work_and_recent_documents(client, clerk_user, customer, provider):
    proforma_with_slips(customer=customer, provider=provider, amounts=[10000], service_date=last_month_day())
    client.force_login(clerk_user)
    response = client.get(url("provider_detail", provider.pk))
    assert response.status_code == 200
    assert response.context["unbilled"] == {"count": 1, "pay_units": 6000, "in_next_run": 1}
    page = response.content.decode()
    assert "$60.00" in page and "Bill now" in page


def test_detail_costs_a_fixed_number_of_queries(client, staff_user, customer, provider):
    client.force_login(staff_user)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("provider_detail", provider.pk)).status_code == 200
        return len(ctx.captured_queries)

    proforma_with_slips(customer=customer, provider=provider, service_date=last_month_day())
    few = count()
    for _ in range(5):
        proforma_with_slips(customer=customer, provider=provider, service_date=last_month_day())
    client.post(url("provider_run_ap", provider.pk), {"period": "latest"})
    assert count() == few


@pytest.mark.parametrize(
    ("method", "name"),
    [("get", "provider_detail"), ("get", "provider_edit"), ("post", "provider_edit"), ("post", "provider_run_ap")],
)
def test_another_partners_provider_is_a_404(client, staff_user, method, name):
    foreign = ProviderFactory()
    proforma_with_slips(
        customer=CustomerFactory(partner=foreign.partner), provider=foreign, service_date=last_month_day()
    )
    client.force_login(staff_user)
    response = getattr(client, method)(url(name, foreign.pk), {"name": "Taken over", "period": "latest"})
    assert response.status_code == 404
    assert Provider.objects.get(pk=foreign.pk).name == foreign.name
    assert not Invoice.objects.exists()


def test_bill_now_is_offered_only_for_work_of_a_closed_month(client, staff_user, customer, provider):
    proforma_with_slips(customer=customer, provider=provider, service_date=timezone.localdate().replace(day=1))
    client.force_login(staff_user)
    response = client.get(url("provider_detail", provider.pk))
    assert response.context["unbilled"]["in_next_run"] == 0
    assert "Bill now</button>" not in response.content.decode()


def test_create_and_edit_a_provider(client, clerk_user, partner):
    client.force_login(clerk_user)
    response = client.post(
        url("provider_create"),
        {"name": "Ana Ruiz", "email": "ana@x.example", "payment_terms_days": "15", "is_active": "on"},
    )
    provider = Provider.objects.get(partner=partner, name="Ana Ruiz")
    assert response["Location"] == url("provider_detail", provider.pk)
    assert provider.payment_terms_days == 15 and provider.is_active
    client.post(url("provider_edit", provider.pk), {"name": "Ana Ruiz", "payment_terms_days": "45"})
    provider.refresh_from_db()
    assert provider.payment_terms_days == 45 and not provider.is_active


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "payment_terms_days": "30"}, "name"),
        ({"name": "P", "email": "nope", "payment_terms_days": "30"}, "email"),
        ({"name": "P", "payment_terms_days": "-1"}, "payment_terms_days"),
        ({"name": "P", "payment_terms_days": "1000"}, "payment_terms_days"),
    ],
)
def test_create_with_bad_input_shows_the_error_and_saves_nothing(client, staff_user, partner, data, field):
    client.force_login(staff_user)
    response = client.post(url("provider_create"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Provider.objects.filter(partner=partner).exists()


def test_a_taken_provider_name_is_an_error(client, staff_user, provider):
    client.force_login(staff_user)
    response = client.post(url("provider_create"), {"name": provider.name.lower(), "payment_terms_days": "30"})
    assert "already a provider" in response.context["form"].errors["name"][0]


def test_bill_now_makes_the_ap_invoice_once(client, clerk_user, customer, provider):
    proforma_with_slips(customer=customer, provider=provider, amounts=[10000], service_date=last_month_day())
    proforma_with_slips(customer=customer, provider=provider, amounts=[5000], service_date=last_month_day())
    client.force_login(clerk_user)
    response = client.post(url("provider_run_ap", provider.pk), {"period": "latest"}, follow=True)
    invoice = Invoice.objects.get(provider=provider)
    assert (invoice.kind, invoice.status, invoice.total_units) == ("ap", "draft", 9000)
    assert "1 AP invoice made or updated" in response.content.decode()
    response = client.post(url("provider_run_ap", provider.pk), {"period": "latest"}, follow=True)
    assert Invoice.objects.filter(provider=provider).count() == 1
    assert "Nothing new to bill" in response.content.decode()


def test_bill_now_with_a_bad_month_shows_the_error(client, staff_user, provider):
    client.force_login(staff_user)
    response = client.post(url("provider_run_ap", provider.pk), {"period": "month", "month": "May"})
    assert response.status_code == 200
    assert "month" in response.context["run_form"].errors
