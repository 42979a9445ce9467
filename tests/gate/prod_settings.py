"""A production-like settings module that passes the deploy gate, for subprocess runs.

The database is ``PRODKIT_GATE_DATABASE_URL`` (a PostgreSQL database or a SQLite file
that the tests migrate first); the cache is the Redis of the test services.
"""

from __future__ import annotations

import os

import dj_database_url

from django_prodkit.security.csp import recommended_policy
from tests.services import REDIS_URL

SECRET_KEY = "Zq7vN2pX9tL4wK8rB3mH6sD1fG5jC0yV-e_uT7iO2aS9dF4gH8kL3zX6cV1bN5mQ"
DEBUG = False
ALLOWED_HOSTS = ["app.example.com"]
USE_TZ = True
ROOT_URLCONF = "tests.urls"

_database = dj_database_url.parse(
    os.environ["PRODKIT_GATE_DATABASE_URL"], conn_max_age=60, conn_health_checks=True
)
if _database["ENGINE"] == "django.db.backends.postgresql":
    _database["OPTIONS"] = {"options": "-c statement_timeout=5000 -c lock_timeout=3000"}
DATABASES = {"default": _database}

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "prodkit-gate-tests",
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_prodkit",
    "tests.gate.shop",
]

MIDDLEWARE = [
    "django_prodkit.logs.RequestIDMiddleware",
    "django_prodkit.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django_prodkit.security.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ]
        },
    }
]

STATIC_URL = "/static/"
CONTENT_SECURITY_POLICY = recommended_policy(
    report_uri="/csp-report/", backend="django-csp"
)

SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

PRODKIT = {
    "HEALTH": {"TOKEN": "gate-tests-health-token-0123456789abcdef"},
    "METRICS": {"TOKEN": "gate-tests-metrics-token-0123456789abcdef"},
}
