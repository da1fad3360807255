""" "View and pay" links: a signed, expiring token for one invoice, put in every invoice e-mail and reminder.

The token carries the invoice's id and number, signed with the project's secret (``django.core.signing``) and
dated, so it works without a login for ``PAY_LINK_DAYS`` days, for that invoice only; a changed character, another
invoice's number or an old token is refused with the reason (``PayLinkRefused.reason``).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import Invoice

SALT = "invoicing.paylinks"


class PayLinkRefused(Exception):
    """Why a link does not open its invoice: ``expired`` or ``invalid`` (tampered, or not a link of ours)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def pay_link_max_age() -> datetime.timedelta:
    return datetime.timedelta(days=getattr(settings, "PAY_LINK_DAYS", 90))


def pay_link_token(invoice: Invoice) -> str:
    return signing.dumps({"i": invoice.pk, "n": invoice.number}, salt=SALT, compress=True)


def pay_link_path(invoice: Invoice) -> str:
    return reverse("paylink:invoice", args=[pay_link_token(invoice)])


def pay_link_url(invoice: Invoice) -> str:
    """The absolute link for an e-mail (``SITE_URL``)."""
    return f"{settings.SITE_URL}{pay_link_path(invoice)}"


def pay_link_invoice(token: str) -> Invoice:
    """The issued AR invoice a token opens, or ``PayLinkRefused``."""
    try:
        data = signing.loads(token, salt=SALT, max_age=pay_link_max_age())
    except signing.SignatureExpired:
        raise PayLinkRefused("expired") from None
    except signing.BadSignature:
        raise PayLinkRefused("invalid") from None
    invoice = (
        Invoice.objects.select_related("partner", "customer")
        .filter(pk=data.get("i"), number=data.get("n"), kind=Invoice.Kind.AR)
        .exclude(status=Invoice.Status.DRAFT)
        .first()
    )
    if invoice is None:
        raise PayLinkRefused("invalid")
    return invoice
