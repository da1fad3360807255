"""A partner's company settings together with its next invoice numbers, as the office's settings page saves them.

The settings themselves (company details, prefixes, how to pay, the e-mail sender, the logo, the time zone and
the locale) are customers.company's; the next AR and AP numbers are the number counters' (invoicing.numbering).
Both change in one transaction: everything is checked first and nothing is saved when something is wrong (one
``ValidationError`` keyed by field), and one audit row lists what changed.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from customers import company
from customers.models import Partner

from .errors import BillingError
from .numbering import Series, counter_next_set
from .reminders import reminder_days_parse

NEXT_NUMBER_FIELDS = {"next_ar_number": Series.AR, "next_ap_number": Series.AP}


@transaction.atomic
def company_settings_update(
    *, partner: Partner, user, next_ar_number: int | None = None, next_ap_number: int | None = None, **values
) -> Partner:
    """Change a partner's company settings (the values customers.company.company_settings_update takes) and the
    sequence the next AR / AP invoice gets, forward only (``counter_next_set``, under the counter's row lock).

    Billing admins of the partner only (``user=None``: the system itself). Checks everything and saves nothing on
    error (``ValidationError`` keyed by field); writes one audit row listing what changed, the numbers included.
    """
    company.company_admin_check(user, partner)
    next_numbers = {"next_ar_number": next_ar_number, "next_ap_number": next_ap_number}
    # The counters first, then the partner row: issuing locks its counter, then touches the partner row (its
    # audit row's foreign key), so this order never deadlocks with an issue.
    changed: dict[str, list] = {}
    errors: dict[str, list[str]] = {}
    for field, series in NEXT_NUMBER_FIELDS.items():
        value = next_numbers[field]
        if value is None:
            continue
        try:
            previous = counter_next_set(partner=partner, series=series, next_value=int(value), field=field)
        except BillingError as error:
            errors.setdefault(error.field or field, []).append(error.message)
            continue
        if previous is not None:
            changed[field] = [previous, int(value)]
    if "reminder_days" in values:  # as typed ("-3, 1, 7"): checked and sorted here (invoicing.reminders)
        try:
            values["reminder_days"] = reminder_days_parse(values["reminder_days"])
        except ValidationError as error:
            errors.setdefault("reminder_days", []).extend(error.message_dict["reminder_days"])
            del values["reminder_days"]
    return company.company_settings_update(
        partner=partner, user=user, other_changes=changed, other_errors=errors, **values
    )
