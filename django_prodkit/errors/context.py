"""What an occurrence keeps of its request and its frames, scrubbed before it is stored.

Nothing here reads what the request has not read already: the form is kept only when
the view parsed it, the body only when the view read it, and the user only when the
authentication middleware already loaded it (loading it would query the database,
maybe inside a broken transaction).
"""

from __future__ import annotations

import functools
import json
import reprlib
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.utils.functional import SimpleLazyObject, empty
from django.views.debug import (
    SafeExceptionReporterFilter,
    get_exception_reporter_filter,
)

from django_prodkit.errors.fingerprint import frames
from django_prodkit.logs.context import get_request_id
from django_prodkit.project_code import is_project_file
from django_prodkit.scrub import MASK, is_sensitive_key, scrub_text, scrub_value

__all__ = [
    "frame_locals",
    "request_context",
    "request_summary",
    "scrub_headers",
    "scrub_params",
]

# Headers that are credentials whatever their value looks like.
DROPPED_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
MAX_ITEMS = 50
PATH_LENGTH = 500
MAX_VALUE = 500
MAX_BODY = 65536
LOCALS_FRAMES = 5
_JSON_TYPES = ("application/json",)

_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200
_repr.maxlevel = 2
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 10


def short(value: str, limit: int = MAX_VALUE) -> str:
    """``value`` cut to ``limit`` characters, with NUL made visible (PostgreSQL refuses
    NUL in text and JSON)."""
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def request_summary(request: HttpRequest | None) -> dict[str, str]:
    """The request fields kept on the group: method, path, route, user id, request ID."""
    request_id = get_request_id(request) if request is not None else None
    summary = {"request_id": request_id or get_request_id() or ""}
    if request is None:
        return summary
    match = getattr(request, "resolver_match", None)
    summary.update(
        request_method=str(request.method or "")[:10],
        request_path=short(scrub_text(request.path), PATH_LENGTH),
        request_route=short(str(match.route), PATH_LENGTH) if match is not None else "",
        user_id=_user_id(request),
    )
    return summary


def _user_id(request: HttpRequest) -> str:
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:  # Not loaded by the view: loading it would query.
            return ""
    pk = getattr(user, "pk", None)
    if pk is None or not getattr(user, "is_authenticated", False):
        return ""
    try:
        return json.dumps(pk, default=str)[:64]
    except (TypeError, ValueError):
        return ""


def request_context(request: HttpRequest) -> dict[str, Any]:
    """Headers, query, form or JSON body, and cookie names of ``request``, scrubbed."""
    context: dict[str, Any] = {
        "headers": scrub_headers(_headers(request)),
        "query": scrub_params(request.GET.lists()),
    }
    if request.COOKIES:
        context["cookies"] = sorted(request.COOKIES)[:MAX_ITEMS]
    form = _form(request)
    if form is not None:
        context["form"] = form
    body = _json_body(request)
    if body is not None:
        context["json"] = body
    return context


def request_secrets(request: HttpRequest | None) -> tuple[str, ...]:
    """The secret values this request carries, to be masked wherever they appear.

    Values of cookies, credentials headers and sensitive-named headers, query and form
    parameters, and of the form parameters named by ``@sensitive_post_parameters``: a
    view that copies one into a variable or a message must not leak it that way.
    """
    if request is None:
        return ()
    found: set[str] = set(request.COOKIES.values())
    for name, value in _headers(request):
        if name.lower() in DROPPED_HEADERS or is_sensitive_key(name):
            found.add(value)
            found.update(value.split())  # "Bearer <token>": the token alone too.
    for name, values in request.GET.lists():
        if is_sensitive_key(name):
            found.update(values)
    if "_post" in request.__dict__:
        hidden = getattr(request, "sensitive_post_parameters", ())
        for name, values in request.POST.lists():
            if hidden == "__ALL__" or name in hidden or is_sensitive_key(name):
                found.update(values)
    found.update(_sensitive_values(_parsed_json(request)))
    return tuple(sorted((v for v in found if len(v) >= 4), key=len, reverse=True))


def _sensitive_values(data: object, sensitive: bool = False) -> Iterator[str]:
    if isinstance(data, Mapping):
        for key, item in data.items():
            yield from _sensitive_values(item, sensitive or is_sensitive_key(str(key)))
    elif isinstance(data, list):
        for item in data:
            yield from _sensitive_values(item, sensitive)
    elif sensitive and data is not None and not isinstance(data, bool):
        yield str(data)


def mask(value: object, secrets: tuple[str, ...]) -> object:
    """``value`` with each of ``secrets`` masked in every string inside it."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {key: mask(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [mask(item, secrets) for item in value]
    return value


def _headers(request: HttpRequest) -> Iterable[tuple[str, str]]:
    for key, value in request.META.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").title(), str(value)
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            yield key.replace("_", "-").title(), str(value)


def scrub_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header name → value, with credentials, cookies and sensitive names masked."""
    cleaned: dict[str, str] = {}
    for name, value in headers:
        if len(cleaned) >= MAX_ITEMS:
            break
        if name.lower() in DROPPED_HEADERS or is_sensitive_key(name):
            cleaned[name] = MASK
        else:
            cleaned[name] = short(scrub_text(value))
    return cleaned


def scrub_params(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Parameter name → value(s) of a query or form, sensitive names masked."""
    cleaned: dict[str, Any] = {}
    for name, values in items:
        if len(cleaned) >= MAX_ITEMS:
            break
        if is_sensitive_key(str(name)):
            cleaned[str(name)] = MASK
            continue
        if isinstance(values, list):
            kept = [short(scrub_text(str(value))) for value in values[:10]]
            cleaned[str(name)] = kept[0] if len(kept) == 1 else kept
        else:
            cleaned[str(name)] = short(scrub_text(str(values)))
    return cleaned


@functools.cache
def _active_filter(
    filter_class: type[SafeExceptionReporterFilter],
) -> type[SafeExceptionReporterFilter]:
    # Django's filter hides nothing under DEBUG; what is stored must be hidden always.
    class Active(filter_class):  # type: ignore[valid-type,misc]
        def is_active(self, request: HttpRequest | None) -> bool:
            return True

    return Active


def reporter_filter(request: HttpRequest | None) -> SafeExceptionReporterFilter:
    """The project's exception reporter filter, made to filter under DEBUG too."""
    configured = get_exception_reporter_filter(request)
    return _active_filter(type(configured))()  # type: ignore[arg-type]  # hashable


def _form(request: HttpRequest) -> dict[str, Any] | None:
    if "_post" not in request.__dict__ or not request.POST:
        return None
    # Honours @sensitive_post_parameters, then prodkit's own list of names.
    post = reporter_filter(request).get_post_parameters(request)
    if isinstance(post, MultiValueDict):
        return scrub_params(post.lists())
    return scrub_params(post.items())


def _parsed_json(request: HttpRequest) -> object | None:
    """The JSON body the view read, if it read one of at most 64 KiB."""
    body = request.__dict__.get("_body")
    if not body or len(body) > MAX_BODY or request.content_type not in _JSON_TYPES:
        return None
    try:
        data: object = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data


def _json_body(request: HttpRequest) -> object | None:
    data = _parsed_json(request)
    return None if data is None else _limit(scrub_value(data))


def _limit(value: object, depth: int = 0) -> object:
    if depth > 5:
        return "…"
    if isinstance(value, str):
        return short(value)
    if isinstance(value, Mapping):
        return {
            str(key): _limit(item, depth + 1)
            for key, item in list(value.items())[:MAX_ITEMS]
        }
    if isinstance(value, list):
        return [_limit(item, depth + 1) for item in value[:MAX_ITEMS]]
    return value


def repr_short(value: object) -> str:
    """A repr of ``value`` cut to a few items and characters; never raises."""
    try:
        return _repr.repr(value)
    except Exception as error:
        return f"<repr failed: {type(error).__name__}>"


def _masked(value: object) -> object:
    """A mapping or sequence with the values of sensitive keys masked, for its repr."""
    if isinstance(value, Mapping | list | tuple):
        return scrub_value(dict(value.items()) if isinstance(value, Mapping) else value)
    return value


def frame_locals(
    traceback: TracebackType | None, request: HttpRequest | None
) -> list[dict[str, Any]]:
    """The local variables of the innermost frames, as short scrubbed reprs.

    ``@sensitive_variables`` is honoured through the project's exception reporter
    filter; names that look sensitive are masked whatever their value.
    """
    reporter = reporter_filter(request)
    chosen = list(frames(traceback))[-LOCALS_FRAMES:]
    result = []
    for frame, line in reversed(chosen):
        code = frame.f_code
        variables: dict[str, str] = {}
        try:
            # A module's top level has every global as a local: nothing to learn there.
            pairs = (
                []
                if code.co_name == "<module>"
                else list(reporter.get_traceback_frame_variables(request, frame))
            )
        except Exception:
            pairs = []
        for name, value in pairs[:MAX_ITEMS]:
            if is_sensitive_key(str(name)):
                variables[str(name)] = MASK
                continue
            variables[str(name)] = scrub_text(repr_short(_masked(value)))
        result.append(
            {
                "function": code.co_name,
                "module": str(frame.f_globals.get("__name__", "")),
                "line": line,
                "in_project": is_project_file(code.co_filename),
                "locals": variables,
            }
        )
    return result
