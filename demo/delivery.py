"""The demo's invoices are history: shown as delivered when they were issued, with no delivery work left to do.

Nothing is e-mailed, rendered or charged while the demo loads. The timeline issues its invoices with
``deliver=False`` (``demo.timeline.issue_on``); the few the domain issues by itself, with their delivery work
(today's portal bookings of customers invoiced on booking: ``request_book`` issues them through
``quote_convert(issue=True)``), have that work discarded (``seeded_deliveries_discard``). The PDFs are stored on
first download.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from invoicing.models import Invoice, OutboxJob

from .context import DemoSeed


def invoices_mark_sent(seed: DemoSeed) -> None:
    """The AR invoices of auto-send customers are recorded as e-mailed a few minutes after their issue (never in
    the future), as they would have been."""
    now = timezone.now()
    invoices = list(Invoice.objects.filter(kind=Invoice.Kind.AR, customer__auto_send=True, issued_at__isnull=False))
    for invoice in invoices:
        invoice.sent_at = min(invoice.issued_at + datetime.timedelta(minutes=seed.rng.randint(1, 5)), now)
    Invoice.objects.bulk_update(invoices, ["sent_at"], batch_size=500)


def seeded_deliveries_discard(*, partners) -> int:
    """Delete the outbox jobs (PDF, e-mail, card charge) of these partners' invoices; returns how many.

    For the demo seed only, in its transaction, on the partners it has just made: their invoices are history,
    shown as already delivered (``invoices_mark_sent``), so none may be e-mailed or charged once the seed commits.
    The worker may still be nudged by the commit; it then finds nothing to do."""
    deleted, _ = OutboxJob.objects.filter(invoice__partner__in=partners).delete()
    return deleted
