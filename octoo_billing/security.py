"""Sign-in and reset hardening: the client's address, django-axes' lockout, rate-limited password-reset e-mails
and the Content-Security-Policy middleware. Settings: "Sign-in lockout" and what follows it in settings.py."""

import hashlib
import ipaddress
import logging

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.core.cache import caches
from django.shortcuts import render

logger = logging.getLogger(__name__)

LOCKED_OUT_TEMPLATE = "registration/locked_out.html"


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind ``TRUSTED_PROXY_COUNT`` proxies that each append to
    X-Forwarded-For, the entry that many places from the right (what the outermost proxy saw; entries further left
    are whatever the client sent). Falls back to REMOTE_ADDR when the header is short or that entry is no address."""
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            try:
                return str(ipaddress.ip_address(forwarded[-count]))
            except ValueError:
                logger.warning("X-Forwarded-For entry %r is no address: using REMOTE_ADDR", forwarded[-count])
    return request.META.get("REMOTE_ADDR")


class AxesBackend(AxesStandaloneBackend):
    """django-axes' gate before ModelBackend. Every sign-in form (office, portal, admin) passes the request; a call
    of ``authenticate()`` without one (a management command or a script checking a password) has no client to lock
    out, so it goes on to ModelBackend instead of failing with axes' ``AxesBackendRequestParameterRequired``."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class AxesHandler(AxesDatabaseHandler):
    """django-axes' database handler, except that a successful sign-in clears only that user's failures from that
    address. The stock reset deletes every row matching any lockout parameter, the per-address one included: signing
    in to any account (an attacker's own) would wipe the failures against every other account from that address."""

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address).delete()
        return count


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets (AXES_LOCKOUT_CALLABLE): the same whether the username exists or not."""
    minutes = round(get_cool_off(request).total_seconds() / 60)
    return render(request, LOCKED_OUT_TEMPLATE, {"minutes": minutes}, status=settings.AXES_HTTP_RESPONSE_CODE)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _take_slot(key: str, limit: int) -> bool:
    """Take one of ``limit`` slots that each expire a window after they were taken: true while fewer than ``limit``
    were taken in the last window. ``cache.add`` is atomic in the database and locmem caches, so two concurrent
    requests never share a slot."""
    cache = caches["throttle"]
    window = settings.PASSWORD_RESET_LIMIT_WINDOW
    return any(cache.add(f"{key}:{slot}", 1, timeout=window) for slot in range(limit))


def password_reset_allowed(*, email: str, ip: str | None) -> bool:
    """Whether one more reset e-mail may go out: per client address, then per e-mail address (counted whether or not
    an account uses it, so the count reveals nothing)."""
    return _take_slot(f"pwreset:ip:{_digest(ip or '')}", settings.PASSWORD_RESET_LIMIT_PER_IP) and _take_slot(
        f"pwreset:email:{_digest(email.strip().lower())}", settings.PASSWORD_RESET_LIMIT_PER_EMAIL
    )


class ThrottledPasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, sending nothing over the limits; the view answers "check your inbox" either way."""

    def save(self, *args, request=None, **kwargs):
        ip = client_ip(request) if request is not None else None
        if not password_reset_allowed(email=self.cleaned_data["email"], ip=ip):
            logger.warning("Password reset e-mail not sent: over the hourly limit (client %s)", ip)
            return
        super().save(*args, request=request, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ThrottledPasswordResetForm


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choosing a new password through the e-mailed link also lifts the sign-in lockout on that username, as the
    lockout page promises (whoever has the link controls the account's e-mail)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware for every response but PDFs: the policy is for our HTML pages, and Chromium has applied
    a PDF's own policy to its built-in viewer (``object-src 'none'`` and no inline styles leave it blank)."""

    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("application/pdf"):
            return response
        return super().process_response(request, response)
