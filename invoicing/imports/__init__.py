"""Importing services from a scheduling system's export: a CSV or XLSX file, one service a row.

Staff upload the file, see a preview of every row (checked, nothing saved), then import it. The preview and the
import run the same check: the import never trusts what the preview said, and it saves all the file's new
services or none. The columns, formats and rules are documented in ``docs/import.md``.

- ``files``: reading the file into text, and keeping it between preview and import;
- ``checking``: checking every row and planning the requests (``services_import_check``);
- ``commit``: saving the checked rows (``services_import_commit``).

Callers import from those modules; nothing is re-exported here.
"""
