"""Write for a partner: its time zone and its locale active together (Partner.time_zone, Partner.locale).

Pages get both from ``customers.middleware``; whatever is made outside a request for a partner (a PDF, an
e-mail, a CSV export, a worker's task) runs inside ``partner_formats(partner)``, so ``format_units``, the date
formatters (octoo_billing.locale) and ``timezone.localdate()`` all speak for that partner.
"""

from __future__ import annotations

import contextlib

from django.utils import timezone

from octoo_billing import locale as formats

from .models import Partner


@contextlib.contextmanager
def partner_formats(partner: Partner | None):
    """The partner's time zone and locale inside the block; nothing changes for ``None``."""
    if partner is None:
        yield
        return
    with timezone.override(partner.tzinfo), formats.override(partner.locale):
        yield
