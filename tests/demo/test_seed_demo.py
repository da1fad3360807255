"""``manage.py seed_demo`` and ``manage.py demo_logins``: complete, consistent, idempotent, all-or-nothing."""

import io
from collections import defaultdict
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, Q
from django.utils import timezone

from customers.models import Customer, CustomerMembership, Partner, StaffMembership
from demo.people import DEMO_PASSWORD, DEMO_USERS
from demo.summary import demo_counts
from invoicing.lifecycle import invoice_issue
from invoicing.models import CreditNote, Invoice, InvoiceProforma, OutboxJob, Payment, Proforma, Quote, Refund, Service
from invoicing.outbox_work import outbox_run
from invoicing.pricing import invoice_slips

pytestmark = pytest.mark.django_db


def run(command: str) -> str:
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_every_kind_of_document_once():
    out = run("seed_demo")
    assert "Demo data loaded" in out
    assert Partner.objects.count() >= 2
    assert Customer.objects.count() >= 20

    # Every AR status, and AP drafts, pending and paid ones.
    ar_statuses = set(Invoice.objects.filter(kind="ar").values_list("status", flat=True))
    assert set(Invoice.Status.values) <= ar_statuses
    ap_statuses = set(Invoice.objects.filter(kind="ap").values_list("status", flat=True))
    assert {"draft", "pending", "paid"} <= ap_statuses
    assert Invoice.objects.filter(status="void").exclude(void_reason="").exists()
    assert not Invoice.objects.filter(status="void", void_reason="").exists()

    # Issue 13: credit notes (in full, in part, and one whose credit went back by check).
    assert CreditNote.objects.filter(partner__slug="northwind").count() == 3
    assert Refund.objects.filter(status="succeeded", credit_note__isnull=False).exists()
    assert not OutboxJob.objects.exists()  # history: nothing left to deliver

    # Seed 003: a child AR invoice (one general slip, another customer) lowers its parent's balance.
    child = Invoice.objects.select_related("parent").get(parent__isnull=False)
    parent = child.parent
    assert child.customer_id != parent.customer_id and child.partner_id == parent.partner_id
    assert not child.proforma_links.exists()
    assert list(child.direct_slips.values_list("slip_type", flat=True)) == ["general"]
    assert parent.children_units == child.total_units
    assert parent.outstanding_units == parent.total_units - parent.paid_units - child.total_units

    # Seed 001: a manual invoice with three lines and an invoice-level discount.
    manual = Invoice.objects.filter(source="manual", discount_units__gt=0).exclude(status="void")
    assert any(inv.direct_slips.count() == 3 for inv in manual)

    # Every customer has exactly one default billing contact; every issued AR invoice carries a snapshot of one.
    defaults = Customer.objects.annotate(n=Count("contacts", filter=Q(contacts__is_default=True)))
    assert set(defaults.values_list("n", flat=True)) == {1}
    assert not Invoice.objects.filter(kind="ar").exclude(status="draft").filter(contact_email="").exists()

    # Issued documents add up, are paid no more than owed, and are numbered without gaps in date order.
    sequences = defaultdict(list)
    for inv in Invoice.objects.exclude(status="draft").order_by("sequence"):
        lines = list(invoice_slips(inv))
        side = "bill_total_units" if inv.kind == "ar" else "pay_total_units"
        assert inv.total_units == sum(getattr(s, side) for s in lines), inv
        assert sum(p.amount_units for p in inv.payments.all()) == inv.paid_units
        sequences[(inv.partner_id, inv.kind)].append((inv.sequence, inv.issue_date))
    for numbers in sequences.values():
        assert [n for n, _ in numbers] == list(range(1, len(numbers) + 1))
        assert [d for _, d in numbers] == sorted(d for _, d in numbers)

    # Paid means settled, partially paid means some paid, overdue means past due with a balance.
    for inv in Invoice.objects.filter(status="paid"):
        assert inv.outstanding_units == 0
    for inv in Invoice.objects.filter(status="partially_paid"):
        assert 0 < inv.paid_units and inv.outstanding_units > 0
    for inv in Invoice.objects.filter(status="overdue"):
        assert inv.outstanding_units > 0 and inv.due_date is not None

    # Seed 000: one customer's requests carry "ABC123" and other codes: one invoice per code set and period.
    abc = Invoice.objects.filter(kind="ar", expense_code_key__contains="ABC123")
    assert abc.exists()
    customer = abc.first().customer
    assert Invoice.objects.filter(customer=customer).exclude(expense_code_key__contains="ABC123").exists()
    assert Invoice.objects.filter(kind="ar", expense_code_mode=Invoice.ExpenseCodeMode.PER_PROFORMA).exists()

    # This month's work is confirmed but not invoiced yet; some services are still to come; quotes are open.
    # (On the 1st of a month, every past service is in last month, invoiced by then: no work of this month yet.)
    live_ar = InvoiceProforma.objects.filter(kind="ar", is_active=True).values("proforma_id")
    uninvoiced = Proforma.objects.filter(status="confirmed").exclude(pk__in=live_ar)
    assert uninvoiced.exists() or timezone.localdate().day == 1
    assert Service.objects.filter(status="scheduled").count() >= 3
    assert Quote.objects.filter(status="open").count() >= 2
    assert Quote.objects.filter(status="converted", invoice__isnull=False).exists()
    assert not Service.objects.exclude(pricing_error="").exists()
    assert Payment.objects.exists()

    # Demo users sign in with the demo password and belong where the table says they land.
    for demo in DEMO_USERS:
        user = authenticate(username=demo.username, password=DEMO_PASSWORD)
        assert user is not None, demo.username
        if demo.lands_on == "/office/":
            assert StaffMembership.objects.get(user=user).role == demo.staff_role
        elif demo.lands_on == "/portal/":
            membership = CustomerMembership.objects.get(user=user)
            assert membership.can_manage_expense_codes == demo.can_manage_expense_codes
        else:
            assert user.is_superuser
    assert CustomerMembership.objects.filter(can_manage_expense_codes=True).exists()
    assert CustomerMembership.objects.filter(can_manage_expense_codes=False).exists()

    # A second run adds nothing, and the logins table lists everyone.
    counts = demo_counts()
    again = run("seed_demo")
    assert "already loaded" in again
    assert demo_counts() == counts
    logins = run("demo_logins")
    for demo in DEMO_USERS:
        assert demo.username in logins
    assert DEMO_PASSWORD in logins


def test_demo_logins_without_the_demo_data_says_how_to_load_it():
    out = run("demo_logins")
    assert "seed_demo" in out
    assert DEMO_PASSWORD not in out


def test_a_seed_that_fails_half_way_leaves_nothing_behind(monkeypatch):
    def boom(seed, data):
        raise RuntimeError("disk full")

    monkeypatch.setattr("demo.seed.ar_plan", boom)  # after partners, users, requests and proformas
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not Partner.objects.exists()
    assert not Proforma.objects.exists()
    assert not get_user_model().objects.filter(username__in=[u.username for u in DEMO_USERS]).exists()


def test_seed_demo_emails_charges_and_queues_nothing_for_its_historical_invoices(
    settings, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    settings.OUTBOX_NUDGE = True
    drained = []  # if the commit nudges the worker (today's bookings are issued with their work, then discarded)
    monkeypatch.setattr("invoicing.outbox.outbox_nudge", lambda: drained.append(outbox_run()))

    with django_capture_on_commit_callbacks(execute=True):
        run("seed_demo")

    assert Invoice.objects.filter(issue_date__isnull=False).exists()
    assert not OutboxJob.objects.exists()  # no PDF, e-mail or charge job for its historical invoices
    assert all(report.results == [] for report in drained)  # a nudged worker finds nothing to do
    assert mailoutbox == []
    assert not Payment.objects.filter(method="card", reference__startswith="sim_ch_").exists()
    auto_send_ar = Invoice.objects.filter(kind="ar", customer__auto_send=True, issue_date__isnull=False)
    assert auto_send_ar.exists()
    assert not auto_send_ar.filter(sent_at__isnull=True).exists()
    assert not Invoice.objects.filter(Q(send_error__gt="") | Q(charge_error__gt="")).exists()
    # Recorded as issued (and e-mailed) on their issue dates (in the partner's time zone), never in the future.
    now = timezone.now()
    for invoice in Invoice.objects.filter(issue_date__isnull=False).select_related("partner"):
        assert invoice.issued_at <= now
        assert timezone.localtime(invoice.issued_at, invoice.partner.tzinfo).date() == invoice.issue_date


def test_seed_demo_puts_the_succeeding_test_card_on_file_for_card_customers():
    run("seed_demo")

    card = Customer.objects.filter(payment_method="card")
    assert card.exists()
    assert not card.filter(card_last4="").exists()
    assert set(card.values_list("card_last4", flat=True)) == {"4242"}
    assert not Customer.objects.exclude(payment_method="card").exclude(card_last4="").exists()


def test_issuing_a_new_invoice_after_the_seed_queues_its_delivery(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    run("seed_demo")
    settings.OUTBOX_NUDGE = True
    nudged = []
    monkeypatch.setattr("invoicing.outbox.outbox_nudge", lambda: nudged.append(True))
    draft = Invoice.objects.filter(kind="ar", status="draft").first()
    admin = StaffMembership.objects.filter(partner=draft.partner, role="billing_admin").first().user

    with django_capture_on_commit_callbacks(execute=True):
        invoice_issue(invoice=draft, user=admin)

    expected = {"pdf"} | ({"email"} if draft.customer.auto_send else set())
    expected |= {"charge"} if draft.customer.charges_automatically else set()
    jobs = OutboxJob.objects.filter(invoice=draft)
    assert set(jobs.values_list("kind", flat=True)) == expected
    assert set(jobs.values_list("status", flat=True)) == {OutboxJob.Status.PENDING}
    assert OutboxJob.objects.count() == len(expected)  # this invoice's delivery only
    assert nudged == [True]  # the commit asked the worker to drain the outbox, once


def test_the_readme_lists_every_demo_login_and_no_other():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Demo logins", 1)[1].split("\n\n`make run`", 1)[0]
    listed = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert listed == {u.username for u in DEMO_USERS}
