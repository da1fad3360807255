"""Who may see what: the signed-in user's tenant, and decorators that enforce it on every view."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def staff_membership(user):
    if not user.is_authenticated:
        return None
    try:
        return user.staff_membership
    except AttributeError:
        return None
    except user._meta.model.staff_membership.RelatedObjectDoesNotExist:
        return None


def customer_membership(user):
    if not user.is_authenticated:
        return None
    try:
        return user.customer_membership
    except user._meta.model.customer_membership.RelatedObjectDoesNotExist:
        return None


def staff_required(view=None, *, admin_only=False):
    """Only a partner's staff; sets ``request.partner`` and ``request.membership``.

    ``admin_only`` actions (issue, void, attach child, billing settings) answer 403 to billing clerks.
    """

    def decorator(fn):
        @wraps(fn)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = staff_membership(request.user)
            if membership is None:
                raise PermissionDenied("This page is for partner staff.")
            if admin_only and not membership.is_billing_admin:
                raise PermissionDenied("Only a billing admin can do this.")
            request.membership = membership
            request.partner = membership.partner
            return fn(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view else decorator


def customer_user_required(view):
    """Only a customer's portal user; sets ``request.customer`` and ``request.membership``."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = customer_membership(request.user)
        if membership is None:
            raise PermissionDenied("This page is for customer users.")
        request.membership = membership
        request.customer = membership.customer
        return view(request, *args, **kwargs)

    return wrapper
