"""Invoice lifecycle: numbering at issue, snapshots, due dates, voids, payments, overdue, child AR invoices,
the audit trail, draft edits, adjustments and quotes turned into invoices."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.recording import audit_trail
from customers.models import BillingContact, Customer
from expense_codes.models import AppliedExpenseCode
from invoicing.errors import BillingError, BillingRuleError, InvalidTransition
from invoicing.lifecycle import (
    invoice_attach_child,
    invoice_delete_draft,
    invoice_detach_child,
    invoice_issue,
    invoice_void,
    invoices_mark_overdue,
)
from invoicing.manual import LineInput, invoice_update_draft, quote_convert, slip_add_adjustment
from invoicing.models import Invoice, InvoiceProforma, NumberCounter, Payment, Quote, QuoteLine, Slip
from invoicing.payments import payment_record
from tests.factories import (
    CustomerFactory,
    InvoiceFactory,
    PartnerFactory,
    ServiceRequestFactory,
    SlipFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

Status = Invoice.Status
ISSUE_DATE = datetime.date(2026, 3, 2)


def today():
    return timezone.localdate()


def pay(invoice, amount_units, **kwargs):
    kwargs.setdefault("method", "card")
    return payment_record(invoice=invoice, amount_units=amount_units, **kwargs)


def reloaded(invoice):
    return Invoice.objects.get(pk=invoice.pk)


# --- numbering -------------------------------------------------------------------------------------------


def test_drafts_have_no_number(customer):
    invoice = draft_invoice(customer, [5000])
    assert invoice.status == Status.DRAFT
    assert invoice.number is None and invoice.sequence is None and invoice.issue_date is None


def test_issue_assigns_the_next_number_in_the_partner_series(customer, staff_user):
    first = invoice_issue(invoice=draft_invoice(customer), user=staff_user, issue_date=ISSUE_DATE)
    second = invoice_issue(invoice=draft_invoice(customer), user=staff_user, issue_date=ISSUE_DATE)
    assert (first.number, first.sequence) == ("INV-2026-00001", 1)
    assert (second.number, second.sequence) == ("INV-2026-00002", 2)
    assert reloaded(second).number == "INV-2026-00002"


def test_issue_uses_the_partner_prefix():
    customer = CustomerFactory(partner=PartnerFactory(ar_prefix="ACME"))
    assert issued_invoice(customer, issue_date=ISSUE_DATE).number == "ACME-2026-00001"


def test_issue_continues_from_the_counter(customer):
    NumberCounter.objects.create(partner=customer.partner, series=NumberCounter.Series.AR, last_value=141)
    invoice = issued_invoice(customer, issue_date=ISSUE_DATE)
    assert invoice.number == "INV-2026-00142"
    assert NumberCounter.objects.get(partner=customer.partner, series="ar").last_value == 142


def test_numbers_are_never_reset_by_a_new_year(customer):
    issued_invoice(customer, issue_date=datetime.date(2025, 12, 31))
    assert issued_invoice(customer, issue_date=datetime.date(2026, 1, 1)).number == "INV-2026-00002"


def test_each_partner_has_its_own_series(customer):
    other_customer = CustomerFactory()
    issued_invoice(customer, issue_date=ISSUE_DATE)
    issued_invoice(customer, issue_date=ISSUE_DATE)
    assert issued_invoice(other_customer, issue_date=ISSUE_DATE).number == "INV-2026-00001"


def test_ar_and_ap_series_are_independent(customer, provider):
    issued_invoice(customer, issue_date=ISSUE_DATE)
    issued_invoice(customer, issue_date=ISSUE_DATE)
    ap = InvoiceFactory(provider=provider)
    SlipFactory(proforma=None, invoice=ap, pay_rate_units=Decimal(4000))
    ap = invoice_issue(invoice=ap, issue_date=ISSUE_DATE)
    assert ap.number == "BILL-2026-00001"
    assert ap.total_units == 4000  # AP uses the pay side
    assert issued_invoice(customer, issue_date=ISSUE_DATE).number == "INV-2026-00003"


def test_failed_issue_takes_no_number(customer):
    empty = InvoiceFactory(customer=customer)
    with pytest.raises(BillingRuleError):
        invoice_issue(invoice=empty, issue_date=ISSUE_DATE)
    assert issued_invoice(customer, issue_date=ISSUE_DATE).number == "INV-2026-00001"


def test_issuing_an_issued_invoice_is_refused(customer):
    invoice = issued_invoice(customer, issue_date=ISSUE_DATE)
    with pytest.raises(InvalidTransition):
        invoice_issue(invoice=invoice, issue_date=ISSUE_DATE)
    assert reloaded(invoice).number == "INV-2026-00001"
    assert NumberCounter.objects.get(partner=customer.partner, series="ar").last_value == 1


# --- snapshot and due date -------------------------------------------------------------------------------


def test_issue_snapshots_the_default_billing_contact(customer):
    contact = customer.contacts.get(is_default=True)
    invoice = issued_invoice(customer)
    assert (invoice.contact_name, invoice.contact_email) == (contact.name, contact.email)
    assert invoice.bill_to_name == customer.name

    BillingContact.objects.filter(pk=contact.pk).update(name="Someone Else", email="else@example.com")
    Customer.objects.filter(pk=customer.pk).update(name="Renamed Customer")
    invoice = reloaded(invoice)
    assert (invoice.contact_name, invoice.contact_email) == (contact.name, contact.email)
    assert invoice.bill_to_name == customer.name


def test_issue_takes_the_contact_as_it_is_at_issue_time(customer):
    contact = customer.contacts.get(is_default=True)
    draft = draft_invoice(customer)
    BillingContact.objects.filter(pk=contact.pk).update(name="Updated Before Issue")
    assert invoice_issue(invoice=draft).contact_name == "Updated Before Issue"


def test_issue_without_a_billing_contact_is_refused():
    customer = CustomerFactory(default_contact=False)
    draft = draft_invoice(customer)
    with pytest.raises(BillingRuleError):
        invoice_issue(invoice=draft)
    assert reloaded(draft).status == Status.DRAFT


@pytest.mark.parametrize("days", [0, 15, 45])
def test_due_date_is_issue_date_plus_terms(days):
    customer = CustomerFactory(payment_terms_days=days)
    invoice = issued_invoice(customer, issue_date=ISSUE_DATE)
    assert invoice.due_date == ISSUE_DATE + datetime.timedelta(days=days)


def test_no_payment_customers_get_no_due_date():
    customer = CustomerFactory(payment_terms=Customer.PaymentTerms.NO_PAYMENT)
    invoice = issued_invoice(customer, issue_date=ISSUE_DATE)
    assert invoice.no_payment is True
    assert invoice.due_date is None


# --- void ------------------------------------------------------------------------------------------------


def test_void_keeps_its_number(customer, staff_user):
    invoice = issued_invoice(customer, issue_date=ISSUE_DATE)
    voided = invoice_void(invoice=invoice, user=staff_user, reason="Wrong customer")
    voided = reloaded(voided)
    assert voided.status == Status.VOID
    assert voided.number == "INV-2026-00001"
    assert voided.void_reason == "Wrong customer"
    assert voided.outstanding_units == 0
    assert issued_invoice(customer, issue_date=ISSUE_DATE).number == "INV-2026-00002"  # never reused


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_void_needs_a_reason(customer, reason):
    invoice = issued_invoice(customer)
    with pytest.raises(BillingRuleError):
        invoice_void(invoice=invoice, reason=reason)
    assert reloaded(invoice).status == Status.PENDING


def test_void_of_a_draft_is_refused(customer):
    with pytest.raises(InvalidTransition):
        invoice_void(invoice=draft_invoice(customer), reason="no")


def test_void_of_a_void_invoice_is_refused(customer):
    invoice = invoice_void(invoice=issued_invoice(customer), reason="first")
    with pytest.raises(InvalidTransition):
        invoice_void(invoice=invoice, reason="second")


def test_void_is_refused_while_payments_exist(customer):
    invoice = issued_invoice(customer, [10000])
    pay(invoice, 2500)
    with pytest.raises(BillingError):  # a partially paid invoice cannot move to void at all
        invoice_void(invoice=invoice, reason="Duplicate")
    invoice = reloaded(invoice)
    assert (invoice.status, invoice.paid_units, invoice.void_reason) == (Status.PARTIALLY_PAID, 2500, "")


def test_void_of_an_overdue_invoice_with_payments_is_refused(customer):
    invoice = issued_invoice(customer, [10000], issue_date=today() - datetime.timedelta(days=40))
    pay(invoice, 2500)
    assert reloaded(invoice).status == Status.OVERDUE
    with pytest.raises(BillingRuleError, match="payments"):
        invoice_void(invoice=invoice, reason="Duplicate")
    assert reloaded(invoice).status == Status.OVERDUE
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_void_refuses_when_the_invoice_moved_meanwhile(customer):
    invoice = issued_invoice(customer)
    with pytest.raises(InvalidTransition):
        invoice_void(invoice=invoice, reason="stale page", expected_status=Status.OVERDUE)
    assert reloaded(invoice).status == Status.PENDING


def test_void_makes_its_proformas_invoiceable_again(customer):
    proformas = [proforma_with_slips(customer=customer, amounts=[a]) for a in (12000, 8000)]
    invoice = invoice_issue(invoice=draft_with_proformas(customer=customer, proformas=proformas))
    assert invoice.total_units == 20000

    invoice_void(invoice=invoice, reason="Re-bill with the right rates")

    assert not InvoiceProforma.objects.filter(invoice=invoice, is_active=True).exists()
    assert InvoiceProforma.objects.filter(invoice=invoice, is_active=False).count() == 2
    assert reloaded(invoice).total_units == 20000  # the void document still shows what it was
    again = invoice_issue(invoice=draft_with_proformas(customer=customer, proformas=proformas))
    assert again.total_units == 20000
    assert InvoiceProforma.objects.filter(proforma__in=proformas, is_active=True, kind="ar").count() == 2


# --- payments --------------------------------------------------------------------------------------------


def test_draft_to_pending_to_partially_paid_to_paid(customer, staff_user):
    invoice = draft_invoice(customer, [30000, 20000])
    assert invoice.status == Status.DRAFT
    invoice = invoice_issue(invoice=invoice, user=staff_user)
    assert invoice.status == Status.PENDING
    assert invoice.outstanding_units == 50000

    pay(invoice, 20000, method="check", reference="1001", user=staff_user)
    invoice = reloaded(invoice)
    assert (invoice.status, invoice.paid_units, invoice.outstanding_units) == (Status.PARTIALLY_PAID, 20000, 30000)

    pay(invoice, 30000, method="transfer", user=staff_user)
    invoice = reloaded(invoice)
    assert (invoice.status, invoice.paid_units, invoice.outstanding_units) == (Status.PAID, 50000, 0)
    assert Payment.objects.filter(invoice=invoice).count() == 2


def test_payment_on_a_draft_is_refused(customer):
    with pytest.raises(InvalidTransition):
        pay(draft_invoice(customer), 100)


def test_payment_on_a_paid_invoice_is_refused(customer):
    invoice = issued_invoice(customer, [1000])
    pay(invoice, 1000)
    with pytest.raises(InvalidTransition):
        pay(invoice, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount_units": 0},
        {"amount_units": -5},
        {"amount_units": 100, "method": "cash"},
        {"amount_units": 100, "method": "check", "reference": "  "},
    ],
)
def test_invalid_payments_are_refused_and_change_nothing(customer, kwargs):
    invoice = issued_invoice(customer, [10000])
    with pytest.raises(BillingRuleError):
        payment_record(invoice=invoice, **{"method": "card", **kwargs})
    assert reloaded(invoice).paid_units == 0
    assert not Payment.objects.exists()


def test_payment_received_in_the_future_is_refused(customer):
    invoice = issued_invoice(customer, [10000])
    with pytest.raises(BillingRuleError):
        pay(invoice, 100, received_on=today() + datetime.timedelta(days=1))
    assert not Payment.objects.exists()


def test_overpayment_is_refused_and_changes_nothing(customer):
    invoice = issued_invoice(customer, [10000])
    pay(invoice, 4000)
    events_before = AuditEvent.objects.count()
    with pytest.raises(BillingRuleError):
        pay(invoice, 6001)
    invoice = reloaded(invoice)
    assert (invoice.status, invoice.paid_units) == (Status.PARTIALLY_PAID, 4000)
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert AuditEvent.objects.count() == events_before


def test_same_idempotency_key_twice_records_one_payment(customer):
    invoice = issued_invoice(customer, [10000])
    first = pay(invoice, 3000, idempotency_key="form-token-1")
    second = pay(invoice, 3000, idempotency_key="form-token-1")
    assert first.pk == second.pk
    invoice = reloaded(invoice)
    assert invoice.paid_units == 3000
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_replaying_a_settling_payment_returns_it_instead_of_refusing(customer):
    invoice = issued_invoice(customer, [10000])
    first = pay(invoice, 10000, idempotency_key="form-token-2")
    assert pay(invoice, 10000, idempotency_key="form-token-2").pk == first.pk
    assert reloaded(invoice).status == Status.PAID


def test_different_idempotency_keys_record_two_payments(customer):
    invoice = issued_invoice(customer, [10000])
    pay(invoice, 3000, idempotency_key="a")
    pay(invoice, 3000, idempotency_key="b")
    assert reloaded(invoice).paid_units == 6000


# --- overdue ---------------------------------------------------------------------------------------------


def test_mark_overdue_marks_only_past_due_open_invoices_with_a_balance(partner):
    net30 = CustomerFactory(partner=partner, payment_terms_days=30)
    net60 = CustomerFactory(partner=partner, payment_terms_days=60)
    pending = issued_invoice(net30, [10000])
    partial = issued_invoice(net30, [10000])
    pay(partial, 4000)
    paid = issued_invoice(net30, [10000])
    pay(paid, 10000)
    void = invoice_void(invoice=issued_invoice(net30, [10000]), reason="dup")
    not_yet_due = issued_invoice(net60, [10000])
    draft = draft_invoice(net30, [10000])
    no_payment = issued_invoice(
        CustomerFactory(partner=partner, payment_terms=Customer.PaymentTerms.NO_PAYMENT), [10000]
    )

    later = today() + datetime.timedelta(days=31)
    assert invoices_mark_overdue(today=later) == 2

    invoices = {
        "pending": pending,
        "partial": partial,
        "paid": paid,
        "void": void,
        "not_yet_due": not_yet_due,
        "draft": draft,
        "no_payment": no_payment,
    }
    assert {name: reloaded(inv).status for name, inv in invoices.items()} == {
        "pending": Status.OVERDUE,
        "partial": Status.OVERDUE,
        "paid": Status.PAID,
        "void": Status.VOID,
        "not_yet_due": Status.PENDING,
        "draft": Status.DRAFT,
        "no_payment": Status.PENDING,
    }
    assert invoices_mark_overdue(today=later) == 0  # running it again changes nothing


def test_mark_overdue_waits_until_the_day_after_the_due_date(customer):
    invoice = issued_invoice(customer, [10000])
    assert invoices_mark_overdue(today=invoice.due_date) == 0
    assert invoices_mark_overdue(today=invoice.due_date + datetime.timedelta(days=1)) == 1


def test_mark_overdue_can_be_limited_to_one_partner(customer):
    other = issued_invoice(CustomerFactory(), [10000])
    mine = issued_invoice(customer, [10000])
    assert invoices_mark_overdue(today=today() + datetime.timedelta(days=40), partner=customer.partner) == 1
    assert reloaded(mine).status == Status.OVERDUE
    assert reloaded(other).status == Status.PENDING


@pytest.fixture
def overdue_invoice(customer):
    invoice = issued_invoice(customer, [10000], issue_date=today() - datetime.timedelta(days=40))
    assert invoices_mark_overdue() == 1
    invoice = reloaded(invoice)
    assert invoice.status == Status.OVERDUE
    return invoice


def test_payment_leaving_a_balance_keeps_an_overdue_invoice_overdue(overdue_invoice):
    pay(overdue_invoice, 2500)
    invoice = reloaded(overdue_invoice)
    assert (invoice.status, invoice.outstanding_units) == (Status.OVERDUE, 7500)


def test_payment_settling_an_overdue_invoice_makes_it_paid(overdue_invoice):
    pay(overdue_invoice, 2500)
    pay(overdue_invoice, 7500)
    assert reloaded(overdue_invoice).status == Status.PAID


# --- child AR invoices -----------------------------------------------------------------------------------


@pytest.fixture
def parent(customer):
    return issued_invoice(customer, [200000])


@pytest.fixture
def child(customer):
    return issued_invoice(CustomerFactory(partner=customer.partner), [100000])


def test_attaching_a_child_lowers_the_parent_outstanding_balance(parent, child, staff_user):
    parent = invoice_attach_child(parent=parent, child=child, user=staff_user)
    assert parent.outstanding_units == 100000
    assert reloaded(parent).children_units == 100000
    assert reloaded(child).parent_id == parent.pk
    assert reloaded(child).outstanding_units == 100000  # the child is still owed by its own customer


def test_detaching_a_child_restores_the_parent_outstanding_balance(parent, child):
    invoice_attach_child(parent=parent, child=child)
    parent = invoice_detach_child(child=reloaded(child))
    assert parent.outstanding_units == 200000
    assert reloaded(parent).children_units == 0
    assert reloaded(child).parent_id is None


def test_child_covering_the_rest_of_the_balance_settles_the_parent(parent, customer):
    pay(parent, 150000)
    child = issued_invoice(CustomerFactory(partner=customer.partner), [50000])
    parent = invoice_attach_child(parent=reloaded(parent), child=child)
    assert (parent.status, parent.outstanding_units) == (Status.PAID, 0)
    parent = invoice_detach_child(child=reloaded(child))
    assert (parent.status, parent.outstanding_units) == (Status.PARTIALLY_PAID, 50000)


def test_payment_larger_than_what_the_child_left_is_refused(parent, child):
    invoice_attach_child(parent=parent, child=child)
    with pytest.raises(BillingRuleError):
        pay(reloaded(parent), 100001)
    pay(reloaded(parent), 100000)
    assert reloaded(parent).status == Status.PAID


def _assert_not_attached(parent, child):
    assert reloaded(child).parent_id is None
    assert reloaded(parent).children_units == 0


def test_attaching_onto_a_void_parent_is_refused(parent, child):
    invoice_void(invoice=parent, reason="dup")
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=reloaded(parent), child=child)
    _assert_not_attached(parent, child)


def test_attaching_onto_a_paid_parent_is_refused(parent, child):
    pay(parent, 200000)
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=reloaded(parent), child=child)
    _assert_not_attached(parent, child)


def test_attaching_a_child_larger_than_the_parent_outstanding_is_refused(parent, customer):
    pay(parent, 150000)
    big_child = issued_invoice(CustomerFactory(partner=customer.partner), [50001])
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=reloaded(parent), child=big_child)
    _assert_not_attached(parent, big_child)


def test_attaching_a_child_with_proformas_is_refused(parent, customer):
    other = CustomerFactory(partner=customer.partner)
    child = invoice_issue(
        invoice=draft_with_proformas(customer=other, proformas=[proforma_with_slips(customer=other, amounts=[5000])])
    )
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=parent, child=child)
    _assert_not_attached(parent, child)


def test_attaching_an_invoice_to_itself_is_refused(parent):
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=parent, child=parent)
    assert reloaded(parent).parent_id is None


def test_attaching_a_parent_under_its_own_child_is_refused(parent, child):
    invoice_attach_child(parent=parent, child=child)
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=reloaded(child), child=reloaded(parent))
    assert reloaded(parent).parent_id is None
    assert reloaded(child).children_units == 0


def test_attaching_a_grandparent_in_a_cycle_is_refused(parent, child, customer):
    grandchild = issued_invoice(CustomerFactory(partner=customer.partner), [10000])
    invoice_attach_child(parent=reloaded(child), child=grandchild)
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=reloaded(grandchild), child=reloaded(child))
    assert reloaded(child).parent_id is None


def test_attaching_a_child_that_is_already_attached_is_refused(parent, child, customer):
    invoice_attach_child(parent=parent, child=child)
    other_parent = issued_invoice(customer, [300000])
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=other_parent, child=reloaded(child))
    assert reloaded(child).parent_id == parent.pk
    assert reloaded(other_parent).children_units == 0
    assert reloaded(parent).children_units == 100000


def test_attaching_a_draft_child_is_refused(parent, customer):
    draft = draft_invoice(CustomerFactory(partner=customer.partner), [1000])
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=parent, child=draft)


def test_attaching_across_partners_is_refused(parent):
    foreign = issued_invoice(CustomerFactory(), [1000])
    with pytest.raises(BillingRuleError):
        invoice_attach_child(parent=parent, child=foreign)
    _assert_not_attached(parent, foreign)


def test_voiding_an_attached_child_or_a_parent_with_children_is_refused(parent, child):
    invoice_attach_child(parent=parent, child=child)
    with pytest.raises(BillingRuleError):
        invoice_void(invoice=reloaded(child), reason="no")
    with pytest.raises(BillingRuleError):
        invoice_void(invoice=reloaded(parent), reason="no")


# --- audit trail -----------------------------------------------------------------------------------------


def test_every_transition_writes_an_audit_event(customer, staff_user):
    invoice = draft_invoice(customer, [10000], user=staff_user)
    invoice = invoice_issue(invoice=invoice, user=staff_user, issue_date=today() - datetime.timedelta(days=40))
    invoices_mark_overdue()
    pay(invoice, 4000, user=staff_user)
    pay(invoice, 6000, user=staff_user)

    moves = [(e.action, e.from_status, e.to_status, e.actor) for e in audit_trail(invoice)]
    assert moves == [
        ("create", "", Status.DRAFT, staff_user),
        ("issue", Status.DRAFT, Status.PENDING, staff_user),
        ("mark_overdue", Status.PENDING, Status.OVERDUE, None),
        ("payment", Status.OVERDUE, Status.OVERDUE, staff_user),
        ("payment", Status.OVERDUE, Status.PAID, staff_user),
    ]
    assert all(e.partner_id == customer.partner_id for e in audit_trail(invoice))


def test_void_writes_an_audit_event_with_its_reason(customer, staff_user):
    invoice = invoice_void(invoice=issued_invoice(customer), user=staff_user, reason="Wrong rate")
    event = list(audit_trail(invoice))[-1]
    assert (event.action, event.from_status, event.to_status, event.actor, event.reason) == (
        "void",
        Status.PENDING,
        Status.VOID,
        staff_user,
        "Wrong rate",
    )


def test_attach_and_detach_write_audit_events_on_the_parent(parent, child, staff_user):
    invoice_attach_child(parent=parent, child=child, user=staff_user)
    invoice_detach_child(child=reloaded(child), user=staff_user)
    events = [(e.action, e.from_status, e.to_status, e.actor) for e in audit_trail(parent)][-2:]
    assert events == [
        ("attach_child", Status.PENDING, Status.PENDING, staff_user),
        ("detach_child", Status.PENDING, Status.PENDING, staff_user),
    ]
    assert [e.action for e in audit_trail(child)][-2:] == ["attached_to_parent", "detached_from_parent"]


def test_refused_transitions_write_no_audit_event(customer):
    invoice = issued_invoice(customer)
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidTransition):
        invoice_issue(invoice=invoice)
    with pytest.raises(BillingRuleError):
        invoice_void(invoice=invoice, reason="")
    assert AuditEvent.objects.count() == before


# --- drafts ----------------------------------------------------------------------------------------------


def test_delete_draft_removes_the_draft_and_its_lines(customer, staff_user):
    draft = draft_invoice(customer, [1000, 2000])
    invoice_delete_draft(invoice=draft, user=staff_user)
    assert not Invoice.objects.filter(pk=draft.pk).exists()
    assert not Slip.objects.filter(invoice_id=draft.pk).exists()
    event = AuditEvent.objects.get(action="delete_draft", target_id=draft.pk)
    assert event.actor == staff_user


def test_delete_draft_frees_its_proformas(customer):
    proforma = proforma_with_slips(customer=customer)
    draft = draft_with_proformas(customer=customer, proformas=[proforma])
    invoice_delete_draft(invoice=draft)
    assert not InvoiceProforma.objects.filter(proforma=proforma).exists()
    assert invoice_issue(invoice=draft_with_proformas(customer=customer, proformas=[proforma])).number


def test_delete_draft_is_refused_on_an_issued_invoice(customer):
    invoice = issued_invoice(customer)
    with pytest.raises(InvalidTransition):
        invoice_delete_draft(invoice=invoice)
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_update_draft_replaces_its_lines(customer):
    draft = draft_invoice(customer, [1000, 2000])
    updated = invoice_update_draft(
        invoice=draft, lines=[LineInput(description="Rework", quantity=Decimal(3), unit_price_units=Decimal(2500))]
    )
    assert updated.total_units == 7500
    assert list(Slip.objects.filter(invoice=draft).values_list("description", flat=True)) == ["Rework"]


def test_update_draft_is_refused_on_an_issued_invoice(customer):
    invoice = issued_invoice(customer, [1000])
    with pytest.raises(InvalidTransition):
        invoice_update_draft(
            invoice=invoice, lines=[LineInput(description="x", quantity=Decimal(1), unit_price_units=Decimal(9999))]
        )
    invoice = reloaded(invoice)
    assert invoice.total_units == 1000
    assert list(Slip.objects.filter(invoice=invoice).values_list("bill_total_units", flat=True)) == [1000]


# --- adjustments -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "sign", "slip_type"),
    [("additional_work", 1, "adjustment"), ("reduced_scope", -1, "adjustment"), ("credit", -1, "credit")],
)
def test_adjustment_changes_a_draft_total_by_its_amount(customer, kind, sign, slip_type):
    draft = draft_invoice(customer, [10000, 5000])
    slip = slip_add_adjustment(kind=kind, description="Agreed on the phone", amount_units=1234, invoice=draft)
    assert slip.slip_type == slip_type
    assert slip.bill_total_units == sign * 1234
    assert reloaded(draft).total_units == 15000 + sign * 1234


def test_adjustment_with_tax_is_taxed_like_any_line(customer):
    draft = draft_invoice(customer, [10000])
    slip_add_adjustment(
        kind="additional_work", description="Extra hour", amount_units=2000, tax_rate=Decimal("8.25"), invoice=draft
    )
    assert reloaded(draft).total_units == 10000 + 2000 + 165


def test_adjustment_on_an_issued_invoice_is_refused(customer):
    invoice = issued_invoice(customer, [10000])
    with pytest.raises(InvalidTransition):
        slip_add_adjustment(kind="credit", description="Goodwill", amount_units=500, invoice=invoice)
    assert reloaded(invoice).total_units == 10000
    assert Slip.objects.filter(invoice=invoice).count() == 1


@pytest.mark.parametrize(
    "kwargs", [{"kind": "bonus"}, {"amount_units": 0}, {"amount_units": -10}, {"description": "  "}]
)
def test_invalid_adjustments_are_refused(customer, kwargs):
    draft = draft_invoice(customer, [10000])
    values = {"kind": "credit", "description": "Goodwill", "amount_units": 500, "invoice": draft, **kwargs}
    with pytest.raises(BillingRuleError):
        slip_add_adjustment(**values)
    assert reloaded(draft).total_units == 10000


def test_adjustment_on_a_proforma_of_a_draft_updates_both(customer):
    proforma = proforma_with_slips(customer=customer, amounts=[10000])
    draft = draft_with_proformas(customer=customer, proformas=[proforma])
    slip_add_adjustment(kind="reduced_scope", description="Shorter", amount_units=2500, proforma=proforma)
    proforma.refresh_from_db()
    assert proforma.bill_total_units == 7500
    assert reloaded(draft).total_units == 7500


def test_adjustment_on_a_proforma_of_an_issued_invoice_is_refused(customer):
    proforma = proforma_with_slips(customer=customer, amounts=[10000])
    invoice = invoice_issue(invoice=draft_with_proformas(customer=customer, proformas=[proforma]))
    with pytest.raises(InvalidTransition):
        slip_add_adjustment(kind="additional_work", description="More", amount_units=100, proforma=proforma)
    assert reloaded(invoice).total_units == 10000


# --- quotes ----------------------------------------------------------------------------------------------


@pytest.fixture
def quote(customer):
    request = ServiceRequestFactory(customer=customer, source="portal")
    AppliedExpenseCode.objects.create(label_name="Purchase order", value="PO-7", request=request)
    quote = Quote.objects.create(request=request)
    QuoteLine.objects.create(quote=quote, description="Interpreting", quantity=Decimal(2), unit_price_units=7500)
    QuoteLine.objects.create(
        quote=quote,
        description="Travel",
        quantity=Decimal("1.5"),
        unit_price_units=Decimal(3000),
        tax_rate=Decimal("10"),
        discount_units=500,
    )
    return quote


def test_quote_convert_makes_a_draft_invoice_from_its_lines(quote, staff_user):
    invoice = quote_convert(quote=quote, user=staff_user)
    assert (invoice.status, invoice.source, invoice.customer_id) == (
        Status.DRAFT,
        Invoice.Source.QUOTE,
        quote.request.customer_id,
    )
    lines = list(Slip.objects.filter(invoice=invoice).values_list("description", "quantity", "bill_total_units"))
    # 2 x 75.00 = 150.00; 1.5 x 30.00 = 45.00 - 5.00 discount + 10% tax = 44.00
    assert lines == [("Interpreting", Decimal(2), 15000), ("Travel", Decimal("1.5"), 4400)]
    assert invoice.total_units == 19400
    assert list(invoice.expense_codes.values_list("label_name", "value")) == [("Purchase order", "PO-7")]
    quote.refresh_from_db()
    assert (quote.status, quote.invoice_id) == (Quote.Status.CONVERTED, invoice.pk)


def test_quote_convert_twice_is_refused(quote):
    quote_convert(quote=quote)
    with pytest.raises(InvalidTransition):
        quote_convert(quote=quote)
    assert Invoice.objects.filter(source=Invoice.Source.QUOTE).count() == 1


def test_quote_convert_can_issue_at_once(quote):
    invoice = quote_convert(quote=quote, issue=True)
    assert invoice.status == Status.PENDING and invoice.number


def test_ap_invoice_totals_the_pay_side_of_its_proformas(provider):
    customer = CustomerFactory(partner=provider.partner)
    proforma = proforma_with_slips(customer=customer, amounts=[10000], provider=provider)
    ap = invoice_issue(invoice=draft_with_proformas(provider=provider, proformas=[proforma]))
    assert (ap.kind, ap.total_units, ap.bill_to_name) == (Invoice.Kind.AP, 6000, provider.name)
