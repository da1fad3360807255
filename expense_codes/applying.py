"""Applying expense codes: copying them along request/service -> proforma -> invoice."""

from __future__ import annotations

from .models import AppliedExpenseCode, codes_key


def codes_pairs(**owner) -> list[tuple[str, str]]:
    return list(AppliedExpenseCode.objects.filter(**owner).values_list("label_name", "value"))


def codes_copy(*, source: dict, target: dict) -> list[AppliedExpenseCode]:
    """Copy the codes of one carrier (e.g. ``{"request": r}``) to another (e.g. ``{"invoice": inv}``)."""
    rows = [
        AppliedExpenseCode(label_id=label_id, label_name=label_name, value=value, **target)
        for label_id, label_name, value in AppliedExpenseCode.objects.filter(**source).values_list(
            "label_id", "label_name", "value"
        )
    ]
    return AppliedExpenseCode.objects.bulk_create(rows)


def codes_apply(*, pairs, label_ids: dict | None = None, **target) -> list[AppliedExpenseCode]:
    """Apply (label, value) pairs to one carrier, once each."""
    label_ids = label_ids or {}
    seen = set()
    rows = []
    for label_name, value in pairs:
        key = (label_name.strip(), value.strip())
        if not key[0] or not key[1] or key in seen:
            continue
        seen.add(key)
        rows.append(AppliedExpenseCode(label_id=label_ids.get(key[0]), label_name=key[0], value=key[1], **target))
    return AppliedExpenseCode.objects.bulk_create(rows)


def request_codes_with_defaults(*, customer, pairs) -> list[tuple[str, str]]:
    """A new request's codes: what was entered plus the customer's auto-applied defaults."""
    defaults = codes_pairs(default_for=customer)
    return list(dict.fromkeys([*pairs, *defaults]))


__all__ = ["codes_apply", "codes_copy", "codes_key", "codes_pairs", "request_codes_with_defaults"]
