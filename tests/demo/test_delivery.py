"""``demo.delivery``: the demo's invoices are shown as delivered, with no delivery work left in the outbox."""

import pytest

from demo.delivery import seeded_deliveries_discard
from invoicing.models import OutboxJob
from tests.factories import CustomerFactory, issued_invoice

pytestmark = pytest.mark.django_db


def test_discarding_the_seeded_deliveries_deletes_those_partners_jobs_only():
    seeded = issued_invoice(CustomerFactory())
    other = issued_invoice(CustomerFactory())
    assert OutboxJob.objects.filter(invoice=seeded).exists()

    deleted = seeded_deliveries_discard(partners=[seeded.partner])

    assert deleted == OutboxJob.objects.filter(invoice=other).count()  # the same work for the same kind of invoice
    assert not OutboxJob.objects.filter(invoice=seeded).exists()
    assert OutboxJob.objects.filter(invoice=other).exists()
