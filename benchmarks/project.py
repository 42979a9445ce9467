"""The Django project every benchmark runs in: settings, one URL and one JSON view.

Benchmarks are scripts, so ``settings.configure()`` is fine here; the app itself never does it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

HOST = "localhost"
PATH = "/json/"
BODY = b'{"ok": true}'

# What startproject's default MIDDLEWARE needs, so that every case can load it.
BASE_APPS = (
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
)


def json_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path(PATH.strip("/") + "/", json_view)]


class NoopMiddleware:
    """A middleware layer that does nothing: the floor any middleware pays."""

    def __init__(self, get_response: object) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)  # type: ignore[operator,no-any-return]


def configure(installed_apps: Iterable[str], extra: Mapping[str, object]) -> None:
    """Configure Django once for the whole process; cases change MIDDLEWARE per handler.

    ``extra`` (the benchmarks' own settings) is applied over these defaults, so that a
    benchmark can choose the database, for example.
    """
    defaults: dict[str, object] = {
        "DEBUG": False,
        "SECRET_KEY": "benchmarks-only-not-secret",
        "ALLOWED_HOSTS": [HOST],
        "USE_TZ": True,
        "ROOT_URLCONF": __name__,
        "DATABASES": {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        "INSTALLED_APPS": list(dict.fromkeys([*BASE_APPS, *installed_apps])),
        "MIDDLEWARE": [],
    }
    settings.configure(**{**defaults, **extra})
    django.setup()
