"""Rate cards: a partner's rates, tax zones and their areas, time policies, own holidays (and whose public holidays
count), the extras it offers and its coupons, as billing admins change them in the office.

One function per write (``<entity>_<action>``). Each checks that the user is a billing admin of the partner, reads
what was typed and refuses it with a ``ValidationError`` keyed by field (nothing is saved then), locks the row it
changes, saves, and writes one audit row with what changed. A scope that already has its row (one rate per scope,
one time policy per scope, one holiday per day, one zone, extra or coupon per name) is refused in words before the
write; the database's unique constraint stays the backstop for two admins saving at once, and is turned into the
same words. What is in use is not deleted: a zone that services or customers point to is refused
(``BillingRuleError``), an extra that was booked or that a coupon names is deactivated instead, a coupon that was
used is refused (untick "active" instead).

The functions live in one module per concept (``rate_rows``, ``tax_zones``, ``time_policies``, ``holiday_dates``,
``offers``; ``common`` holds what they share) and are all importable from here.
"""

from .common import ADMIN_ONLY, ratecards_admin_check
from .holiday_dates import holiday_delete, holiday_save, partner_holidays_update
from .offers import (
    ExtraRemoval,
    coupon_delete,
    coupon_in_use,
    coupon_save,
    extra_in_use,
    extra_remove,
    extra_save,
)
from .rate_rows import RATE_DUPLICATE, RATE_SLIP_TYPES, SCHEDULED_SLIP_TYPES, rate_delete, rate_save, rate_scope_words
from .tax_zones import zone_area_delete, zone_area_save, zone_delete, zone_in_use_words, zone_save, zone_usage
from .time_policies import (
    MAX_ROUNDING_MINUTES,
    POLICY_DUPLICATE,
    policy_delete,
    policy_save,
    policy_scope_words,
)

__all__ = [
    "ADMIN_ONLY",
    "MAX_ROUNDING_MINUTES",
    "POLICY_DUPLICATE",
    "RATE_DUPLICATE",
    "RATE_SLIP_TYPES",
    "SCHEDULED_SLIP_TYPES",
    "ExtraRemoval",
    "coupon_delete",
    "coupon_in_use",
    "coupon_save",
    "extra_in_use",
    "extra_remove",
    "extra_save",
    "holiday_delete",
    "holiday_save",
    "partner_holidays_update",
    "policy_delete",
    "policy_save",
    "policy_scope_words",
    "rate_delete",
    "rate_save",
    "rate_scope_words",
    "ratecards_admin_check",
    "zone_area_delete",
    "zone_area_save",
    "zone_delete",
    "zone_in_use_words",
    "zone_save",
    "zone_usage",
]
