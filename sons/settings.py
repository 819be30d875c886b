"""Settings, read from the environment (12-factor) with safe local defaults.

Embedded default: SQLite file next to the code, Celery tasks run in-process, mail to the console.
Production: DEBUG=0, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL=postgres://..., CELERY_BROKER_URL=redis://...
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from core.csp import DEFAULT_POLICY as CSP_DEFAULT_POLICY
from core.storage import default_storage_from_environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY doit être défini lorsque DEBUG est désactivé.")
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "django-insecure-local-development-only-not-for-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # The State's design system (DSFR): templates, tags and static files served by whitenoise;
    # widget_tweaks is used by its form field snippets.
    "widget_tweaks",
    "dsfr",
    "django_fsm",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "health_check",
    "django_prometheus",
    "core",
    "catalogue",
    "sons.apps.SonsConfig",
    "payments",
    "reminders",
    "dashboard",
    "signing",
    "portal",
    "api",
]

MIDDLEWARE = [
    # First and last: django-prometheus counts and times every request (core/metrics.py).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # `Server-Timing: app;dur=<ms>` on every response (core/after_response.py).
    "core.after_response.ServerTimingMiddleware",
    # REMOTE_ADDR becomes the client's, read through TRUSTED_PROXIES (core/client_address.py).
    "core.client_address.ClientAddressMiddleware",
    "core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every HTML page (core/csp.py).
    "core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The database out of reach under a view: 503 with Retry-After, not a 500 (core/unavailable.py).
    "core.unavailable.DatabaseUnavailableMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "sons.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "sons.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: a writing transaction takes the lock at BEGIN, so two writers queue instead of
    # failing half-way ("database is locked") - SQLite's stand-in for select_for_update.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
    # The indexes' INCLUDE columns serve PostgreSQL's index-only scans (the dashboard's counts);
    # SQLite builds the same indexes on their keys alone, as intended: no warning at each command.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# django-prometheus's backends: Django's own, counting connections, queries, errors and durations.
DATABASES["default"]["ENGINE"] = {
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
}.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id, Django's recommended hasher, with Django 5.2's parameters: time_cost 2, memory_cost
# 102,400 KiB (100 MiB), parallelism 8 (above OWASP's minimum of 19 MiB, t=2, p=1); about 0.1 s
# per sign-in on 2 cores, against 0.2 s for PBKDF2's 1,000,000 iterations. The PBKDF2 hashes
# already stored still verify and are re-hashed with Argon2 at their next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# French is the language shown; every user-facing string goes through gettext.
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Paris"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files (PDFs, ASP filings, uploads) go through this storage only: the local folder MEDIA_ROOT
# on one machine; with several, an S3-compatible object storage from STORAGE_URL=s3://bucket?...
# or AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL... (core/storage.py).
STORAGES = {
    "default": default_storage_from_environ(env.ENVIRON),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"

LOGIN_URL = "admin:login"

# Mail: console locally, SMTP (or anything django-environ knows) from EMAIL_URL.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SONS <ne-pas-repondre@sons.localhost>")
PAYING_AGENCY_EMAIL = env.str("PAYING_AGENCY_EMAIL", default="asp-segur@sons.localhost")
# ASP filings: lines per file (larger périmètres are split) and the size cap of one JSON file.
ASP_MAX_LINES = env.int("ASP_MAX_LINES", default=5000)
ASP_MAX_FILE_BYTES = env.int("ASP_MAX_FILE_BYTES", default=50 * 1024 * 1024)

# The address people reach the engine at, for links in mails sent by tasks (no request there).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Reminders: days before each deadline (vendors), days a VA has waited (clients).
REMINDER_DAYS_BEFORE_DEADLINE = env.list(
    "REMINDER_DAYS_BEFORE_DEADLINE", cast=int, default=[30, 7, 1]
)
REMINDER_DAYS_AFTER_VA_ISSUED = env.list("REMINDER_DAYS_AFTER_VA_ISSUED", cast=int, default=[7, 14])

# One cache for every process in production (CACHE_URL=redis://...): the API's rate limits and the
# dashboard's figures are then shared by all workers; locally, an in-process cache.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# The dashboard's counts and charts are recomputed at most this often (seconds).
DASHBOARD_FIGURES_SECONDS = env.int("DASHBOARD_FIGURES_SECONDS", default=300)

# Orders not delivered this many days before the end of réalisation are « at risk ».
ORDERS_AT_RISK_DAYS = env.int("ORDERS_AT_RISK_DAYS", default=30)

# Celery: no broker configured means the embedded mode, where tasks run in-process.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://localhost/")
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL.startswith("memory://")
)
CELERY_TASK_EAGER_PROPAGATES = True
# Embedded mode: the tasks a request queues (PDF, mail) run after its response is sent, in the
# same thread (core/after_response.py). Without effect with a real broker.
TASKS_AFTER_RESPONSE = env.bool("TASKS_AFTER_RESPONSE", default=CELERY_TASK_ALWAYS_EAGER)
# `Server-Timing` on every response (core/after_response.py): the local mode's, for bench/pages.py.
SERVER_TIMING = env.bool("SERVER_TIMING", default=DEBUG)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
# A task whose worker process dies under it (SIGKILL, out of memory) is put back in the queue
# instead of being acknowledged as failed: with late acks, a crash never loses a task. Every task
# therefore checks at its start whether its effect is already recorded (tests/faults/).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis broker: a message taken by a worker that vanished without acknowledging it (the whole
# worker killed, the machine lost) is delivered again after this many seconds. It must exceed the
# longest task and the longest countdown (webhook retries wait up to 16 min, mail and PDF retries
# up to 10 min), or a task still running or waiting would be delivered twice: 1 hour.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# Schedules live in the database (created by a migration, editable in the admin).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# -- REST API (owned by api/) ----------------------------------------------------------------
# The API's views set their own authentication, permissions, parsers, renderers and errors
# (api/views/base.py); these are the project-wide defaults DRF and drf-spectacular read.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "API SONS des fournisseurs",
    "DESCRIPTION": (
        "Déposer des BDC, des VA et des demandes de paiement SONS depuis un logiciel : "
        "jetons d'accès, opérations en masse, clés d'idempotence, ETag, erreurs au format "
        "« problem details » (RFC 9457)."
    ),
    "VERSION": "1.0.0",
    # 3.1: a nullable reference is « oneOf: [$ref, {type: null}] », which every tool honours.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "ENUM_NAME_OVERRIDES": {
        "DeadlineKindEnum": "catalogue.deadlines.DeadlineKind",
        "ClientKindEnum": "sons.models.client.ClientKind",
        "ClaimKindEnum": "payments.models.claim.ClaimKind",
        "FilableKindEnum": "api.serializers.FILABLE_KINDS",
        "SignatureMethodEnum": "sons.models.order.SignatureMethod",
        "ConflictStatusEnum": "sons.models.conflict.ConflictStatus",
    },
    "WEBHOOKS": "api.webhook_schema.WEBHOOKS",  # the events' bodies, in the `webhooks` section
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess",
    ],
}
# Tokens: lifetime offered by default and the longest allowed (days).
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=90)
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)
# Requests per token (DRF rate syntax); the counters live in the cache named here.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1200/min")
API_BULK_RATE_LIMIT = env.str("API_BULK_RATE_LIMIT", default="30/min")
API_THROTTLE_CACHE = env.str("API_THROTTLE_CACHE", default="default")
# Bulk requests: at most this many items; above the second figure they run as a task.
API_BULK_MAX_ITEMS = env.int("API_BULK_MAX_ITEMS", default=10_000)
API_BULK_SYNC_MAX_ITEMS = env.int("API_BULK_SYNC_MAX_ITEMS", default=1_000)
# Largest JSON body (bytes), then 413 (api/parsers.py). 10,000 bulk items measure about 3.2 MB
# (orders) and 8.5 MB (clients with every field filled, 10 MB pretty-printed): the bulk
# endpoints take twice that; every other endpoint Django's 2.5 MB.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=2_621_440)
API_BULK_MAX_BODY_BYTES = env.int("API_BULK_MAX_BODY_BYTES", default=20 * 1024 * 1024)
# Idempotency keys are remembered this many hours.
API_IDEMPOTENCY_HOURS = env.int("API_IDEMPOTENCY_HOURS", default=24)
# Webhooks: attempts per delivery (then the subscription is disabled), first retry delay (s).
API_WEBHOOK_MAX_ATTEMPTS = env.int("API_WEBHOOK_MAX_ATTEMPTS", default=6)
API_WEBHOOK_RETRY_SECONDS = env.int("API_WEBHOOK_RETRY_SECONDS", default=60)
API_WEBHOOK_TIMEOUT_SECONDS = env.int("API_WEBHOOK_TIMEOUT_SECONDS", default=5)
# Webhooks go to public addresses in HTTPS only (api/destinations.py). True lets loopback
# addresses (127.0.0.0/8, ::1) through, in HTTP too: for the tests' local receivers and the
# embedded mode on one laptop only, never in production (check --deploy warns, api.W001).
API_WEBHOOK_ALLOW_LOOPBACK = env.bool("API_WEBHOOK_ALLOW_LOOPBACK", default=False)
# -- end of REST API ---------------------------------------------------------------------------

# -- Online signing (owned by signing/) --------------------------------------------------------
SIGNING_LINK_MAX_AGE = env.int("SIGNING_LINK_MAX_AGE", default=14 * 24 * 3600)
# The address the mailed links start with (this server as the client's browser reaches it).
SIGNING_BASE_URL = env.str("SIGNING_BASE_URL", default=SITE_URL)
# One-time codes: lifetime, wrong codes before the link locks, lockout, pace and cap of sends.
SIGNING_CODE_MAX_AGE = env.int("SIGNING_CODE_MAX_AGE", default=10 * 60)
SIGNING_CODE_MAX_ATTEMPTS = env.int("SIGNING_CODE_MAX_ATTEMPTS", default=5)
SIGNING_LOCKOUT_SECONDS = env.int("SIGNING_LOCKOUT_SECONDS", default=30 * 60)
SIGNING_CODE_RESEND_SECONDS = env.int("SIGNING_CODE_RESEND_SECONDS", default=60)
SIGNING_CODE_MAX_SENDS = env.int("SIGNING_CODE_MAX_SENDS", default=10)
# How long a proven identity lets its session read and sign the document.
SIGNING_SESSION_MAX_AGE = env.int("SIGNING_SESSION_MAX_AGE", default=30 * 60)
# The signer's copy: offered on their link this long after the decision (seconds), and mailed
# to them as an attachment up to this size (bytes); a bigger file is mailed as a link.
SIGNING_COPY_MAX_AGE = env.int("SIGNING_COPY_MAX_AGE", default=30 * 24 * 3600)
SIGNING_COPY_MAIL_MAX_BYTES = env.int("SIGNING_COPY_MAIL_MAX_BYTES", default=5 * 1024 * 1024)
# Pro Santé Connect (OpenID Connect): replaces the mailed code once all three are set.
SIGNING_PSC_DISCOVERY_URL = env.str("SIGNING_PSC_DISCOVERY_URL", default="")
SIGNING_PSC_CLIENT_ID = env.str("SIGNING_PSC_CLIENT_ID", default="")
SIGNING_PSC_CLIENT_SECRET = env.str("SIGNING_PSC_CLIENT_SECRET", default="")
SIGNING_PSC_SCOPES = env.str("SIGNING_PSC_SCOPES", default="openid scope_all")
SIGNING_PSC_ACR_VALUES = env.str("SIGNING_PSC_ACR_VALUES", default="eidas1")
# The PAdES seal's certificate (PEM: the leaf, then its chain) and key; all seal settings empty:
# the demo seal, a self-signed pair generated under MEDIA_ROOT/seal/ (docs/signing.md).
SIGNING_SEAL_CERT_FILE = env.str("SIGNING_SEAL_CERT_FILE", default="")
SIGNING_SEAL_KEY_FILE = env.str("SIGNING_SEAL_KEY_FILE", default="")
SIGNING_SEAL_KEY_PASSPHRASE = env.str("SIGNING_SEAL_KEY_PASSPHRASE", default="")
# The seal's chain (intermediates) when SIGNING_SEAL_CERT_FILE holds the leaf only; a PKCS#12
# (its password: SIGNING_SEAL_KEY_PASSPHRASE) or a PKCS#11 token instead of PEM files.
SIGNING_SEAL_CHAIN_FILE = env.str("SIGNING_SEAL_CHAIN_FILE", default="")
SIGNING_SEAL_PKCS12_FILE = env.str("SIGNING_SEAL_PKCS12_FILE", default="")
SIGNING_SEAL_PKCS11_MODULE = env.str("SIGNING_SEAL_PKCS11_MODULE", default="")
SIGNING_SEAL_PKCS11_TOKEN = env.str("SIGNING_SEAL_PKCS11_TOKEN", default="")
SIGNING_SEAL_PKCS11_PIN = env.str("SIGNING_SEAL_PKCS11_PIN", default="")
SIGNING_SEAL_PKCS11_KEY_LABEL = env.str("SIGNING_SEAL_PKCS11_KEY_LABEL", default="")
SIGNING_SEAL_PKCS11_CERT_LABEL = env.str("SIGNING_SEAL_PKCS11_CERT_LABEL", default="")
# With a timestamp authority, embed the validation data (PAdES B-LT) in the sealed file.
SIGNING_SEAL_LONG_TERM = env.bool("SIGNING_SEAL_LONG_TERM", default=True)
# RFC 3161 timestamp authority (PAdES B-T); empty: no timestamp (the demo seal never has one).
SIGNING_TSA_URL = env.str("SIGNING_TSA_URL", default="")
SIGNING_TSA_TIMEOUT = env.int("SIGNING_TSA_TIMEOUT", default=10)
# Trust anchors (PEM) a seal is validated against: roots of the seal's and the TSA's chains.
SIGNING_TRUST_ROOTS_FILE = env.str("SIGNING_TRUST_ROOTS_FILE", default="")
# -- end of online signing ---------------------------------------------------------------------

# -- Vendor portal (owned by portal/) ----------------------------------------------------------
# Failed sign-ins (portal and admin): after this many failures for one username from one
# address, a lock; so too after this many from one address whatever the usernames, and for one
# username whatever the addresses, within the same minutes (portal/services/signin.py).
PORTAL_LOCKOUT_FAILURES = env.int("PORTAL_LOCKOUT_FAILURES", default=5)
PORTAL_LOCKOUT_ADDRESS_FAILURES = env.int("PORTAL_LOCKOUT_ADDRESS_FAILURES", default=30)
PORTAL_LOCKOUT_ACCOUNT_FAILURES = env.int("PORTAL_LOCKOUT_ACCOUNT_FAILURES", default=20)
PORTAL_LOCKOUT_MINUTES = env.int("PORTAL_LOCKOUT_MINUTES", default=15)
# Bulk order files: up to this many lines are checked and created in the request, beyond it
# by a Celery task with a progress bar; files larger than the caps are refused.
PORTAL_BULK_INLINE_ROWS = env.int("PORTAL_BULK_INLINE_ROWS", default=200)
PORTAL_BULK_MAX_ROWS = env.int("PORTAL_BULK_MAX_ROWS", default=20000)
PORTAL_BULK_MAX_BYTES = env.int("PORTAL_BULK_MAX_BYTES", default=10 * 1024 * 1024)
# An XLSX is refused before it is opened when its members would inflate past this size in all,
# or one of them past this many times its compressed size (zip bombs, portal/uploads.py).
PORTAL_XLSX_MAX_UNCOMPRESSED_BYTES = env.int(
    "PORTAL_XLSX_MAX_UNCOMPRESSED_BYTES", default=100 * 1024 * 1024
)
PORTAL_XLSX_MAX_RATIO = env.int("PORTAL_XLSX_MAX_RATIO", default=200)
# Other uploads (invoice PDF, the agency's feedback file): at most this size.
PORTAL_UPLOAD_MAX_BYTES = env.int("PORTAL_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
OTP_TOTP_ISSUER = "SONS"
# -- end of vendor portal ----------------------------------------------------------------------

# Production hardening: on whenever DEBUG is off, each switch overridable for a proxy set-up.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The reverse proxies (addresses or networks) whose X-Forwarded-For is believed, read from the
# right: the first address that is not one of them is the client's (signatures, sign-in limits,
# API calls). Empty: the header is ignored and the peer's address is the client's.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every HTML page: nothing loaded from elsewhere, no inline script or style (core/csp.py).
CONTENT_SECURITY_POLICY = env.str("CONTENT_SECURITY_POLICY", default=CSP_DEFAULT_POLICY)
# The load balancer's probe and Prometheus's scrape reach the processes in plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]

# -- Operations: /health/, /metrics, logs (README, « Operations ») ----------------------------
# /metrics answers a bearer token (METRICS_TOKEN) or the client addresses (as TRUSTED_PROXIES
# resolves them) of these networks; with DEBUG off and neither set, nobody. Never list a proxy's
# own address (127.0.0.1 behind a local proxy): every request it passes on would be let in.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"] if DEBUG else []
)
# JSON lines (python-json-logger) in production, key=value text locally; both with request_id.
LOG_JSON = env.bool("LOG_JSON", default=not DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The request id of the request (or task) a record is written in (core/middleware.py).
    "filters": {"request_id": {"()": "core.middleware.RequestIdFilter"}},
    "formatters": {
        "kv": {
            "format": "%(asctime)s level=%(levelname)s logger=%(name)s "
            "request_id=%(request_id)s %(message)s"
        },
        # {"timestamp": ..., "level": ..., "logger": ..., "request_id": ..., "message": "event
        # key=value ..."}, plus the record's extra fields and the exception if any.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "request_id", "message"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_JSON else "kv",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # PDF rendering libraries narrate every step at INFO: keep their warnings only.
    "loggers": {
        name: {"level": "WARNING"} for name in ("weasyprint", "fontTools", "celery.app.trace")
    },
}
