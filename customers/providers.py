"""Providers: who renders services and is paid by the partner through AP invoices."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from .billing import MAX_TERMS_DAYS, check_staff, record_change
from .models import Partner, Provider

PROVIDER_FIELDS = ("name", "email", "phone", "address", "payment_terms_days", "is_active")


def _clean(provider: Provider) -> None:
    provider.name = " ".join((provider.name or "").split())
    for field in ("email", "phone", "address"):
        setattr(provider, field, (getattr(provider, field) or "").strip())
    errors: dict[str, str] = {}
    if not provider.name:
        errors["name"] = "Enter the provider's name."
    elif (
        Provider.objects.filter(partner_id=provider.partner_id, name__iexact=provider.name)
        .exclude(pk=provider.pk)
        .exists()
    ):
        errors["name"] = f"There is already a provider called “{provider.name}”."
    days = provider.payment_terms_days
    if days is None or not 0 <= days <= MAX_TERMS_DAYS:
        errors["payment_terms_days"] = f"Enter a number of days from 0 to {MAX_TERMS_DAYS}."
    if errors:
        raise ValidationError(errors)
    provider.full_clean(exclude=["partner"], validate_unique=False)


@transaction.atomic
def provider_create(
    *,
    partner: Partner,
    user=None,
    name: str,
    email: str = "",
    phone: str = "",
    address: str = "",
    payment_terms_days: int | None = None,
    is_active: bool = True,
) -> Provider:
    check_staff(user, partner.pk)
    provider = Provider(
        partner=partner,
        name=name,
        email=email,
        phone=phone,
        address=address,
        payment_terms_days=partner.default_payment_terms_days if payment_terms_days is None else payment_terms_days,
        is_active=is_active,
    )
    _clean(provider)
    provider.save()
    record_change(provider, "create", user, {"name": provider.name})
    return provider


@transaction.atomic
def provider_update(*, provider: Provider, user=None, **fields) -> Provider:
    """Change a provider's details, terms or active flag (issued AP invoices keep their snapshot)."""
    unknown = set(fields) - set(PROVIDER_FIELDS)
    if unknown:
        raise TypeError(f"provider_update() got unexpected fields: {', '.join(sorted(unknown))}")
    check_staff(user, provider.partner_id)
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    before = {f: getattr(provider, f) for f in PROVIDER_FIELDS}
    for field, value in fields.items():
        setattr(provider, field, value)
    _clean(provider)
    changed = {f: [before[f], getattr(provider, f)] for f in PROVIDER_FIELDS if before[f] != getattr(provider, f)}
    if changed:
        provider.save(update_fields=list(PROVIDER_FIELDS))
        record_change(provider, "update", user, changed)
    return provider
