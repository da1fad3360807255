"""Middleware of the ops app: probes answered early, and request metrics."""

from __future__ import annotations

import logging
import time

from django.http import Http404, HttpResponseNotFound

from . import views
from .metrics import UNMATCHED_VIEW, request_observe

logger = logging.getLogger(__name__)

PROBES = {"/healthz": views.healthz, "/readyz": views.readyz, "/metrics": views.metrics}


class ProbeMiddleware:
    """First in MIDDLEWARE: /healthz, /readyz and /metrics are answered before the HTTPS redirect, the allowed-hosts
    check (CommonMiddleware), sessions, CSP and axes. Load balancers probe each node over plain HTTP at its own
    address, and Prometheus scrapes each node the same way. Safe: none of these answers uses the Host header or
    the session, /healthz and /readyz reveal nothing sensitive, and /metrics needs its bearer token."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PROBES.get(request.path_info)
        if view is None:
            return self.get_response(request)
        try:
            return view(request)
        except Http404:
            return HttpResponseNotFound("not found\n", content_type="text/plain")


class RequestMetricsMiddleware:
    """Counts every request by method, view and status class, and times it (``ops.metrics``). Near the top of
    MIDDLEWARE so the time includes the other middleware; probes answered before it are not counted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        try:
            request_observe(
                method=request.method,
                view=(match.view_name if match else UNMATCHED_VIEW) or UNMATCHED_VIEW,
                status=response.status_code,
                seconds=time.perf_counter() - started,
            )
        except Exception:  # noqa: BLE001 - metrics never break a request (e.g. PROMETHEUS_MULTIPROC_DIR missing)
            logger.warning("could not record request metrics", exc_info=True)
        return response
