"""A request id on every request, its log lines and its response (``X-Request-ID``).

First in ``MIDDLEWARE``: the id comes from the ``X-Request-ID`` header a load balancer or proxy set (nginx's
``proxy_set_header X-Request-ID $request_id``) when it is a sane token (letters, digits, ``.``, ``_``, ``-``; at
most 128 characters), else a new one is made (uuid4 hex). It is kept in ``octoo_billing.logs.request_id_var``
for the log lines of the request, as ``request.request_id`` for views, and sent back on the response. It is
cleared when the response is finished (``request_finished``), so the "Not Found" and "Internal Server Error"
lines Django logs after the middleware still carry it.
"""

from __future__ import annotations

import re
import uuid

from django.core.signals import request_finished
from django.dispatch import receiver

from octoo_billing.logs import request_id_var

HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def request_id_from(value: str | None) -> str:
    """The header's value when it is a sane token, else a new id."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(HEADER))
        request.request_id = request_id
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


@receiver(request_finished, dispatch_uid="octoo_billing.request_id.request_done")
def request_done(sender=None, **kwargs) -> None:
    request_id_var.set(None)
