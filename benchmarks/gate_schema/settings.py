"""Production-like settings of the generated project, read from the environment.

- ``PRODKIT_BENCH_GATE_MODELS``: how many models (300);
- ``DATABASE_URL``: a ``postgres://`` URL, whose server holds the database named by
  ``PRODKIT_BENCH_GATE_DATABASE`` (created for the run, its tables in ``public``, where
  django-extensions' ``sqldiff`` looks for them); without it, the SQLite file named by
  ``PRODKIT_BENCH_GATE_SQLITE``;
- ``PRODKIT_BENCH_GATE_MIGRATIONS``: a folder holding the ``gate_migrations`` package that
  the set-up writes with ``makemigrations`` (a real project has migrations; the gate and
  Django's checks read them);
- ``PRODKIT_BENCH_GATE_EXTENSIONS=1``: add django-extensions, for its ``sqldiff`` only, so
  that the other commands do not load it;
- ``REDIS_URL``: the cache (``redis://127.0.0.1:6379/12``).
"""

from __future__ import annotations

import os
import sys

from benchmarks.counters import database_from_env
from benchmarks.gate_schema.generate import APPS

_database = database_from_env("deploy_gate", 0)
if _database.postgres_url is not None:
    _database.settings["NAME"] = os.environ["PRODKIT_BENCH_GATE_DATABASE"]
else:
    _database.settings["NAME"] = os.environ["PRODKIT_BENCH_GATE_SQLITE"]

_migrations = os.environ.get("PRODKIT_BENCH_GATE_MIGRATIONS")
if _migrations and _migrations not in sys.path:
    sys.path.insert(0, _migrations)

DEBUG = False
SECRET_KEY = "gate-benchmark-Zq8vN3xK7pL2wR9tY4mB6cH1jF5sD0gA-not-a-real-secret"
ALLOWED_HOSTS = ["gate.example.com"]
ROOT_URLCONF = "benchmarks.project"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": _database.settings}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
    }
}
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_prodkit",
    *(f"benchmarks.gate_schema.{app}" for app in APPS),
]
if os.environ.get("PRODKIT_BENCH_GATE_EXTENSIONS") == "1":
    INSTALLED_APPS.append("django_extensions")
MIGRATION_MODULES = {app: f"gate_migrations.{app}" for app in APPS}
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
        "OPTIONS": {"context_processors": []},
    }
]
SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
PRODKIT = {"GATE": {"TIMEOUT": 5.0}}
