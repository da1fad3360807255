"""List totals (invoicing.selectors.capped_totals): exact while the filters leave at most the cap, "more than" beyond
it, one query either way, and always what a plain aggregate of the same rows says, right after each change
(issue, payment, credit, refund, void): nothing is kept between requests, so nothing can be stale."""

import pytest
from django.db.models import Count, Sum
from django.urls import reverse

from invoicing import selectors
from invoicing.credits import credit_note_issue, payment_refund
from invoicing.lifecycle import invoice_void
from invoicing.models import Invoice, Payment
from invoicing.payments import payment_record
from tests.factories import draft_invoice, issued_invoice

pytestmark = pytest.mark.django_db


def plain_invoice_totals(partner, **filters) -> dict:
    """Today's path before the cap: one aggregate over every row."""
    return (
        selectors.invoice_list_queryset(partner=partner, kind=Invoice.Kind.AR)
        .filter(**filters)
        .order_by()
        .aggregate(
            count=Count("id"),
            total=Sum("total_units", default=0),
            outstanding=Sum(selectors.invoice_list_balance(), default=0),
        )
    )


def capped_invoice_totals(partner, cap=None, **filters) -> dict:
    queryset = selectors.invoice_list_queryset(partner=partner, kind=Invoice.Kind.AR).filter(**filters)
    return selectors.invoice_list_totals(queryset, cap=cap)


def test_totals_match_a_plain_aggregate_after_every_kind_of_change(partner, customer):
    checks = []

    def check():
        for filters in ({}, {"status__in": Invoice.OPEN_STATUSES}, {"customer": customer}):
            assert capped_invoice_totals(partner, **filters) == plain_invoice_totals(partner, **filters)
        checks.append(plain_invoice_totals(partner))

    check()
    draft = draft_invoice(customer, [7000])
    check()
    paid = issued_invoice(customer, [10000])
    check()
    payment = payment_record(invoice=paid, amount_units=10000, method="card")
    check()
    payment_refund(payment=payment, amount_units=2500, reference="r1")
    check()
    payments = selectors.payment_list_queryset(partner=partner)
    assert selectors.payment_list_totals(payments) == selectors.payment_list_totals(payments, cap=10**9)
    credited = issued_invoice(customer, [8000])
    credit_note_issue(invoice=credited, amount_units=3000, reason="Late")
    check()
    voided = issued_invoice(customer, [3000])
    check()
    invoice_void(invoice=voided, reason="Entered twice")
    check()
    assert draft.pk and checks[-1]["count"] == 4
    # The changes moved the figures (a refund leaves the invoice list's figures as they were).
    assert len({(c["count"], c["total"], c["outstanding"]) for c in checks}) == len(checks) - 1


def test_more_rows_than_the_cap_say_more_than_without_sums(partner, customer):
    for amount in (1000, 2000, 3000):
        issued_invoice(customer, [amount])
    assert capped_invoice_totals(partner, cap=3) == {"count": 3, "total": 6000, "outstanding": 6000}
    assert capped_invoice_totals(partner, cap=2) == {"more_than": 2}
    # A filter that narrows the list below the cap gets its exact totals back.
    assert capped_invoice_totals(partner, cap=2, total_units__gte=2000) == {
        "count": 2,
        "total": 5000,
        "outstanding": 5000,
    }


def test_capped_totals_are_one_query(partner, customer, django_assert_num_queries):
    for amount in (1000, 2000, 3000):
        issued_invoice(customer, [amount])
    with django_assert_num_queries(1):
        capped_invoice_totals(partner, cap=2)
    with django_assert_num_queries(1):
        capped_invoice_totals(partner, cap=10)


def test_payment_totals_are_capped_too(partner, customer):
    for amount in (1000, 2000):
        payment_record(invoice=issued_invoice(customer, [5000]), amount_units=amount, method="card")
    payments = selectors.payment_list_queryset(partner=partner)
    assert selectors.payment_list_totals(payments, cap=1) == {"more_than": 1}
    assert selectors.payment_list_totals(payments, cap=2) == {
        "count": 2,
        "received": 3000,
        "paid_out": 0,
        "refunded": 0,
    }
    assert Payment.objects.count() == 2


def test_the_list_page_says_more_than_and_keeps_its_query_count(
    client, staff_user, partner, customer, monkeypatch, django_assert_max_num_queries
):
    for amount in (1000, 2000, 3000):
        issued_invoice(customer, [amount])
    url = reverse("office:ar_invoice_list")
    client.force_login(staff_user)
    client.get(url)  # warm up (session, content types)
    with django_assert_max_num_queries(10):
        exact = client.get(url)
    monkeypatch.setattr(selectors, "LIST_TOTALS_CAP", 2)
    with django_assert_max_num_queries(10):
        capped = client.get(url + "?per_page=25")
    assert exact.context["totals"]["count"] == 3
    assert capped.context["totals"] == {"more_than": 2}
    html = capped.content.decode()
    assert "More than 2" in html and "of more than 2" in html and "$60.00" not in html
    assert len(capped.context["rows"]) == 3  # the rows themselves are all there
    narrowed = client.get(url, {"total_min": "20.00"})
    assert narrowed.context["totals"] == {"count": 2, "total": 5000, "outstanding": 5000}
