"""Office lists: AR and AP invoices, payments, proformas, requests, services, customers, providers, credit notes and
refunds.

Each list is described once by a ``ListSpec`` (its rows, FilterSet, sort keys, table headers, totals and CSV
columns; ``base``), by concept: ``invoices`` (AR and AP invoices, payments), ``work`` (proformas, requests,
services), ``parties`` (customers, providers) and ``credits`` (credit notes, refunds). A list's page and CSV
export are the same two views made from its spec (``base.spec_view`` with ``base.render_list`` or
``base.export_list``; routes in office.urls.lists, and office.urls.credits for the credit notes and refunds).
"""
