"""The "View and pay" link (/pay/<token>/): one invoice, without signing in; card payment of its balance; expired,
changed and other invoices' links refused; every client address limited to 30 requests a minute."""

import base64
import datetime
import json
import re
import time

import pytest
from django.core import signing
from django.core.cache import caches
from django.core.cache.backends import db as db_cache
from django.urls import reverse
from django.utils import timezone

from audit.recording import audit_trail
from invoicing import paylinks
from invoicing.charging import customer_card_save
from invoicing.credits import credit_note_issue
from invoicing.delivery import invoice_send
from invoicing.lifecycle import invoice_void
from invoicing.models import Invoice, Payment
from invoicing.outbox_work import outbox_run
from invoicing.paylinks import pay_link_path, pay_link_token
from invoicing.payments import payment_record
from invoicing.pdf import documents
from tests.factories import CustomerFactory, StaffMembershipFactory, draft_invoice, issued_invoice

pytestmark = pytest.mark.django_db

GOOD, DECLINED = "4242 4242 4242 4242", "4000 0000 0000 0002"
FAKE_PDF = b"%PDF-1.7\n% a rendered invoice\n%%EOF\n"


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    caches["throttle"].clear()  # every test starts with the full 30 requests a minute
    yield
    caches["throttle"].clear()


@pytest.fixture
def fake_render(monkeypatch):
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: FAKE_PDF)


@pytest.fixture
def invoice(customer):
    return issued_invoice(customer, [12000], deliver=False)


def page(client, invoice_or_path):
    path = invoice_or_path if isinstance(invoice_or_path, str) else pay_link_path(invoice_or_path)
    return client.get(path)


def pay_key(response):
    return re.search(r'name="pay_key" value="([^"]+)"', response.content.decode()).group(1)


def pay(client, invoice, number=GOOD, **extra):
    path = pay_link_path(invoice)
    data = {"pay_key": pay_key(client.get(path)), "number": number, "expiry": "12/39", **extra}
    return client.post(path, data, follow=True)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def old_token(invoice, *, days):
    """A link made ``days`` ago."""
    then = signing.b62_encode(int(time.time()) - days * 86400)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signing.TimestampSigner, "timestamp", lambda self: then)
        return pay_link_token(invoice)


def path_of(token):
    return reverse("paylink:invoice", args=[token])


# --- the page ------------------------------------------------------------------------------------------------


def test_it_shows_that_invoice_only_without_login(client, customer, invoice):
    other = issued_invoice(customer, [777], deliver=False)  # the same customer's other invoice
    stranger = issued_invoice(CustomerFactory(), [888], deliver=False)
    contact = customer.contacts.get(is_default=True)

    response = page(client, invoice)

    text = response.content.decode()
    assert response.status_code == 200
    assert invoice.number in text and invoice.partner.name in text
    assert "$120.00" in text and "Due now" in text and 'id="pay"' in text
    assert invoice.issue_date.strftime("%b") in text and invoice.due_date.strftime("%Y") in text
    assert other.number not in text and "$7.77" not in text
    assert stranger.customer.name not in text and stranger.partner.name not in text and "$8.88" not in text
    assert contact.email not in text and customer.email not in text
    assert "Sign in to the portal" in text
    assert not re.search(r'href="/portal/', text)  # nothing that needs a sign-in, but the sign-in page itself
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_a_partly_paid_invoice_shows_what_was_paid_and_what_is_due(client, invoice):
    payment_record(invoice=invoice, amount_units=2000, method="check", reference="1001")

    text = page(client, invoice).content.decode()

    assert "Payment by check" in text and "1001" in text and "$20.00" in text
    assert re.search(r'id="due-now">\$100\.00<', text)


def test_paying_by_card_pays_the_balance_then_shows_it_settled(client, invoice, mailoutbox):
    response = pay(client, invoice)

    invoice = fresh(invoice)
    assert invoice.status == Invoice.Status.PAID and invoice.outstanding_units == 0
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount_units, payment.method, payment.created_by) == (12000, "card", None)
    assert payment.idempotency_key.startswith(f"paylink-{invoice.pk}-")
    charge = audit_trail(invoice).get(action="charge")
    assert charge.actor is None and charge.data["last4"] == "4242"
    text = response.content.decode()
    assert "Thank you: $120.00 was paid" in text
    assert 'id="settled"' in text and "paid in full" in text and 'id="pay"' not in text
    assert "Payment by card" in text and payment.reference in text

    outbox_run()  # its receipt
    assert [mail.subject.startswith("Receipt: $120.00") for mail in mailoutbox] == [True]


def test_a_double_submitted_payment_charges_once(client, invoice):
    path = pay_link_path(invoice)
    data = {"pay_key": pay_key(client.get(path)), "number": GOOD, "expiry": "12/39"}

    client.post(path, data)
    response = client.post(path, data, follow=True)

    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert "There is nothing to pay by card on this invoice." in response.content.decode()


def test_a_partly_paid_invoice_is_charged_only_its_balance(client, invoice):
    payment_record(invoice=invoice, amount_units=2000, method="check", reference="1001")

    pay(client, invoice)

    assert sorted(Payment.objects.filter(invoice=invoice).values_list("amount_units", flat=True)) == [2000, 10000]
    assert fresh(invoice).status == Invoice.Status.PAID


def test_a_declined_card_changes_nothing_and_says_why(client, invoice):
    response = pay(client, invoice, number=DECLINED)

    assert fresh(invoice).status == Invoice.Status.PENDING and not Payment.objects.filter(invoice=invoice).exists()
    assert "Card ending 0002 not charged: The card was declined." in response.content.decode()
    assert 'id="pay"' in response.content.decode()


def test_bad_card_input_is_shown_on_the_form(client, invoice):
    response = pay(client, invoice, number="4242 4242 4242 4241")

    assert response.status_code == 400 and "That card number is not valid" in response.content.decode()
    assert not Payment.objects.exists()


def test_the_link_neither_keeps_a_card_nor_offers_the_card_on_file(client, customer, invoice):
    customer_card_save(customer=customer, number=GOOD, exp_month=12, exp_year=2039)
    customer.refresh_from_db()
    token = customer.card_token

    text = page(client, invoice).content.decode()
    assert "ending 4242" not in text and "keep_on_file" not in text
    pay(client, invoice, number="5555 5555 5555 4444", keep_on_file="on")

    assert fresh(customer).card_token == token  # the card typed in was for this payment only
    assert fresh(invoice).status == Invoice.Status.PAID


def test_a_credited_invoice_is_settled_with_its_credit_note_and_no_form(client, invoice, partner):
    admin = StaffMembershipFactory(partner=partner).user
    note = credit_note_issue(invoice=invoice, whole=True, reason="Cancelled", user=admin)
    response = client.post(pay_link_path(invoice), {"pay_key": "k" * 22, "number": GOOD, "expiry": "12/39"})

    text = page(client, invoice).content.decode()

    assert fresh(invoice).status == Invoice.Status.CREDITED
    assert 'id="settled"' in text and "it was credited" in text and note.number in text and 'id="pay"' not in text
    assert response.status_code == 302 and not Payment.objects.exists()


def test_a_void_invoice_says_it_was_cancelled(client, invoice):
    invoice_void(invoice=invoice, reason="Billed twice")

    text = page(client, invoice).content.decode()
    client.post(pay_link_path(invoice), {"pay_key": "k" * 22, "number": GOOD, "expiry": "12/39"})

    assert 'id="void"' in text and "This invoice was cancelled" in text and 'id="pay"' not in text
    assert not Payment.objects.exists()


def test_the_pdf_link_serves_that_invoices_pdf(client, invoice, fake_render):
    response = client.get(reverse("paylink:pdf", args=[pay_link_token(invoice)]))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and invoice.number in response["Content-Disposition"]


# --- links that do not open it -----------------------------------------------------------------------------------


def test_an_expired_link_says_so_names_the_partner_and_shows_nothing_of_the_invoice(client, invoice, settings):
    settings.PAY_LINK_DAYS = 90
    token = old_token(invoice, days=91)

    responses = [client.get(path_of(token)), client.get(reverse("paylink:pdf", args=[token]))]

    for response in responses:
        text = response.content.decode()
        assert response.status_code == 410 and "This link has expired" in text
        assert invoice.partner.name in text and "for a new link" in text
        assert invoice.number not in text and "$120.00" not in text and 'id="pay"' not in text
    assert client.get(path_of(old_token(invoice, days=89))).status_code == 200


def test_an_expired_link_takes_no_payment(client, invoice, monkeypatch):
    token = pay_link_token(invoice)
    monkeypatch.setattr(paylinks, "pay_link_max_age", lambda: datetime.timedelta(seconds=-1))

    response = client.post(path_of(token), {"pay_key": "k" * 22, "number": GOOD, "expiry": "12/39"})

    assert response.status_code == 410 and not Payment.objects.exists()


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_a_changed_character_makes_the_link_not_valid(client, invoice, where):
    token = pay_link_token(invoice)
    at = 3 if where == "payload" else len(token) - 3
    changed = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]

    for path in (path_of(changed), reverse("paylink:pdf", args=[changed])):
        response = client.get(path)
        text = response.content.decode()
        assert response.status_code == 404 and "This link is not valid" in text
        assert invoice.number not in text and invoice.partner.name not in text


def test_a_link_with_another_invoices_number_is_not_valid(client, customer, invoice):
    other = issued_invoice(customer, [5000], deliver=False)
    forged = signing.dumps({"i": invoice.pk, "n": other.number}, salt=paylinks.SALT, compress=True)

    response = client.get(path_of(forged))

    assert response.status_code == 404 and invoice.number not in response.content.decode()
    assert other.number not in response.content.decode()


def test_one_invoices_link_never_shows_another(client, customer, invoice):
    other = issued_invoice(customer, [5000], deliver=False)

    assert other.number not in page(client, invoice).content.decode()
    assert invoice.number not in page(client, other).content.decode()


def test_a_draft_or_an_unsigned_link_opens_nothing(client, customer):
    draft = draft_invoice(customer, [5000])
    unsigned = base64.urlsafe_b64encode(json.dumps({"i": draft.pk}).encode()).decode()

    assert client.get(pay_link_path(draft)).status_code == 404
    assert client.get(path_of(unsigned)).status_code == 404


# --- the rate limit -----------------------------------------------------------------------------------------------


def test_the_31st_request_in_a_minute_from_one_address_is_refused(client, invoice):
    path = pay_link_path(invoice)
    codes = [client.get(path, REMOTE_ADDR="203.0.113.9").status_code for _ in range(30)]
    assert set(codes) == {200}

    refused = client.get(path, REMOTE_ADDR="203.0.113.9")
    posted = client.post(path, {"pay_key": "k" * 22, "number": GOOD, "expiry": "12/39"}, REMOTE_ADDR="203.0.113.9")

    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert "Too many requests" in refused.content.decode() and invoice.number not in refused.content.decode()
    assert posted.status_code == 429 and not Payment.objects.exists()
    assert client.get(path, REMOTE_ADDR="203.0.113.10").status_code == 200  # another address has its own count


def test_bad_links_count_against_the_limit_too(client, settings):
    settings.PAY_LINK_REQUESTS_PER_MINUTE = 3
    codes = [client.get(path_of(f"guess{n}"), REMOTE_ADDR="198.51.100.7").status_code for n in range(4)]

    assert codes == [404, 404, 404, 429]


def test_a_request_is_allowed_again_a_minute_after_the_limit_was_reached(client, invoice, settings, monkeypatch):
    settings.PAY_LINK_REQUESTS_PER_MINUTE = 2
    path = pay_link_path(invoice)
    assert [client.get(path).status_code for _ in range(3)] == [200, 200, 429]

    later, later_ts = timezone.now() + datetime.timedelta(seconds=61), time.time() + 61
    monkeypatch.setattr(db_cache, "tz_now", lambda: later)  # the cache table's clock (expiry checks)
    monkeypatch.setattr(time, "time", lambda: later_ts)  # and the one new entries' expiry is counted from
    assert [client.get(path).status_code for _ in range(3)] == [200, 200, 429]


# --- the invoice e-mail -----------------------------------------------------------------------------------------


def test_the_invoice_email_carries_the_pay_link_while_something_is_due(client, invoice, fake_render, mailoutbox):
    invoice_send(invoice=invoice)

    [mail] = mailoutbox
    match = re.search(r"View and pay online: http://\S+?(/pay/\S+/)\n", mail.body)
    assert match is not None and match.group(1) in mail.alternatives[0][0]
    text = client.get(match.group(1)).content.decode()
    assert invoice.number in text and 'id="pay"' in text

    payment_record(invoice=invoice, amount_units=12000, method="check", reference="9")
    invoice_send(invoice=invoice)  # sent again once paid: nothing to pay, no link
    assert "/pay/" not in mailoutbox[-1].body and "/pay/" not in mailoutbox[-1].alternatives[0][0]
