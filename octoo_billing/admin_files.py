"""Stored files in Django admin, downloaded through the app rather than from the storage's URL.

Django admin shows a read-only file field as a link to ``storage.url(name)``: under MEDIA_URL, which nothing serves
(private documents are never public), or, on S3, a signed link straight to the bucket. Admin shows these fields with
``stored_file_link`` instead, a link to ``stored_file``: the file streamed from the storage by whichever web node
answers, for a staff user who may view that object, and only for the fields listed here.
"""

from __future__ import annotations

import posixpath

from django.apps import apps
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html

# (app label, model name) -> the file field shown in admin.
STORED_FILES = {
    ("invoicing", "invoice"): "pdf",
    ("invoicing", "supportingdocument"): "file",
    ("invoicing", "billingrun"): "result_file",
    ("customers", "partner"): "logo",
}


def stored_file_link(obj, field: str) -> str:
    """The admin's display of ``obj``'s stored file: its name, linked to ``stored_file``; "-" when there is none."""
    file = getattr(obj, field)
    if not file:
        return "-"
    url = reverse("admin_stored_file", args=[obj._meta.app_label, obj._meta.model_name, obj.pk])
    return format_html('<a href="{}">{}</a>', url, posixpath.basename(file.name))


def stored_file_column(field: str, description: str):
    """A read-only admin field (put its name in ``readonly_fields`` and the fieldsets) showing ``stored_file_link``."""

    def column(self, obj):
        return stored_file_link(obj, field)

    column.short_description = description
    return column


@staff_member_required
def stored_file(request, app_label: str, model_name: str, pk: int):
    field = STORED_FILES.get((app_label, model_name))
    if field is None:
        raise Http404("No such stored file.")
    if not request.user.has_perm(f"{app_label}.view_{model_name}"):
        raise PermissionDenied
    obj = get_object_or_404(apps.get_model(app_label, model_name), pk=pk)
    file = getattr(obj, field)
    if not file:
        raise Http404("This record has no stored file.")
    return FileResponse(file.open("rb"), as_attachment=True, filename=posixpath.basename(file.name))
