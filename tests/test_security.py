"""Sign-in lockout (django-axes), rate-limited password-reset e-mails and the Content-Security-Policy header."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core import mail
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from octoo_billing.security import CSPMiddleware, client_ip
from tests import factories

pytestmark = pytest.mark.django_db

WRONG_CREDENTIALS = "Please enter a correct username and password"
LOCKED_OUT = "Too many failed sign-in attempts. Try again in 15 minutes or reset your password."
ATTACKER = "198.51.100.7"


def sign_in(client, username, password, *, ip=ATTACKER, url=None):
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client):
    return "_auth_user_id" in client.session


# Sign-in lockout


def test_office_login_locks_out_after_five_failures_even_with_the_right_password(client, staff_user):
    for _ in range(4):
        response = sign_in(client, staff_user.username, "wrong")
        assert response.status_code == 200 and WRONG_CREDENTIALS in response.content.decode()

    response = sign_in(client, staff_user.username, "wrong")
    assert response.status_code == 429 and LOCKED_OUT in response.content.decode()

    response = sign_in(client, staff_user.username, factories.PASSWORD)
    assert response.status_code == 429 and LOCKED_OUT in response.content.decode()
    assert not signed_in(client)

    # Another address is not locked out.
    response = sign_in(client, staff_user.username, factories.PASSWORD, ip="203.0.113.50")
    assert response.status_code == 302 and signed_in(client)


def test_admin_login_locks_out_after_five_failures_even_with_the_right_password(client):
    root = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    for _ in range(4):
        response = sign_in(client, root.username, "wrong", url=url)
        assert response.status_code == 200 and "Please enter the correct username and password" in response.text

    assert LOCKED_OUT in sign_in(client, root.username, "wrong", url=url).content.decode()
    response = sign_in(client, root.username, factories.PASSWORD, url=url)
    assert response.status_code == 429 and LOCKED_OUT in response.content.decode()
    assert not signed_in(client)


def test_unknown_username_gets_the_same_lockout_page(client, staff_user):
    pages = []
    for username, ip in ((staff_user.username, "198.51.100.1"), ("nobody-by-that-name", "198.51.100.2")):
        responses = [sign_in(client, username, "wrong", ip=ip) for _ in range(6)]
        assert [r.status_code for r in responses] == [200] * 4 + [429] * 2
        pages.append(responses[-1].content)
    assert pages[0] == pages[1]
    assert LOCKED_OUT in pages[0].decode()


def test_failures_against_several_usernames_lock_the_address(client, staff_user, customer_user):
    for n in range(5):
        sign_in(client, f"guess{n}", "wrong")
    response = sign_in(client, customer_user.username, factories.PASSWORD)
    assert response.status_code == 429 and not signed_in(client)


def test_a_successful_sign_in_clears_only_that_users_failures(client, staff_user, customer_user):
    # The user's own failures are forgiven once they get it right...
    for _ in range(4):
        sign_in(client, customer_user.username, "wrong")
    assert sign_in(client, customer_user.username, factories.PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert WRONG_CREDENTIALS in sign_in(client, customer_user.username, "wrong").content.decode()

    # ...but signing in to one's own account does not wipe the failures against another one from that address.
    client.logout()
    assert sign_in(client, staff_user.username, factories.PASSWORD, ip="203.0.113.9").status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, staff_user.username, "wrong", ip="203.0.113.9")
    attacker = factories.UserFactory(username="mallory")
    assert sign_in(client, attacker.username, factories.PASSWORD, ip="203.0.113.9").status_code == 302
    client.logout()
    response = sign_in(client, staff_user.username, "wrong", ip="203.0.113.9")
    assert response.status_code == 429


def test_resetting_the_password_lifts_the_lockout(client, staff_user):
    for _ in range(5):
        sign_in(client, staff_user.username, "wrong")
    assert sign_in(client, staff_user.username, factories.PASSWORD).status_code == 429

    client.post(reverse("password_reset"), {"email": staff_user.email}, REMOTE_ADDR=ATTACKER)
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link, REMOTE_ADDR=ATTACKER)["Location"]
    new_password = "a-brand-new-passphrase-42"
    response = client.post(
        form_url, {"new_password1": new_password, "new_password2": new_password}, REMOTE_ADDR=ATTACKER
    )
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_complete")

    assert sign_in(client, staff_user.username, new_password).status_code == 302 and signed_in(client)


def test_authenticate_without_a_request_goes_past_the_lockout_gate(staff_user):
    assert settings.AUTHENTICATION_BACKENDS[0] == "octoo_billing.security.AxesBackend"
    # A management command checking a password has no client to lock out.
    assert authenticate(username=staff_user.username, password=factories.PASSWORD) == staff_user


def test_client_address_is_remote_addr_unless_proxies_are_trusted(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.44")
    assert client_ip(request) == "10.0.0.2"  # the header is the client's to forge

    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "192.0.2.44"  # what our proxy saw, not what the client claimed on the left
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "6.6.6.6"
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.2"  # fewer entries than proxies: not through them
    settings.TRUSTED_PROXY_COUNT = 1
    junk = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_ip(junk) == "10.0.0.2"


def test_lockout_counts_the_forwarded_address_behind_a_proxy(client, settings, staff_user):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        client.post(
            reverse("login"),
            {"username": staff_user.username, "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="198.51.100.99",
        )
    # Another client behind the same proxy signs in.
    response = client.post(
        reverse("login"),
        {"username": staff_user.username, "password": factories.PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.100",
    )
    assert response.status_code == 302


# Password-reset e-mails


def request_reset(client, email, ip=ATTACKER):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)


def test_reset_emails_to_one_address_stop_at_the_limit_with_the_same_answer(client, staff_user):
    responses = [request_reset(client, staff_user.email, ip=f"198.51.100.{n}") for n in range(1, 6)]
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT_PER_EMAIL == 3
    assert {(r.status_code, r["Location"]) for r in responses} == {(302, reverse("password_reset_done"))}

    # Case does not make a new address.
    request_reset(client, staff_user.email.upper(), ip="198.51.100.20")
    assert len(mail.outbox) == 3

    # An address no account uses answers the same, and is counted the same.
    unknown = [request_reset(client, "nobody@example.com", ip=f"198.51.100.{n}") for n in range(30, 35)]
    assert [(r.status_code, r["Location"]) for r in unknown] == [(r.status_code, r["Location"]) for r in responses]
    done = client.get(reverse("password_reset_done"))
    assert "If an account uses that address" in done.content.decode()


def test_reset_emails_from_one_client_stop_at_the_limit(client, partner):
    users = [factories.StaffMembershipFactory(partner=partner).user for _ in range(12)]
    for user in users:
        assert request_reset(client, user.email).status_code == 302
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT_PER_IP == 10
    # Another client still gets its e-mail.
    request_reset(client, users[-1].email, ip="203.0.113.77")
    assert len(mail.outbox) == 11


# Content-Security-Policy

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def directives(header):
    return sorted(part.strip() for part in header.split(";"))


def test_office_portal_and_login_pages_carry_the_policy(client, staff_user, customer_user):
    assert directives(client.get(reverse("login"))["Content-Security-Policy"]) == directives(POLICY)
    client.force_login(staff_user)
    response = client.get(reverse("office:dashboard"))
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == directives(POLICY)
    assert "unsafe" not in response["Content-Security-Policy"]
    client.force_login(customer_user)
    assert "Content-Security-Policy" in client.get(reverse("portal:dashboard"))


def test_the_lockout_page_carries_the_policy(client, staff_user):
    for _ in range(5):
        response = sign_in(client, staff_user.username, "wrong")
    assert response.status_code == 429 and "Content-Security-Policy" in response


def test_pdfs_are_left_without_a_policy():
    request = RequestFactory().get("/office/invoices/1/pdf/")
    middleware = CSPMiddleware(lambda r: HttpResponse(b"%PDF-1.7", content_type="application/pdf"))
    assert "Content-Security-Policy" not in middleware(request)
    middleware = CSPMiddleware(lambda r: HttpResponse("<p>page</p>"))
    assert "Content-Security-Policy" in middleware(request)


TEMPLATES = Path(settings.BASE_DIR) / "templates"
# What the policy refuses: inline <script> and <style> elements, style="" attributes, on...="" handlers. PDFs
# (WeasyPrint) and e-mails never reach a browser under it.
INLINE = re.compile(
    r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:",
    re.IGNORECASE,
)


def test_templates_have_no_inline_scripts_styles_or_handlers():
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        relative = path.relative_to(TEMPLATES).as_posix()
        if relative.startswith(("invoicing/pdf/", "emails/")):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INLINE.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
