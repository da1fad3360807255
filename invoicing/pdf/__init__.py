"""PDF documents (AR and AP invoices, proformas) rendered by WeasyPrint from Django templates.

- ``engine``: HTML to PDF bytes, with the restricted URL fetcher and the fonts and print stylesheet shared by
  every render;
- ``contents``: what a document shows (the template context);
- ``documents``: an invoice's or proforma's PDF rendered, stored once issued, opened for a download.

Callers import from those modules; nothing is re-exported here.
"""
