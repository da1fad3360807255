"""Office lists: access, partner scoping, filters, sorting, totals, keyset pagination and query counts."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from expense_codes.models import AppliedExpenseCode
from invoicing.credits import credit_note_issue, payment_refund
from invoicing.lifecycle import invoice_issue, invoice_void
from invoicing.payments import payment_record
from office.pagination import Cursor, Sort, SortKey
from office.views.lists.base import DetailLinks, detail_url
from tests.factories import (
    BillingContactFactory,
    CustomerFactory,
    InvoiceFactory,
    PartnerFactory,
    ProviderFactory,
    ServiceFactory,
    ServiceRequestFactory,
    StaffMembershipFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)

pytestmark = pytest.mark.django_db

LIST_NAMES = [
    "office:ar_invoice_list",
    "office:ap_invoice_list",
    "office:proforma_list",
    "office:request_list",
    "office:service_list",
    "office:customer_list",
    "office:provider_list",
    "office:payment_list",
    "office:credit_note_list",
    "office:refund_list",
]


def ar_url():
    return reverse("office:ar_invoice_list")


def today():
    return timezone.localdate()


def get(client, user, url, **params):
    client.force_login(user)
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response


def row_ids(response):
    return [row.pk for row in response.context["rows"]]


# --- access ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LIST_NAMES)
def test_each_list_renders_for_a_billing_admin(client, staff_user, name):
    response = get(client, staff_user, reverse(name))
    assert response.context["spec"].list_url_name == name
    assert b"Export CSV" in response.content


@pytest.mark.parametrize("name", LIST_NAMES)
def test_each_list_renders_for_a_billing_clerk(client, clerk_user, name):
    get(client, clerk_user, reverse(name))


@pytest.mark.parametrize("name", LIST_NAMES)
def test_customer_users_get_403(client, customer_user, name):
    client.force_login(customer_user)
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", LIST_NAMES)
def test_anonymous_users_are_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_nav_links_to_the_lists(client, staff_user):
    response = get(client, staff_user, reverse("office:dashboard"))
    for name in LIST_NAMES:
        assert f'href="{reverse(name)}"'.encode() in response.content


# --- AR invoices: rows, scoping, totals --------------------------------------------------------------------


def test_ar_rows_show_number_or_draft_party_dates_status_and_amounts(client, staff_user, customer):
    issued = issued_invoice(customer, [12345], issue_date=datetime.date(2026, 3, 2))
    draft = draft_invoice(customer, [500])
    response = get(client, staff_user, ar_url())
    html = response.content.decode()
    assert issued.number in html
    assert f"Draft #{draft.pk}" in html
    assert customer.name in html
    assert "Mar 2, 2026" in html
    assert "$123.45" in html
    assert f'href="{detail_url("invoice", issued.pk)}"' in html


def test_another_partners_invoices_are_absent_from_rows_and_totals(client, staff_user, customer):
    mine = issued_invoice(customer, [10000])
    other_customer = CustomerFactory(name="Elsewhere Ltd")
    theirs = issued_invoice(other_customer, [99999])
    response = get(client, staff_user, ar_url())
    assert row_ids(response) == [mine.pk]
    assert response.context["totals"] == {"count": 1, "total": 10000, "outstanding": 10000}
    assert theirs.pk not in row_ids(response)
    assert b"Elsewhere Ltd" not in response.content


def test_another_partners_customer_cannot_be_chosen_as_a_filter(client, staff_user, customer):
    issued_invoice(customer, [10000])
    other_customer = CustomerFactory()
    issued_invoice(other_customer, [20000])
    response = get(client, staff_user, ar_url(), customer=other_customer.pk)
    assert "customer" in response.context["form"].errors
    assert row_ids(response) == []
    assert other_customer.name.encode() not in response.content


def test_customer_choices_are_the_partners_own(client, staff_user, customer):
    other_customer = CustomerFactory()
    response = get(client, staff_user, ar_url())
    html = response.content.decode()
    assert f'<option value="{customer.pk}">{customer.name}</option>' in html
    assert other_customer.name not in html


def test_totals_are_those_of_the_filtered_set(client, staff_user, customer):
    paid_part = issued_invoice(customer, [10000])
    payment_record(invoice=paid_part, amount_units=2500, method="card")
    issued_invoice(customer, [5000])
    draft_invoice(customer, [7000])  # a draft counts in the total but owes nothing yet
    void = issued_invoice(customer, [3000])
    invoice_void(invoice=void, reason="Entered twice")
    response = get(client, staff_user, ar_url())
    assert response.context["totals"] == {"count": 4, "total": 25000, "outstanding": 7500 + 5000}
    response = get(client, staff_user, ar_url(), status="open")
    assert response.context["totals"] == {"count": 2, "total": 15000, "outstanding": 12500}
    assert b"$125.00" in response.content


def test_past_due_invoices_are_highlighted(client, staff_user, customer):
    late = issued_invoice(customer, [10000], issue_date=today() - datetime.timedelta(days=60))
    on_time = issued_invoice(customer, [10000])
    response = get(client, staff_user, ar_url())
    rows = {row.pk: row for row in response.context["rows"]}
    assert rows[late.pk].past_due and not rows[on_time.pk].past_due
    assert response.content.count(b'class="is-past-due"') == 1
    assert b"Past due" in response.content


# --- AR invoices: filters ----------------------------------------------------------------------------------


@pytest.fixture
def three_invoices(customer):
    """A pending invoice for `customer` (Mar 2), one for another customer (Apr 10), and a draft."""
    other = CustomerFactory(partner=customer.partner, name="Zephyr Logistics")
    march = issued_invoice(customer, [10000], issue_date=datetime.date(2026, 3, 2))
    april = issued_invoice(other, [25000], issue_date=datetime.date(2026, 4, 10))
    draft = draft_invoice(customer, [123450])
    return march, april, draft


def test_filter_by_status(client, staff_user, three_invoices):
    march, april, draft = three_invoices
    assert row_ids(get(client, staff_user, ar_url(), status="draft")) == [draft.pk]
    assert set(row_ids(get(client, staff_user, ar_url(), status="pending"))) == {march.pk, april.pk}
    assert set(row_ids(get(client, staff_user, ar_url(), status="open"))) == {march.pk, april.pk}
    assert row_ids(get(client, staff_user, ar_url(), status="paid")) == []


def test_filter_past_due(client, staff_user, customer):
    late = issued_invoice(customer, [10000], issue_date=today() - datetime.timedelta(days=60))
    issued_invoice(customer, [10000])
    assert row_ids(get(client, staff_user, ar_url(), status="past_due")) == [late.pk]


def test_filter_by_customer(client, staff_user, customer, three_invoices):
    march, april, draft = three_invoices
    assert set(row_ids(get(client, staff_user, ar_url(), customer=customer.pk))) == {march.pk, draft.pk}
    assert row_ids(get(client, staff_user, ar_url(), customer=april.customer_id)) == [april.pk]


def test_filter_by_issue_and_due_dates(client, staff_user, three_invoices):
    march, april, draft = three_invoices
    response = get(client, staff_user, ar_url(), issued_from="2026-03-01", issued_to="2026-03-31")
    assert row_ids(response) == [march.pk]
    response = get(client, staff_user, ar_url(), due_from=april.due_date.isoformat())
    assert row_ids(response) == [april.pk]
    response = get(client, staff_user, ar_url(), due_to=march.due_date.isoformat())
    assert row_ids(response) == [march.pk]


def test_filter_by_expense_code_value(client, staff_user, three_invoices):
    march, april, draft = three_invoices
    AppliedExpenseCode.objects.create(invoice=march, label_name="Purchase order", value="PO-ABC123")
    AppliedExpenseCode.objects.create(invoice=april, label_name="Purchase order", value="PO-XYZ")
    AppliedExpenseCode.objects.create(invoice=april, label_name="Cost center", value="CC-9")
    assert row_ids(get(client, staff_user, ar_url(), code="abc1")) == [march.pk]
    assert row_ids(get(client, staff_user, ar_url(), code="PO-")) == [april.pk, march.pk]


def test_search_by_number_customer_contact_and_draft_id(client, staff_user, customer, three_invoices):
    march, april, draft = three_invoices
    assert row_ids(get(client, staff_user, ar_url(), q=march.number)) == [march.pk]
    assert row_ids(get(client, staff_user, ar_url(), q="zephyr")) == [april.pk]
    by_contact = row_ids(get(client, staff_user, ar_url(), q=march.contact_email.upper()))
    assert march.pk in by_contact and april.pk not in by_contact
    assert draft.pk in row_ids(get(client, staff_user, ar_url(), q=f"#{draft.pk}"))
    assert row_ids(get(client, staff_user, ar_url(), q=march.number.lower())) == [march.pk]
    assert march.pk in row_ids(get(client, staff_user, ar_url(), q=str(march.sequence).zfill(5)))
    assert set(row_ids(get(client, staff_user, ar_url(), q="2026-0000"))) == {march.pk, april.pk}
    assert row_ids(get(client, staff_user, ar_url(), q="XX-2026-99999")) == []


def test_filter_by_typed_amount_range(client, staff_user, three_invoices):
    march, april, draft = three_invoices
    assert row_ids(get(client, staff_user, ar_url(), total_min="150", total_max="$300.00")) == [april.pk]
    assert row_ids(get(client, staff_user, ar_url(), total_min="1,234.50")) == [draft.pk]
    assert row_ids(get(client, staff_user, ar_url(), total_max="100")) == [march.pk]


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"total_min": "12.3.4"}, "total_min", "is not an amount"),
        ({"total_max": "1e9"}, "total_max", "is not an amount"),
        ({"total_min": "abc"}, "total_min", "is not an amount"),
        ({"total_min": "1.234"}, "total_min", "at most 2 decimal places"),
        ({"issued_from": "2026-13-45"}, "issued_from", "Enter a valid date"),
        ({"due_to": "yesterday"}, "due_to", "Enter a valid date"),
        ({"issued_from": "2026-04-01", "issued_to": "2026-03-01"}, "issued_to", "end date is before"),
        ({"total_min": "500", "total_max": "100"}, "total_max", "upper amount is below"),
        ({"status": "bogus"}, "status", "Select a valid choice"),
        ({"customer": "not-a-number"}, "customer", "Choose one of the names in the list"),
    ],
)
def test_bad_filter_input_is_an_error_on_the_form_not_a_500(client, staff_user, three_invoices, params, field, message):
    response = get(client, staff_user, ar_url(), **params)
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert row_ids(response) == [] and response.context["totals"] is None
    assert b"Nothing shown until the filters are fixed" in response.content
    assert b"is-invalid" in response.content


# --- sorting -----------------------------------------------------------------------------------------------


def test_sort_by_total_both_ways(client, staff_user, three_invoices):
    march, april, draft = three_invoices
    assert row_ids(get(client, staff_user, ar_url(), sort="total")) == [march.pk, april.pk, draft.pk]
    assert row_ids(get(client, staff_user, ar_url(), sort="-total")) == [draft.pk, april.pk, march.pk]


def test_sort_by_customer_name_and_issue_date(client, staff_user, customer, three_invoices):
    march, april, draft = three_invoices
    by_customer = row_ids(get(client, staff_user, ar_url(), sort="-customer"))
    assert by_customer[0] == april.pk  # Zephyr last alphabetically
    # Issue date going up: March, April, then the draft (no date sorts last going up, first going down).
    assert row_ids(get(client, staff_user, ar_url(), sort="issued")) == [march.pk, april.pk, draft.pk]
    assert row_ids(get(client, staff_user, ar_url(), sort="-issued")) == [draft.pk, april.pk, march.pk]


def test_default_sort_is_newest_first_and_unknown_sort_keys_are_ignored(client, staff_user, three_invoices):
    march, april, draft = three_invoices
    default = row_ids(get(client, staff_user, ar_url()))
    assert default == [draft.pk, april.pk, march.pk]
    for bad in ("password", "-customer__partner__name", "", "--total", "total; drop table"):
        response = get(client, staff_user, ar_url(), sort=bad)
        assert row_ids(response) == default
        assert response.context["sort"].param == "-issued"


def test_sorted_header_shows_an_arrow_and_links_to_the_other_direction(client, staff_user, three_invoices):
    html = get(client, staff_user, ar_url(), sort="total", status="pending").content.decode()
    header = re.search(r'<th scope="col" class="num" aria-sort="ascending">(.*?)</th>', html, re.S).group(1)
    assert "▲" in header and "sort=-total" in header and "status=pending" in header


# --- pagination --------------------------------------------------------------------------------------------


def _walk(client, url, params, direction="next"):
    """Follow the Next (or, from the last page, the Previous) links to the end; return each page's ids."""
    pages = []
    params = dict(params)
    if direction == "previous":
        params["last"] = "1"
    while True:
        response = client.get(url, params)
        assert response.status_code == 200
        pages.append(row_ids(response))
        page = response.context["page"]
        if direction == "next":
            if not page.has_next:
                return pages
            params = {k: v for k, v in params.items() if k not in ("after", "before", "last")}
            params["after"] = page.next_cursor
        else:
            if not page.has_previous:
                return pages
            params = {k: v for k, v in params.items() if k not in ("after", "before", "last")}
            params["before"] = page.previous_cursor
        assert len(pages) < 20


@pytest.fixture
def fifty_five(customer):
    """55 AR invoices: 40 issued over a few shared dates (many ties), 15 drafts (no issue or due date)."""
    invoices = []
    for i in range(40):
        invoices.append(issued_invoice(customer, [1000 + (i % 7) * 100], issue_date=datetime.date(2026, 1, 1 + i % 4)))
    for i in range(15):
        invoices.append(draft_invoice(customer, [500 + i]))
    return invoices


@pytest.mark.parametrize("sort", ["-issued", "issued", "total", "-total", "status", "due", "-due", "-outstanding"])
def test_pages_move_through_all_rows_without_duplicates_or_gaps(client, staff_user, fifty_five, sort):
    client.force_login(staff_user)
    forward = _walk(client, ar_url(), {"sort": sort})
    assert [len(p) for p in forward] == [25, 25, 5]
    flat = [pk for page in forward for pk in page]
    assert len(flat) == len(set(flat)) == 55
    assert set(flat) == {i.pk for i in fifty_five}
    # The same order as one unpaginated page, and the same rows walking back from the last page.
    assert flat == row_ids(client.get(ar_url(), {"sort": sort, "per_page": 100}))
    # Walking back from the last page ends on the real first page (it may overlap the page after it).
    backward = _walk(client, ar_url(), {"sort": sort}, direction="previous")
    assert backward[0] == flat[-25:] and backward[-1] == flat[:25]
    assert {pk for page in backward for pk in page} == set(flat)
    for page in backward:
        start = flat.index(page[0])
        assert flat[start : start + len(page)] == page


def test_going_back_to_the_start_shows_the_full_first_page(client, staff_user, fifty_five):
    client.force_login(staff_user)
    last = client.get(ar_url(), {"last": "1"}).context["page"]
    assert len(last.rows) == 25 and last.has_previous and not last.has_next
    middle = client.get(ar_url(), {"before": last.previous_cursor}).context["page"]
    first = client.get(ar_url(), {"before": middle.previous_cursor}).context["page"]
    assert [r.pk for r in first.rows] == row_ids(client.get(ar_url()))
    assert not first.has_previous and len(first.rows) == 25


def test_pagination_keeps_filters_and_sort_in_its_links(client, staff_user, fifty_five, customer):
    client.force_login(staff_user)
    response = client.get(ar_url(), {"status": "pending", "sort": "total", "customer": customer.pk})
    next_link = re.search(r'href="([^"]+)" rel="next"', response.content.decode()).group(1)
    assert "status=pending" in next_link and "sort=total" in next_link and f"customer={customer.pk}" in next_link


@pytest.mark.parametrize("token", ["garbage", "!!!", "eyJhIjoxfQ", Cursor("-total", 5, 1).encode(), "x" * 2000])
def test_a_bad_or_foreign_cursor_shows_the_first_page(client, staff_user, fifty_five, token):
    client.force_login(staff_user)
    first = row_ids(client.get(ar_url()))
    assert row_ids(client.get(ar_url(), {"after": token})) == first
    assert row_ids(client.get(ar_url(), {"before": token})) == first


def test_cursor_round_trip_keeps_dates_and_refuses_wrong_types():
    sort = Sort(SortKey("issued", "issue_date", kind="date", nullable=True), True)
    token = Cursor("-issued", datetime.date(2026, 3, 2), 42).encode()
    assert Cursor.decode(token, sort) == Cursor("-issued", datetime.date(2026, 3, 2), 42)
    assert Cursor.decode(Cursor("-issued", None, 42).encode(), sort).value is None
    assert Cursor.decode(Cursor("-issued", "not a date", 42).encode(), sort) is None
    assert Cursor.decode(Cursor("issued", datetime.date(2026, 3, 2), 42).encode(), sort) is None


def test_page_size_choice_and_bad_page_size(client, staff_user, fifty_five):
    client.force_login(staff_user)
    assert len(row_ids(client.get(ar_url(), {"per_page": "50"}))) == 50
    assert len(row_ids(client.get(ar_url(), {"per_page": "100000"}))) == 25
    assert len(row_ids(client.get(ar_url(), {"per_page": "abc"}))) == 25


# --- a fixed number of queries per page --------------------------------------------------------------------


def _make_rows(name, partner, n):
    """``n`` rows of the kind a list shows, with their related rows, all for ``partner``."""
    customer = CustomerFactory(partner=partner)
    if name == "office:ar_invoice_list":
        for i in range(n):
            invoice = issued_invoice(customer, [1000 + i])
            AppliedExpenseCode.objects.create(invoice=invoice, label_name="PO", value=f"PO-{i}")
    elif name == "office:ap_invoice_list":
        for _ in range(n):
            provider = ProviderFactory(partner=partner)
            pf = proforma_with_slips(customer=customer, provider=provider)
            draft_with_proformas(proformas=[pf], provider=provider)
    elif name == "office:proforma_list":
        for _ in range(n):
            pf = proforma_with_slips(customer=customer)
            draft_with_proformas(proformas=[pf], customer=customer)
    elif name == "office:request_list":
        for _ in range(n):
            ServiceFactory(request=ServiceRequestFactory(customer=CustomerFactory(partner=partner)))
    elif name == "office:service_list":
        for _ in range(n):
            service = ServiceFactory(request=ServiceRequestFactory(customer=customer))
            proforma_with_slips(customer=customer, service=service)
    elif name == "office:customer_list":
        for _ in range(n):
            other = CustomerFactory(partner=partner)
            BillingContactFactory(customer=other)
            issued_invoice(other, [1000])
    elif name == "office:provider_list":
        for _ in range(n):
            provider = ProviderFactory(partner=partner)
            InvoiceFactory(provider=provider)
    elif name == "office:payment_list":
        for i in range(n):
            payment_record(invoice=issued_invoice(customer, [5000]), amount_units=100 + i, method="card")
    elif name == "office:credit_note_list":
        for i in range(n):
            credit_note_issue(
                invoice=issued_invoice(CustomerFactory(partner=partner), [5000]), amount_units=100 + i, reason="x"
            )
    elif name == "office:refund_list":
        for i in range(n):
            invoice = issued_invoice(CustomerFactory(partner=partner), [5000])
            payment = payment_record(invoice=invoice, amount_units=1000, method="check", reference=str(i))
            payment_refund(payment=payment, amount_units=100 + i, reference=f"r{i}")


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries), len(response.context["rows"])


@pytest.mark.parametrize("name", LIST_NAMES)
def test_query_count_is_the_same_at_5_and_50_rows(client, django_assert_max_num_queries, name):
    small, large = PartnerFactory(), PartnerFactory()
    _make_rows(name, small, 5)
    _make_rows(name, large, 50)
    counts = {}
    for partner in (small, large):
        user = StaffMembershipFactory(partner=partner).user
        client.force_login(user)
        client.get(reverse(name))  # warm up (session, content types)
        url = reverse(name) + "?per_page=100"
        with django_assert_max_num_queries(10):
            counts[partner.pk], shown = _queries(client, url)
        assert shown >= 5
    assert counts[small.pk] == counts[large.pk]


def test_filtered_page_query_count_does_not_grow_with_rows(client, staff_user, partner, customer):
    for i in range(30):
        issued_invoice(customer, [1000 + i])
    client.force_login(staff_user)
    url = f"{ar_url()}?customer={customer.pk}&status=pending&code=PO&total_min=1&issued_from=2020-01-01"
    url_next = url + "&per_page=100"
    few, _ = _queries(client, url)
    many, _ = _queries(client, url_next)
    assert few == many <= 10


# --- the other lists ---------------------------------------------------------------------------------------


def test_ap_list_shows_provider_invoices_only(client, staff_user, partner, customer):
    provider = ProviderFactory(partner=partner, name="Rivera Interpreting")
    ap = draft_with_proformas(proformas=[proforma_with_slips(customer=customer, provider=provider)], provider=provider)
    ar = issued_invoice(customer, [1000])
    response = get(client, staff_user, reverse("office:ap_invoice_list"))
    assert row_ids(response) == [ap.pk]
    assert b"Rivera Interpreting" in response.content
    response = get(client, staff_user, reverse("office:ap_invoice_list"), provider=provider.pk)
    assert row_ids(response) == [ap.pk]
    assert ar.pk not in row_ids(response)


def test_proforma_list_filters_by_invoiced_customer_provider_and_amount(client, staff_user, partner, customer):
    provider = ProviderFactory(partner=partner)
    invoiced = proforma_with_slips(customer=customer, amounts=[20000], provider=provider)
    invoice = draft_with_proformas(proformas=[invoiced], customer=customer)
    loose = proforma_with_slips(customer=customer, amounts=[5000])
    url = reverse("office:proforma_list")
    response = get(client, staff_user, url, invoiced="yes")
    assert row_ids(response) == [invoiced.pk]
    assert f"Draft #{invoice.pk}".encode() in response.content
    assert row_ids(get(client, staff_user, url, invoiced="no")) == [loose.pk]
    assert row_ids(get(client, staff_user, url, provider=provider.pk)) == [invoiced.pk]
    assert row_ids(get(client, staff_user, url, total_min="100")) == [invoiced.pk]
    assert get(client, staff_user, url).context["totals"]["billed"] == 25000
    assert "total_min" in get(client, staff_user, url, total_min="ten").context["form"].errors


def test_proforma_list_filters_by_service_date_and_expense_code(client, staff_user, customer):
    early = proforma_with_slips(customer=customer, service_date=datetime.date(2026, 2, 1))
    late = proforma_with_slips(customer=customer, service_date=datetime.date(2026, 5, 1))
    AppliedExpenseCode.objects.create(proforma=late, label_name="Auth", value="AUTH-77")
    url = reverse("office:proforma_list")
    assert row_ids(get(client, staff_user, url, date_from="2026-04-01")) == [late.pk]
    assert row_ids(get(client, staff_user, url, date_to="2026-04-01")) == [early.pk]
    assert row_ids(get(client, staff_user, url, code="auth-7")) == [late.pk]


def test_request_and_service_lists_filter_by_customer_code_and_search(client, staff_user, partner, customer):
    other = CustomerFactory(partner=partner)
    mine = ServiceRequestFactory(customer=customer, title="Court hearing, room 4")
    theirs = ServiceRequestFactory(customer=other, title="Clinic visit")
    AppliedExpenseCode.objects.create(request=mine, label_name="PO", value="PO-555")
    mine_service = ServiceFactory(request=mine)
    theirs_service = ServiceFactory(request=theirs)
    requests_url, services_url = reverse("office:request_list"), reverse("office:service_list")
    assert row_ids(get(client, staff_user, requests_url, customer=customer.pk)) == [mine.pk]
    assert row_ids(get(client, staff_user, requests_url, q="court")) == [mine.pk]
    assert row_ids(get(client, staff_user, requests_url, q=f"R-{theirs.pk}")) == [theirs.pk]
    assert row_ids(get(client, staff_user, requests_url, code="555")) == [mine.pk]
    response = get(client, staff_user, services_url, customer=customer.pk)
    assert row_ids(response) == [mine_service.pk]
    assert f'href="{detail_url("request", mine.pk)}"'.encode() in response.content
    assert row_ids(get(client, staff_user, services_url, code="PO-5")) == [mine_service.pk]
    assert row_ids(get(client, staff_user, services_url, provider=theirs_service.provider_id)) == [theirs_service.pk]
    day = timezone.localtime(mine_service.starts_at).date().isoformat()
    assert len(row_ids(get(client, staff_user, services_url, date_from=day, date_to=day))) == 2
    assert get(client, staff_user, requests_url).context["rows"][0].services_count == 1


def test_customer_list_shows_open_balance_and_searches_contacts(client, staff_user, partner, customer):
    issued_invoice(customer, [12000])
    other = CustomerFactory(partner=partner, name="Quiet Co", default_contact=False)
    BillingContactFactory(customer=other, name="Marguerite Ostrander")
    url = reverse("office:customer_list")
    response = get(client, staff_user, url)
    rows = {row.pk: row for row in response.context["rows"]}
    assert rows[customer.pk].open_balance_units == 12000 and rows[other.pk].open_balance_units == 0
    assert row_ids(get(client, staff_user, url, q="ostrander")) == [other.pk]
    assert row_ids(get(client, staff_user, url, sort="-balance"))[0] == customer.pk


def test_provider_list_searches_and_sorts(client, staff_user, partner):
    a = ProviderFactory(partner=partner, name="Alpha Translators")
    b = ProviderFactory(partner=partner, name="Beta Services", is_active=False)
    ProviderFactory(name="Alpha Elsewhere")  # another partner's
    url = reverse("office:provider_list")
    assert row_ids(get(client, staff_user, url)) == [a.pk, b.pk]
    assert row_ids(get(client, staff_user, url, sort="-name")) == [b.pk, a.pk]
    assert row_ids(get(client, staff_user, url, q="alpha")) == [a.pk]
    assert row_ids(get(client, staff_user, url, active="no")) == [b.pk]


def test_payment_list_filters_and_totals(client, staff_user, partner, customer):
    other = CustomerFactory(partner=partner)
    card = payment_record(invoice=issued_invoice(customer, [10000]), amount_units=4000, method="card")
    check = payment_record(
        invoice=issued_invoice(other, [10000]),
        amount_units=6000,
        method="check",
        reference="1042",
        received_on=datetime.date(2026, 2, 3),
    )
    payment_record(invoice=issued_invoice(CustomerFactory(), [10000]), amount_units=9999, method="card")
    url = reverse("office:payment_list")
    response = get(client, staff_user, url)
    assert set(row_ids(response)) == {card.pk, check.pk}
    assert response.context["totals"] == {"count": 2, "received": 10000, "paid_out": 0, "refunded": 0}
    assert row_ids(get(client, staff_user, url, method="check")) == [check.pk]
    assert row_ids(get(client, staff_user, url, customer=customer.pk)) == [card.pk]
    assert row_ids(get(client, staff_user, url, q="1042")) == [check.pk]
    assert row_ids(get(client, staff_user, url, amount_min="50")) == [check.pk]
    assert row_ids(get(client, staff_user, url, received_to="2026-02-28")) == [check.pk]
    assert row_ids(get(client, staff_user, url, sort="amount")) == [card.pk, check.pk]


def test_rows_link_to_their_detail_pages(client, staff_user, partner, customer):
    service = ServiceFactory(request=ServiceRequestFactory(customer=customer))
    proforma = proforma_with_slips(customer=customer, service=service)
    invoice = draft_with_proformas(proformas=[proforma], customer=customer)
    expected = {
        "office:proforma_list": [
            reverse("office:proforma_detail", args=[proforma.pk]),
            reverse("office:customer_detail", args=[customer.pk]),
            reverse("office:provider_detail", args=[proforma.provider_id]),
            reverse("office:service_detail", args=[service.pk]),
            reverse("office:invoice_detail", args=[invoice.pk]),
        ],
        "office:service_list": [
            reverse("office:service_detail", args=[service.pk]),
            reverse("office:request_detail", args=[service.request_id]),
            reverse("office:proforma_detail", args=[proforma.pk]),
        ],
        "office:ar_invoice_list": [
            reverse("office:invoice_detail", args=[invoice.pk]),
            reverse("office:customer_detail", args=[customer.pk]),
        ],
        "office:request_list": [reverse("office:request_detail", args=[service.request_id])],
        "office:customer_list": [reverse("office:customer_detail", args=[customer.pk])],
        "office:provider_list": [reverse("office:provider_detail", args=[proforma.provider_id])],
    }
    for name, urls in expected.items():
        html = get(client, staff_user, reverse(name)).content.decode()
        for url in urls:
            assert f'href="{url}"' in html, (name, url)
    assert detail_url("invoice", None) == ""


def test_detail_links_match_detail_url():
    links = DetailLinks()
    for kind in ("invoice", "proforma", "request", "service", "customer", "provider"):
        assert links(kind, 12) == detail_url(kind, 12)
        assert links(kind, 987) == detail_url(kind, 987)
    assert links("invoice", None) == ""


def test_amount_filter_reads_the_partners_currency(client, customer):
    partner = customer.partner
    partner.currency = "JPY"
    partner.save()
    user = StaffMembershipFactory(partner=partner).user
    response = get(client, user, ar_url(), total_min="10.5")
    assert "no decimal places" in " ".join(response.context["form"].errors["total_min"])


def test_money_in_rows_never_uses_floats(client, staff_user, customer):
    issued_invoice(customer, [Decimal("33333")])
    assert b"$333.33" in get(client, staff_user, ar_url()).content


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("-outstanding", "invoice_balance_sort_idx"),
        ("outstanding", "invoice_balance_sort_idx"),
        ("-number", "invoice_number_sort_idx"),
        ("total", "invoice_total_sort_idx"),
    ],
)
def test_sorted_invoice_lists_read_their_page_off_an_index_instead_of_sorting(partner, sort, index):
    """The page query of a sorted list must match its index exactly (the balance index is on an expression:
    if the list's expression drifts from the index's, PostgreSQL silently sorts every invoice again)."""
    from invoicing.selectors import invoice_list_queryset
    from office.pagination import SORT_VALUE, _ordering
    from office.views.lists.invoices import _INVOICE_SORTS

    key = {k.key: k for k in _INVOICE_SORTS}[sort.lstrip("-")]
    qs = (
        invoice_list_queryset(partner=partner, kind="ar")
        .annotate(**{SORT_VALUE: key.resolved()})
        .order_by(*_ordering(sort.startswith("-")))[:26]
    )
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan
    assert "Sort Key" not in plan


@pytest.mark.postgres
def test_the_customer_sorted_invoice_list_walks_the_customer_name_index(partner):
    """Sorted by customer, the page query filters on the customer's partner too (always true), so PostgreSQL
    can read customers in name order off their (partner, name) index and stop after one page."""
    from invoicing.selectors import invoice_list_queryset
    from office.pagination import SORT_VALUE, _ordering
    from office.views.lists.invoices import AR_INVOICES

    key = AR_INVOICES.keys["customer"]
    qs = (
        invoice_list_queryset(partner=partner, kind="ar")
        .filter(**{key.partner_path: partner})
        .annotate(**{SORT_VALUE: key.resolved()})
        .order_by(*_ordering(False))[:26]
    )
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customer_name_unique_per_partner" in plan
    assert "Nested Loop" in plan


def test_sorting_by_customer_keeps_every_row_and_the_totals(client, staff_user, partner):
    alpha = CustomerFactory(partner=partner, name="Alpha Clinic")
    zulu = CustomerFactory(partner=partner, name="Zulu Labs")
    for customer in (zulu, alpha, zulu):
        issued_invoice(customer, [10000])
    client.force_login(staff_user)

    response = client.get(reverse("office:ar_invoice_list") + "?sort=customer")

    names = [row.customer.name for row in response.context["rows"]]
    assert names == ["Alpha Clinic", "Zulu Labs", "Zulu Labs"]
    assert response.context["totals"]["count"] == 3


def test_payment_list_shows_money_in_and_money_out_apart(client, staff_user, partner, customer, provider):
    ar_invoice = issued_invoice(customer, [10000])
    received = payment_record(invoice=ar_invoice, amount_units=8000, method="check", reference="11")
    payment_refund(payment=received, amount_units=3000, reference="12", user=staff_user)
    ap = invoice_issue(
        invoice=draft_with_proformas(
            proformas=[proforma_with_slips(customer=customer, provider=provider)], provider=provider
        )
    )
    paid_out = payment_record(invoice=ap, amount_units=2500, method="transfer", reference="T-9")
    url = reverse("office:payment_list")
    response = get(client, staff_user, url)
    assert response.context["totals"] == {"count": 2, "received": 8000, "paid_out": 2500, "refunded": 3000}
    assert [h["label"] for h in response.context["headers"]][-2:] == ["Received", "Paid out"]
    body = re.sub(r"\s+", " ", response.content.decode())
    assert "Received (in)" in body and "Paid out (AP)" in body and "−$30.00 refunded" in body
    assert reverse("office:refund_list") in body
    ap_only = get(client, staff_user, url, kind="ap").context["totals"]
    assert (ap_only["received"], ap_only["paid_out"]) == (0, 2500)
    assert row_ids(get(client, staff_user, url, kind="ar")) == [received.pk]
    assert paid_out.pk in row_ids(response)


def test_ar_list_filters_the_credited_status_and_shows_the_credited_amount(client, staff_user, customer):
    credited = issued_invoice(customer, [5000])
    credit_note_issue(invoice=credited, whole=True, reason="Wrong customer")
    partly = issued_invoice(customer, [8000])
    credit_note_issue(invoice=partly, amount_units=3000, reason="Late")
    issued_invoice(customer, [1000])
    assert row_ids(get(client, staff_user, ar_url(), status="credited")) == [credited.pk]
    response = get(client, staff_user, ar_url(), status="open")
    assert credited.pk not in row_ids(response) and partly.pk in row_ids(response)
    assert response.context["totals"]["outstanding"] == 5000 + 1000
    body = response.content.decode()
    assert "$30.00 credited" in body and "$50.00" in body
