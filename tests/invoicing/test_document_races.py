"""Races on PostgreSQL: an issued, numbered invoice never changes because a write raced its issue.

Each test releases the two writers together (threads with a barrier) many times; whichever commits first, the
issued invoice's total must be what its issue audit row says, and a change that lost the race is refused or
lands on a new draft. Before the lock order (invoicing.locking) these failed in most tries.
"""

import datetime

import pytest

from audit.recording import audit_trail
from invoicing.errors import InvalidTransition
from invoicing.invoices_from_proformas import ar_invoices_generate
from invoicing.lifecycle import invoice_issue
from invoicing.manual import slip_add_adjustment
from invoicing.models import Invoice, InvoiceProforma
from invoicing.pricing import invoice_slips
from tests.factories import CustomerFactory, draft_with_proformas, proforma_with_slips
from tests.invoicing.test_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TRIES = 25
PERIOD = (datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))


def assert_issued_as_audited(invoice: Invoice) -> None:
    """The issued total is the one the issue audit row recorded, the sum of its lines, and nothing happened to
    it after the issue but what the audit trail shows."""
    invoice.refresh_from_db()
    assert invoice.status != Invoice.Status.DRAFT
    events = list(audit_trail(invoice))
    issue = next(e for e in events if e.action == "issue")
    assert issue.data["total_units"] == invoice.total_units
    lines = invoice_slips(invoice).values_list("bill_total_units", flat=True)
    assert sum(lines) == invoice.total_units
    assert [e.action for e in events[events.index(issue) + 1 :]] == []


def test_an_adjustment_racing_an_issue_never_changes_the_issued_invoice():
    customer = CustomerFactory()
    outcomes = {"adjusted first": 0, "refused": 0}
    for _ in range(TRIES):
        proforma = proforma_with_slips(customer=customer, amounts=[10000], service_date=PERIOD[0])
        draft = draft_with_proformas(proformas=[proforma], customer=customer)

        def adjust(proforma=proforma):
            return slip_add_adjustment(
                kind="additional_work", description="Extra hour", amount_units=1000, proforma=proforma
            )

        def issue(draft=draft):
            return invoice_issue(invoice=Invoice.objects.get(pk=draft.pk))

        _results, errors = run_at_once([adjust, issue])

        assert errors[1] is None
        assert errors[0] is None or isinstance(errors[0], InvalidTransition), errors[0]
        assert_issued_as_audited(draft)
        draft.refresh_from_db()
        if errors[0] is None:
            outcomes["adjusted first"] += 1
            assert draft.total_units == 11000
        else:
            outcomes["refused"] += 1
            assert draft.total_units == 10000
            proforma.refresh_from_db()
            assert proforma.bill_total_units == 10000  # nothing of the refused adjustment is left
    assert sum(outcomes.values()) == TRIES


def test_an_ar_run_racing_an_issue_puts_new_work_on_a_new_draft():
    for _ in range(TRIES):
        customer = CustomerFactory(invoicing_schedule="monthly")
        first = proforma_with_slips(customer=customer, amounts=[60000], service_date=PERIOD[0])
        [draft] = ar_invoices_generate(customer=customer, period_start=PERIOD[0], period_end=PERIOD[1], issue=False)
        assert draft.status == Invoice.Status.DRAFT
        late = proforma_with_slips(customer=customer, amounts=[500], service_date=PERIOD[0] + datetime.timedelta(1))

        def run():
            return ar_invoices_generate(customer=customer, period_start=PERIOD[0], period_end=PERIOD[1], issue=False)

        def issue(draft=draft):
            return invoice_issue(invoice=Invoice.objects.get(pk=draft.pk))

        _results, errors = run_at_once([run, issue])

        assert errors == [None, None]
        assert_issued_as_audited(draft)
        [late_link] = InvoiceProforma.objects.filter(proforma=late, kind="ar", is_active=True)
        draft.refresh_from_db()
        if late_link.invoice_id == draft.pk:  # the run came first: issued with both
            assert draft.total_units == 60500
        else:  # the issue came first: the late proforma starts a new draft
            assert draft.total_units == 60000
            assert late_link.invoice.status == Invoice.Status.DRAFT
            assert late_link.invoice.total_units == 500
        assert InvoiceProforma.objects.get(proforma=first, kind="ar", is_active=True).invoice_id == draft.pk
