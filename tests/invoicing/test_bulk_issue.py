"""The bulk issue (invoicing.bulk_issue): the same drafts issued in bulk come out exactly as issued one by one
(totals, numbers in order, dates, contact snapshots, audit rows, outbox rows), on SQLite and on PostgreSQL; the
drafts one by one would refuse are refused with the same error, the others issued; and four processes issuing
in bulk at once get gapless, unique numbers."""

import datetime
import gc
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_init

from audit.models import AuditEvent
from invoicing import bulk_issue
from invoicing.bulk_issue import invoices_issue_bulk
from invoicing.errors import BillingRuleError
from invoicing.lifecycle import invoice_issue
from invoicing.models import Invoice, NumberCounter, OutboxJob
from invoicing.workflow import TransitionRefused
from tests.factories import (
    BillingContactFactory,
    CustomerFactory,
    PartnerFactory,
    ProviderFactory,
    SlipFactory,
    UserFactory,
    draft_invoice,
    draft_with_proformas,
    issued_invoice,
    proforma_with_slips,
)
from tests.invoicing.test_concurrency import run_at_once

pytestmark = pytest.mark.django_db

# What differs between two issues of the same draft at different moments or in different sequences of ids.
MOMENTS = {"id", "issued_at", "updated_at", "created_at", "at", "run_after"}


class _Undo(Exception):
    pass


def _drafts(partner):
    """Drafts that take every branch of an issue: proformas and typed lines, AR and AP, a named contact and the
    default one (with and without an address), terms from the customer or the draft, no-payment terms, a due date
    typed on the draft, a zero invoice (paid at once), auto-send off, a card customer charged on issue."""
    plain = CustomerFactory(partner=partner, payment_terms_days=15)
    quiet = CustomerFactory(partner=partner, auto_send=False, address="1 Quiet Road", default_contact=False)
    BillingContactFactory(customer=quiet, is_default=True, address="")
    named = BillingContactFactory(customer=plain, name="Named Contact")
    card = CustomerFactory(
        partner=partner,
        payment_method="card",
        auto_charge=True,
        card_token="tok_1",
        card_last4="4242",
        card_brand="visa",
    )
    free = CustomerFactory(partner=partner, payment_terms="no_payment")
    provider = ProviderFactory(partner=partner)
    drafts = [
        draft_invoice(plain, [12345, 678]),
        draft_with_proformas(
            proformas=[proforma_with_slips(customer=quiet, amounts=[5000, 2500]) for _ in range(2)], customer=quiet
        ),
        draft_invoice(plain, [1000], billing_contact=named, payment_terms_days=7),
        draft_invoice(card, [9900]),
        draft_invoice(plain, [4400], due_date=datetime.date.today() + datetime.timedelta(days=90)),
        draft_invoice(free, [300]),
        draft_invoice(plain, [0]),
        draft_with_proformas(proformas=[proforma_with_slips(customer=plain, provider=provider)], provider=provider),
    ]
    SlipFactory(proforma=None, invoice=drafts[0], bill_rate_units=Decimal("333"), tax_rate=Decimal("8.25"))
    return [draft.pk for draft in drafts]


def _row(obj, **replace):
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in MOMENTS}
    return {**values, **replace}


def _snapshot(ids):
    invoices = {invoice.pk: invoice for invoice in Invoice.objects.filter(pk__in=ids)}
    events = AuditEvent.objects.filter(target_id__in=ids, action="issue").order_by("target_id")
    jobs = OutboxJob.objects.filter(invoice_id__in=ids).order_by("invoice_id", "kind")
    return {
        "invoices": [_row(invoices[pk]) for pk in ids],
        "audit": [_row(event) for event in events],
        "outbox": [_row(job) for job in jobs],
        "counters": sorted(NumberCounter.objects.values_list("partner_id", "series", "last_value")),
    }


def _both_ways(ids, **options):
    """Issue ``ids`` one by one, then (from the same state) in bulk: the two snapshots."""
    try:
        with transaction.atomic():
            for pk in ids:
                invoice_issue(invoice=Invoice.objects.get(pk=pk), **options)
            one_by_one = _snapshot(ids)
            raise _Undo
    except _Undo:
        pass
    result = invoices_issue_bulk(invoice_ids=ids, **options)
    assert not result.refused
    assert [invoice.pk for invoice in result.issued] == ids
    return one_by_one, _snapshot(ids)


def test_bulk_issue_writes_exactly_what_issuing_one_by_one_writes():
    partner = PartnerFactory()
    ids = _drafts(partner)
    ids = ids[3:] + ids[:3]  # numbers follow the order given, not the ids

    one_by_one, bulk = _both_ways(ids)

    assert bulk == one_by_one
    sequences = [row["sequence"] for row in bulk["invoices"] if row["kind"] == "ar"]
    assert sequences == list(range(1, len(sequences) + 1))
    assert {row["status"] for row in bulk["invoices"]} == {"pending", "paid"}
    assert len(bulk["outbox"]) > len(ids)  # e-mail and charge jobs too


def test_bulk_issue_by_a_user_on_a_given_date_matches_too():
    partner = PartnerFactory()
    ids = _drafts(partner)
    user = UserFactory(is_staff=True)  # a platform admin: the actor's name goes on the audit rows

    one_by_one, bulk = _both_ways(ids, user=user, issue_date=datetime.date(2025, 12, 31), deliver=False)

    assert bulk == one_by_one
    assert bulk["outbox"] == []
    assert {row["actor_name"] for row in bulk["audit"]} == {user.get_username()}


def test_a_chunked_bulk_issue_numbers_across_chunks_in_order(monkeypatch):
    monkeypatch.setattr("invoicing.bulk_issue.CHUNK", 3)
    monkeypatch.setattr("invoicing.bulk_issue.PG_CHUNK", 3)
    customer = CustomerFactory()
    ids = [draft_invoice(customer, [100 + i]).pk for i in range(8)][::-1]

    one_by_one, bulk = _both_ways(ids)

    assert bulk == one_by_one
    assert [row["sequence"] for row in bulk["invoices"]] == list(range(1, 9))


def test_refused_drafts_are_left_and_the_others_issued_with_the_same_errors():
    customer = CustomerFactory()
    nobody = CustomerFactory(partner=customer.partner, default_contact=False)
    good = draft_invoice(customer, [1000])
    issued = issued_invoice(customer, [2000])
    no_contact = draft_invoice(nobody, [3000])
    no_lines = Invoice.objects.create(partner=customer.partner, customer=customer, kind="ar")
    later = draft_invoice(customer, [4000])
    ids = [good.pk, issued.pk, no_contact.pk, no_lines.pk, later.pk]

    result = invoices_issue_bulk(invoice_ids=ids)

    assert [invoice.pk for invoice in result.issued] == [good.pk, later.pk]
    assert [invoice.number for invoice in result.issued] == [
        f"INV-{datetime.date.today().year}-0000{n}" for n in (2, 3)
    ]
    assert set(result.refused) == {issued.pk, no_contact.pk, no_lines.pk}
    for pk, error in result.refused.items():
        with pytest.raises(type(error)) as one:
            invoice_issue(invoice=Invoice.objects.get(pk=pk))
        assert one.value.message == error.message
    assert Invoice.objects.get(pk=no_contact.pk).status == "draft"


def test_a_strict_bulk_issue_raises_the_first_refusal_and_issues_nothing():
    customer = CustomerFactory()
    nobody = CustomerFactory(partner=customer.partner, default_contact=False)
    ids = [draft_invoice(customer, [1000]).pk, draft_invoice(nobody, [3000]).pk]

    with pytest.raises(BillingRuleError, match="no default billing contact"):
        invoices_issue_bulk(invoice_ids=ids, strict=True)

    assert not Invoice.objects.filter(pk__in=ids).exclude(status="draft").exists()
    assert not NumberCounter.objects.filter(last_value__gt=0, series="ar").exists()


def test_a_stale_page_is_refused_in_bulk_as_one_by_one():
    customer = CustomerFactory()
    draft = draft_invoice(customer, [1000])

    result = invoices_issue_bulk(invoice_ids=[draft.pk], expected_status="pending")

    assert isinstance(result.refused[draft.pk], TransitionRefused)
    assert "changed meanwhile" in result.refused[draft.pk].message


def test_a_bulk_issue_costs_a_fixed_number_of_queries(django_assert_max_num_queries):
    customer = CustomerFactory()
    ids = [draft_invoice(CustomerFactory(partner=customer.partner), [1000 + i]).pk for i in range(30)]
    invoices_issue_bulk(invoice_ids=ids[:1])  # the counter row and the content type exist from here on

    with django_assert_max_num_queries(16):
        result = invoices_issue_bulk(invoice_ids=ids[1:])

    assert len(result.issued) == 29


def test_one_issue_costs_a_fixed_number_of_queries(django_assert_max_num_queries):
    customer = CustomerFactory()
    invoice_issue(invoice=draft_invoice(customer, [1000]))
    draft = draft_invoice(customer, [2000])

    # lock (on PostgreSQL with the default contact), sums, (default contact,) outbox, number, update and audit (one
    # statement on PostgreSQL); savepoint statements on top
    with django_assert_max_num_queries(7 if connection.vendor == "postgresql" else 9):
        invoice_issue(invoice=draft)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_processes_issuing_in_bulk_at_once_get_gapless_unique_numbers():
    assert connection.vendor == "postgresql"
    customer = CustomerFactory()
    ids = [draft_invoice(customer, [1000 + i]).pk for i in range(240)]
    workers = 4

    def issue_share(share):
        def job():
            issued = 0
            for start in range(0, len(share), 20):  # a transaction per 20 drafts, as a run's chunks
                issued += len(invoices_issue_bulk(invoice_ids=share[start : start + 20]).issued)
            return issued

        return job

    results, errors = run_at_once([issue_share(ids[i::workers]) for i in range(workers)])

    assert errors == [None] * workers
    assert sum(results) == 240
    issued = Invoice.objects.filter(pk__in=ids)
    assert sorted(issued.values_list("sequence", flat=True)) == list(range(1, 241))
    assert issued.values("number").distinct().count() == 240
    assert NumberCounter.objects.get(partner=customer.partner, series="ar").last_value == 240
    assert AuditEvent.objects.filter(target_id__in=ids, action="issue").count() == 240


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bulk_and_single_issuers_at_once_share_one_gapless_series():
    customer = CustomerFactory()
    ids = [draft_invoice(customer, [1000 + i]).pk for i in range(120)]

    def bulk(share):
        return lambda: len(invoices_issue_bulk(invoice_ids=share).issued)

    def single(share):
        return lambda: len([invoice_issue(invoice=Invoice.objects.get(pk=pk)) for pk in share])

    results, errors = run_at_once([bulk(ids[0::4]), bulk(ids[1::4]), single(ids[2::4]), single(ids[3::4])])

    assert errors == [None] * 4
    assert sum(results) == 120
    sequences = sorted(Invoice.objects.filter(pk__in=ids).values_list("sequence", flat=True))
    assert sequences == list(range(1, 121))


def _made_as_from_db(made, ids):
    """Each instance holds what ``Invoice.objects.get`` gives: every column's value, saved, from this database."""
    assert [invoice.pk for invoice in made] == sorted(ids)
    for invoice in made:
        read = Invoice.objects.get(pk=invoice.pk)
        assert {k: v for k, v in vars(invoice).items() if k != "_state"} == {
            k: v for k, v in vars(read).items() if k != "_state"
        }
        assert (invoice._state.adding, invoice._state.db) == (False, read._state.db)
        assert invoice.customer == read.customer and invoice.pdf == read.pdf  # related rows and files as usual


def test_the_locked_drafts_are_instances_as_the_orm_makes_them():
    customer = CustomerFactory()
    ids = [draft_invoice(customer, [1000 + i]).pk for i in range(3)]

    with transaction.atomic():
        _made_as_from_db(bulk_issue._lock([ids[2], ids[0], ids[1], 10**9]), ids)  # a missing id is left out


def test_the_locked_drafts_are_made_by_the_orm_when_something_listens_to_their_init():
    customer = CustomerFactory()
    ids = [draft_invoice(customer, [1000 + i]).pk for i in range(2)]
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=Invoice)
    try:
        with transaction.atomic():
            made = bulk_issue._lock(ids)
    finally:
        post_init.disconnect(listener, sender=Invoice)

    assert seen[: len(made)] == made  # each made (and announced) by Model.__init__
    _made_as_from_db(made, ids)


@pytest.mark.postgres
def test_on_postgresql_the_locked_drafts_skip_model_init():
    customer = CustomerFactory()
    ids = [draft_invoice(customer, [1000 + i]).pk for i in range(2)]
    assert bulk_issue._plain_instances(Invoice)  # else the fast path is never taken

    with transaction.atomic():
        _made_as_from_db(bulk_issue._lock(ids), ids)


def test_the_garbage_collector_is_on_again_after_a_bulk_issue_even_a_refused_one():
    customer = CustomerFactory()
    nobody = CustomerFactory(partner=customer.partner, default_contact=False)
    assert gc.isenabled()

    invoices_issue_bulk(invoice_ids=[draft_invoice(customer, [1000]).pk])
    assert gc.isenabled()
    with pytest.raises(BillingRuleError):
        invoices_issue_bulk(invoice_ids=[draft_invoice(nobody, [1000]).pk], strict=True)
    assert gc.isenabled()

    gc.disable()  # the caller's choice is left as it was
    try:
        invoices_issue_bulk(invoice_ids=[draft_invoice(customer, [2000]).pk])
        assert not gc.isenabled()
    finally:
        gc.enable()
