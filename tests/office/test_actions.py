"""Invoice actions from the office: issue, void, delete, payments, adjustments, child AR invoices (seed 003);
permissions (a clerk posting an admin-only action gets 403 and nothing changes), partner scoping (404),
bad input (errors next to the field, nothing saved), double submits and stale pages."""

import datetime
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from invoicing.lifecycle import invoice_attach_child, invoice_issue
from invoicing.models import Invoice, Payment, Slip
from invoicing.payments import payment_record
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    StaffMembershipFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

Status = Invoice.Status


def url(name, invoice):
    return reverse(name, args=[invoice.pk])


def post(client, user, name, invoice, data=None, *, expected_status=None, follow=False):
    client.force_login(user)
    data = dict(data or {})
    data.setdefault("expected_status", expected_status or invoice.status)
    return client.post(url(name, invoice), data, follow=follow)


def reloaded(invoice):
    return Invoice.objects.get(pk=invoice.pk)


def snapshot(invoice):
    """What an action might change: status, number, money, parent, lines, payments, history."""
    invoice = reloaded(invoice)
    return (
        invoice.status,
        invoice.number,
        invoice.total_units,
        invoice.paid_units,
        invoice.children_units,
        invoice.parent_id,
        invoice.void_reason,
        Slip.objects.filter(invoice=invoice).count(),
        Payment.objects.filter(invoice=invoice).count(),
        AuditEvent.objects.filter(target_id=invoice.pk).count(),
    )


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def payment_data(**overrides):
    data = {
        "amount": "25.00",
        "method": "check",
        "reference": "1042",
        "received_on": timezone.localdate().isoformat(),
        "idempotency_key": uuid.uuid4().hex,
    }
    data.update(overrides)
    return data


# --- issue ----------------------------------------------------------------------------------------------------


def test_admin_issues_a_draft(client, staff_user, customer):
    invoice = draft_invoice(customer, [5000])
    response = post(client, staff_user, "office:invoice_issue", invoice, follow=True)
    invoice = reloaded(invoice)
    assert invoice.status == Status.PENDING and invoice.number
    assert f"Issued as {invoice.number}" in " ".join(messages_of(response))


def test_double_submitted_issue_issues_once_and_says_already_issued(client, staff_user, customer):
    invoice = draft_invoice(customer, [5000])
    post(client, staff_user, "office:invoice_issue", invoice, expected_status="draft")
    first = reloaded(invoice)
    response = post(client, staff_user, "office:invoice_issue", invoice, expected_status="draft", follow=True)
    assert reloaded(invoice).number == first.number
    assert Invoice.objects.exclude(number=None).count() == 1
    assert AuditEvent.objects.filter(target_id=invoice.pk, action="issue").count() == 1
    assert f"already issued as {first.number}" in " ".join(messages_of(response))


def test_clerk_posting_issue_gets_403_and_the_draft_is_unchanged(client, clerk_user, customer):
    invoice = draft_invoice(customer, [5000])
    before = snapshot(invoice)
    assert post(client, clerk_user, "office:invoice_issue", invoice).status_code == 403
    assert snapshot(invoice) == before


def test_issue_refusal_is_a_message_not_a_500(client, staff_user, partner):
    customer = CustomerFactory(partner=partner, default_contact=False)
    invoice = draft_invoice(customer, [5000])
    response = post(client, staff_user, "office:invoice_issue", invoice, follow=True)
    assert response.status_code == 200
    assert "no default billing contact" in " ".join(messages_of(response))
    assert reloaded(invoice).status == Status.DRAFT


def test_a_get_on_an_action_changes_nothing_and_shows_the_invoice(client, staff_user, customer):
    invoice = draft_invoice(customer, [5000])
    client.force_login(staff_user)
    for name in ["office:invoice_issue", "office:invoice_delete", "office:invoice_payment", "office:invoice_void"]:
        response = client.get(url(name, invoice))
        assert response.status_code == 302 and response["Location"] == url("office:invoice_detail", invoice)
    assert client.put(url("office:invoice_issue", invoice)).status_code == 405
    assert reloaded(invoice).status == Status.DRAFT and Invoice.objects.filter(pk=invoice.pk).exists()


# --- void -----------------------------------------------------------------------------------------------------


def test_void_needs_a_reason_shown_on_the_field(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    before = snapshot(invoice)
    response = post(client, staff_user, "office:invoice_void", invoice, {"reason": "  "})
    assert response.status_code == 200
    assert response.context["forms"]["void"].errors["reason"] == ["Say why the invoice is voided."]
    assert "Say why the invoice is voided." in response.content.decode()
    assert snapshot(invoice) == before


def test_admin_voids_with_a_reason(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    post(client, staff_user, "office:invoice_void", invoice, {"reason": "Duplicate of INV-1"})
    invoice = reloaded(invoice)
    assert invoice.status == Status.VOID and invoice.void_reason == "Duplicate of INV-1" and invoice.number


def test_clerk_posting_void_gets_403_and_nothing_changes(client, clerk_user, customer):
    invoice = issued_invoice(customer, [5000])
    before = snapshot(invoice)
    assert post(client, clerk_user, "office:invoice_void", invoice, {"reason": "nope"}).status_code == 403
    assert snapshot(invoice) == before


def test_void_refused_by_the_domain_becomes_a_form_error(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    payment_record(invoice=invoice, amount_units=1000, method="card")
    invoice = reloaded(invoice)
    # The page no longer offers void (partially paid); a stale or hand-made post still changes nothing.
    response = post(client, staff_user, "office:invoice_void", invoice, {"reason": "x"}, follow=True)
    assert response.status_code == 200
    assert reloaded(invoice).status == Status.PARTIALLY_PAID


# --- delete ---------------------------------------------------------------------------------------------------


def test_clerk_deletes_their_own_draft(client, clerk_user, customer):
    invoice = draft_invoice(customer, [5000], user=clerk_user)
    response = post(client, clerk_user, "office:invoice_delete", invoice)
    assert response.status_code == 302
    assert not Invoice.objects.filter(pk=invoice.pk).exists()


def test_clerk_cannot_delete_someone_elses_draft(client, clerk_user, staff_user, customer):
    invoice = draft_invoice(customer, [5000], user=staff_user)
    assert post(client, clerk_user, "office:invoice_delete", invoice).status_code == 403
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_an_issued_invoice_is_not_deleted(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    before = snapshot(invoice)
    response = post(client, staff_user, "office:invoice_delete", invoice, follow=True)
    assert "Only a draft can be deleted" in " ".join(messages_of(response))
    assert snapshot(invoice) == before


# --- payments -------------------------------------------------------------------------------------------------


def test_clerk_records_a_partial_check_payment(client, clerk_user, customer):
    invoice = issued_invoice(customer, [10000])
    response = post(client, clerk_user, "office:invoice_payment", invoice, payment_data(), follow=True)
    invoice = reloaded(invoice)
    assert invoice.status == Status.PARTIALLY_PAID and invoice.paid_units == 2500
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.method, payment.reference, payment.amount_units) == ("check", "1042", 2500)
    assert 'id="outstanding">$75.00<' in response.content.decode()


def test_double_submitted_payment_records_one_payment(client, clerk_user, customer):
    invoice = issued_invoice(customer, [10000])
    data = payment_data()
    post(client, clerk_user, "office:invoice_payment", invoice, data, expected_status="pending")
    response = post(client, clerk_user, "office:invoice_payment", invoice, data, expected_status="pending", follow=True)
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert reloaded(invoice).paid_units == 2500
    assert "already recorded" in " ".join(messages_of(response))


def test_check_without_its_number_is_an_error_next_to_the_field(client, clerk_user, customer):
    invoice = issued_invoice(customer, [10000])
    response = post(client, clerk_user, "office:invoice_payment", invoice, payment_data(reference=""))
    form = response.context["forms"]["payment"]
    assert form.errors == {"reference": ["Enter the check number."]}
    assert 'id="record-payment" open' in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("12.3.4", "is not an amount"),
        ("1e9", "is not an amount"),
        ("", "Enter an amount."),
        ("0", "more than zero"),
        ("100.01", "more than the outstanding balance of $100.00"),
    ],
)
def test_bad_payment_amounts_are_field_errors_and_record_nothing(client, clerk_user, customer, amount, error):
    invoice = issued_invoice(customer, [10000])
    before = snapshot(invoice)
    response = post(client, clerk_user, "office:invoice_payment", invoice, payment_data(amount=amount))
    assert response.status_code == 200
    assert error in " ".join(response.context["forms"]["payment"].errors["amount"])
    assert snapshot(invoice) == before


def test_a_payment_in_the_future_is_refused_on_its_date(client, clerk_user, customer):
    invoice = issued_invoice(customer, [10000])
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    response = post(client, clerk_user, "office:invoice_payment", invoice, payment_data(received_on=tomorrow))
    assert "received_on" in response.context["forms"]["payment"].errors
    assert not Payment.objects.exists()


def test_payment_from_a_stale_page_is_refused_with_a_message(client, clerk_user, customer):
    invoice = issued_invoice(customer, [10000])
    payment_record(invoice=invoice, amount_units=1000, method="card")  # someone else, meanwhile
    before = snapshot(invoice)
    response = post(
        client, clerk_user, "office:invoice_payment", invoice, payment_data(), expected_status="pending", follow=True
    )
    assert "changed meanwhile" in " ".join(messages_of(response))
    assert snapshot(invoice) == before


def test_stale_page_refuses_void_too(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000])
    Invoice.objects.filter(pk=invoice.pk).update(status=Status.OVERDUE)  # the nightly job, meanwhile
    before = snapshot(invoice)
    response = post(
        client, staff_user, "office:invoice_void", invoice, {"reason": "x"}, expected_status="pending", follow=True
    )
    assert "changed meanwhile: it is now Overdue" in " ".join(messages_of(response))
    assert snapshot(invoice) == before


def test_an_action_without_its_expected_status_changes_nothing(client, staff_user, customer):
    invoice = draft_invoice(customer, [5000])
    client.force_login(staff_user)
    response = client.post(url("office:invoice_issue", invoice), {}, follow=True)
    assert "out of date" in " ".join(messages_of(response))
    assert reloaded(invoice).status == Status.DRAFT


# --- adjustments ----------------------------------------------------------------------------------------------


def test_clerk_adds_a_credit_to_a_draft(client, clerk_user, customer):
    invoice = draft_invoice(customer, [10000])
    data = {"kind": "credit", "description": "Late arrival", "amount": "15", "tax_rate": "0"}
    post(client, clerk_user, "office:invoice_adjust", invoice, data)
    invoice = reloaded(invoice)
    assert invoice.total_units == 8500
    assert Slip.objects.get(invoice=invoice, slip_type="credit").description == "Credit: Late arrival"


def test_adjustment_with_bad_amount_shows_the_error_and_adds_nothing(client, clerk_user, customer):
    invoice = draft_invoice(customer, [10000])
    before = snapshot(invoice)
    data = {"kind": "additional_work", "description": "", "amount": "1e9"}
    response = post(client, clerk_user, "office:invoice_adjust", invoice, data)
    errors = response.context["forms"]["adjust"].errors
    assert "is not an amount" in errors["amount"][0]
    assert errors["description"] == ["Describe the change so the customer understands it."]
    assert snapshot(invoice) == before


def test_adjustment_on_an_issued_invoice_is_refused(client, clerk_user, customer):
    invoice = issued_invoice(customer, [10000])
    before = snapshot(invoice)
    data = {"kind": "additional_work", "description": "More", "amount": "5"}
    response = post(client, clerk_user, "office:invoice_adjust", invoice, data, follow=True)
    assert "drafts only" in " ".join(messages_of(response))
    assert snapshot(invoice) == before


def test_proforma_adjustment_changes_its_totals_and_its_draft_invoice(client, clerk_user, customer):
    proforma = proforma_with_slips(customer=customer, amounts=[10000])
    invoice = draft_with_proformas(proformas=[proforma], customer=customer)
    client.force_login(clerk_user)
    data = {"kind": "reduced_scope", "description": "One hour less", "amount": "20", "pay_amount": "12"}
    response = client.post(reverse("office:proforma_adjust", args=[proforma.pk]), data)
    assert response.status_code == 302
    proforma.refresh_from_db()
    assert (proforma.bill_total_units, proforma.pay_total_units) == (8000, 4800)
    assert reloaded(invoice).total_units == 8000


def test_a_credit_larger_than_the_draft_is_an_error_on_the_amount_not_a_500(client, clerk_user, customer):
    invoice = draft_invoice(customer, [10000])
    before = snapshot(invoice)
    data = {"kind": "credit", "description": "Goodwill", "amount": "150", "tax_rate": "0"}
    response = post(client, clerk_user, "office:invoice_adjust", invoice, data)
    assert response.status_code == 200
    assert "larger than" in response.context["forms"]["adjust"].errors["amount"][0]
    assert snapshot(invoice) == before


def test_a_proforma_credit_larger_than_its_total_is_an_error_on_the_amount(client, clerk_user, customer):
    proforma = proforma_with_slips(customer=customer, amounts=[10000])
    invoice = draft_with_proformas(proformas=[proforma], customer=customer)
    client.force_login(clerk_user)
    data = {"kind": "credit", "description": "Goodwill", "amount": "150", "pay_amount": "0"}
    response = client.post(reverse("office:proforma_adjust", args=[proforma.pk]), data)
    assert response.status_code == 200
    assert "larger than" in response.context["adjust_form"].errors["amount"][0]
    proforma.refresh_from_db()
    assert proforma.bill_total_units == 10000 and Slip.objects.filter(proforma=proforma).count() == 1
    assert reloaded(invoice).total_units == 10000


def test_proforma_adjustment_with_errors_stays_on_the_page(client, clerk_user, customer):
    proforma = proforma_with_slips(customer=customer, amounts=[10000])
    client.force_login(clerk_user)
    response = client.post(reverse("office:proforma_adjust", args=[proforma.pk]), {"kind": "gift", "amount": "12.3.4"})
    form = response.context["adjust_form"]
    assert set(form.errors) == {"kind", "description", "amount"}
    assert Slip.objects.filter(proforma=proforma).count() == 1


# --- child AR invoices (seed 003) ------------------------------------------------------------------------------


def test_seed_003_attaching_a_child_lowers_the_balance_and_detaching_restores_it(client, staff_user, partner):
    parent = issued_invoice(CustomerFactory(partner=partner), [200000])
    child = issued_invoice(CustomerFactory(partner=partner), [100000])
    response = post(client, staff_user, "office:invoice_attach_child", parent, {"number": child.number}, follow=True)
    body = response.content.decode()
    assert 'id="outstanding">$1,000.00<' in body
    assert reloaded(parent).outstanding_units == 100000 and reloaded(child).parent_id == parent.pk
    client.force_login(staff_user)
    response = client.post(
        url("office:invoice_detach_child", child), {"parent": parent.pk, "back": "parent"}, follow=True
    )
    assert response.redirect_chain[-1][0] == url("office:invoice_detail", parent)
    assert 'id="outstanding">$2,000.00<' in response.content.decode()
    assert reloaded(parent).outstanding_units == 200000 and reloaded(child).parent_id is None


def test_the_child_picker_offers_only_invoices_that_can_be_attached(client, staff_user, partner, customer):
    parent = issued_invoice(customer, [200000])
    fits = issued_invoice(CustomerFactory(partner=partner, name="Pacific Crest"), [50000])
    too_large = issued_invoice(CustomerFactory(partner=partner), [300000])
    draft_invoice(CustomerFactory(partner=partner), [1000])
    with_proformas = draft_with_proformas(
        proformas=[proforma_with_slips(customer=customer, amounts=[1000])], customer=customer
    )
    invoice_issue(invoice=with_proformas)
    elsewhere = issued_invoice(CustomerFactory(), [1000])
    client.force_login(staff_user)

    page = client.get(url("office:invoice_detail", parent)).content.decode()
    options = page[page.index('<datalist id="attach-child-options">') : page.index("</datalist>")]

    assert f'value="{fits.number}">Pacific Crest · $500.00' in options
    for refused in (too_large, with_proformas, elsewhere):
        assert f'value="{reloaded(refused).number}"' not in options
    assert options.count("<option") == 1  # the draft is not offered either


def test_attach_finds_the_child_by_number_case_insensitively(client, staff_user, partner, customer):
    parent = issued_invoice(customer, [200000])
    child = issued_invoice(CustomerFactory(partner=partner), [50000])
    post(client, staff_user, "office:invoice_attach_child", parent, {"number": f"  {child.number.lower()} "})
    assert reloaded(child).parent_id == parent.pk


def test_clerk_posting_attach_or_detach_gets_403_and_nothing_changes(client, clerk_user, partner, customer):
    parent = issued_invoice(customer, [200000])
    child = issued_invoice(CustomerFactory(partner=partner), [100000])
    before = snapshot(parent), snapshot(child)
    response = post(client, clerk_user, "office:invoice_attach_child", parent, {"number": child.number})
    assert response.status_code == 403
    assert (snapshot(parent), snapshot(child)) == before
    response = client.post(url("office:invoice_detach_child", child), {"parent": parent.pk, "back": "child"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("unknown", "No AR invoice is numbered"),
        ("larger", "larger than"),
        ("with_proformas", "cannot carry proformas"),
        ("other_partner", "No AR invoice is numbered"),
    ],
)
def test_attach_refusals_are_form_errors_and_change_nothing(client, staff_user, partner, customer, case, error):
    parent = issued_invoice(customer, [100000])
    other = CustomerFactory(partner=partner)
    if case == "unknown":
        number = "INV-2099-99999"
    elif case == "larger":
        number = issued_invoice(other, [100001]).number
    elif case == "with_proformas":
        proforma = proforma_with_slips(customer=other, amounts=[1000])
        number = invoice_issue(invoice=draft_with_proformas(proformas=[proforma], customer=other)).number
    else:
        stranger = CustomerFactory(partner=PartnerFactory())
        issued_invoice(stranger, [1000])
        number = issued_invoice(stranger, [1000]).number  # INV-...-00002: ours has only 00001
        assert not Invoice.objects.filter(partner=partner, number=number).exists()
    before = snapshot(parent)
    response = post(client, staff_user, "office:invoice_attach_child", parent, {"number": number})
    assert response.status_code == 200
    assert error in " ".join(response.context["forms"]["attach"].errors["number"])
    assert snapshot(parent) == before


def test_attach_to_a_paid_parent_is_refused(client, staff_user, partner, customer):
    parent = issued_invoice(customer, [1000])
    payment_record(invoice=parent, amount_units=1000, method="card")
    child = issued_invoice(CustomerFactory(partner=partner), [500])
    response = post(client, staff_user, "office:invoice_attach_child", reloaded(parent), {"number": child.number})
    assert "paid: nothing can be attached" in " ".join(response.context["forms"]["attach"].errors["number"])
    assert reloaded(child).parent_id is None


def test_attach_that_would_make_a_cycle_is_refused(client, staff_user, partner, customer):
    grandparent = issued_invoice(customer, [500000])
    parent = issued_invoice(CustomerFactory(partner=partner), [100000])
    invoice_attach_child(parent=grandparent, child=parent)
    # parent is a child now: it is not offered attach, and a hand-made post is refused by the domain
    response = post(client, staff_user, "office:invoice_attach_child", grandparent, {"number": parent.number})
    assert "already attached" in " ".join(response.context["forms"]["attach"].errors["number"])


def test_detach_from_a_stale_page_changes_nothing(client, staff_user, partner, customer):
    parent = issued_invoice(customer, [200000])
    child = issued_invoice(CustomerFactory(partner=partner), [100000])
    client.force_login(staff_user)
    response = client.post(
        url("office:invoice_detach_child", child), {"parent": parent.pk, "back": "child"}, follow=True
    )
    assert "changed meanwhile" in " ".join(messages_of(response))
    assert reloaded(parent).children_units == 0


# --- another partner's invoice is a 404 everywhere ------------------------------------------------------------


def test_every_action_on_another_partners_invoice_is_404(client, staff_user):
    other = PartnerFactory()
    foreign = issued_invoice(CustomerFactory(partner=other), [5000])
    foreign_draft = draft_invoice(CustomerFactory(partner=other), [5000])
    client.force_login(staff_user)
    for name, invoice in [
        ("office:invoice_issue", foreign_draft),
        ("office:invoice_delete", foreign_draft),
        ("office:invoice_adjust", foreign_draft),
        ("office:invoice_edit", foreign_draft),
        ("office:invoice_void", foreign),
        ("office:invoice_payment", foreign),
        ("office:invoice_attach_child", foreign),
        ("office:invoice_detach_child", foreign),
    ]:
        response = client.post(url(name, invoice), {"expected_status": invoice.status, "reason": "x"})
        assert response.status_code == 404, name
        assert client.get(url(name, invoice)).status_code == 404, name
    proforma = proforma_with_slips(customer=CustomerFactory(partner=other))
    response = client.post(reverse("office:proforma_adjust", args=[proforma.pk]), {"kind": "credit"})
    assert response.status_code == 404
    assert Payment.objects.count() == 0 and reloaded(foreign).status == Status.PENDING


def test_a_clerk_of_another_partner_gets_404_not_403_on_clerk_actions(client, customer):
    stranger = StaffMembershipFactory(partner=PartnerFactory(), role="billing_clerk").user
    invoice = issued_invoice(customer, [5000])
    response = post(client, stranger, "office:invoice_payment", invoice, payment_data())
    assert response.status_code == 404
    assert not Payment.objects.exists()
