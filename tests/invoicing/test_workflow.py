"""The declared workflow (invoicing.workflow): every action x every status x every role is offered exactly when
the rules below allow it, and refused otherwise with a plain message (and its field); the domain functions refuse
what the table refuses; the issue path runs end to end through the outbox."""

import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from audit.models import AuditEvent
from customers.models import Customer
from invoicing import workflow
from invoicing.charging import invoice_charge
from invoicing.delivery import invoice_resend_queue
from invoicing.errors import BillingError, BillingRuleError, InvalidTransition
from invoicing.lifecycle import (
    invoice_attach_child,
    invoice_delete_draft,
    invoice_detach_child,
    invoice_issue,
    invoice_void,
)
from invoicing.manual import slip_add_adjustment
from invoicing.models import Invoice, OutboxJob, Payment
from invoicing.outbox_work import outbox_run
from invoicing.payments import payment_record
from invoicing.workflow import Actor, InvoiceFacts, Role, action_refusals, actor_for, invoice_offers
from tests.factories import (
    CustomerFactory,
    CustomerMembershipFactory,
    PartnerFactory,
    ProviderFactory,
    StaffMembershipFactory,
    UserFactory,
    draft_invoice,
    issued_invoice,
)

pytestmark = pytest.mark.django_db

S = Invoice.Status
AR, AP = Invoice.Kind.AR, Invoice.Kind.AP
STAFF = {Role.CLERK, Role.BILLING_ADMIN, Role.PLATFORM_ADMIN, Role.SYSTEM}
ADMINS = {Role.BILLING_ADMIN, Role.PLATFORM_ADMIN, Role.SYSTEM}
OPEN = {S.PENDING, S.PARTIALLY_PAID, S.OVERDUE}

# The rules, written out independently of the table: (roles, statuses it starts from, kinds). An invoice with a
# balance, a customer with a card on file and a contact to e-mail, no payments, children or proformas, something
# left to credit and to refund, and credit of the customer's to apply.
EXPECTED = {
    "edit": (STAFF, {S.DRAFT}, {AR}),
    "adjust": (STAFF, {S.DRAFT}, {AR, AP}),
    "delete_draft": (STAFF, {S.DRAFT}, {AR, AP}),
    "issue": (ADMINS, {S.DRAFT}, {AR, AP}),
    "void": (ADMINS, {S.PENDING, S.OVERDUE}, {AR, AP}),
    "record_payment": (STAFF, OPEN, {AR, AP}),
    "attach_child": (ADMINS, {S.DRAFT} | OPEN, {AR}),
    "detach_child": (ADMINS, set(S.values), {AR}),  # on a child invoice
    "send": (STAFF, {S.PENDING, S.PARTIALLY_PAID, S.PAID, S.OVERDUE, S.CREDITED}, {AR}),
    "charge": (ADMINS, OPEN, {AR}),
    "pay_by_card": ({Role.CUSTOMER}, OPEN, {AR}),
    "credit": (STAFF, {S.PENDING, S.PARTIALLY_PAID, S.PAID, S.OVERDUE}, {AR}),
    "refund": (ADMINS, {S.PARTIALLY_PAID, S.PAID, S.OVERDUE}, {AR}),
    "apply_credit": (STAFF, OPEN, {AR}),
}
ROLES = list(Role)


def test_the_table_declares_exactly_the_expected_actions():
    assert set(workflow.INVOICE_ACTIONS) == set(EXPECTED)


@pytest.fixture
def world(db):
    partner = PartnerFactory()
    customer = CustomerFactory(partner=partner, payment_method=Customer.PaymentMethod.CARD)
    Customer.objects.filter(pk=customer.pk).update(card_token="sim_ok_0123456789abcdef", card_last4="4242")
    customer.refresh_from_db()
    parent = issued_invoice(CustomerFactory(partner=partner), [10**6], deliver=False)
    return SimpleNamespace(partner=partner, customer=customer, provider=ProviderFactory(partner=partner), parent=parent)


def in_memory(world, *, kind, status, parent_id=None) -> Invoice:
    """An unsaved invoice of 100.00 with nothing paid, made by user 1."""
    party = {"customer": world.customer} if kind == AR else {"provider": world.provider}
    return Invoice(
        partner=world.partner,
        kind=kind,
        status=status,
        total_units=10000,
        currency=world.partner.currency,
        contact_email="billing@example.com",
        created_by_id=1,
        parent_id=parent_id,
        **party,
    )


KNOWN = {
    "has_payments": False,
    "has_children": False,
    "has_proformas": False,
    "creditable_units": 10000,
    "refundable_units": 1000,
    "customer_credit_units": 1000,
}


def no_facts(invoice):
    return InvoiceFacts(invoice, **KNOWN)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_action_is_offered_exactly_when_role_status_and_kind_allow_it(world, name):
    roles, statuses, kinds = EXPECTED[name]
    checked = 0
    for kind in (AR, AP):
        for status in S.values:
            parent_id = world.parent.pk if name == "detach_child" else None
            invoice = in_memory(world, kind=kind, status=status, parent_id=parent_id)
            for role in ROLES:
                actor = Actor(role, SimpleNamespace(pk=1))
                allowed = role in roles and status in statuses and kind in kinds
                offers = invoice_offers(invoice, actor, facts=no_facts(invoice))
                refusals = action_refusals(name, invoice, actor, facts=no_facts(invoice))
                assert offers[name] is allowed, (name, kind, status, role)
                assert bool(refusals) is not allowed, (name, kind, status, role)
                assert all(refusal.message.strip().endswith(".") for refusal in refusals)
                checked += 1
    assert checked == 2 * len(S.values) * len(ROLES)


@pytest.mark.parametrize(
    ("name", "facts", "setup", "message"),
    [
        ("void", {"has_payments": True}, {}, "has payments recorded"),
        ("void", {"has_children": True}, {}, "Detach the child invoices"),
        ("delete_draft", {"has_children": True}, {}, "Detach the child invoices first"),
        ("edit", {"has_proformas": True}, {}, "carries proformas"),
        ("record_payment", {}, {"paid_units": 10000}, "Nothing is left to pay"),
        ("charge", {}, {"paid_units": 10000}, "Nothing is left to pay"),
        ("attach_child", {}, {"parent_id": "parent"}, "a child invoice takes no children"),
        ("detach_child", {}, {"parent_id": None}, "not attached to any invoice"),
        ("credit", {"creditable_units": 0}, {}, "credited already"),
        ("refund", {"refundable_units": 0}, {"status": S.PAID}, "left to refund"),
        ("apply_credit", {"customer_credit_units": 0}, {}, "no credit to apply"),
    ],
)
def test_a_guard_takes_an_action_off_the_page_and_says_why(world, name, facts, setup, message):
    status = next(iter(sorted(EXPECTED[name][1] - {S.DRAFT}))) if name in ("void", "charge", "refund") else None
    status = status or (S.DRAFT if S.DRAFT in EXPECTED[name][1] else S.PENDING)
    invoice = in_memory(world, kind=AR, status=status, parent_id=world.parent.pk if name == "detach_child" else None)
    for field, value in setup.items():
        setattr(invoice, field, world.parent.pk if value == "parent" else value)
    known = {**KNOWN, **facts}
    actor = Actor(Role.BILLING_ADMIN, SimpleNamespace(pk=1))
    assert invoice_offers(invoice, actor, facts=InvoiceFacts(invoice, **known))[name] is False
    [refusal] = action_refusals(name, invoice, actor, facts=InvoiceFacts(invoice, **known))
    assert message in refusal.message


def test_a_clerk_deletes_only_their_own_draft_and_anothers_is_forbidden(world):
    invoice = in_memory(world, kind=AR, status=S.DRAFT)
    own, other = Actor(Role.CLERK, SimpleNamespace(pk=1)), Actor(Role.CLERK, SimpleNamespace(pk=2))
    assert invoice_offers(invoice, own, facts=no_facts(invoice)).delete_draft
    assert not invoice_offers(invoice, other, facts=no_facts(invoice)).delete_draft
    assert workflow.action_forbidden("delete_draft", invoice, other)


def test_send_and_charge_need_a_recipient_and_a_card(world):
    invoice = in_memory(world, kind=AR, status=S.PENDING)
    invoice.contact_email = ""
    world.customer.contacts.all().delete()
    Customer.objects.filter(pk=world.customer.pk).update(card_token="", card_last4="")
    world.customer.refresh_from_db()
    offers = invoice_offers(invoice, Actor(Role.SYSTEM))
    assert not offers.send and not offers.charge
    messages = " ".join(r.message for r in action_refusals("send", invoice, Actor(Role.SYSTEM)))
    assert "no billing contact with an e-mail address" in messages
    assert "no card on file" in action_refusals("charge", invoice, Actor(Role.SYSTEM))[0].message


# --- who a user is to an invoice -----------------------------------------------------------------------------


def test_a_users_role_comes_from_their_membership_of_the_invoices_partner_or_customer(world):
    invoice = issued_invoice(world.customer, [1000])
    admin = StaffMembershipFactory(partner=world.partner).user
    clerk = StaffMembershipFactory(partner=world.partner, role="billing_clerk").user
    stranger = StaffMembershipFactory(partner=PartnerFactory()).user
    portal_user = CustomerMembershipFactory(customer=world.customer).user
    other_customer = CustomerMembershipFactory(customer=CustomerFactory(partner=world.partner)).user
    platform = UserFactory(is_staff=True)
    assert actor_for(None, invoice).role == Role.SYSTEM
    assert actor_for(AnonymousUser(), invoice).role == Role.NOBODY
    assert actor_for(admin, invoice).role == Role.BILLING_ADMIN
    assert actor_for(clerk, invoice).role == Role.CLERK
    assert actor_for(stranger, invoice).role == Role.NOBODY
    assert actor_for(portal_user, invoice).role == Role.CUSTOMER
    assert actor_for(other_customer, invoice).role == Role.NOBODY
    assert actor_for(platform, invoice).role == Role.PLATFORM_ADMIN


# --- the domain functions refuse what the table refuses ------------------------------------------------------


def _unchanged(invoice):
    before = Invoice.objects.values().get(pk=invoice.pk)
    events = AuditEvent.objects.count()
    jobs = OutboxJob.objects.count()
    return lambda: (
        Invoice.objects.values().get(pk=invoice.pk) == before
        and AuditEvent.objects.count() == events
        and OutboxJob.objects.count() == jobs
    )


def test_a_clerk_is_refused_issue_void_attach_detach_and_charge_by_the_domain(world):
    clerk = StaffMembershipFactory(partner=world.partner, role="billing_clerk").user
    draft = draft_invoice(world.customer, [1000])
    issued = issued_invoice(world.customer, [1000])
    child = issued_invoice(world.customer, [10])
    unchanged = _unchanged(issued)
    calls = [
        lambda: invoice_issue(invoice=draft, user=clerk),
        lambda: invoice_void(invoice=issued, user=clerk, reason="typo"),
        lambda: invoice_attach_child(parent=issued, child=child, user=clerk),
        lambda: invoice_charge(invoice=issued, user=clerk),
    ]
    for call in calls:
        with pytest.raises(InvalidTransition, match="Only a billing admin can do this"):
            call()
    assert unchanged() and Invoice.objects.get(pk=draft.pk).status == S.DRAFT


def test_another_partners_staff_and_other_customers_can_do_nothing(world):
    invoice = issued_invoice(world.customer, [1000])
    stranger = StaffMembershipFactory(partner=PartnerFactory()).user
    portal_user = CustomerMembershipFactory(customer=CustomerFactory(partner=world.partner)).user
    unchanged = _unchanged(invoice)
    for user in (stranger, portal_user):
        with pytest.raises(BillingError):
            payment_record(invoice=invoice, amount_units=100, method="card", user=user)
        with pytest.raises(BillingError):
            invoice_resend_queue(invoice=invoice, user=user)
    assert unchanged()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda inv, user: invoice_issue(invoice=inv, user=user), "A pending invoice cannot be issued."),
        (lambda inv, user: invoice_delete_draft(invoice=inv, user=user), "Only a draft can be deleted"),
        (lambda inv, user: invoice_detach_child(child=inv, user=user), "is not attached to any invoice"),
        (
            lambda inv, user: slip_add_adjustment(
                kind="credit", description="x", amount_units=100, invoice=inv, user=user
            ),
            "Adjustments go on drafts only",
        ),
    ],
)
def test_a_status_the_table_does_not_allow_is_refused_with_its_message(world, call, message):
    admin = StaffMembershipFactory(partner=world.partner).user
    invoice = issued_invoice(world.customer, [1000])
    unchanged = _unchanged(invoice)
    with pytest.raises(BillingError) as refused:
        call(invoice, admin)
    assert message in refused.value.message
    assert unchanged()


def test_a_payment_refused_by_every_input_guard_names_each_field(world):
    invoice = issued_invoice(world.customer, [1000])
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)
    with pytest.raises(BillingRuleError) as refused:
        payment_record(invoice=invoice, amount_units=5000, method="check", reference="", received_on=tomorrow)
    fields = {refusal.field: refusal.message for refusal in refused.value.refusals}
    assert set(fields) == {"amount", "reference", "received_on"}
    assert "more than the outstanding balance" in fields["amount"]
    assert not Payment.objects.exists()


def test_a_stale_page_is_refused_before_any_guard(world):
    invoice = issued_invoice(world.customer, [1000])
    with pytest.raises(InvalidTransition, match="changed meanwhile"):
        invoice_void(invoice=invoice, reason="", expected_status=S.DRAFT)


def test_attaching_a_child_refusal_belongs_to_the_number_field(world):
    parent = issued_invoice(world.customer, [100000])
    other = issued_invoice(CustomerFactory(partner=PartnerFactory()), [1000])
    with pytest.raises(BillingRuleError) as refused:
        invoice_attach_child(parent=parent, child=other)
    assert refused.value.field == "number" and "same partner" in refused.value.message


def test_the_office_page_puts_a_refused_payment_on_its_fields(client, world):
    admin = StaffMembershipFactory(partner=world.partner).user
    invoice = issued_invoice(world.customer, [1000])
    client.force_login(admin)
    response = client.post(
        reverse("office:invoice_payment", args=[invoice.pk]),
        {
            "expected_status": invoice.status,
            "amount": "50.00",
            "method": "check",
            "reference": "",
            "received_on": datetime.date.today().isoformat(),
            "idempotency_key": "0" * 32,
        },
    )
    form = response.context["forms"]["payment"]
    assert "more than the outstanding balance" in " ".join(form.errors["amount"])
    assert "Enter the check number." in form.errors["reference"]
    assert not Payment.objects.exists()


# --- the issue path, end to end through the outbox ------------------------------------------------------------


def test_issuing_runs_the_real_after_commit_path_pdf_stored_mail_sent_and_card_charged_once(
    world, settings, tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    settings.OUTBOX_NUDGE = True  # the commit queues the drain; django-q runs it inline in tests (sync)
    Customer.objects.filter(pk=world.customer.pk).update(auto_send=True, auto_charge=True)
    world.customer.refresh_from_db()
    admin = StaffMembershipFactory(partner=world.partner).user
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issued_invoice(world.customer, [12345], user=admin)
    invoice.refresh_from_db()
    assert invoice.pdf and invoice.pdf.read(5) == b"%PDF-"
    # the invoice, then the receipt of its card payment (invoicing.receipts)
    assert [invoice.number in mail.subject for mail in mailoutbox] == [True, True]
    assert mailoutbox[1].subject.startswith("Receipt: $123.45 received")
    assert list(Payment.objects.filter(invoice=invoice).values_list("amount_units", "method")) == [(12345, "card")]
    assert invoice.status == S.PAID and invoice.sent_at is not None
    assert set(OutboxJob.objects.filter(invoice=invoice).values_list("status", flat=True)) == {"done"}
    report = outbox_run()  # draining again does nothing twice
    assert report.done == 0 and len(mailoutbox) == 2 and Payment.objects.filter(invoice=invoice).count() == 1


# --- the table in docs/architecture.md is the table in the code --------------------------------------------------


def _words(values) -> str:
    return ", ".join(str(value).replace("_", " ") for value in sorted(values)) if values else "-"


def table_markdown() -> str:
    """The workflow table as docs/architecture.md shows it, one row per action."""
    rows = [
        "| Action | Roles | From statuses | Kinds | Guards | Leads to | After-commit work |",
        "|---|---|---|---|---|---|---|",
    ]
    for action in workflow.INVOICE_ACTIONS.values():
        guards = [guard.__qualname__.split(".")[0] for guard in action.guards + action.input_guards]
        statuses = "any" if action.statuses == set(S.values) else _words(action.statuses)
        effects = ", ".join(str(effect) for effect in action.effects) or "-"
        rows.append(
            f"| {action.name} | {_words(action.roles)} | {statuses} | {_words(action.kinds)} "
            f"| {_words(guards)} | {action.target} | {effects} |"
        )
    return "\n".join(rows)


def test_the_architecture_page_shows_the_workflow_table_as_declared():
    page = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    assert table_markdown() in page, "docs/architecture.md: paste the table printed by tests.invoicing.test_workflow"
