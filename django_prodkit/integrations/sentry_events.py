"""The scrubbing of Sentry events, which are plain data: this module needs no sentry-sdk.

It reuses the kit's scrubber, imported only when an event is scrubbed, that is once
Django's settings are loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import FrameType, TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

__all__ = ["frames", "scrub"]

# Top-level keys that hold no user data: left as they are.
_KEPT = frozenset(
    {
        "_meta",
        "debug_meta",
        "dist",
        "environment",
        "event_id",
        "fingerprint",
        "level",
        "logger",
        "measurements",
        "modules",
        "platform",
        "release",
        "sdk",
        "server_name",
        "start_timestamp",
        "timestamp",
        "transaction_info",
        "type",
    }
)


def scrub(event: dict[str, Any], hint: Mapping[str, Any] | None) -> dict[str, Any]:
    """``event``, changed in place, with what prodkit's own capture would mask masked."""
    from django_prodkit.scrub import scrub_value

    exception = _exception(hint)
    if exception is not None:
        _hide_sensitive_variables(event, exception)
    # A request's secrets are masked wherever they reappear (a local named `t`).
    secrets = _request_secrets(hint)
    for key, value in list(event.items()):
        if key in _KEPT:
            continue
        if key == "request":
            event[key] = _scrub_request(value, secrets)
        elif key == "user":
            if isinstance(value, dict) and "id" in value:
                event[key] = {"id": value["id"]}
            else:
                del event[key]
        elif key == "contexts" and isinstance(value, dict):
            event[key] = _scrub_contexts(value, secrets)
        else:
            event[key] = scrub_value(value, *secrets)
    return event


def frames(exception: BaseException) -> Iterator[tuple[FrameType, int]]:
    """Each frame of ``exception``'s traceback and of the exceptions it chains to."""
    seen: set[int] = set()
    current: BaseException | None = exception
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback: TracebackType | None = current.__traceback__
        while traceback is not None:
            yield traceback.tb_frame, traceback.tb_lineno
            traceback = traceback.tb_next
        current = current.__cause__ or current.__context__


def _exception(hint: Mapping[str, Any] | None) -> BaseException | None:
    exc_info = (hint or {}).get("exc_info")
    if exc_info and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return None


def _request_secrets(hint: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The secret values of the request the event came from, when it can be found."""
    from django.http import HttpRequest

    from django_prodkit.errors.context import request_secrets

    # Django's log records carry the request; a view's frames hold it as `request`.
    request = getattr((hint or {}).get("log_record"), "request", None)
    exception = _exception(hint)
    if not isinstance(request, HttpRequest) and exception is not None:
        for frame, _line in frames(exception):
            request = frame.f_locals.get("request")
            if isinstance(request, HttpRequest):
                break
    return request_secrets(request) if isinstance(request, HttpRequest) else ()


def _scrub_request(request: object, secrets: tuple[str, ...]) -> object:
    from django_prodkit.errors.context import scrub_headers
    from django_prodkit.scrub import MASK, scrub_value

    if not isinstance(request, dict):
        return scrub_value(request, *secrets)
    cleaned: dict[str, object] = {}
    for key, value in request.items():
        if key == "headers":
            pairs = value.items() if isinstance(value, dict) else value
            headers = scrub_headers((str(name), str(text)) for name, text in pairs)
            cleaned[key] = scrub_value(headers, *secrets)
        elif key == "cookies":
            # Every cookie is a credential or tracks the user: names only.
            if isinstance(value, dict):
                cleaned[key] = dict.fromkeys(map(str, value), MASK)
            else:
                cleaned[key] = MASK
        elif key == "query_string":
            cleaned[key] = _scrub_query(value, secrets)
        else:
            cleaned[key] = scrub_value(value, *secrets)
    return cleaned


def _scrub_query(query: object, secrets: tuple[str, ...]) -> object:
    from django_prodkit.errors.context import scrub_params
    from django_prodkit.scrub import scrub_value

    if isinstance(query, str):
        grouped: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            grouped.setdefault(name, []).append(value)
        params = scrub_value(scrub_params(grouped.items()), *secrets)
        return urlencode(cast("dict[str, Any]", params), doseq=True, safe="*")
    if isinstance(query, list):
        pairs = [(str(item[0]), str(item[1])) for item in query]
        params = scrub_value(scrub_params(pairs), *secrets)
        return [[name, value] for name, value in cast("dict[str, Any]", params).items()]
    return scrub_value(query, *secrets)


def _scrub_contexts(
    contexts: dict[str, Any], secrets: tuple[str, ...]
) -> dict[str, Any]:
    from django_prodkit.scrub import scrub_value

    # The sampling context becomes the envelope's trace header: ids and names only.
    trace = contexts.get("trace")
    sampling = (
        trace.pop("dynamic_sampling_context", None) if isinstance(trace, dict) else None
    )
    cleaned = cast("dict[str, Any]", scrub_value(contexts, *secrets))
    if sampling is not None and isinstance(cleaned.get("trace"), dict):
        cleaned["trace"]["dynamic_sampling_context"] = sampling
    return cleaned


def _hide_sensitive_variables(event: dict[str, Any], exception: BaseException) -> None:
    """Mask in the event's frames what ``@sensitive_variables`` hides in the real ones."""
    from django_prodkit.errors.context import reporter_filter
    from django_prodkit.scrub import MASK

    reporter = reporter_filter(None)
    hidden: dict[tuple[str, int], set[str]] = {}
    for frame, line in frames(exception):
        found = {
            name
            for name, value in reporter.get_traceback_frame_variables(None, frame)
            if value is reporter.cleansed_substitute
        }
        if found:
            hidden.setdefault((frame.f_code.co_filename, line), set()).update(found)
    if not hidden:
        return
    # The event's frames are matched to the real ones by file and line.
    for block in (event.get("exception"), event.get("threads")):
        for value in (block or {}).get("values") or ():
            stacktrace = (value or {}).get("stacktrace") or {}
            for frame_data in stacktrace.get("frames") or ():
                key = (frame_data.get("abs_path"), frame_data.get("lineno"))
                variables = frame_data.get("vars")
                if key in hidden and isinstance(variables, dict):
                    for name in hidden[key] & variables.keys():
                        variables[name] = MASK
