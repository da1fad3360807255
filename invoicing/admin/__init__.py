"""Django admin for invoicing, split by concept. Writes that change a document's state go through the
domain functions (invoicing.lifecycle, invoicing.pricing); issued documents are read-only here."""

from . import audit, codes, documents, invoices, outbox, pricing, requests  # noqa: F401  (registers the ModelAdmins)
