"""invoicing.company: the next invoice numbers, set with the company settings on the office's settings page
(forward only, under the counter's lock), in the same transaction and audit row as the settings; nothing saved
when anything is wrong."""

import threading
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from customers.models import Partner
from invoicing.company import company_settings_update
from invoicing.lifecycle import invoice_issue
from invoicing.models import Invoice, NumberCounter
from tests.factories import CustomerFactory, StaffMembershipFactory, draft_invoice, issued_invoice
from tests.invoicing.test_concurrency import run_at_once

pytestmark = pytest.mark.django_db

PLAIN_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40"/></svg>'


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def fresh(partner) -> Partner:
    return Partner.objects.get(pk=partner.pk)


def refused(partner, user, **values) -> dict:
    with pytest.raises(ValidationError) as exc:
        company_settings_update(partner=partner, user=user, **values)
    return exc.value.message_dict


def ar_counter(partner) -> int:
    return NumberCounter.objects.get(partner=partner, series="ar").last_value


# --- next invoice numbers ------------------------------------------------------------------------------------


def test_the_next_ar_number_moves_forward_and_the_next_issue_takes_it(partner, staff_user, customer):
    issued_invoice(customer)
    company_settings_update(partner=partner, user=staff_user, next_ar_number=500)
    invoice = issued_invoice(customer)
    assert invoice.sequence == 500
    assert invoice.number == f"INV-{invoice.issue_date.year}-00500"


@pytest.mark.parametrize("lower", [1, 3], ids=["lower", "equal to the last used"])
def test_a_next_number_not_above_the_last_used_is_refused_with_the_lowest_allowed(partner, staff_user, customer, lower):
    for _ in range(3):
        issued_invoice(customer)
    errors = refused(partner, staff_user, next_ar_number=lower)
    assert errors["next_ar_number"] == [
        "The next AR invoice number can only move forward: the lowest allowed is 4 (3 is already used)."
    ]
    assert ar_counter(partner) == 3


def test_the_current_next_number_is_no_change(partner, staff_user, customer):
    issued_invoice(customer)
    company_settings_update(partner=partner, user=staff_user, next_ar_number=2)
    assert ar_counter(partner) == 1
    assert not AuditEvent.objects.filter(action="company_settings").exists()


def test_the_next_ap_number_moves_forward_on_its_own_counter(partner, staff_user):
    company_settings_update(partner=partner, user=staff_user, next_ap_number=40)
    assert NumberCounter.objects.get(partner=partner, series="ap").last_value == 39
    assert NumberCounter.objects.get(partner=partner, series="ar").last_value == 0


def test_an_absurd_next_number_is_refused(partner, staff_user):
    errors = refused(partner, staff_user, next_ar_number=10**9)
    assert "at most 99,999,999" in errors["next_ar_number"][0]


def test_one_bad_field_saves_nothing_not_even_a_valid_next_number(partner, staff_user, customer):
    issued_invoice(customer)
    errors = refused(partner, staff_user, name="Renamed", next_ar_number=90, ar_prefix="IN V")
    assert set(errors) == {"ar_prefix"}
    partner = fresh(partner)
    assert partner.name != "Renamed" and partner.ar_prefix == "INV"
    assert ar_counter(partner) == 1
    assert not AuditEvent.objects.filter(action="company_settings").exists()


def test_a_billing_clerk_is_refused_before_any_counter_moves(partner, clerk_user):
    with pytest.raises(PermissionDenied, match="billing admin"):
        company_settings_update(partner=partner, user=clerk_user, next_ar_number=50)
    assert not NumberCounter.objects.filter(partner=partner, last_value__gt=0).exists()


def test_an_unknown_field_moves_no_counter(partner, staff_user):
    with pytest.raises(TypeError):
        company_settings_update(partner=partner, user=staff_user, next_ar_number=50, currency="EUR")
    assert not NumberCounter.objects.filter(partner=partner, last_value__gt=0).exists()


# --- the audit trail -------------------------------------------------------------------------------------------


def test_one_audit_row_lists_what_changed_with_the_account_number_masked(partner, staff_user, customer):
    issued_invoice(customer)
    company_settings_update(
        partner=partner,
        user=staff_user,
        name=partner.name,  # unchanged: not listed
        remittance="Pay by ACH.",
        bank_account_number="000418275563",
        time_zone="America/New_York",
        next_ar_number=10,
        logo=SimpleUploadedFile("logo.svg", PLAIN_SVG.encode()),
    )
    event = AuditEvent.objects.get(action="company_settings")
    assert (event.partner_id, event.target_id, event.actor_id) == (partner.pk, partner.pk, staff_user.pk)
    assert set(event.data) == {"remittance", "bank_account_number", "time_zone", "next_ar_number", "logo"}
    assert event.data["bank_account_number"] == ["", "…5563"]
    assert event.data["next_ar_number"] == [2, 10]
    assert event.data["time_zone"] == ["UTC", "America/New_York"]
    assert "000418275563" not in str(event.data)


# --- a race on PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_moving_the_next_number_while_issuing_never_duplicates_or_goes_below_the_new_start():
    customer = CustomerFactory()
    admin = StaffMembershipFactory(partner=customer.partner).user
    drafts = [draft_invoice(customer, [1000 + i]).pk for i in range(240)]
    new_start = 1000
    issuers = 6
    moved = threading.Event()

    def issue_slice(ids):
        def job():
            for pk in ids:
                invoice_issue(invoice=Invoice.objects.get(pk=pk))
            return len(ids)

        return job

    def move():
        deadline = time.monotonic() + 30
        while Invoice.objects.filter(partner=customer.partner).exclude(status="draft").count() < 40:
            assert time.monotonic() < deadline, "the issuers never started"
            time.sleep(0.005)
        company_settings_update(partner=customer.partner, user=admin, next_ar_number=new_start)
        moved.set()
        return "moved"

    jobs = [issue_slice(drafts[i::issuers]) for i in range(issuers)] + [move]
    results, errors = run_at_once(jobs)

    assert errors == [None] * len(jobs)
    assert results[-1] == "moved" and moved.is_set()
    sequences = sorted(Invoice.objects.filter(partner=customer.partner, kind="ar").values_list("sequence", flat=True))
    assert len(sequences) == len(set(sequences)) == 240
    before = [s for s in sequences if s < new_start]
    after = [s for s in sequences if s >= new_start]
    assert before == list(range(1, len(before) + 1))  # gapless up to the move
    assert after == list(range(new_start, new_start + len(after)))  # and from the new start on
    assert 40 <= len(before) < 240 and after, "the move happened while invoices were being issued"
    numbers = Invoice.objects.filter(partner=customer.partner, kind="ar").values_list("number", flat=True)
    assert len(set(numbers)) == 240
    assert NumberCounter.objects.get(partner=customer.partner, series="ar").last_value == new_start + len(after) - 1
