"""Detail pages: invoice (header, contact, codes, lines by proforma, totals, payments, children, history and only
the actions allowed now), proforma and service; partner scoping; a fixed number of queries per page."""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from expense_codes.models import AppliedExpenseCode
from invoicing.lifecycle import invoice_attach_child, invoice_issue, invoice_void
from invoicing.models import Invoice, Slip
from invoicing.payments import payment_record
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ServiceFactory,
    SlipFactory,
    ZoneFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db


def url(name, obj):
    return reverse(name, args=[obj.pk])


def page(client, user, address):
    client.force_login(user)
    response = client.get(address)
    assert response.status_code == 200, response.status_code
    return response


def text(response):
    return response.content.decode()


def action_urls(response):
    """The invoice actions the page offers: each form's action and the edit link, e.g. {"issue", "edit"}."""
    ours = {"edit", "issue", "void", "delete", "payments", "adjustments", "children", "detach"}  # not PDF/send
    return set(re.findall(r'"/office/invoices/\d+/(\w+)/"', text(response))) & ours


# --- header, lines, totals ------------------------------------------------------------------------------------


def test_issued_invoice_page_shows_number_dates_snapshot_lines_and_totals(client, staff_user, customer):
    invoice = issued_invoice(customer, [12345, 6655], issue_date=timezone.localdate())
    contact = customer.contacts.get(is_default=True)
    snapshot_name = contact.name
    contact.name = "Renamed After Issue"
    contact.save()
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert invoice.number in body
    assert "Pending" in body
    assert snapshot_name in body and "Renamed After Issue" not in body  # the frozen snapshot
    assert "Line 1" in body and "Line 2" in body
    assert "$123.45" in body and "$66.55" in body
    assert "$190.00" in body  # total
    assert invoice.due_date.strftime("%b") in body
    assert "History" in body and "Issue" in body


def test_draft_page_shows_draft_and_the_live_default_contact(client, staff_user, customer):
    invoice = draft_invoice(customer, [5000])
    contact = customer.contacts.get(is_default=True)
    contact.name = "Live Contact Name"
    contact.save()
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert ">Draft<" in body
    assert "Live Contact Name" in body
    assert "not issued" in body


def test_lines_are_grouped_by_proforma_with_their_codes_in_per_proforma_mode(client, staff_user, partner):
    customer = CustomerFactory(partner=partner, expense_code_mode=Invoice.ExpenseCodeMode.PER_PROFORMA)
    first = proforma_with_slips(customer=customer, amounts=[10000], number="PF-2026-00001")
    second = proforma_with_slips(customer=customer, amounts=[20000, 5000], number="PF-2026-00002")
    AppliedExpenseCode.objects.create(proforma=first, label_name="PO", value="ABC123")
    AppliedExpenseCode.objects.create(proforma=second, label_name="PO", value="XYZ789")
    invoice = draft_with_proformas(proformas=[first, second], customer=customer)
    Invoice.objects.filter(pk=invoice.pk).update(expense_code_mode=Invoice.ExpenseCodeMode.PER_PROFORMA)
    SlipFactory(proforma=None, invoice=invoice, description="Booking fee direct", bill_rate_units=Decimal(1500))
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert body.index("PF-2026-00001") < body.index("ABC123") < body.index("PF-2026-00002") < body.index("XYZ789")
    assert body.index("XYZ789") < body.index("Lines on the invoice itself") < body.index("Booking fee direct")
    assert "$365.00" in body  # 100 + 200 + 50 + 15


def test_grouped_invoice_shows_its_codes_in_the_header(client, staff_user, customer):
    invoice = draft_invoice(customer, [5000])
    AppliedExpenseCode.objects.create(invoice=invoice, label_name="Authorization code", value="ABC123")
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert "Authorization code: ABC123" in body


def test_ap_invoice_shows_the_pay_side(client, staff_user, customer, provider):
    proforma = proforma_with_slips(customer=customer, provider=provider, amounts=[10000])  # pay 60.00
    invoice = draft_with_proformas(proformas=[proforma], provider=provider)
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert "Pay rate" in body and "$60.00" in body
    assert "$100.00" not in body


def test_payments_and_outstanding_balance_are_shown(client, staff_user, customer):
    invoice = issued_invoice(customer, [10000])
    payment_record(invoice=invoice, amount_units=2500, method="check", reference="1042")
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert "1042" in body and "$25.00" in body
    assert 'id="outstanding">$75.00<' in body
    assert "Partially paid" in body


def test_parent_shows_its_children_and_the_child_its_parent(client, staff_user, partner, customer):
    parent = issued_invoice(customer, [200000])
    other = CustomerFactory(partner=partner)
    child = issued_invoice(other, [100000])
    invoice_attach_child(parent=parent, child=child)
    body = text(page(client, staff_user, url("office:invoice_detail", parent)))
    assert child.number in body and other.name in body
    assert 'id="outstanding">$1,000.00<' in body
    body = text(page(client, staff_user, url("office:invoice_detail", child)))
    assert f'Attached to <a href="{url("office:invoice_detail", parent)}"' in body


def test_void_invoice_shows_its_reason_and_former_proformas(client, staff_user, customer):
    proforma = proforma_with_slips(customer=customer, amounts=[10000], number="PF-2026-00077")
    invoice = invoice_issue(invoice=draft_with_proformas(proformas=[proforma], customer=customer))
    invoice_void(invoice=invoice, reason="Billed to the wrong customer")
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert "Billed to the wrong customer" in body
    assert "PF-2026-00077" in body and "no longer on this invoice" in body


# --- only the actions allowed now -----------------------------------------------------------------------------


def test_clerk_on_own_draft_may_edit_delete_and_adjust_but_not_issue(client, clerk_user, customer):
    invoice = draft_invoice(customer, [5000], user=clerk_user)
    offered = action_urls(page(client, clerk_user, url("office:invoice_detail", invoice)))
    assert offered == {"edit", "delete", "adjustments"}


def test_clerk_may_not_delete_someone_elses_draft(client, clerk_user, staff_user, customer):
    invoice = draft_invoice(customer, [5000], user=staff_user)
    offered = action_urls(page(client, clerk_user, url("office:invoice_detail", invoice)))
    assert "delete" not in offered


def test_admin_on_a_draft_may_also_issue(client, staff_user, customer):
    invoice = draft_invoice(customer, [5000])
    issued_invoice(CustomerFactory(partner=customer.partner), [1000])  # one that could be its child
    offered = action_urls(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert {"issue", "edit", "delete", "adjustments", "children"} <= offered
    assert "payments" not in offered and "void" not in offered


def test_admin_on_pending_may_pay_void_and_attach(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    issued_invoice(CustomerFactory(partner=customer.partner), [1000])  # one that could be its child
    offered = action_urls(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert offered == {"payments", "void", "children"}


def test_clerk_on_pending_may_only_record_a_payment(client, clerk_user, customer):
    invoice = issued_invoice(customer, [5000])
    offered = action_urls(page(client, clerk_user, url("office:invoice_detail", invoice)))
    assert offered == {"payments"}


def test_paid_invoice_offers_nothing(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    payment_record(invoice=invoice, amount_units=5000, method="card")
    offered = action_urls(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert offered == set()


def test_void_is_not_offered_once_a_payment_exists(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    payment_record(invoice=invoice, amount_units=1000, method="card")
    offered = action_urls(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert "void" not in offered and "payments" in offered


def test_a_child_offers_detach_to_admins(client, staff_user, clerk_user, partner, customer):
    parent = issued_invoice(customer, [200000])
    child = issued_invoice(CustomerFactory(partner=partner), [100000])
    invoice_attach_child(parent=parent, child=child)
    assert "detach" in action_urls(page(client, staff_user, url("office:invoice_detail", child)))
    assert "detach" not in action_urls(page(client, clerk_user, url("office:invoice_detail", child)))


# --- who may see it -------------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, customer):
    invoice = draft_invoice(customer, [5000])
    response = client.get(url("office:invoice_detail", invoice))
    assert response.status_code == 302 and "/accounts/" in response["Location"]


def test_customer_user_gets_403(client, customer_user, customer):
    invoice = issued_invoice(customer, [5000])
    client.force_login(customer_user)
    assert client.get(url("office:invoice_detail", invoice)).status_code == 403


def test_another_partners_documents_are_404_on_every_detail_page(client, staff_user):
    other_customer = CustomerFactory(partner=PartnerFactory())
    invoice = issued_invoice(other_customer, [5000])
    proforma = proforma_with_slips(customer=other_customer)
    service = ServiceFactory(request__customer=other_customer)
    client.force_login(staff_user)
    for name, obj in [
        ("office:invoice_detail", invoice),
        ("office:proforma_detail", proforma),
        ("office:request_detail", service.request),
        ("office:service_detail", service),
    ]:
        assert client.get(url(name, obj)).status_code == 404, name


# --- a fixed number of queries --------------------------------------------------------------------------------


def _invoice_with_lines(customer, n):
    per_proforma = max(n // 5, 1)
    proformas = [
        proforma_with_slips(customer=customer, amounts=[1000] * per_proforma, number=f"PF-{customer.pk}-{i}")
        for i in range(n // per_proforma)
    ]
    for proforma in proformas:
        AppliedExpenseCode.objects.create(proforma=proforma, label_name="PO", value=f"PO-{proforma.pk}")
    invoice = draft_with_proformas(proformas=proformas, customer=customer)
    invoice = invoice_issue(invoice=invoice)
    payment_record(invoice=invoice, amount_units=100, method="card")
    return invoice


def _queries(client, user, address):
    client.force_login(user)
    client.get(address)  # warm the per-process caches (content types) so both pages are measured alike
    with CaptureQueriesContext(connection) as captured:
        assert client.get(address).status_code == 200
    return len(captured.captured_queries)


def test_invoice_page_query_count_does_not_grow_with_lines(client, staff_user, partner):
    small = _invoice_with_lines(CustomerFactory(partner=partner), 5)
    large = _invoice_with_lines(CustomerFactory(partner=partner), 200)
    assert Slip.objects.filter(proforma__invoice_links__invoice=large).count() == 200
    small_count = _queries(client, staff_user, url("office:invoice_detail", small))
    large_count = _queries(client, staff_user, url("office:invoice_detail", large))
    assert small_count == large_count
    assert large_count <= 20


def test_proforma_page_query_count_does_not_grow_with_slips(client, staff_user, customer):
    small = proforma_with_slips(customer=customer, amounts=[1000] * 2)
    large = proforma_with_slips(customer=customer, amounts=[1000] * 40)
    assert _queries(client, staff_user, url("office:proforma_detail", small)) == _queries(
        client, staff_user, url("office:proforma_detail", large)
    )


# --- proforma page --------------------------------------------------------------------------------------------


def test_proforma_page_shows_slips_service_and_the_invoices_it_is_on(client, staff_user, customer, provider):
    service = ServiceFactory(request__customer=customer, partner=customer.partner, provider=provider)
    proforma = proforma_with_slips(customer=customer, provider=provider, amounts=[10000], service=service)
    AppliedExpenseCode.objects.create(proforma=proforma, label_name="Cost center", value="CC-9")
    voided = invoice_issue(invoice=draft_with_proformas(proformas=[proforma], customer=customer))
    invoice_void(invoice=voided, reason="wrong period")
    live_ar = draft_with_proformas(proformas=[proforma], customer=customer)
    live_ap = draft_with_proformas(proformas=[proforma], provider=provider)
    body = text(page(client, staff_user, url("office:proforma_detail", proforma)))
    assert "Cost center: CC-9" in body
    assert url("office:service_detail", service) in body
    assert voided.number in body and "Former (invoice voided)" in body
    assert url("office:invoice_detail", live_ar) in body and url("office:invoice_detail", live_ap) in body
    assert "$100.00" in body and "$60.00" in body  # bill and pay
    assert url("office:proforma_adjust", proforma) in body  # only on drafts so far: adjustable


def test_proforma_on_an_issued_invoice_offers_no_adjustment(client, staff_user, customer):
    proforma = proforma_with_slips(customer=customer, amounts=[10000])
    invoice_issue(invoice=draft_with_proformas(proformas=[proforma], customer=customer))
    body = text(page(client, staff_user, url("office:proforma_detail", proforma)))
    assert url("office:proforma_adjust", proforma) not in body
    assert "can no longer be adjusted" in body


# --- service page ---------------------------------------------------------------------------------------------


def test_service_page_shows_times_provider_zone_extras_and_publish(client, staff_user, customer):
    zone = ZoneFactory(partner=customer.partner, name="Downtown")
    service = ServiceFactory(
        request__customer=customer, zone=zone, status="scheduled", mileage=Decimal("12.5"), notes="Door code 1234"
    )
    service.extras.create(description="Safety kit", quantity=Decimal(2), bill_rate_units=Decimal(700))
    body = text(page(client, staff_user, url("office:service_detail", service)))
    assert "Downtown" in body and service.provider.name in body
    assert "Safety kit" in body and "12.5" in body
    assert url("office:service_publish", service) in body
    assert "Publish outcome" in body


def test_service_page_shows_its_pricing_error_prominently(client, staff_user, customer):
    service = ServiceFactory(request__customer=customer, pricing_error="No weekend service bill rate.")
    body = text(page(client, staff_user, url("office:service_detail", service)))
    assert "could not be priced" in body and "No weekend service bill rate." in body
    assert 'class="alert alert-danger pricing-error"' in body


def test_service_with_a_proforma_links_it_and_offers_no_publish(client, staff_user, customer, provider):
    service = ServiceFactory(request__customer=customer, provider=provider)
    proforma = proforma_with_slips(customer=customer, provider=provider, service=service, number="PF-2026-00501")
    body = text(page(client, staff_user, url("office:service_detail", service)))
    assert "PF-2026-00501" in body and url("office:proforma_detail", proforma) in body
    assert url("office:service_publish", service) not in body


# --- lines are pre-formatted in Python (office.views.lines, with octoo_billing.money.format_units), escaped --------


def test_line_text_is_escaped(client, staff_user, customer):
    invoice = draft_invoice(customer, [1000])
    Slip.objects.filter(invoice=invoice).update(description='<script>alert("x")</script>')
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    assert "<script>alert" not in body and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


def test_an_open_invoice_shows_the_customers_pay_link_and_a_paid_one_does_not(client, staff_user, customer):
    invoice = issued_invoice(customer, [5000])
    body = text(page(client, staff_user, url("office:invoice_detail", invoice)))
    link = re.search(r'id="pay-link" type="text" value="([^"]+)"', body).group(1)
    assert "/pay/" in link
    client.logout()
    assert invoice.number in client.get(urlsplit(link).path).content.decode()  # it opens with no login
    payment_record(invoice=invoice, amount_units=5000, method="card")
    assert 'id="pay-link"' not in text(page(client, staff_user, url("office:invoice_detail", invoice)))
