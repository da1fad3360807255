"""Where stored files live (the ``default`` entry of ``STORAGES``), chosen by the environment.

Every stored file (invoice and credit-note PDFs, billing-run ZIPs, supporting documents, import uploads, company
logos) is written, read and deleted through Django's storage API only, and every download streams through a
view that checks who asks, so any web node can answer it. Nothing is ever linked at ``MEDIA_URL``.

``MEDIA_STORAGE=local`` (the default): ``FileSystemStorage`` in ``MEDIA_ROOT``: one machine, or a folder every
node mounts. ``MEDIA_STORAGE=s3``: django-storages' ``S3Storage`` on any S3-compatible store (AWS S3, MinIO,
Ceph, ...), configured by:

- ``MEDIA_S3_BUCKET`` (required): the bucket;
- ``MEDIA_S3_ENDPOINT_URL``: the store's address for a non-AWS store (e.g. ``http://127.0.0.1:9000``);
- ``MEDIA_S3_REGION``: the region (e.g. ``eu-west-1``);
- ``MEDIA_S3_ACCESS_KEY`` / ``MEDIA_S3_SECRET_KEY``: the credentials; left out, boto3 finds its own
  (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, an instance role, ...);
- ``MEDIA_S3_PREFIX``: a folder inside the bucket for all files (e.g. ``octoo/``);
- ``MEDIA_S3_ADDRESSING_STYLE``: ``path`` for stores without per-bucket host names (MinIO's default), else
  ``virtual`` or unset.

Objects are private (``default_acl="private"``), any URL the backend would make is signed
(``querystring_auth``), and a name already taken is never overwritten (``file_overwrite=False``): an issued
invoice's PDF never changes.
"""

from __future__ import annotations

import environ
from django.core.exceptions import ImproperlyConfigured

LOCAL_BACKEND = "django.core.files.storage.FileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"
MEDIA_STORAGE_CHOICES = ("local", "s3")


def media_storage_config(env: environ.Env) -> dict:
    """The ``STORAGES["default"]`` entry the environment asks for (see the module's docstring)."""
    kind = env.str("MEDIA_STORAGE", default="local").strip().lower()
    if kind == "local":
        return {"BACKEND": LOCAL_BACKEND}
    if kind != "s3":
        raise ImproperlyConfigured(f"MEDIA_STORAGE must be one of {', '.join(MEDIA_STORAGE_CHOICES)}, not {kind!r}.")
    bucket = env.str("MEDIA_S3_BUCKET", default="")
    if not bucket:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs MEDIA_S3_BUCKET (the bucket the files are stored in).")
    options = {
        "bucket_name": bucket,
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
    }
    optional = {
        "endpoint_url": "MEDIA_S3_ENDPOINT_URL",
        "region_name": "MEDIA_S3_REGION",
        "access_key": "MEDIA_S3_ACCESS_KEY",
        "secret_key": "MEDIA_S3_SECRET_KEY",
        "location": "MEDIA_S3_PREFIX",
        "addressing_style": "MEDIA_S3_ADDRESSING_STYLE",
    }
    for option, variable in optional.items():
        value = env.str(variable, default="")
        if value:
            options[option] = value
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
