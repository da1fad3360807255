"""Signing in, where each kind of user lands, who may open which area, and tenant isolation on dashboards."""

import pytest
from django.urls import reverse

from tests.factories import (
    PASSWORD,
    CustomerFactory,
    CustomerMembershipFactory,
    PartnerFactory,
    StaffMembershipFactory,
    UserFactory,
    issued_invoice,
)

pytestmark = pytest.mark.django_db


def sign_in(client, user):
    return client.post(reverse("login"), {"username": user.username, "password": PASSWORD})


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'name="password"' in html
    assert "csrfmiddlewaretoken" in html


def test_wrong_password_stays_on_the_login_page(client, staff_user):
    response = client.post(reverse("login"), {"username": staff_user.username, "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_staff_user_lands_on_the_office(client, staff_user):
    response = sign_in(client, staff_user)
    assert response.status_code == 302 and response.url == "/"
    response = client.get("/")
    assert response.status_code == 302 and response.url == reverse("office:dashboard") == "/office/"
    assert client.get("/office/").status_code == 200


def test_customer_user_lands_on_the_portal(client, customer_user):
    response = sign_in(client, customer_user)
    assert response.status_code == 302 and response.url == "/"
    response = client.get("/")
    assert response.status_code == 302 and response.url == reverse("portal:dashboard") == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_superuser_without_memberships_lands_on_the_admin(client):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    sign_in(client, admin_user)
    response = client.get("/")
    assert response.status_code == 302 and response.url == reverse("admin:index") == "/admin/"


def test_user_without_membership_is_forbidden(client):
    sign_in(client, UserFactory())
    assert client.get("/").status_code == 403
    assert client.get("/office/").status_code == 403
    assert client.get("/portal/").status_code == 403


def test_customer_user_cannot_open_the_office(client, customer_user):
    client.force_login(customer_user)
    assert client.get("/office/").status_code == 403


def test_staff_user_cannot_open_the_portal(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/portal/").status_code == 403


@pytest.mark.parametrize("path", ["/office/", "/portal/", "/"])
def test_anonymous_visitor_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={path}"


def test_logout_is_a_post(client, staff_user):
    client.force_login(staff_user)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get("/office/").status_code == 200  # a GET did not sign out
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response.url == reverse("login")
    assert client.get("/office/").status_code == 302


def test_password_change_page_renders_for_a_signed_in_user(client, clerk_user):
    client.force_login(clerk_user)
    response = client.get(reverse("password_change"))
    assert response.status_code == 200
    assert 'name="old_password"' in response.content.decode()


def test_password_change_page_needs_a_signed_in_user(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_office_dashboard_shows_only_the_own_partner_figures(client):
    own_partner, other_partner = PartnerFactory(), PartnerFactory()
    own_customer = CustomerFactory(partner=own_partner, name="Zebra Logistics")
    other_customer = CustomerFactory(partner=other_partner, name="Quokka Holdings")
    own = issued_invoice(own_customer, [123456])
    issued_invoice(other_customer, [987654])
    client.force_login(StaffMembershipFactory(partner=own_partner).user)

    response = client.get("/office/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "1,234.56" in html
    assert "Zebra Logistics" in html
    assert own.number in html
    assert "9,876.54" not in html
    assert "Quokka Holdings" not in html
    assert other_partner.name not in html


def test_portal_dashboard_shows_only_the_own_customer_invoices(client):
    partner = PartnerFactory()
    own_customer = CustomerFactory(partner=partner, name="Zebra Logistics")
    other_customer = CustomerFactory(partner=partner, name="Quokka Holdings")
    own = issued_invoice(own_customer, [123456])
    other = issued_invoice(other_customer, [987654])
    client.force_login(CustomerMembershipFactory(customer=own_customer).user)

    response = client.get("/portal/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "1,234.56" in html
    assert own.number in html
    assert "9,876.54" not in html
    assert other.number not in html
    assert "Quokka Holdings" not in html
