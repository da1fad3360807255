"""Tenant scoping for office views: another partner's object is a 404, never a 403 or a leak."""

from django.shortcuts import get_object_or_404


def partner_object(request, model_or_queryset, **lookup):
    """The object matching ``lookup`` within the signed-in staff user's partner, or 404.

    Works for every model with a ``partner`` foreign key; for models without one (BillingContact,
    ExpenseCodeLabel) pass a queryset already filtered on the partner, e.g.
    ``BillingContact.objects.filter(customer__partner=request.partner)``.
    """
    queryset = getattr(model_or_queryset, "_default_manager", model_or_queryset)
    queryset = queryset.all()
    if hasattr(queryset.model, "partner_id"):
        queryset = queryset.filter(partner=request.partner)
    return get_object_or_404(queryset, **lookup)
