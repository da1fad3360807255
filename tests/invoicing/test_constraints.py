"""Database constraints on billing documents, payments, numbering and pricing tables.

Each test writes a bad row with ``objects.create`` / ``bulk_create`` / ``queryset.update`` so no form or
service stands in the way, and expects the database itself to refuse it with IntegrityError.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from invoicing.lifecycle import invoice_void
from invoicing.models import (
    Coupon,
    Holiday,
    Invoice,
    InvoiceProforma,
    NumberCounter,
    Payment,
    Proforma,
    Quote,
    QuoteLine,
    Rate,
    Service,
    ServiceExtra,
    ServiceType,
    Shift,
    Slip,
    SupportingDocument,
    TimePolicy,
    Zone,
)
from invoicing.pricing import slip_price
from tests.factories import (
    CustomerFactory,
    InvoiceFactory,
    PartnerFactory,
    ProformaFactory,
    ProviderFactory,
    ServiceFactory,
    ServiceRequestFactory,
    ServiceTypeFactory,
    SlipFactory,
    ZoneFactory,
    draft_invoice,
    issued_invoice,
)

pytestmark = pytest.mark.django_db

ISSUE_DATE = datetime.date(2026, 3, 2)


def refused(fn):
    """Assert the database refuses what ``fn`` writes (inside a savepoint so the test can go on)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


# --- slips -----------------------------------------------------------------------------------------------


@pytest.fixture
def proforma(customer):
    return ProformaFactory(customer=customer)


def slip_row(partner, **fields) -> Slip:
    """Save a slip priced consistently (totals add up), with whatever else ``fields`` says."""
    values = {
        "partner": partner,
        "description": "Line",
        "quantity": Decimal(1),
        "bill_rate_units": Decimal(1000),
        "pay_rate_units": Decimal(600),
        **fields,
    }
    slip = slip_price(Slip(**values))
    slip.save()
    return slip


def test_slip_on_no_document_is_refused(partner):
    refused(lambda: slip_row(partner))


def test_slip_on_both_a_proforma_and_an_invoice_is_refused(customer, proforma):
    invoice = draft_invoice(customer)
    refused(lambda: slip_row(customer.partner, proforma=proforma, invoice=invoice))


def test_slip_on_exactly_one_document_is_allowed(customer, proforma):
    invoice = draft_invoice(customer)
    assert slip_row(customer.partner, proforma=proforma).pk
    assert slip_row(customer.partner, invoice=invoice).pk


def test_moving_a_slip_onto_a_second_document_is_refused(customer, proforma):
    slip = SlipFactory(proforma=proforma)
    invoice = draft_invoice(customer)
    refused(lambda: Slip.objects.filter(pk=slip.pk).update(invoice=invoice))


@pytest.mark.parametrize("slip_type", ["service", "prep_time"])
def test_slip_type_priced_by_schedule_without_pay_schedule_is_refused(proforma, slip_type):
    refused(lambda: slip_row(proforma.partner, proforma=proforma, slip_type=slip_type, pay_schedule=""))
    assert slip_row(proforma.partner, proforma=proforma, slip_type=slip_type, pay_schedule="weekday").pk


def test_general_slip_needs_no_pay_schedule(proforma):
    assert slip_row(proforma.partner, proforma=proforma, slip_type="mileage", pay_schedule="").pk


@pytest.mark.parametrize("quantity", [Decimal(0), Decimal("-1"), Decimal("-0.0001")])
def test_slip_quantity_must_be_positive(proforma, quantity):
    refused(lambda: slip_row(proforma.partner, proforma=proforma, quantity=quantity))


@pytest.mark.parametrize("slip_type", ["general", "mileage", "booking_fee", "reimbursement"])
@pytest.mark.parametrize("side", ["bill_rate_units", "pay_rate_units"])
def test_negative_rates_are_refused_on_ordinary_slips(proforma, slip_type, side):
    refused(lambda: slip_row(proforma.partner, proforma=proforma, slip_type=slip_type, **{side: Decimal(-100)}))


@pytest.mark.parametrize("slip_type", ["adjustment", "credit"])
def test_negative_rates_are_allowed_on_adjustments_and_credits(proforma, slip_type):
    slip = slip_row(
        proforma.partner, proforma=proforma, slip_type=slip_type, bill_rate_units=Decimal(-500), pay_rate_units=0
    )
    assert slip.bill_total_units == -500


@pytest.mark.parametrize("side", ["bill_rate_units", "pay_rate_units"])
def test_positive_credit_is_refused(proforma, side):
    other = "pay_rate_units" if side == "bill_rate_units" else "bill_rate_units"
    refused(lambda: slip_row(proforma.partner, proforma=proforma, slip_type="credit", **{side: Decimal(1), other: 0}))


def test_slip_total_that_does_not_add_up_is_refused(proforma):
    slip = SlipFactory(proforma=proforma)
    refused(lambda: Slip.objects.filter(pk=slip.pk).update(bill_total_units=F("bill_total_units") + 1))
    refused(lambda: Slip.objects.filter(pk=slip.pk).update(bill_tax_units=F("bill_tax_units") + 1))


@pytest.mark.parametrize("field", ["line_discount_units", "invoice_discount_units"])
def test_negative_slip_discount_is_refused(proforma, field):
    slip = SlipFactory(proforma=proforma)
    # Keep the total adding up so only the sign rule is tested.
    refused(lambda: Slip.objects.filter(pk=slip.pk).update(**{field: -1}, bill_total_units=F("bill_total_units") + 1))


@pytest.mark.parametrize("tax_rate", [Decimal("-0.001"), Decimal("100.001")])
def test_slip_tax_rate_outside_0_to_100_is_refused(proforma, tax_rate):
    refused(lambda: slip_row(proforma.partner, proforma=proforma, tax_rate=tax_rate))


# --- proformas -------------------------------------------------------------------------------------------


def test_one_proforma_per_service(customer):
    service = ServiceFactory(request=ServiceRequestFactory(customer=customer))
    ProformaFactory(customer=customer, service=service)
    refused(lambda: ProformaFactory(customer=customer, service=service))


def test_proforma_total_that_does_not_add_up_is_refused(proforma):
    SlipFactory(proforma=proforma)
    refused(lambda: Proforma.objects.filter(pk=proforma.pk).update(bill_total_units=F("bill_total_units") - 1))


def test_proforma_number_is_unique_per_partner(customer):
    ProformaFactory(customer=customer, number="PF-2026-00001")
    refused(lambda: ProformaFactory(customer=customer, number="PF-2026-00001"))
    assert ProformaFactory(customer=CustomerFactory(), number="PF-2026-00001").pk
    assert ProformaFactory(customer=customer, number=None).pk and ProformaFactory(customer=customer, number=None).pk


# --- invoices --------------------------------------------------------------------------------------------


def _issue_fields(number, sequence):
    return {"status": Invoice.Status.PENDING, "number": number, "sequence": sequence, "issue_date": ISSUE_DATE}


def test_invoice_number_is_unique_per_partner_and_kind(customer):
    first = issued_invoice(customer, issue_date=ISSUE_DATE)
    draft = draft_invoice(customer)
    refused(lambda: Invoice.objects.filter(pk=draft.pk).update(**_issue_fields(first.number, first.sequence + 50)))


def test_invoice_sequence_is_unique_per_partner_and_kind(customer):
    first = issued_invoice(customer, issue_date=ISSUE_DATE)
    draft = draft_invoice(customer)
    refused(lambda: Invoice.objects.filter(pk=draft.pk).update(**_issue_fields("OTHER-1", first.sequence)))


def test_same_invoice_number_is_allowed_for_another_partner(customer):
    first = issued_invoice(customer, issue_date=ISSUE_DATE)
    other = issued_invoice(CustomerFactory(), issue_date=ISSUE_DATE)
    assert other.partner_id != first.partner_id
    assert other.number == first.number


def test_same_invoice_number_is_allowed_for_the_other_kind(customer, provider):
    first = issued_invoice(customer, issue_date=ISSUE_DATE)
    ap = InvoiceFactory(provider=provider)
    Invoice.objects.filter(pk=ap.pk).update(**_issue_fields(first.number, first.sequence))
    ap.refresh_from_db()
    assert (ap.kind, ap.number) == (Invoice.Kind.AP, first.number)


def test_draft_with_a_number_is_refused(customer):
    draft = draft_invoice(customer)
    refused(lambda: Invoice.objects.filter(pk=draft.pk).update(number="INV-2026-00099"))
    refused(lambda: Invoice.objects.filter(pk=draft.pk).update(sequence=99))


@pytest.mark.parametrize(
    "missing", [{"number": None}, {"sequence": None}, {"issue_date": None}], ids=["number", "sequence", "issue_date"]
)
def test_pending_invoice_without_its_number_or_issue_date_is_refused(customer, missing):
    draft = draft_invoice(customer)
    fields = {**_issue_fields("INV-2026-00099", 99), **missing}
    refused(lambda: Invoice.objects.filter(pk=draft.pk).update(**fields))


def test_void_invoice_keeps_its_number_at_the_database_level(customer):
    invoice = invoice_void(invoice=issued_invoice(customer), reason="typo")
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(number=None, sequence=None))


def test_ar_invoice_needs_a_customer_and_no_provider(customer, provider):
    partner = customer.partner
    refused(lambda: Invoice.objects.create(partner=partner, kind="ar"))
    refused(lambda: Invoice.objects.create(partner=partner, kind="ar", provider=provider))
    refused(lambda: Invoice.objects.create(partner=partner, kind="ar", customer=customer, provider=provider))
    assert Invoice.objects.create(partner=partner, kind="ar", customer=customer).pk


def test_ap_invoice_needs_a_provider_and_no_customer(customer, provider):
    partner = customer.partner
    refused(lambda: Invoice.objects.create(partner=partner, kind="ap"))
    refused(lambda: Invoice.objects.create(partner=partner, kind="ap", customer=customer))
    refused(lambda: Invoice.objects.create(partner=partner, kind="ap", customer=customer, provider=provider))
    assert Invoice.objects.create(partner=partner, kind="ap", provider=provider).pk


def test_unknown_invoice_kind_is_refused(customer):
    refused(lambda: Invoice.objects.create(partner=customer.partner, kind="xx", customer=customer))


@pytest.mark.parametrize("field", ["total_units", "subtotal_units", "tax_units", "discount_total_units"])
def test_invoice_total_that_does_not_add_up_is_refused(customer, field):
    invoice = draft_invoice(customer, [12345, 678])
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(**{field: F(field) + 1}))


def test_overpaid_invoice_is_refused(customer):
    invoice = issued_invoice(customer, [10000])
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(paid_units=F("total_units") + 1))
    Invoice.objects.filter(pk=invoice.pk).update(paid_units=F("total_units"), status=Invoice.Status.PAID)


def test_payments_and_children_together_cannot_exceed_the_total(customer):
    invoice = issued_invoice(customer, [10000])
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(children_units=6000, paid_units=4001))
    Invoice.objects.filter(pk=invoice.pk).update(children_units=6000, paid_units=4000)


def test_paid_status_without_full_settlement_is_refused(customer):
    invoice = issued_invoice(customer, [10000])
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID))
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID, paid_units=9999))


@pytest.mark.parametrize("field", ["paid_units", "children_units", "discount_units"])
def test_negative_invoice_amounts_are_refused(customer, field):
    invoice = issued_invoice(customer)
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(**{field: -1}))


def test_invoice_cannot_be_its_own_parent(customer):
    invoice = issued_invoice(customer)
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(parent=F("id")))


def test_ap_invoice_cannot_have_a_parent(customer, provider):
    parent = issued_invoice(customer)
    ap = InvoiceFactory(provider=provider)
    refused(lambda: Invoice.objects.filter(pk=ap.pk).update(parent=parent))


def test_generation_key_is_unique_among_live_invoices(customer):
    InvoiceFactory(customer=customer, generation_key="ar:2026-03:c1")
    refused(lambda: InvoiceFactory(customer=customer, generation_key="ar:2026-03:c1"))


def test_generation_key_of_a_void_invoice_can_be_used_again(customer):
    first = draft_invoice(customer)
    Invoice.objects.filter(pk=first.pk).update(generation_key="ar:2026-03:c1")
    first.refresh_from_db()
    from invoicing.lifecycle import invoice_issue

    invoice_void(invoice=invoice_issue(invoice=first), reason="regenerate")
    again = InvoiceFactory(customer=customer, generation_key="ar:2026-03:c1")
    assert again.pk
    assert Invoice.objects.filter(generation_key="ar:2026-03:c1").count() == 2


def test_generation_key_may_repeat_across_partners(customer):
    InvoiceFactory(customer=customer, generation_key="ar:2026-03")
    assert InvoiceFactory(customer=CustomerFactory(), generation_key="ar:2026-03").pk


# --- proforma links --------------------------------------------------------------------------------------


def test_proforma_on_a_second_live_ar_invoice_is_refused(customer, proforma):
    first, second = InvoiceFactory(customer=customer), InvoiceFactory(customer=customer)
    InvoiceProforma.objects.create(invoice=first, proforma=proforma, kind="ar")
    refused(lambda: InvoiceProforma.objects.create(invoice=second, proforma=proforma, kind="ar"))


def test_inactive_link_and_a_live_one_are_allowed(customer, proforma):
    first, second = InvoiceFactory(customer=customer), InvoiceFactory(customer=customer)
    InvoiceProforma.objects.create(invoice=first, proforma=proforma, kind="ar", is_active=False)
    assert InvoiceProforma.objects.create(invoice=second, proforma=proforma, kind="ar").pk


def test_reactivating_an_old_link_beside_a_live_one_is_refused(customer, proforma):
    first, second = InvoiceFactory(customer=customer), InvoiceFactory(customer=customer)
    old = InvoiceProforma.objects.create(invoice=first, proforma=proforma, kind="ar", is_active=False)
    InvoiceProforma.objects.create(invoice=second, proforma=proforma, kind="ar")
    refused(lambda: InvoiceProforma.objects.filter(pk=old.pk).update(is_active=True))


def test_proforma_can_be_on_one_live_ar_and_one_live_ap_invoice(customer, proforma):
    ar = InvoiceFactory(customer=customer)
    ap = InvoiceFactory(provider=proforma.provider)
    InvoiceProforma.objects.create(invoice=ar, proforma=proforma, kind="ar")
    InvoiceProforma.objects.create(invoice=ap, proforma=proforma, kind="ap")
    refused(
        lambda: InvoiceProforma.objects.create(
            invoice=InvoiceFactory(provider=proforma.provider), proforma=proforma, kind="ap"
        )
    )


def test_proforma_appears_once_on_an_invoice(customer, proforma):
    invoice = InvoiceFactory(customer=customer)
    InvoiceProforma.objects.create(invoice=invoice, proforma=proforma, kind="ar", is_active=False)
    refused(lambda: InvoiceProforma.objects.create(invoice=invoice, proforma=proforma, kind="ar", is_active=False))


# --- payments --------------------------------------------------------------------------------------------


@pytest.fixture
def open_invoice(customer):
    return issued_invoice(customer, [50000])


def payment_row(invoice, **fields):
    values = {
        "partner": invoice.partner,
        "invoice": invoice,
        "amount_units": 1000,
        "method": "card",
        "received_on": timezone.localdate(),
        **fields,
    }
    return Payment.objects.create(**values)


@pytest.mark.parametrize("amount", [0, -1, -5000])
def test_payment_amount_must_be_positive(open_invoice, amount):
    refused(lambda: payment_row(open_invoice, amount_units=amount))


def test_check_payment_needs_a_check_number(open_invoice):
    refused(lambda: payment_row(open_invoice, method="check", reference=""))
    assert payment_row(open_invoice, method="check", reference="1042").pk
    assert payment_row(open_invoice, method="card", reference="").pk


def test_payment_idempotency_key_is_unique_per_partner(open_invoice):
    payment_row(open_invoice, idempotency_key="k-1")
    refused(lambda: payment_row(open_invoice, idempotency_key="k-1"))
    other = issued_invoice(CustomerFactory(), [50000])
    assert payment_row(other, idempotency_key="k-1").pk


def test_payments_without_idempotency_key_are_not_limited(open_invoice):
    payment_row(open_invoice)
    payment_row(open_invoice)
    assert Payment.objects.filter(invoice=open_invoice, idempotency_key=None).count() == 2


# --- numbering ---------------------------------------------------------------------------------------------


def test_number_counter_is_unique_per_partner_and_series(partner):
    NumberCounter.objects.create(partner=partner, series="ar")
    refused(lambda: NumberCounter.objects.create(partner=partner, series="ar", last_value=5))
    assert NumberCounter.objects.create(partner=partner, series="ap").pk
    assert NumberCounter.objects.create(partner=PartnerFactory(), series="ar").pk


def test_negative_number_counter_is_refused(partner):
    refused(lambda: NumberCounter.objects.create(partner=partner, series="ar", last_value=-1))


# --- pricing tables ----------------------------------------------------------------------------------------


def test_rate_is_unique_per_scope_even_without_service_type_customer_or_provider(partner):
    Rate.objects.create(partner=partner, slip_type="mileage", bill_rate_units=Decimal("65.5"))
    refused(lambda: Rate.objects.create(partner=partner, slip_type="mileage", bill_rate_units=Decimal("70")))


def test_rate_is_unique_per_customer_scope_but_may_repeat_for_another_customer(partner):
    service_type = ServiceTypeFactory(partner=partner)
    first, second = CustomerFactory(partner=partner), CustomerFactory(partner=partner)
    scope = {"partner": partner, "service_type": service_type, "slip_type": "service", "pay_schedule": "weekday"}
    Rate.objects.create(**scope, customer=first, bill_rate_units=Decimal(9000))
    refused(lambda: Rate.objects.create(**scope, customer=first, bill_rate_units=Decimal(9500)))
    assert Rate.objects.create(**scope, customer=second, bill_rate_units=Decimal(9500)).pk
    assert Rate.objects.create(**scope, bill_rate_units=Decimal(8000), pay_rate_units=Decimal(5000)).pk
    assert Rate.objects.create(**{**scope, "pay_schedule": "weekend"}, customer=first, bill_rate_units=1).pk


def test_rate_for_a_customer_and_a_provider_at_once_is_refused(partner):
    customer, provider = CustomerFactory(partner=partner), ProviderFactory(partner=partner)
    refused(
        lambda: Rate.objects.create(
            partner=partner, slip_type="service", customer=customer, provider=provider, bill_rate_units=1
        )
    )


def test_rate_needs_a_side_and_no_negative_side(partner):
    refused(lambda: Rate.objects.create(partner=partner, slip_type="tolls"))
    refused(lambda: Rate.objects.create(partner=partner, slip_type="tolls", bill_rate_units=Decimal(-1)))
    refused(lambda: Rate.objects.create(partner=partner, slip_type="tolls", pay_rate_units=Decimal(-1)))


@pytest.mark.parametrize("tax_rate", [Decimal("-0.001"), Decimal("100.001")])
def test_zone_tax_rate_outside_0_to_100_is_refused(partner, tax_rate):
    refused(lambda: Zone.objects.create(partner=partner, name="Bad", tax_rate=tax_rate))


@pytest.mark.parametrize("tax_rate", [Decimal(0), Decimal("100.000")])
def test_zone_tax_rate_bounds_are_allowed(partner, tax_rate):
    assert ZoneFactory(partner=partner, tax_rate=tax_rate).pk


def test_zone_price_rule_signs(partner):
    refused(lambda: Zone.objects.create(partner=partner, name="Free", price_multiplier=Decimal(0)))
    refused(lambda: Zone.objects.create(partner=partner, name="Neg", surcharge_units=-1))


def test_zone_and_service_type_names_are_unique_per_partner(partner):
    zone = ZoneFactory(partner=partner)
    refused(lambda: Zone.objects.create(partner=partner, name=zone.name))
    st = ServiceTypeFactory(partner=partner)
    refused(lambda: ServiceType.objects.create(partner=partner, code=st.code, name="Other"))


def test_coupon_is_percent_or_amount_off_exactly(partner):
    refused(lambda: Coupon.objects.create(partner=partner, code="BOTH", percent_off=10, amount_off_units=500))
    refused(lambda: Coupon.objects.create(partner=partner, code="NONE"))
    refused(lambda: Coupon.objects.create(partner=partner, code="ZERO", percent_off=Decimal(0)))
    refused(lambda: Coupon.objects.create(partner=partner, code="OVER", percent_off=Decimal("100.01")))
    refused(lambda: Coupon.objects.create(partner=partner, code="NEG", amount_off_units=0))
    Coupon.objects.create(partner=partner, code="TEN", percent_off=Decimal(10))
    refused(lambda: Coupon.objects.create(partner=partner, code="TEN", amount_off_units=100))


def test_time_policy_signs_and_scope(partner):
    customer, provider = CustomerFactory(partner=partner), ProviderFactory(partner=partner)
    refused(lambda: TimePolicy.objects.create(partner=partner, minimum_hours=Decimal("-0.5")))
    refused(lambda: TimePolicy.objects.create(partner=partner, customer=customer, provider=provider))


def test_holiday_once_per_day(partner):
    Holiday.objects.create(partner=partner, date=datetime.date(2026, 7, 4), name="Independence Day")
    refused(lambda: Holiday.objects.create(partner=partner, date=datetime.date(2026, 7, 4), name="Again"))


# --- requests, services, quotes ----------------------------------------------------------------------------


def test_service_must_end_after_it_starts(customer):
    service = ServiceFactory(request=ServiceRequestFactory(customer=customer))
    refused(lambda: Service.objects.filter(pk=service.pk).update(ends_at=F("starts_at")))


@pytest.mark.parametrize("fields", [{"mileage": Decimal("-0.01")}, {"tolls_units": -1}])
def test_service_extras_recorded_on_the_service_cannot_be_negative(customer, fields):
    service = ServiceFactory(request=ServiceRequestFactory(customer=customer))
    refused(lambda: Service.objects.filter(pk=service.pk).update(**fields))


def test_shift_must_end_after_it_starts(partner):
    now = timezone.now()
    refused(lambda: Shift.objects.create(partner=partner, name="Night", starts_at=now, ends_at=now))


@pytest.mark.parametrize("fields", [{"quantity": 0}, {"bill_rate_units": Decimal(-1)}, {"pay_rate_units": Decimal(-1)}])
def test_service_extra_signs(customer, fields):
    service = ServiceFactory(request=ServiceRequestFactory(customer=customer))
    values = {"description": "Parking", "quantity": 1, "bill_rate_units": Decimal(500), **fields}
    refused(lambda: ServiceExtra.objects.create(service=service, **values))


def test_converted_quote_needs_its_invoice(customer):
    quote = Quote.objects.create(request=ServiceRequestFactory(customer=customer))
    refused(lambda: Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.CONVERTED))


@pytest.mark.parametrize(
    "fields",
    [
        {"quantity": 0},
        {"unit_price_units": Decimal(-1)},
        {"discount_units": -1},
        {"tax_rate": Decimal("100.5")},
        {"tax_rate": Decimal("-1")},
    ],
)
def test_quote_line_signs(customer, fields):
    quote = Quote.objects.create(request=ServiceRequestFactory(customer=customer))
    values = {"description": "Interpreting", "quantity": 2, "unit_price_units": Decimal(7500), **fields}
    refused(lambda: QuoteLine.objects.create(quote=quote, **values))


@pytest.mark.parametrize("fields", [{"content_type": "text/html"}, {"size": 0}])
def test_supporting_document_type_and_size(customer, fields):
    request = ServiceRequestFactory(customer=customer)
    values = {"file": "supporting/x.pdf", "name": "x.pdf", "content_type": "application/pdf", "size": 10, **fields}
    refused(lambda: SupportingDocument.objects.create(request=request, **values))
