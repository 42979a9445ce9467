"""``IdempotencyMiddleware``: a retried unsafe request runs once; the retries get its answer."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import MiddlewareNotUsed, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.http.response import HttpResponseBase

from django_prodkit import conf
from django_prodkit._typing import AsyncGetResponse, GetResponse
from django_prodkit.client_ip import get_client_ip
from django_prodkit.idempotency.store import (
    KEY_PREFIX,
    Done,
    Record,
    Running,
    Store,
    StoreUnavailable,
    get_store,
)

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    User = AbstractBaseUser | AnonymousUser

__all__ = ["REPLAYED_HEADER", "IdempotencyMiddleware", "fingerprint", "record_key"]

logger = logging.getLogger("django_prodkit.idempotency")

REPLAYED_HEADER = "Idempotent-Replayed"
KEY_CHARACTERS = re.compile(r"[A-Za-z0-9._~:-]+")
# Set by process_view: the request got past every middleware to its view. An answer
# given before that (a CSRF failure, a 401 from an auth middleware) is not kept, so a
# corrected retry with the same key runs.
_VIEW_REACHED = "_prodkit_idempotency_view_reached"


class _Attempt(NamedTuple):
    key: str
    running: Running


class IdempotencyMiddleware:
    """Honour ``Idempotency-Key`` on unsafe requests; place it after authentication.

    A request without the header, or with a method or path the settings leave out,
    costs a tuple test and a prefix test.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        if not conf.get().idempotency.enabled:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
            # An async handler would run a sync process_view in a thread, per request.
            self.process_view = self._aprocess_view  # type: ignore[method-assign,assignment]

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        options = conf.get().idempotency
        if not _honoured(request, options):
            return self.get_response(request)  # type: ignore[return-value]
        plan = _plan(request, options, getattr(request, "user", None))
        if plan is None:
            return self.get_response(request)  # type: ignore[return-value]
        if not isinstance(plan, _Attempt):
            return plan
        store = get_store()
        try:
            record = store.acquire(plan.key, plan.running, options.lock_ttl)
        except StoreUnavailable as error:
            refusal = _unavailable(options, request, error)
            if refusal is not None:
                return refusal
            return self.get_response(request)  # type: ignore[return-value]
        if record is not None:
            return _answer(record, plan.running)
        try:
            response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
        except BaseException:
            _release(store, plan)
            raise
        _finish(store, options, request, response, plan)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        options = conf.get().idempotency
        if not _honoured(request, options):
            return await self.get_response(request)  # type: ignore[no-any-return,misc]
        user = None
        if _meta_key(options.header) in request.META and hasattr(request, "auser"):
            # The sync user property would query the session from the event loop.
            user = await request.auser()
            request.user = user
        plan = _plan(request, options, user)
        if plan is None:
            return await self.get_response(request)  # type: ignore[no-any-return,misc]
        if not isinstance(plan, _Attempt):
            return plan
        store = get_store()
        try:
            record = await _in_thread(store.acquire)(
                plan.key, plan.running, options.lock_ttl
            )
        except StoreUnavailable as error:
            refusal = _unavailable(options, request, error)
            if refusal is not None:
                return refusal
            return await self.get_response(request)  # type: ignore[no-any-return,misc]
        if record is not None:
            return _answer(record, plan.running)
        try:
            response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        except BaseException:
            await _in_thread(_release)(store, plan)
            raise
        await _in_thread(_finish)(store, options, request, response, plan)
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        setattr(request, _VIEW_REACHED, True)

    async def _aprocess_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        setattr(request, _VIEW_REACHED, True)


def _in_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    # The stores are blocking clients; keep them off the event loop.
    return sync_to_async(function, thread_sensitive=False)


def record_key(scope: str, method: str, path: str, key: str) -> str:
    """The store's key for ``key`` sent by ``scope`` with ``method`` to ``path``."""
    material = "\0".join((scope, method, path, key)).encode("utf-8", "surrogatepass")
    return KEY_PREFIX + hashlib.sha256(material).hexdigest()


def fingerprint(query_string: str, body: bytes) -> str:
    """What a reused key must send again: the query string and the body."""
    digest = hashlib.sha256(query_string.encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _honoured(request: HttpRequest, options: conf.IdempotencySettings) -> bool:
    if request.method not in options.methods:
        return False
    path = request.path_info
    return path.startswith(options.paths) or path.startswith(options.required_paths)


def _plan(
    request: HttpRequest, options: conf.IdempotencySettings, user: User | None
) -> _Attempt | HttpResponse | None:
    """The attempt to make, a 400 or 413 answer, or ``None`` to run without a key."""
    raw = request.META.get(_meta_key(options.header))
    if raw is None:
        if request.path_info.startswith(options.required_paths):
            return _error(
                400,
                "idempotency_key_required",
                f"This request needs an {options.header} header.",
            )
        return None
    if len(raw) > options.max_key_length or not KEY_CHARACTERS.fullmatch(raw):
        return _error(
            400,
            "idempotency_key_invalid",
            f"The {options.header} header must be 1 to {options.max_key_length} "
            "characters among letters, digits and -._~:",
        )
    try:
        body = _body(request)
    except RequestDataTooBig:
        return _error(
            413,
            "request_too_large",
            "The request body is larger than this site accepts.",
        )
    scope = _scope(request, user)
    return _Attempt(
        key=record_key(scope, request.method or "", request.path_info, raw),
        running=Running(
            token=secrets.token_hex(16),
            fingerprint=fingerprint(request.META.get("QUERY_STRING", ""), body),
        ),
    )


def _body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RawPostDataException:
        # A middleware above this one parsed a multipart body as a stream: its raw bytes
        # are gone, so the fingerprint covers the fields and the files' names and sizes.
        fields = sorted(request.POST.lists())
        files = sorted(
            (name, [(f.name, f.size) for f in uploads])
            for name, uploads in request.FILES.lists()
        )
        return repr((fields, files)).encode("utf-8", "surrogatepass")


def _scope(request: HttpRequest, user: User | None) -> str:
    """Whose keys these are: the user, else the credentials sent, else the address."""
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization:
        # Authentication that happens in the view (API tokens) leaves the user anonymous
        # here; the credentials still tell clients apart, and stay stable on a new IP.
        digest = hashlib.sha256(authorization.encode("utf-8", "surrogatepass"))
        return f"auth:{digest.hexdigest()}"
    return f"ip:{get_client_ip(request)}"


def _answer(record: Record, running: Running) -> HttpResponseBase:
    """What a request gets when its key is already taken."""
    if record.fingerprint != running.fingerprint:
        return _error(
            422,
            "idempotency_key_reused",
            "This key was already used with a different request body or query string.",
        )
    if isinstance(record, Running):
        return _error(
            409,
            "idempotency_key_in_use",
            "A request with this key is still running; retry shortly.",
            retry_after=1,
        )
    return _replay(record)


def _replay(record: Done) -> HttpResponse:
    response = HttpResponse(record.body or b"", status=record.status)
    del response["Content-Type"]  # Only the stored headers, not Django's default.
    for name, value in record.headers:
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _finish(
    store: Store,
    options: conf.IdempotencySettings,
    request: HttpRequest,
    response: HttpResponseBase,
    attempt: _Attempt,
) -> None:
    """Keep the response for replays, or free the key when it should run again."""
    status = response.status_code
    # 5xx: the request may not have done its work. 429: it did not run.
    if status >= 500 or status == 429 or not getattr(request, _VIEW_REACHED, False):
        _release(store, attempt)
        return
    done = Done(
        fingerprint=attempt.running.fingerprint,
        status=status,
        headers=_kept_headers(response, options.replay_headers),
        body=_kept_body(response, options.max_response_bytes),
    )
    try:
        stored = store.complete(attempt.key, attempt.running, done, options.ttl)
    except StoreUnavailable as error:
        logger.warning(
            "%s %s: response not kept for replay: %s",
            request.method,
            request.path,
            error,
        )
        return
    if not stored:
        logger.warning(
            "%s %s ran longer than IDEMPOTENCY.LOCK_TTL (%gs): its key was freed "
            "before it finished, and its response is not kept for replay.",
            request.method,
            request.path,
            options.lock_ttl,
        )


def _release(store: Store, attempt: _Attempt) -> None:
    try:
        store.release(attempt.key, attempt.running)
    except StoreUnavailable as error:
        logger.warning("idempotency key not released: %s", error)


def _kept_headers(
    response: HttpResponseBase, names: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    allowed = _lower(names)
    return tuple(
        (name, value) for name, value in response.items() if name.lower() in allowed
    )


@functools.lru_cache(maxsize=16)
def _lower(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name.lower() for name in names) - {"set-cookie"}


def _kept_body(response: HttpResponseBase, limit: int) -> bytes | None:
    if response.streaming or not isinstance(response, HttpResponse):
        return None
    content = response.content
    return content if len(content) <= limit else None


def _unavailable(
    options: conf.IdempotencySettings, request: HttpRequest, error: StoreUnavailable
) -> HttpResponse | None:
    """``FAIL``: a 503 (closed), or ``None`` to run the request unprotected (open)."""
    if options.fail == "open":
        logger.warning(
            "%s %s runs without idempotency: %s", request.method, request.path, error
        )
        return None
    return _error(
        503,
        "idempotency_unavailable",
        "The idempotency store cannot be reached; retry later with the same key.",
        retry_after=max(math.ceil(conf.get().redis.breaker_seconds), 1),
    )


def _error(
    status: int, code: str, detail: str, *, retry_after: int | None = None
) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    response["Cache-Control"] = "no-store"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response
