"""Django REST framework: answer the locking exceptions as the middleware does.

In settings::

    REST_FRAMEWORK = {
        "EXCEPTION_HANDLER": "django_prodkit.locking.drf.exception_handler",
    }

A ``ConflictError`` becomes 409, ``PreconditionFailed`` 412 and ``PreconditionRequired``
428, with the same JSON body as ``ConflictMiddleware`` but rendered by DRF's content
negotiation; every other exception goes to DRF's own handler.
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from django_prodkit.locking.http import describe

__all__ = ["exception_handler"]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    answer = describe(exc, request) if request is not None else None
    if answer is None:
        return drf_exception_handler(exc, context)
    return Response(answer.body, status=answer.status, headers=answer.headers)
