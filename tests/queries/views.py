from __future__ import annotations

import time
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from django_prodkit.queries import get_query_stats

SLOW_SQLITE = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %s) "
    "SELECT count(*) FROM c WHERE %s IS NOT NULL"
)
SLOW_POSTGRES = "SELECT pg_sleep(%s), %s::text"


def run_slow(secret: str = "nothing", seconds: float = 0.08) -> str:
    """Run one query that takes about ``seconds``, with ``secret`` as a parameter."""
    params: list[Any]
    if connection.vendor == "postgresql":
        sql, params = SLOW_POSTGRES, [seconds, secret]
    else:
        sql, params = SLOW_SQLITE, [int(seconds * 2_000_000), secret]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return sql


def look_up_each(count: int) -> None:
    for pk in range(count):
        User.objects.filter(pk=pk).first()  # The N+1 line.


def _timed_run(count: int, pause: float) -> dict[str, float]:
    timed = {"ms": 0.0, "count": 0}

    def timer(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timed["ms"] += (time.perf_counter() - start) * 1000
            timed["count"] += 1

    with connection.execute_wrapper(timer):
        for number in range(count):
            User.objects.filter(username=f"user-{number}").exists()
    time.sleep(pause)
    return timed


def run(request: HttpRequest, count: int) -> HttpResponse:
    timed = _timed_run(count, float(request.GET.get("pause", 0)))
    stats = get_query_stats(request)
    return JsonResponse(
        {
            **timed,
            "seen": stats.count if stats is not None else None,
            "same": stats is get_query_stats(),
        }
    )


async def async_run(request: HttpRequest, count: int) -> HttpResponse:
    timed = await sync_to_async(_timed_run)(count, float(request.GET.get("pause", 0)))
    stats = get_query_stats(request)
    return JsonResponse({**timed, "seen": stats.count if stats is not None else None})


def loop(request: HttpRequest, count: int) -> HttpResponse:
    look_up_each(count)
    return HttpResponse("ok")


async def async_loop(request: HttpRequest, count: int) -> HttpResponse:
    await sync_to_async(look_up_each)(count)
    return HttpResponse("ok")


def slow(request: HttpRequest) -> HttpResponse:
    run_slow(request.GET.get("secret", "nothing"))
    return HttpResponse("ok")


def user(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.user.is_authenticated))


async def async_user(request: HttpRequest) -> HttpResponse:
    found = await request.auser()
    return HttpResponse(str(found.is_authenticated))


def anonymous(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def boom(request: HttpRequest) -> HttpResponse:
    User.objects.exists()
    raise RuntimeError("boom")


async def async_boom(request: HttpRequest) -> HttpResponse:
    await User.objects.aexists()
    raise RuntimeError("boom")
