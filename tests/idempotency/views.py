"""Views behind ``IdempotencyMiddleware`` in the tests; each counts how often it ran."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_exempt

from tests.idempotency.models import Order

RUNS: Counter[str] = Counter()
_lock = threading.Lock()
# Set by a test: the held view signals ENTERED, then waits for RELEASE.
ENTERED = threading.Event()
RELEASE = threading.Event()
# Called by the hook view while it runs (a test stops Redis there).
HOOK: list[Callable[[], None]] = []


def ran(name: str) -> int:
    with _lock:
        RUNS[name] += 1
        return RUNS[name]


def reset() -> None:
    with _lock:
        RUNS.clear()
    ENTERED.clear()
    RELEASE.clear()
    HOOK.clear()


def _created(request: HttpRequest, name: str) -> JsonResponse:
    """201 with a body that differs on every run, replayable and other headers."""
    run = ran(name)
    try:
        sent = request.body.decode(errors="replace")
    except RawPostDataException:  # A middleware parsed the form as a stream.
        sent = request.POST.get("item", "")
    response = JsonResponse(
        {"run": run, "nonce": secrets.token_hex(8), "sent": sent}, status=201
    )
    response["Location"] = f"/orders/{run}/"
    response["ETag"] = f'"{secrets.token_hex(4)}"'
    response["X-Internal"] = "not replayed by default"
    response.set_cookie("flash", f"created-{run}")
    return response


@csrf_exempt
def create(request: HttpRequest, rest: str = "") -> HttpResponse:
    return _created(request, "create")


@csrf_exempt
def raw_cookie(request: HttpRequest) -> HttpResponse:
    """Sets a cookie as a raw header, not through ``response.cookies``."""
    response = _created(request, "raw-cookie")
    response["Set-Cookie"] = "raw=1; Path=/"
    return response


@csrf_exempt
async def acreate(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return _created(request, "acreate")


def protected(request: HttpRequest) -> HttpResponse:
    """Not exempt from CSRF: with enforced checks, a request without a token never runs."""
    return _created(request, "protected")


@csrf_exempt
def order(request: HttpRequest) -> HttpResponse:
    """Creates a row, slowly: concurrent duplicates arrive while it runs."""
    time.sleep(0.3)
    item = json.loads(request.body)["item"]
    created = Order.objects.create(item=item)
    ran("order")
    return JsonResponse({"id": created.pk, "item": item}, status=201)


@csrf_exempt
def held(request: HttpRequest) -> HttpResponse:
    ENTERED.set()
    RELEASE.wait(10)
    return _created(request, "held")


@csrf_exempt
def hook(request: HttpRequest) -> HttpResponse:
    for function in HOOK:
        function()
    return _created(request, "hook")


@csrf_exempt
def status(request: HttpRequest, code: int) -> HttpResponse:
    run = ran(f"status-{code}")
    return JsonResponse({"run": run}, status=code)


@csrf_exempt
def boom(request: HttpRequest) -> HttpResponse:
    ran("boom")
    raise RuntimeError("boom")


@csrf_exempt
def stream(request: HttpRequest) -> StreamingHttpResponse:
    run = ran("stream")

    def chunks() -> Iterator[bytes]:
        yield b"run "
        yield str(run).encode()

    response = StreamingHttpResponse(chunks(), status=202, content_type="text/plain")
    response["Location"] = f"/streams/{run}/"
    return response


@csrf_exempt
def sized(request: HttpRequest, size: int) -> HttpResponse:
    run = ran("sized")
    body = (str(run).encode() * size)[:size]
    return HttpResponse(body, status=200, content_type="application/octet-stream")


def boom_now() -> None:
    raise RuntimeError("boom")
