"""Credit notes, customer credit and refunds in the office: the invoice page's forms (offered exactly when the
workflow offers them), the credit note page and list (partner-scoped), and refunds of check and card payments."""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoicing.charging import customer_card_save, invoice_charge
from invoicing.credits import credit_apply, credit_note_issue, payment_refund
from invoicing.gateways import SimulatedCardGateway
from invoicing.models import CreditApplication, CreditNote, Invoice, NumberCounter, Payment, Refund, Slip
from invoicing.outbox_work import outbox_run
from invoicing.payments import payment_record
from tests.factories import CustomerFactory, PartnerFactory, StaffMembershipFactory, issued_invoice

pytestmark = pytest.mark.django_db

S = Invoice.Status


def reloaded(obj):
    obj.refresh_from_db()
    return obj


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def messages_of(response):
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def page(client, user, invoice):
    client.force_login(user)
    response = client.get(reverse("office:invoice_detail", args=[invoice.pk]))
    assert response.status_code == 200
    return response


def post(client, user, name, obj, data, *, follow=True):
    client.force_login(user)
    return client.post(reverse(name, args=[obj.pk]), data, follow=follow)


def credit_data(invoice, **overrides):
    left = invoice.total_units - sum(note.total_units for note in CreditNote.objects.filter(invoice=invoice))
    data = {
        "expected_status": invoice.status,
        "way": "amount",
        "amount": "",
        "reason": "Late start",
        "seen_units": left,
    }
    data.update(overrides)
    return data


def apply_data(invoice, note, **overrides):
    invoice = reloaded(invoice)
    data = {
        "expected_status": invoice.status,
        "credit_note": note.pk,
        "amount": "",
        "seen_units": invoice.outstanding_units,
    }
    data.update(overrides)
    return data


def refund_data(invoice, payment, **overrides):
    data = {
        "expected_status": invoice.status,
        "payment": payment.pk,
        "amount": "",
        "reason": "Cancelled",
        "reference": "",
        "idempotency_key": uuid.uuid4().hex,
    }
    data.update(overrides)
    return data


def card_payment(invoice, amount):
    return payment_record(invoice=invoice, amount_units=amount, method="card", reference="sim_ch_00ff00ff00ff00ff")


# --- issuing a credit note from the invoice page ---------------------------------------------------------------


def test_a_billing_admin_credits_half_an_invoice_and_sees_the_new_balance(client, staff_user, customer):
    invoice = issued_invoice(customer, [30000])
    assert "Issue a credit note" in text(page(client, staff_user, invoice))
    response = post(client, staff_user, "office:invoice_credit", invoice, credit_data(invoice, amount="150.00"))
    note = CreditNote.objects.get(invoice=invoice)
    invoice = reloaded(invoice)
    assert (invoice.outstanding_units, invoice.credited_units, invoice.status) == (15000, 15000, S.PENDING)
    assert f"Issued credit note {note.number} for $150.00: it lowered the balance of {invoice} by $150.00" in (
        messages_of(response)
    )
    body = text(response)
    assert 'id="outstanding">$150.00' in body
    assert note.number in body and reverse("office:credit_note_detail", args=[note.pk]) in body


def test_a_credit_of_a_paid_invoice_is_left_as_the_customers_credit(client, staff_user, customer):
    invoice = issued_invoice(customer, [20000])
    payment_record(invoice=invoice, amount_units=20000, method="check", reference="7")
    invoice = reloaded(invoice)
    response = post(client, staff_user, "office:invoice_credit", invoice, credit_data(invoice, way="whole"))
    note = CreditNote.objects.get(invoice=invoice)
    assert note.credit_left_units == 20000 and reloaded(invoice).status == S.PAID
    assert f"left $200.00 as {customer}'s credit" in messages_of(response)


def test_a_clerk_credits_an_invoice_from_its_page(client, clerk_user, customer):
    invoice = issued_invoice(customer, [30000])
    body = text(page(client, clerk_user, invoice))
    assert "Issue a credit note" in body
    response = post(client, clerk_user, "office:invoice_credit", invoice, credit_data(invoice, amount="10"))
    assert "Issued credit note CN-" in messages_of(response)
    assert CreditNote.objects.get().total_units == 1000


def test_chosen_lines_are_credited(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000, 2500, 700])
    slips = list(Slip.objects.filter(invoice=invoice).order_by("position"))
    data = credit_data(invoice, way="lines", lines=[slips[1].pk, slips[2].pk], reason="Not delivered")
    post(client, staff_user, "office:invoice_credit", invoice, data)
    note = CreditNote.objects.get(invoice=invoice)
    assert note.total_units == 3200
    assert [line.slip_id for line in note.lines.all()] == [slips[1].pk, slips[2].pk]
    assert reloaded(invoice).outstanding_units == 10000


def test_an_amount_over_what_is_left_is_refused_on_the_amount_field_and_changes_nothing(client, staff_user, customer):
    invoice = issued_invoice(customer, [30000])
    credit_note_issue(invoice=invoice, amount_units=20000, reason="Part", user=staff_user)
    invoice = reloaded(invoice)
    response = post(client, staff_user, "office:invoice_credit", invoice, credit_data(invoice, amount="100.01"))
    assert response.status_code == 200
    form = response.context["credit"].credit_form
    assert "more than is left to credit on this invoice ($100.00)" in form.errors["amount"][0]
    assert CreditNote.objects.filter(invoice=invoice).count() == 1
    assert reloaded(invoice).credited_units == 20000
    assert NumberCounter.objects.get(partner=invoice.partner, series="cn").last_value == 1
    assert 'id="issue-credit-note" open' in text(response)


def test_a_double_submitted_credit_note_is_issued_once(client, staff_user, customer):
    invoice = issued_invoice(customer, [30000])
    data = credit_data(invoice, amount="100")
    post(client, staff_user, "office:invoice_credit", invoice, data)
    response = post(client, staff_user, "office:invoice_credit", invoice, data)
    assert "credited meanwhile; nothing was changed" in messages_of(response)
    assert CreditNote.objects.filter(invoice=invoice).count() == 1 and reloaded(invoice).credited_units == 10000


def test_a_double_submitted_credit_application_applies_once(client, staff_user, customer):
    first = issued_invoice(customer, [30000])
    payment_record(invoice=first, amount_units=30000, method="check", reference="7")
    note = credit_note_issue(invoice=first, whole=True, reason="Overbilled", user=staff_user)
    second = issued_invoice(customer, [12000])
    data = apply_data(second, note, amount="30")
    post(client, staff_user, "office:invoice_apply_credit", second, data)
    response = post(client, staff_user, "office:invoice_apply_credit", second, data)
    assert "balance changed meanwhile" in messages_of(response)
    assert reloaded(second).credited_units == 3000


def test_a_credit_needs_a_reason_and_an_amount_or_lines(client, staff_user, customer):
    invoice = issued_invoice(customer, [30000])
    response = post(client, staff_user, "office:invoice_credit", invoice, credit_data(invoice, reason=" "))
    form = response.context["credit"].credit_form
    assert form.errors["reason"] == ["Say why it is credited."]
    assert form.errors["amount"] == ["Enter the amount to credit."]
    response = post(client, staff_user, "office:invoice_credit", invoice, credit_data(invoice, way="lines"))
    assert response.context["credit"].credit_form.errors["lines"] == ["Tick the lines to credit."]
    assert not CreditNote.objects.exists()


def test_a_stale_credit_form_changes_nothing(client, staff_user, customer):
    invoice = issued_invoice(customer, [30000])
    data = credit_data(invoice, amount="10", expected_status=S.OVERDUE)
    response = post(client, staff_user, "office:invoice_credit", invoice, data)
    assert "changed meanwhile" in messages_of(response)
    assert not CreditNote.objects.exists()


def test_a_get_on_the_credit_actions_changes_nothing(client, staff_user, customer):
    invoice = issued_invoice(customer, [30000])
    client.force_login(staff_user)
    for name in ("office:invoice_credit", "office:invoice_refund", "office:invoice_apply_credit"):
        response = client.get(reverse(name, args=[invoice.pk]))
        assert response.status_code == 302 and response["Location"] == reverse(
            "office:invoice_detail", args=[invoice.pk]
        )


def test_the_credit_form_is_not_offered_on_a_void_or_fully_credited_invoice(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    credit_note_issue(invoice=invoice, whole=True, reason="Wrong customer", user=staff_user)
    response = page(client, staff_user, reloaded(invoice))
    assert response.context["credit"].credit_form is None
    assert "Credited" in text(response)


# --- refunds ------------------------------------------------------------------------------------------------------


def test_refunding_a_check_payment_reopens_the_balance(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000])
    payment = payment_record(invoice=invoice, amount_units=10000, method="check", reference="55")
    invoice = reloaded(invoice)
    body = text(page(client, staff_user, invoice))
    assert "Refund this payment" in body and "($100.00 refundable)" in body
    data = refund_data(invoice, payment, amount="40.00", reference="900")
    response = post(client, staff_user, "office:invoice_refund", invoice, data)
    refund = Refund.objects.get()
    assert (refund.status, refund.reference, refund.amount_units) == (Refund.Status.SUCCEEDED, "900", 4000)
    invoice = reloaded(invoice)
    assert (invoice.outstanding_units, invoice.status) == (4000, S.PARTIALLY_PAID)
    assert f"Refunded $40.00 by check 900. {invoice} owes $40.00 again." in messages_of(response)
    assert "−$40.00" in text(response)
    again = post(client, staff_user, "office:invoice_refund", invoice, {**data, "expected_status": invoice.status})
    assert "already recorded" in messages_of(again) and Refund.objects.count() == 1


def test_a_check_refund_needs_the_check_number_and_fits_the_payment(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000])
    payment = payment_record(invoice=invoice, amount_units=6000, method="check", reference="55")
    invoice = reloaded(invoice)
    response = post(client, staff_user, "office:invoice_refund", invoice, refund_data(invoice, payment, amount="10"))
    assert response.context["credit"].payments[0].form.errors["reference"] == [
        "Enter the number of the check sent back."
    ]
    data = refund_data(invoice, payment, amount="60.01", reference="1")
    response = post(client, staff_user, "office:invoice_refund", invoice, data)
    errors = response.context["credit"].payments[0].form.errors
    assert "more than is left to refund on this payment ($60.00)" in errors["amount"][0]
    assert f'id="refund-payment-{payment.pk}" open' in text(response)
    assert not Refund.objects.exists() and reloaded(invoice).paid_units == 6000


def test_a_card_refund_is_pending_until_the_outbox_refunds_it(client, staff_user, partner):
    customer = CustomerFactory(partner=partner)
    invoice = issued_invoice(customer, [8000], deliver=False)
    payment = card_payment(invoice, 8000)
    invoice = reloaded(invoice)
    assert "It goes back to the card that paid it" in text(page(client, staff_user, invoice))
    response = post(client, staff_user, "office:invoice_refund", invoice, refund_data(invoice, payment, amount="80"))
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    assert "The refund of $80.00 to the card that paid it is under way" in messages_of(response)
    assert reloaded(invoice).status == S.PAID  # nothing changes until the gateway refunds
    outbox_run()
    refund = reloaded(refund)
    assert refund.status == Refund.Status.SUCCEEDED and refund.reference.startswith("sim_re_")
    assert reloaded(invoice).outstanding_units == 8000
    assert "Refunded" in text(page(client, staff_user, invoice))


def test_a_charged_card_payment_is_refunded_to_the_card_ending_it_was_charged_to(client, staff_user, partner):
    customer = CustomerFactory(partner=partner, payment_method="card")
    customer_card_save(customer=customer, number="4242424242424242", exp_month=1, exp_year=2039)
    invoice = issued_invoice(customer, [6000], deliver=False)
    outcome = invoice_charge(invoice=invoice, user=staff_user)
    assert outcome.status == "succeeded"
    response = page(client, staff_user, reloaded(invoice))
    assert "It goes back to the card ending 4242 through the card gateway" in text(response)
    data = refund_data(reloaded(invoice), outcome.payment, amount="60")
    response = post(client, staff_user, "office:invoice_refund", invoice, data)
    assert "The refund of $60.00 to the card ending 4242 is under way" in messages_of(response)


def test_a_refused_card_refund_shows_its_error_in_red_with_retrying(client, staff_user, partner, monkeypatch):
    invoice = issued_invoice(CustomerFactory(partner=partner), [8000], deliver=False)
    payment = card_payment(invoice, 8000)
    refund = payment_refund(payment=payment, amount_units=3000, user=staff_user)
    real = SimulatedCardGateway.refund
    monkeypatch.setattr(SimulatedCardGateway, "refund", lambda self, **kw: type(real(self, **kw))("error", "", "Down"))
    outbox_run()
    assert reloaded(refund).status == Refund.Status.PENDING
    body = text(page(client, staff_user, reloaded(invoice)))
    assert re.search(r'<div class="text-danger">Card not refunded: Down Retrying\.</div>', body)


def test_refunding_out_of_a_credit_note_keeps_the_invoice_settled(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000])
    payment = payment_record(invoice=invoice, amount_units=10000, method="transfer", reference="T1")
    note = credit_note_issue(invoice=invoice, whole=True, reason="Cancelled", user=staff_user)
    invoice = reloaded(invoice)
    response = page(client, staff_user, invoice)
    form = response.context["credit"].payments[0].form
    assert form.fields["credit_note"].initial == str(note.pk)  # its own credit note first
    data = refund_data(invoice, payment, amount="100", credit_note=note.pk, reference="T-back")
    response = post(client, staff_user, "office:invoice_refund", invoice, data)
    assert f"out of {note}'s credit" in messages_of(response)
    assert reloaded(note).credit_left_units == 0 and reloaded(invoice).status == S.PAID


def test_a_clerk_sees_no_refund_form_and_gets_a_403(client, clerk_user, customer):
    invoice = issued_invoice(customer, [10000])
    payment = payment_record(invoice=invoice, amount_units=10000, method="check", reference="55")
    invoice = reloaded(invoice)
    assert "Refund this payment" not in text(page(client, clerk_user, invoice))
    data = refund_data(invoice, payment, amount="10", reference="1")
    assert post(client, clerk_user, "office:invoice_refund", invoice, data).status_code == 403
    assert not Refund.objects.exists()


# --- customer credit ----------------------------------------------------------------------------------------------


def test_credit_is_applied_to_another_invoice_from_its_page(client, staff_user, customer):
    first = issued_invoice(customer, [30000])
    payment_record(invoice=first, amount_units=30000, method="check", reference="7")
    note = credit_note_issue(invoice=first, amount_units=20000, reason="Overbilled", user=staff_user)
    second = issued_invoice(customer, [12000])
    response = page(client, staff_user, second)
    form = response.context["credit"].apply_form
    assert form is not None and form.fields["amount"].initial == 12000  # min(credit left, balance)
    data = apply_data(second, note)
    response = post(client, staff_user, "office:invoice_apply_credit", second, data)
    assert f"Applied $120.00 of {note}'s credit. Outstanding: $0.00." in messages_of(response)
    second, note = reloaded(second), reloaded(note)
    assert (second.status, second.credited_units) == (S.CREDITED, 12000)
    assert note.credit_left_units == 8000
    assert page(client, staff_user, second).context["credit"].applied_from_others[0].note == note


def test_applying_more_than_fits_is_refused_on_the_amount(client, staff_user, customer):
    first = issued_invoice(customer, [30000])
    payment_record(invoice=first, amount_units=30000, method="check", reference="7")
    note = credit_note_issue(invoice=first, amount_units=5000, reason="Overbilled", user=staff_user)
    second = issued_invoice(customer, [12000])
    response = post(client, staff_user, "office:invoice_apply_credit", second, apply_data(second, note, amount="50.01"))
    assert "more than" in response.context["credit"].apply_form.errors["amount"][0]
    assert not CreditApplication.objects.filter(invoice=second).exists()


def test_no_apply_form_without_customer_credit(client, staff_user, customer):
    invoice = issued_invoice(customer, [12000])
    assert page(client, staff_user, invoice).context["credit"].apply_form is None


# --- the credit note page and list -------------------------------------------------------------------------------


def paid_and_credited(customer, user, amount=30000):
    invoice = issued_invoice(customer, [amount])
    payment = payment_record(invoice=invoice, amount_units=amount, method="check", reference="7")
    note = credit_note_issue(invoice=invoice, whole=True, reason="Service cancelled", user=user)
    return invoice, payment, note


def test_the_credit_note_page_shows_its_lines_totals_and_what_became_of_it(client, staff_user, customer):
    invoice, _payment, note = paid_and_credited(customer, staff_user)
    other = issued_invoice(customer, [10000])
    credit_apply(credit_note=note, invoice=other, amount_units=10000, user=staff_user)
    client.force_login(staff_user)
    response = client.get(reverse("office:credit_note_detail", args=[note.pk]))
    body = text(response)
    assert note.number in body and "Service cancelled" in body and invoice.number in body
    assert 'id="credit-total">$300.00' in body and 'id="credit-left">$200.00' in body
    assert other.number in body  # applied to it
    assert response.context["apply_form"] is None  # no open invoice left
    assert response.context["refund_form"] is not None
    assert [event.action for event in response.context["audit"]] == ["credit", "credit_applied"]


def test_the_credit_note_page_applies_the_credit_to_another_open_invoice(client, staff_user, customer):
    _invoice, _payment, note = paid_and_credited(customer, staff_user)
    other = issued_invoice(customer, [50000])
    data = {"invoice": other.pk, "amount": "", "seen_units": note.credit_left_units}
    response = post(client, staff_user, "office:credit_note_apply", note, data)
    assert f"Applied $300.00 of {note}'s credit to {other}, which has $200.00 outstanding." in messages_of(response)
    assert reloaded(note).credit_left_units == 0 and reloaded(other).outstanding_units == 20000


def test_the_credit_note_page_refunds_the_credit_on_a_payment(client, staff_user, customer):
    invoice, payment, note = paid_and_credited(customer, staff_user)
    data = {
        "payment": payment.pk,
        "amount": "300",
        "reference": "1001",
        "reason": "Cancelled",
        "idempotency_key": uuid.uuid4().hex,
    }
    response = post(client, staff_user, "office:credit_note_refund", note, data)
    assert "Refunded $300.00 by check 1001" in messages_of(response)
    assert reloaded(note).credit_left_units == 0 and reloaded(invoice).status == S.PAID
    assert reloaded(payment).refunded_units == 30000


def test_the_credit_note_page_refuses_a_refund_above_the_credit_left(client, staff_user, customer):
    invoice = issued_invoice(customer, [30000])
    payment = payment_record(invoice=invoice, amount_units=30000, method="check", reference="7")
    note = credit_note_issue(invoice=invoice, amount_units=5000, reason="Partly", user=staff_user)
    data = {"payment": payment.pk, "amount": "60", "reference": "1", "reason": "x", "idempotency_key": uuid.uuid4().hex}
    response = post(client, staff_user, "office:credit_note_refund", note, data)
    assert "more than the credit left" in response.context["refund_form"].errors["amount"][0]
    assert not Refund.objects.exists()


def test_a_clerk_applies_a_credit_but_gets_no_refund_form_and_a_403(client, clerk_user, staff_user, customer):
    _invoice, payment, note = paid_and_credited(customer, staff_user)
    issued_invoice(customer, [50000])
    client.force_login(clerk_user)
    response = client.get(reverse("office:credit_note_detail", args=[note.pk]))
    assert response.status_code == 200
    assert response.context["apply_form"] is not None and response.context["refund_form"] is None
    refund = post(client, clerk_user, "office:credit_note_refund", note, {"payment": payment.pk, "amount": "1"})
    assert refund.status_code == 403
    assert reloaded(note).credit_left_units == 30000


def test_another_partners_credit_note_is_a_404(client, customer, staff_user):
    _invoice, payment, note = paid_and_credited(customer, staff_user)
    stranger = StaffMembershipFactory(partner=PartnerFactory()).user
    client.force_login(stranger)
    for name in ("office:credit_note_detail", "office:credit_note_apply", "office:credit_note_refund"):
        assert client.get(reverse(name, args=[note.pk])).status_code == 404
        assert client.post(reverse(name, args=[note.pk]), {"payment": payment.pk}).status_code == 404
    response = client.get(reverse("office:credit_note_list"))
    assert response.context["rows"] == [] and note.number not in text(response)
    assert client.get(reverse("office:refund_list")).context["rows"] == []
    assert note.number not in client.get(reverse("office:credit_note_export")).getvalue().decode()


def test_the_credit_note_list_filters_totals_and_exports(client, staff_user, partner):
    early_customer, late_customer = CustomerFactory(partner=partner), CustomerFactory(partner=partner)
    invoice = issued_invoice(early_customer, [30000])
    early = credit_note_issue(
        invoice=invoice,
        amount_units=10000,
        reason="Early",
        user=staff_user,
        issue_date=timezone.localdate().replace(day=1),
    )
    _invoice, _payment, late = paid_and_credited(late_customer, staff_user, 20000)
    client.force_login(staff_user)
    url = reverse("office:credit_note_list")
    response = client.get(url)
    assert {row.pk for row in response.context["rows"]} == {early.pk, late.pk}
    assert response.context["totals"] == {"count": 2, "total": 30000, "applied": 10000, "refunded": 0, "left": 20000}
    assert [row.pk for row in client.get(url, {"customer": late_customer.pk}).context["rows"]] == [late.pk]
    assert [row.pk for row in client.get(url, {"credit_left": "yes"}).context["rows"]] == [late.pk]
    assert [row.pk for row in client.get(url, {"q": early.number}).context["rows"]] == [early.pk]
    assert [row.pk for row in client.get(url, {"sort": "-left"}).context["rows"]][0] == late.pk
    day = early.issue_date.isoformat()
    assert early.pk in [row.pk for row in client.get(url, {"issued_from": day, "issued_to": day}).context["rows"]]
    export = client.get(reverse("office:credit_note_export"), {"customer": late_customer.pk})
    lines = export.getvalue().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Number,Issue date,Invoice,Customer,Reason")
    assert len(lines) == 2 and late.number in lines[1] and lines[1].endswith(f",200.00,0.00,0.00,200.00,{late.pk}")


def test_the_refund_list_shows_money_out_apart(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000])
    payment = payment_record(invoice=invoice, amount_units=10000, method="check", reference="55")
    payment_refund(payment=payment, amount_units=2500, reference="901", user=staff_user)
    card_invoice = issued_invoice(customer, [4000], deliver=False)
    payment_refund(payment=card_payment(card_invoice, 4000), amount_units=4000, user=staff_user)
    client.force_login(staff_user)
    response = client.get(reverse("office:refund_list"))
    assert len(response.context["rows"]) == 2
    assert response.context["totals"] == {"count": 2, "paid_out": 2500, "pending": 4000}
    assert [row.status for row in client.get(reverse("office:refund_list"), {"status": "pending"}).context["rows"]] == [
        Refund.Status.PENDING
    ]
    lines = client.get(reverse("office:refund_export")).getvalue().decode("utf-8-sig").splitlines()
    assert "Paid out" in lines[0] and len(lines) == 3


def test_the_navbar_links_the_credit_note_and_refund_lists(client, staff_user):
    client.force_login(staff_user)
    body = text(client.get(reverse("office:dashboard")))
    assert reverse("office:credit_note_list") in body and reverse("office:refund_list") in body


def test_the_customer_page_shows_credit_notes_and_credit_left(client, staff_user, customer):
    _invoice, _payment, note = paid_and_credited(customer, staff_user)
    client.force_login(staff_user)
    body = text(client.get(reverse("office:customer_detail", args=[customer.pk])))
    assert note.number in body and "$300.00 of credit left" in body


def test_the_invoice_page_query_count_stays_flat_with_credit_notes_and_refunds(client, staff_user, customer):
    def count(invoice):
        client.force_login(staff_user)
        url = reverse("office:invoice_detail", args=[invoice.pk])
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        return len(captured.captured_queries)

    one = issued_invoice(customer, [10000])
    payment = payment_record(invoice=one, amount_units=10000, method="check", reference="1")
    credit_note_issue(invoice=one, amount_units=1000, reason="a", user=staff_user)
    payment_refund(payment=payment, amount_units=500, reference="2", user=staff_user)
    many = issued_invoice(customer, [10000] * 5)
    for i in range(3):
        payment = payment_record(invoice=many, amount_units=3000, method="check", reference=str(i))
        payment_refund(payment=payment, amount_units=100, reference=f"r{i}", user=staff_user)
        credit_note_issue(invoice=many, amount_units=1000, reason="b", user=staff_user)
    assert count(one) == count(reloaded(many))
    assert Payment.objects.filter(invoice=many).count() == 3
