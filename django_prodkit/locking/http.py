"""HTTP for versioned rows: the version as an ``ETag``, ``If-Match`` checks, and the
JSON answers for a conflict (409), a failed precondition (412) and a missing one (428).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.http import parse_etags

from django_prodkit.exceptions import ConflictError
from django_prodkit.locking.models import VERSION_FIELD

__all__ = [
    "Answer",
    "PreconditionFailed",
    "PreconditionRequired",
    "check_if_match",
    "describe",
    "error_response",
    "etag",
    "if_match_required",
    "set_etag",
]

UNSAFE_METHODS = frozenset({"DELETE", "PATCH", "POST", "PUT"})

_View = TypeVar("_View", bound=Callable[..., Any])


class PreconditionFailed(Exception):
    """``If-Match`` names a version that is not the row's current one: 412."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance
        self.current_version: int = getattr(instance, VERSION_FIELD)
        label = instance._meta.label
        super().__init__(
            f"{label} {instance.pk!r} is at version {self.current_version}, "
            "which If-Match does not name"
        )


class PreconditionRequired(Exception):
    """An unsafe request to a view that requires ``If-Match`` came without one: 428."""


def etag(instance: Any) -> str:
    """The strong entity tag of a versioned row: its version in quotes, e.g. ``"7"``."""
    return f'"{getattr(instance, VERSION_FIELD)}"'


def set_etag(response: HttpResponseBase, instance: Any) -> HttpResponseBase:
    """Put the row's version on the response as its ``ETag``; return the response."""
    response["ETag"] = etag(instance)
    return response


def check_if_match(
    request: HttpRequest, instance: Any, *, required: bool = False
) -> None:
    """Check the request's ``If-Match`` against the row's version.

    No header passes, unless ``required`` (then ``PreconditionRequired``, 428). ``*``
    passes. Otherwise one of the listed entity tags must be the row's version, compared
    strongly as RFC 9110 says for ``If-Match`` (a weak ``W/"7"`` never matches), else
    ``PreconditionFailed`` (412). The save that follows still checks the version, so a
    write racing in between the check and the save is refused too.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired(
                "This request must carry If-Match with the resource's ETag."
            )
        return
    if header.strip() == "*":
        return
    if etag(instance) not in parse_etags(header):
        raise PreconditionFailed(instance)


def if_match_required(view: _View) -> _View:
    """Answer 428 to an unsafe request without ``If-Match`` before the view runs."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method in UNSAFE_METHODS and "If-Match" not in request.headers:
            return error_response(
                PreconditionRequired(
                    "This request must carry If-Match with the resource's ETag."
                ),
                request,
            )
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Answer(NamedTuple):
    """What a locking exception is answered with."""

    status: int
    body: dict[str, object]
    headers: dict[str, str]


def describe(exc: BaseException, request: HttpRequest) -> Answer | None:
    """The answer to a locking exception, or ``None`` for any other exception.

    A ``ConflictError`` during a request that carried ``If-Match`` is a failed
    precondition (412): the client's condition was checked and lost a race.
    """
    headers = {"Cache-Control": "no-store"}
    if isinstance(exc, ConflictError):
        body = exc.as_dict()
        status = 409
        if "If-Match" in request.headers:
            body["error"] = "precondition_failed"
            status = 412
        if exc.current_version is not None:
            headers["ETag"] = f'"{exc.current_version}"'
        return Answer(status, body, headers)
    if isinstance(exc, PreconditionFailed):
        instance = exc.instance
        body = {
            "error": "precondition_failed",
            "model": instance._meta.label_lower,
            "pk": instance.pk,
            "current_version": exc.current_version,
            "detail": str(exc),
        }
        return Answer(412, body, {**headers, "ETag": etag(instance)})
    if isinstance(exc, PreconditionRequired):
        body = {"error": "precondition_required", "detail": str(exc)}
        return Answer(428, body, headers)
    return None


def error_response(exc: BaseException, request: HttpRequest) -> JsonResponse | None:
    """``describe()`` as a JSON response, or ``None`` for any other exception."""
    answer = describe(exc, request)
    if answer is None:
        return None
    return JsonResponse(answer.body, status=answer.status, headers=answer.headers)
