"""What issuing an invoice will do, said before it is done: the number series, the due date, who is e-mailed and
which card is charged. The office shows it next to the Issue button; nothing here changes anything."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

from customers.models import NO_PAYMENT_TERMS
from octoo_billing import locale as formats

from .lifecycle import due_date_for
from .models import Invoice, NumberCounter
from .numbering import format_number, series_prefix
from .recipients import invoice_recipients


@dataclass(frozen=True)
class IssuePreview:
    number: str  # the next number of its series right now (another issue may take it first)
    series: str  # "AR invoices (INV-…)"
    issue_date: datetime.date
    due_date: datetime.date | None
    due: str  # in words
    email_to: list[str] = field(default_factory=list)
    email_cc: list[str] = field(default_factory=list)
    email_off: str = ""  # why no e-mail goes out, when none does
    charge: str = ""  # "Visa ending 4242", when the card on file is charged
    charge_missing: str = ""  # why an automatic charge cannot happen
    total_units: int = 0

    @property
    def steps(self) -> list[str]:
        """What issuing does, one sentence each, in the order it happens."""
        dated = formats.format_date(self.issue_date)
        steps = [f"Numbers it {self.number} (the next in the {self.series} series) and dates it {dated}."]
        steps.append(f"Sets it {self.due}.")
        steps.append("Stores its PDF: the document the customer gets never changes after that.")
        if self.email_to:
            cc = f", copying {', '.join(self.email_cc)}" if self.email_cc else ""
            steps.append(f"E-mails it to {', '.join(self.email_to)}{cc}.")
        elif self.email_off:
            steps.append(f"Sends no e-mail: {self.email_off}")
        if self.charge:
            steps.append(f"Charges {self.charge} for the balance.")
        elif self.charge_missing:
            steps.append(self.charge_missing)
        return steps


def _next_number(invoice: Invoice, on_date: datetime.date) -> tuple[str, str]:
    series = NumberCounter.Series.AR if invoice.kind == Invoice.Kind.AR else NumberCounter.Series.AP
    last = (
        NumberCounter.objects.filter(partner_id=invoice.partner_id, series=series)
        .values_list("last_value", flat=True)
        .first()
    )
    prefix = series_prefix(invoice.partner, series)
    label = f"{'AR invoices' if invoice.kind == Invoice.Kind.AR else 'AP bills'} ({prefix}-…)"
    return format_number(prefix, on_date.year, (last or 0) + 1), label


def invoice_issue_preview(invoice: Invoice, *, on_date: datetime.date | None = None) -> IssuePreview:
    """What ``lifecycle.invoice_issue`` would do to this draft now."""
    on_date = on_date or timezone.localdate()
    number, series = _next_number(invoice, on_date)
    due_date = due_date_for(invoice, on_date)
    if invoice.no_payment:
        due = f"with no due date: {NO_PAYMENT_TERMS.lower()}"
    else:
        due = f"due {formats.format_date(due_date)}" if due_date else "with no due date"
    email_to, email_cc, email_off, charge, charge_missing = [], [], "", "", ""
    if invoice.kind == Invoice.Kind.AR:
        customer = invoice.customer
        to, cc = invoice_recipients(invoice)
        contact = invoice.billing_contact
        if not customer.auto_send:
            email_off = f"{customer} has automatic e-mailing off (send it from this page when you are ready)."
        elif not to:
            email_off = "there is no billing contact with an e-mail address."
        else:
            name = contact.name if contact is not None and contact.email == to[0] else invoice.contact_name
            email_to = [f"{name} <{to[0]}>" if name else to[0]]
            email_cc = cc
        if invoice.charged_on_issue:
            if customer.card_last4:
                charge = f"{customer.card_brand or 'the card'} ending {customer.card_last4}"
            else:
                charge_missing = "Would charge the card on file, but there is none: it stays unpaid."
    else:
        email_off = "bills to providers are not e-mailed."
    return IssuePreview(
        number=number,
        series=series,
        issue_date=on_date,
        due_date=due_date,
        due=due,
        email_to=email_to,
        email_cc=email_cc,
        email_off=email_off,
        charge=charge,
        charge_missing=charge_missing,
        total_units=invoice.total_units,
    )


__all__ = ["IssuePreview", "invoice_issue_preview"]
