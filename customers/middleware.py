"""Every page in the partner's time zone and locale: a staff user's partner, or a customer user's customer's partner.
The locale (octoo_billing.locale) is how money and dates are written; the pay-link page, with nobody signed in,
takes its invoice's partner's (customers.formats).

Django then shows aware datetimes in that zone (``{{ value|date }}``, forms' initial values), reads typed times
in it, and ``timezone.localdate()`` is the partner's today (periods, issue dates, "overdue" on office pages).
Anyone else (signed out, platform admins without a membership) gets the project's zone (settings.TIME_ZONE).
The base template's footer names the zone in use.
"""

from django.utils import timezone

from octoo_billing import locale as formats

from .access import customer_membership, staff_membership


def partner_of(user):
    """The partner whose time zone the user's pages are shown in, or None."""
    if user is None or not user.is_authenticated:
        return None
    membership = staff_membership(user)
    if membership is not None:
        return membership.partner
    membership = customer_membership(user)
    if membership is not None:
        return membership.customer.partner
    return None


class PartnerTimeZoneMiddleware:
    """After AuthenticationMiddleware. The membership and partner it loads are cached on ``request.user``, so the
    views' own access checks (customers.access) reuse them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        partner = partner_of(getattr(request, "user", None))
        if partner is not None:
            timezone.activate(partner.tzinfo)
        else:
            timezone.deactivate()
        token = formats.activate(partner.locale if partner is not None else None)
        try:
            return self.get_response(request)
        finally:
            formats.deactivate(token)
            timezone.deactivate()  # a worker thread serves the next request with nothing left over
