"""django-q2 tasks: thin wrappers that call the domain functions."""

import logging

logger = logging.getLogger(__name__)


def on_invoice_issued(invoice_id: int) -> None:
    """Hook run after an issue commits: PDF rendering, sending and auto-charge hang off this."""
    logger.info("invoice %s issued", invoice_id)
