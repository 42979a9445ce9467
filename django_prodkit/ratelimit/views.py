"""The 429 answer for django-ratelimit's decorators: ``RATELIMIT_VIEW``.

``RATELIMIT_VIEW = "django_prodkit.ratelimit.views.ratelimited"`` makes existing
``@ratelimit(block=True)`` views answer like the middleware: 429, the JSON body and
``Retry-After``. django-ratelimit does not tell the view how long the window has left, so
``retry_after`` is ``PRODKIT["RATELIMIT"]["DECORATOR_RETRY_AFTER"]``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from django_prodkit import conf
from django_prodkit.ratelimit.core import Decision
from django_prodkit.ratelimit.responses import too_many_requests

__all__ = ["ratelimited"]


def ratelimited(request: HttpRequest, exception: Exception) -> HttpResponse:
    retry_after = conf.get().ratelimit.decorator_retry_after
    return too_many_requests(Decision(limited=True, retry_after=retry_after))
