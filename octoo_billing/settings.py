"""Octoo Billing settings: everything comes from the environment (django-environ).

Development defaults are safe only with DEBUG on; production sets the variables listed in README.md.
"""

import datetime
from pathlib import Path

import environ

from octoo_billing.logs import logging_config
from octoo_billing.storage import media_storage_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production-0123456789")
else:
    SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
# The address customers reach this site at: links in e-mails (View and pay) are made from it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# How long an e-mailed "View and pay" link works (invoicing.paylinks).
PAY_LINK_DAYS = env.int("PAY_LINK_DAYS", default=90)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_q",
    "axes",
    "csp",
    "pgtrigger",
    "audit",
    "customers",
    "expense_codes",
    "invoicing",
    "office",
    "portal",
    "demo",
    "ops",
]

MIDDLEWARE = [
    # First: every request, its log lines and its response carry a request id (X-Request-ID).
    "octoo_billing.request_id.RequestIdMiddleware",
    # /healthz, /readyz, /metrics answered here, before the HTTPS redirect and the allowed-hosts check (ops).
    "ops.middleware.ProbeMiddleware",
    # Request counts and latencies for /metrics (ops.metrics).
    "ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "octoo_billing.security.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages in the signed-in user's partner's time zone (Partner.time_zone).
    "customers.middleware.PartnerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "octoo_billing.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "customers.context_processors.membership",
            ],
        },
    },
]

WSGI_APPLICATION = "octoo_billing.wsgi.application"

# Database: a SQLite file by default so the app runs with no server; DATABASE_URL switches to PostgreSQL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # The web app and the django-q2 worker write to one file: WAL, a busy timeout and
    # BEGIN IMMEDIATE transactions so that neither fails with "database is locked".
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    # SQLite has no INCLUDE columns: the covering index is a plain index there, which is all it needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    # Persistent connections: django-q2's ORM broker would otherwise reconnect for every task.
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    _db["CONN_HEALTH_CHECKS"] = True
    # The working set of a billing database sits in RAM or on SSD: random reads cost about what sequential
    # ones do, so the planner should prefer the covering indexes (the lists' totals read an index, not the
    # table). PG_OPTIONS replaces this (e.g. empty behind a pooler that refuses startup options).
    _db.setdefault("OPTIONS", {}).setdefault("options", env.str("PG_OPTIONS", default="-c random_page_cost=1.1"))
    _db.setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default=f"test_{_db['NAME']}")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes first: it refuses a locked-out sign-in (office, portal and admin alike) before the password is
# checked; ModelBackend then authenticates. Settings in "Sign-in lockout" below.
AUTHENTICATION_BACKENDS = [
    "octoo_billing.security.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    # Stored files (PDFs, documents, uploads, logos) go through the storage API only: MEDIA_STORAGE=local (the
    # default, MEDIA_ROOT) or s3 (MEDIA_S3_*: any S3-compatible store), see octoo_billing.storage.
    "default": media_storage_config(env),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@octoo.example")

# Invoice delivery (invoicing.pdf, delivery, charging, uploads).
# "simulated": test cards for the demo (4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined);
# "manual": nothing is charged automatically.
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="simulated")
SUPPORTING_DOCUMENT_MAX_BYTES = env.int("SUPPORTING_DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
# The largest form posted is a manual invoice of invoicing.forms.MAX_INVOICE_LINES (500) lines of 6 fields each
# (description, quantity, unit price, tax, discount, delete) plus its header, management form and the edit page's
# kept-adjustment boxes: Django's default of 1,000 fields refused it with a bare 400. 500 x 6 = 3,000, and a margin.
# tests/office/test_manual_invoice.py checks this still covers the formset.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 500 * 6 + 200
# The outbox (invoicing.outbox): a claimed job not finished within the lease is taken again by another worker;
# keep it longer than the slowest PDF render. OUTBOX_NUDGE: drain right after the commit (else: the schedule).
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=300)
OUTBOX_NUDGE = env.bool("OUTBOX_NUDGE", default=True)
# Billing runs (invoicing.runs): a run started from the office is queued for the worker after the commit.
BILLING_RUNS_QUEUE = env.bool("BILLING_RUNS_QUEUE", default=True)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# The django-q2 worker. Q_BROKER picks its broker: "orm" (the default: the task queue is a table in this
# database) or a Redis URL (redis://host:6379/0, rediss://..., unix://...) shared by workers on several machines.
# Either way the scheduler enqueues each due schedule once (it locks the schedule rows in PostgreSQL) and every
# after-commit job goes through the outbox, claimed once (invoicing.outbox). Q_NAME: the queue's name and the
# salt tasks are signed with; every web node and worker of one site uses the same, sites sharing a Redis differ.
Q_BROKER = env.str("Q_BROKER", default="orm")
Q_CLUSTER = {
    "name": env.str("Q_NAME", default="octoo"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 300,
    "retry": 360,
    "max_attempts": 3,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,
    "sync": env.bool("Q_SYNC", default=False),
}
if Q_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"
elif Q_BROKER.startswith(("redis://", "rediss://", "unix://")):
    Q_CLUSTER["redis"] = Q_BROKER  # django-q2 passes a URL to redis.from_url
else:
    raise environ.ImproperlyConfigured(f"Q_BROKER must be 'orm' or a redis:// URL, not {Q_BROKER!r}")

# Security: on unless DEBUG; `manage.py check --deploy` passes with the production variables.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Load balancers probe each node over plain HTTP (ops.middleware.ProbeMiddleware answers them first anyway).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# Health checks and metrics (ops): /readyz fails when no worker heartbeat is newer than this (0: check off);
# /metrics answers only "Authorization: Bearer <METRICS_TOKEN>", and is a 404 while it is unset.
READYZ_HEARTBEAT_MINUTES = env.int("READYZ_HEARTBEAT_MINUTES", default=5)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# The client's address, for the sign-in lockout and the password-reset limit (octoo_billing.security.client_ip):
# REMOTE_ADDR by default. Behind N reverse proxies that each append to X-Forwarded-For (nginx's
# $proxy_add_x_forwarded_for), set TRUSTED_PROXY_COUNT=N: the address N-th from the right is the one the outermost
# proxy saw. Left at 0 behind a proxy, every client shares the proxy's address and so one lockout.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Sign-in lockout (django-axes, database handler): 5 failed sign-ins from one address lock that address (and that
# username from it) until 15 minutes pass without an attempt; meanwhile even the right password is refused.
# A successful sign-in clears that user's own failures from that address; completing a password reset clears the
# user's failures everywhere. `manage.py axes_list_attempts` lists the failures; `axes_reset_username` and
# `axes_reset_ip` lift a lockout early. Axes' admin pages and its log of successful sign-ins are off.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "octoo_billing.security.AxesHandler"
AXES_LOCKOUT_CALLABLE = "octoo_billing.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "octoo_billing.security.client_ip"
AXES_ENABLE_ADMIN = False
AXES_DISABLE_ACCESS_LOG = True

# Password-reset e-mails: at most 3 an hour to one address and 10 an hour from one client address, counted in a
# table every web worker shares (`manage.py createcachetable` creates it; `make run` and the tests do).
PASSWORD_RESET_LIMIT_PER_EMAIL = 3
PASSWORD_RESET_LIMIT_PER_IP = 10
PASSWORD_RESET_LIMIT_WINDOW = 3600  # seconds
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Culling at the default 300 entries would let a flood of requests evict the counts it is meant to keep.
    "throttle": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "octoo_throttle_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}

# Content-Security-Policy on every page (django-csp; PDFs excepted, see octoo_billing.security.CSPMiddleware):
# scripts and styles come only from our static files, never inline; no plugins, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# LOG_FORMAT=json: one JSON object a line (time, level, logger, message, request_id, the worker's task, exception);
# else plain text. See octoo_billing.logs.
LOGGING = logging_config(env.str("LOG_FORMAT", default="text"), env.str("LOG_LEVEL", default="INFO"))
