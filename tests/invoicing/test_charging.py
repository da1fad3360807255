"""Auto-charge (seed 001): the card on file is charged when an invoice is issued; a decline or an error is
recorded visibly and leaves the invoice Pending; nothing is ever charged twice; card numbers are never kept."""

import datetime

import pytest
from django.db.models import CharField, TextField
from django.utils import timezone

from audit.recording import audit_trail
from customers.models import Customer
from invoicing.charging import customer_card_remove, customer_card_save, invoice_auto_charge, invoice_charge
from invoicing.errors import BillingRuleError
from invoicing.gateways import SimulatedCardGateway, luhn_valid
from invoicing.lifecycle import invoice_issue
from invoicing.models import Invoice, OutboxJob, Payment
from invoicing.outbox_work import outbox_run
from invoicing.pdf import documents
from tests.factories import CustomerFactory, draft_invoice, issued_invoice

pytestmark = pytest.mark.django_db

NEXT_YEAR = datetime.date.today().year + 1


@pytest.fixture(autouse=True)
def rendered(settings, tmp_path, monkeypatch):
    """The simulated gateway, the outbox drained when an issue commits (django-q2 runs it inline in tests), and
    a recording stand-in for WeasyPrint (the HTML rendered)."""
    settings.PAYMENT_GATEWAY = "simulated"
    settings.OUTBOX_NUDGE = True
    settings.MEDIA_ROOT = tmp_path
    seen = []

    def render(html_text, **kwargs):
        seen.append(html_text)
        return b"%PDF-1.7\n%%EOF\n"

    monkeypatch.setattr(documents, "html_to_pdf", render)
    return seen


def card_customer(partner, number="4242 4242 4242 4242", **kwargs):
    customer = CustomerFactory(partner=partner, payment_method="card", auto_charge=True, auto_send=False, **kwargs)
    return customer_card_save(customer=customer, number=number, exp_month=12, exp_year=NEXT_YEAR)


def charge_job(invoice) -> OutboxJob:
    return OutboxJob.objects.get(invoice=invoice, kind=OutboxJob.Kind.CHARGE)


def after_the_backoff():
    return timezone.now() + datetime.timedelta(hours=2)


def redelivered(job: OutboxJob) -> None:
    """Put a job back to pending, as a worker that crashed after the side effect would leave it."""
    OutboxJob.objects.filter(pk=job.pk).update(status=OutboxJob.Status.PENDING, run_after=timezone.now())


def issue(customer, capture, amounts=(12000,)):
    with capture(execute=True):
        invoice = invoice_issue(invoice=draft_invoice(customer, list(amounts)))
    invoice.refresh_from_db()
    return invoice


def test_saving_a_card_keeps_the_token_and_last_four_never_the_number(partner):
    customer = card_customer(partner)
    customer.refresh_from_db()
    assert customer.card_token.startswith("sim_") and customer.card_last4 == "4242"
    assert customer.card_brand == "Visa"
    for field in Customer._meta.get_fields():
        if isinstance(field, CharField | TextField):
            assert "4242424242424242" not in str(getattr(customer, field.attname) or "")
    assert "card_saved" in [e.action for e in audit_trail(customer)]


@pytest.mark.parametrize(
    "number, month, year, message",
    [
        ("4242 4242 4242 4241", 12, NEXT_YEAR, "not valid"),
        ("4242 4242 4242 4242", 13, NEXT_YEAR, "month"),
        ("4242 4242 4242 4242", 1, 2020, "expired"),
        ("4111 1111 1111 1111", 12, NEXT_YEAR, "test cards"),  # a real-looking card: the simulator refuses it
    ],
)
def test_bad_cards_are_refused_with_a_reason_and_nothing_is_kept(partner, number, month, year, message):
    customer = CustomerFactory(partner=partner)
    with pytest.raises(BillingRuleError) as refused:
        customer_card_save(customer=customer, number=number, exp_month=month, exp_year=year)
    assert message in refused.value.message
    customer.refresh_from_db()
    assert customer.card_token == "" and customer.card_last4 == ""


def test_luhn():
    assert luhn_valid("4242424242424242") and luhn_valid("4000 0000 0000 0002")
    assert not luhn_valid("4242424242424241") and not luhn_valid("1234")


def test_issuing_charges_the_card_and_records_the_payment(partner, rendered, django_capture_on_commit_callbacks):
    customer = card_customer(partner)
    invoice = issue(customer, django_capture_on_commit_callbacks)
    # The PDF is stored first: it tells the customer the card will be charged, not a payment that raced it.
    assert len(rendered) == 1 and "will be charged to the Visa on file ending <strong>4242</strong>" in rendered[0]
    assert invoice.pdf
    assert invoice.status == Invoice.Status.PAID and invoice.outstanding_units == 0
    [payment] = Payment.objects.filter(invoice=invoice)
    assert payment.method == "card" and payment.amount_units == invoice.total_units
    assert payment.reference.startswith("sim_ch_")
    assert invoice.charge_error == ""
    actions = [e.action for e in audit_trail(invoice)]
    assert "payment" in actions and "charge" in actions


def test_a_declined_card_leaves_the_invoice_pending_with_the_failure_in_its_audit(
    partner, django_capture_on_commit_callbacks
):
    customer = card_customer(partner, number="4000 0000 0000 0002")
    invoice = issue(customer, django_capture_on_commit_callbacks)
    assert invoice.status == Invoice.Status.PENDING
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert "declined" in invoice.charge_error and "0002" in invoice.charge_error
    [failure] = [e for e in audit_trail(invoice) if e.action == "charge_failed"]
    assert "declined" in failure.reason and failure.data["status"] == "declined"


def test_a_declined_card_is_final_and_the_outbox_never_charges_it_again(
    partner, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.invoicing.test_delivery.FailingBackend"
    customer = card_customer(partner, number="4000 0000 0000 0002")
    Customer.objects.filter(pk=customer.pk).update(auto_send=True)
    invoice = issue(customer, django_capture_on_commit_callbacks)
    charge = charge_job(invoice)
    assert charge.status == OutboxJob.Status.DONE and charge.result == "declined" and charge.attempts == 1
    email = OutboxJob.objects.get(invoice=invoice, kind=OutboxJob.Kind.EMAIL)
    assert email.status == OutboxJob.Status.PENDING  # the mail server was down: the e-mail is retried...
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    report = outbox_run(now=after_the_backoff())

    assert report.results == [f"{email.key}: done"]  # ...and only the e-mail: a decline is final
    redelivered(charge)  # even a charge job run again finds the decline and charges nothing
    outbox_run()
    charge.refresh_from_db()
    assert charge.status == OutboxJob.Status.DONE and charge.result == "declined"
    assert [e.action for e in audit_trail(invoice)].count("charge_failed") == 1
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PENDING


def test_a_pdf_that_fails_to_render_does_not_stop_the_charge(partner, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(documents, "html_to_pdf", lambda html_text, **kwargs: 1 / 0)
    invoice = issue(card_customer(partner), django_capture_on_commit_callbacks)
    assert invoice.pdf_error and invoice.status == Invoice.Status.PAID


def test_insufficient_funds_is_a_decline_too(partner, django_capture_on_commit_callbacks):
    invoice = issue(card_customer(partner, number="4000000000009995"), django_capture_on_commit_callbacks)
    assert invoice.status == Invoice.Status.PENDING and "insufficient funds" in invoice.charge_error


def test_a_processing_error_is_recorded_and_the_charge_job_is_retried_by_the_outbox(partner):
    customer = card_customer(partner, number="4000 0000 0000 0119")
    invoice = issued_invoice(customer, [12000])  # not committed: the jobs wait for the worker
    report = outbox_run()
    charge = charge_job(invoice)
    assert f"{charge.key}: pending" in report.results
    assert charge.status == OutboxJob.Status.PENDING and charge.attempts == 1
    assert "processing error" in charge.last_error and charge.run_after > timezone.now()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and "processing error" in invoice.charge_error

    # The gateway still errors: tried again once (max_jobs: a run at a simulated time would otherwise claim it
    # again at once, its next backoff being counted from the real clock), and still pending.
    assert outbox_run(now=after_the_backoff(), max_jobs=1).results == [f"{charge.key}: pending"]

    charge.refresh_from_db()
    assert charge.status == OutboxJob.Status.PENDING and charge.attempts == 2
    assert not Payment.objects.filter(invoice=invoice).exists()


def test_a_rerun_charge_job_never_charges_twice(partner):
    customer = card_customer(partner)
    invoice = issued_invoice(customer, [12000])
    outbox_run()
    charge = charge_job(invoice)
    assert charge.status == OutboxJob.Status.DONE and charge.result == "succeeded"

    redelivered(charge)  # a worker that died after the charge, before recording it
    outbox_run()

    charge.refresh_from_db()
    assert charge.status == OutboxJob.Status.DONE and charge.attempts == 2
    assert charge.result in ("succeeded", "nothing_due")
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID


def test_the_same_key_after_the_invoice_is_paid_returns_the_payment_it_made(partner):
    customer = card_customer(partner)
    invoice = issued_invoice(customer, [12000])
    first = invoice_charge(invoice=invoice, idempotency_key="form-key-1")

    again = invoice_charge(invoice=invoice, idempotency_key="form-key-1")

    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert again.succeeded and again.payment == first.payment
    assert Payment.objects.filter(invoice=invoice).count() == 1
    with pytest.raises(BillingRuleError, match="paid invoice is not charged"):
        invoice_charge(invoice=invoice, idempotency_key="another-key")


def test_partly_paid_invoices_are_charged_only_the_balance(partner):
    from invoicing.payments import payment_record

    customer = card_customer(partner)
    invoice = issued_invoice(customer, [12000])
    payment_record(invoice=invoice, amount_units=2000, method="check", reference="77")
    outcome = invoice_charge(invoice=invoice)
    assert outcome.succeeded and outcome.payment.amount_units == 10000
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID


def test_manual_gateway_charges_nothing_and_says_so(settings, partner, django_capture_on_commit_callbacks):
    customer = card_customer(partner)
    settings.PAYMENT_GATEWAY = "manual"
    invoice = issue(customer, django_capture_on_commit_callbacks)
    assert invoice.status == Invoice.Status.PENDING
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert "manual" in invoice.charge_error


def test_no_card_on_file_is_recorded(partner, django_capture_on_commit_callbacks):
    customer = card_customer(partner)
    customer_card_remove(customer=customer)
    invoice = issue(customer, django_capture_on_commit_callbacks)
    assert invoice.status == Invoice.Status.PENDING and "no card on file" in invoice.charge_error


def test_check_customers_and_auto_charge_off_are_never_charged(partner, django_capture_on_commit_callbacks):
    off = card_customer(partner)
    Customer.objects.filter(pk=off.pk).update(auto_charge=False)
    check = CustomerFactory(partner=partner, payment_method="check", auto_charge=True, auto_send=False)
    for customer in (Customer.objects.get(pk=off.pk), check):
        invoice = issue(customer, django_capture_on_commit_callbacks)
        assert invoice.status == Invoice.Status.PENDING and invoice.charge_error == ""
        assert invoice_auto_charge(invoice=invoice).status == "nothing_due"


def test_drafts_and_paid_invoices_are_not_charged(partner):
    customer = card_customer(partner)
    with pytest.raises(BillingRuleError):
        invoice_charge(invoice=draft_invoice(customer, [100]))
    invoice = issued_invoice(customer, [100])
    invoice_charge(invoice=invoice)
    with pytest.raises(BillingRuleError):
        invoice_charge(invoice=invoice)  # paid now


def test_the_simulator_answers_by_token():
    gateway = SimulatedCardGateway()
    ok = gateway.charge(token="sim_ok_abc", amount_units=100, currency="USD", idempotency_key="k1", description="")
    again = gateway.charge(token="sim_ok_abc", amount_units=100, currency="USD", idempotency_key="k1", description="")
    assert ok.succeeded and ok.reference == again.reference
    bad = gateway.charge(token="forged", amount_units=100, currency="USD", idempotency_key="k2", description="")
    assert bad.status == "declined"
