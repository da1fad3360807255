"""/healthz, /readyz and /metrics. ``ops.middleware.ProbeMiddleware`` answers these addresses ahead of the rest
of the middleware (HTTPS redirect, allowed hosts, sessions, CSP, axes); the URL patterns are the fallback."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from .checks import readiness
from .metrics import CONTENT_TYPE, scrape


@never_cache
def healthz(request):
    """Liveness: the process answers. Touches no database, broker or file."""
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@never_cache
def readyz(request):
    """Readiness: 200 when the database, migrations, broker and worker heartbeat are all fine, else 503; the
    body lists every check with a short reason."""
    result = readiness()
    return JsonResponse(result.as_json(), status=200 if result.ok else 503)


def bearer_token(request) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@never_cache
def metrics(request):
    """Prometheus metrics, for ``Authorization: Bearer <METRICS_TOKEN>`` only; 404 while METRICS_TOKEN is unset."""
    expected = getattr(settings, "METRICS_TOKEN", "")
    if not expected:
        raise Http404("metrics are off")
    token = bearer_token(request)
    if token is None:
        response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return HttpResponse("wrong metrics token\n", status=403, content_type="text/plain")
    return HttpResponse(scrape(), content_type=CONTENT_TYPE)
