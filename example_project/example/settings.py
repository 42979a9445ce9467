"""Settings for the django-prodkit example project.

Everything runs embedded by default: SQLite, LocMemCache and Celery in eager mode. Set
DATABASE_URL, REDIS_URL and CELERY_BROKER_URL to use PostgreSQL, Redis and a real broker.
Every environment variable read here is listed, with its default, in ../README.md.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.security import recommended_policy

BASE_DIR = Path(__file__).resolve().parent.parent

# Django 6 sends CSP itself; on 5.2, django-csp does (see "CSP" below).
CSP_MIDDLEWARE = (
    "django.middleware.csp.ContentSecurityPolicyMiddleware"
    if django.VERSION >= (6, 0)
    else "csp.middleware.CSPMiddleware"
)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0 (or true/false), got {value!r}.")


def _env_list(name: str, default: str) -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


DEBUG = _env_flag("DJANGO_DEBUG", True)
# Local development only: the "django-insecure-" prefix makes `check --deploy` flag it.
SECRET_KEY = (
    os.environ.get("DJANGO_SECRET_KEY") or "django-insecure-prodkit-example-local-only"
)
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

# The bearer token that shows /health/'s messages and versions to a non-staff caller such as
# an uptime monitor; with none set (the default), only staff users see them.
HEALTH_TOKEN = os.environ.get("PRODKIT_HEALTH_TOKEN", "")
# The bearer token that opens /metrics to a Prometheus server; with none set, only staff users
# (and no address) may read it.
METRICS_TOKEN = os.environ.get("PRODKIT_METRICS_TOKEN", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles, so that runserver leaves static files to WhiteNoise too.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_prodkit",
    "demo",
]

MIDDLEWARE = [
    # First, so that every response (redirects and static files too) gets an ID and a log line.
    "django_prodkit.logs.RequestIDMiddleware",
    # Next, so that request timings and query counts cover the rest of the stack.
    "django_prodkit.metrics.MetricsMiddleware",
    "django_prodkit.queries.QueriesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Permissions-Policy, Cross-Origin-Resource-Policy, Reporting-Endpoints; above the CSP
    # middleware so that it sees the policy on the way out.
    "django_prodkit.security.SecurityHeadersMiddleware",
    CSP_MIDDLEWARE,
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication, so that rules can count by user.
    "django_prodkit.ratelimit.RateLimitMiddleware",
    # After authentication, so that a key belongs to its user (or client IP), and after
    # the rate limiter, so that a refused request holds no key.
    "django_prodkit.idempotency.IdempotencyMiddleware",
    # Answers a stale write to a versioned model (ConflictError) with 409 JSON.
    "django_prodkit.locking.ConflictMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

PRODKIT = {
    "LOGS": {
        # The admin pulls a dozen static files per page: keep them out of the request log.
        "REQUEST_LOG_SKIP": ["/static/"],
    },
    "HEALTH": {
        # Every built-in check runs with its defaults: the database and cache in use, Redis
        # and the broker once REDIS_URL and CELERY_BROKER_URL are set, migrations, disk
        # space on "/" and this process's memory.
        "TOKEN": HEALTH_TOKEN or None,
    },
    "RATELIMIT": {
        # Sliding windows in Redis when REDIS_URL is set, fixed windows in LocMemCache
        # otherwise (per process: fine for a demo, not for production).
        "RULES": [
            {"NAME": "demo-ping", "PATH": "/demo/ping/", "RATE": "10/m", "KEY": "ip"},
        ],
        # The older header trio and the X- variant, which most clients read today.
        "HEADERS": ["legacy", "x"],
        # The default, written out: a Redis outage admits requests instead of refusing them.
        "FAIL": "open",
    },
    "ERRORS": {
        # Unhandled exceptions (GET /demo/boom/) and error log records (the "errors"
        # handler in LOGGING) become groups under "Error groups" in the admin. A group's
        # further occurrences are written at most every FLUSH_SECONDS: 1 s here, so that
        # the admin shows them at once; production keeps the default 5 s.
        "FLUSH_SECONDS": 1,
    },
    "QUERIES": {
        # Below the 250 ms query of /demo/slow/, so that it shows under "Slow queries".
        "SLOW_MS": 100,
        # /demo/n-plus-one/ reads 20 content types one by one: reported past 5 repeats.
        "N_PLUS_ONE": 5,
        # The plan of each slow SELECT's slowest run, on PostgreSQL (EXPLAIN, never ANALYZE).
        "EXPLAIN": os.environ.get("DATABASE_URL", "").startswith("postgres"),
        "FLUSH_SECONDS": 1,
    },
    "METRICS": {
        "TOKEN": METRICS_TOKEN or None,
    },
}
# CSP in report-only mode: the strict nonce policy blocks nothing yet, and browsers send
# what it would have blocked to /csp-report/ (grouped under "CSP reports" in the admin).
_csp = recommended_policy(report_only=True, report_uri="/csp-report/")
if django.VERSION >= (6, 0):
    SECURE_CSP_REPORT_ONLY = _csp
else:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp

# Should the project add django-ratelimit decorators, they count by prodkit's client IP and
# answer with prodkit's 429.
RATELIMIT_IP_META_KEY = "django_prodkit.client_ip.get_client_ip"
RATELIMIT_VIEW = "django_prodkit.ratelimit.views.ratelimited"

ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
ASGI_APPLICATION = "example.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # {{ csp_nonce }} in templates, for <script nonce="...">.
                "django.template.context_processors.csp"
                if django.VERSION >= (6, 0)
                else "csp.context_processors.nonce",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Keep a connection for a minute instead of opening one per request, and check it
        # before reuse so that a database restart costs one retry, not a 500.
        conn_max_age=60,
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = os.environ.get("REDIS_URL", "")
if _redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": _redis_url,
            "KEY_PREFIX": "example",
            # Fail fast when Redis is down instead of hanging a request.
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Rate limits then count per process (prodkit.W034) and idempotency keys are locked
    # per process (prodkit.W061): what a one-process demo wants.
    SILENCED_SYSTEM_CHECKS = ["prodkit.W034", "prodkit.W061"]

_broker_url = os.environ.get("CELERY_BROKER_URL", "")
CELERY_BROKER_URL = _broker_url or "memory://"
# With no broker, tasks run inline in the process that sends them.
CELERY_TASK_ALWAYS_EAGER = not _broker_url

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves files straight from each app's static/ folder, so the example needs no
# collectstatic; a real deployment runs collectstatic into STATIC_ROOT instead.
WHITENOISE_USE_FINDERS = True
# ...and so STATIC_ROOT may not exist, which WhiteNoise would warn about at start-up.
warnings.filterwarnings(
    "ignore", message=r"No directory at: .*staticfiles", module=r"whitenoise\."
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

_log_level = os.environ.get("DJANGO_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "django_prodkit.logs.RequestIDFilter"},
        "no_access_line": {"()": "example.log.RunserverAccessLineFilter"},
    },
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        },
        "json": {"()": "django_prodkit.logs.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if _env_flag("PRODKIT_JSON_LOGS", False) else "text",
        },
        # Records of level ERROR and above become error groups. Django logs every 500 that
        # it also signals to prodkit; such a record is recognised by its exception and
        # not counted a second time.
        "errors": {"class": "django_prodkit.errors.ErrorLogHandler"},
    },
    # The handlers are on the root logger and every logger propagates to it, so each
    # record is written once. Django's default config gives "django" and "django.server"
    # handlers of their own; naming them here with no handlers removes those.
    "root": {"handlers": ["console", "errors"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": [], "level": _log_level},
        "django.server": {
            "handlers": [],
            "level": _log_level,
            "filters": ["no_access_line"],
            "propagate": True,
        },
        "django_prodkit": {"level": _log_level},
        "demo": {"level": _log_level},
    },
}
