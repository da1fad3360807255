"""Settings for the test suite: production settings with test-only secrets and fast hashing."""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("Q_SYNC", "1")

from .settings import *  # noqa: E402,F403
from .settings import BASE_DIR, DATABASES, Q_CLUSTER, STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = BASE_DIR / ".test-media"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
Q_CLUSTER["sync"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": None}  # in memory
    DATABASES["default"]["OPTIONS"].pop("init_command", None)
# Every issue in every test writes its delivery work to the outbox (invoicing.outbox), as in production. Tests
# drain it themselves (outbox_run) or turn the nudge on with the `settings` fixture, which then drains it inline
# on commit (Q sync): tests/invoicing/test_workflow.py runs that whole path. Off by default only so that tests
# issuing hundreds of invoices (the numbering race) do not render hundreds of PDFs.
OUTBOX_NUDGE = False
