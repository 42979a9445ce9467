"""QueriesMiddleware, under WSGI and ASGI: counts, Server-Timing, N+1, budgets."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib.auth.models import User
from django.core.exceptions import MiddlewareNotUsed
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext

from django_prodkit.queries import QueriesMiddleware, get_query_stats
from tests.queries import views

pytestmark = pytest.mark.django_db

# The error views would leave error groups behind: the errors' writer commits them on
# its own connection, outside this test's transaction.
NO_ERROR_LOG = {"ERRORS": {"ENABLED": False}}
TIMING = re.compile(
    r'db;dur=(?P<db>[\d.]+);desc="(?P<count>\d+) quer(?:y|ies)", app;dur=(?P<app>[\d.]+)'
)


def timing(response):
    match = TIMING.fullmatch(response["Server-Timing"])
    assert match, response["Server-Timing"]
    return float(match["db"]), int(match["count"]), float(match["app"])


def warnings_of(caplog, start):
    return [
        r
        for r in caplog.records
        if r.name == "django_prodkit.queries" and r.getMessage().startswith(start)
    ]


def path(is_async, name):
    return f"/async/{name}" if is_async else f"/{name}"


def test_server_timing_values_add_up(get, is_async, settings):
    settings.PRODKIT = {"QUERIES": {"SERVER_TIMING": True}}
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        response = get(path(is_async, "run/5/"), data={"pause": "0.03"})
    wall_ms = (time.perf_counter() - started) * 1000

    db_ms, count, app_ms = timing(response)
    body = response.json()
    # The count is every query of the request, the same as Django's own log.
    assert count == len(captured) == body["count"] == 5
    # db is the sum of the queries' times (each rounded once, to 0.1 ms) ...
    assert db_ms == pytest.approx(body["ms"], abs=0.1 + 0.05)
    # ... and app the rest of the request inside the middleware: together, at most the
    # whole round trip through the test client, and at least the view's pause.
    assert app_ms >= 30
    assert db_ms + app_ms <= wall_ms + 0.1


def test_the_view_sees_its_stats(get, is_async):
    body = get(path(is_async, "run/3/")).json()
    assert body["seen"] == 3


def test_one_query_is_singular(get, settings):
    settings.PRODKIT = {"QUERIES": {"SERVER_TIMING": True}, **NO_ERROR_LOG}
    assert 'desc="1 query"' in get("/boom/")["Server-Timing"]


def test_no_server_timing_when_off(get, settings):
    settings.PRODKIT = {"QUERIES": {"SERVER_TIMING": False}}
    settings.DEBUG = True
    assert not get("/anonymous/").has_header("Server-Timing")


def test_server_timing_by_default_only_for_loaded_staff_or_debug(
    get, is_async, settings, client, async_client
):
    assert not get(path(is_async, "user/")).has_header("Server-Timing")
    settings.DEBUG = True
    assert get("/anonymous/").has_header("Server-Timing")


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", is_staff=True)


@pytest.mark.parametrize("mode", ["wsgi", "asgi"])
def test_staff_get_server_timing_when_the_view_loaded_the_user(
    mode, staff, settings, with_middleware, client, async_client
):
    if mode == "wsgi":
        client.force_login(staff)
        assert client.get("/user/").has_header("Server-Timing")
        # The user was never loaded: finding out would cost a query.
        assert not client.get("/anonymous/").has_header("Server-Timing")
    else:
        async_to_sync(async_client.aforce_login)(staff)
        assert async_to_sync(async_client.get)("/async/user/").has_header(
            "Server-Timing"
        )
        assert not async_to_sync(async_client.get)("/anonymous/").has_header(
            "Server-Timing"
        )


def test_a_server_timing_of_the_view_is_kept(with_middleware, settings, rf):
    settings.PRODKIT = {"QUERIES": {"SERVER_TIMING": True}}

    def view(request):
        response = HttpResponse()
        response["Server-Timing"] = "cache;dur=2"
        return response

    response = QueriesMiddleware(view)(rf.get("/"))
    assert response["Server-Timing"].startswith("cache;dur=2, db;dur=")


def test_n_plus_one_names_the_query_and_the_line(get, is_async, caplog):
    response = get(path(is_async, "loop/12/"))
    assert response.status_code == 200

    [record] = warnings_of(caplog, "N+1 queries")
    assert record.count == 12
    assert record.sql.startswith('SELECT "auth_user"."id"')
    assert "?" in record.sql
    assert "%s" not in record.sql
    source = Path(views.__file__).read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if "# The N+1 line." in text)
    assert record.call_site == f"{views.__file__}:{line}"
    assert record.function == "look_up_each"
    assert record.route == (
        "async/loop/<int:count>/" if is_async else "loop/<int:count>/"
    )
    assert "12 times" in record.getMessage()


def test_repeats_up_to_the_limit_are_not_reported(get, caplog):
    get("/loop/10/")
    assert warnings_of(caplog, "N+1 queries") == []


def test_n_plus_one_follows_its_setting(get, settings, caplog):
    settings.PRODKIT = {"QUERIES": {"N_PLUS_ONE": 2}}
    get("/loop/3/")
    assert len(warnings_of(caplog, "N+1 queries")) == 1
    settings.PRODKIT = {"QUERIES": {"N_PLUS_ONE": None}}
    get("/loop/30/")
    assert len(warnings_of(caplog, "N+1 queries")) == 1


def test_a_request_over_its_budgets_is_logged_once(get, is_async, settings, caplog):
    settings.PRODKIT = {"QUERIES": {"MAX_QUERIES": 2, "MAX_DB_MS": 0.0001}}
    get(path(is_async, "run/4/"))
    [record] = warnings_of(caplog, "GET")
    assert "4 queries (budget 2)" in record.getMessage()
    assert "ms in the database (budget 0.0001 ms)" in record.getMessage()
    assert record.queries == 4


def test_a_request_within_its_budgets_is_not_logged(get, settings, caplog):
    settings.PRODKIT = {"QUERIES": {"MAX_QUERIES": 5, "MAX_DB_MS": 10_000}}
    get("/run/4/")
    assert warnings_of(caplog, "GET") == []


def test_the_stats_end_with_the_request_even_when_the_view_raises(
    get, is_async, settings
):
    settings.PRODKIT = {"QUERIES": {"SERVER_TIMING": True}, **NO_ERROR_LOG}
    response = get(path(is_async, "boom/"))
    assert response.status_code == 500
    assert timing(response)[1] == 1
    assert get_query_stats() is None


def test_a_raising_inner_layer_still_resets_the_stats(rf):
    def view(request):
        assert get_query_stats() is get_query_stats(request) is not None
        raise RuntimeError("inner")

    with pytest.raises(RuntimeError, match="inner"):
        QueriesMiddleware(view)(rf.get("/"))
    assert get_query_stats() is None


def test_a_raising_inner_layer_still_resets_the_stats_async(rf):
    async def view(request):
        assert get_query_stats() is get_query_stats(request) is not None
        raise RuntimeError("inner")

    middleware = QueriesMiddleware(view)
    assert iscoroutinefunction(middleware)
    with pytest.raises(RuntimeError, match="inner"):
        async_to_sync(middleware)(rf.get("/"))
    assert get_query_stats() is None


def test_slow_queries_carry_the_route_and_request_id(get, is_async, settings, caplog):
    settings.PRODKIT = {"QUERIES": {"SLOW_MS": 40, "STORE": False}}
    response = get("/slow/")
    [record] = warnings_of(caplog, "slow query")
    assert record.route == "slow/"
    assert record.request_id == response["X-Request-ID"]


def test_disabled_middleware_removes_itself(settings):
    settings.PRODKIT = {"QUERIES": {"ENABLED": False}}
    with pytest.raises(MiddlewareNotUsed):
        QueriesMiddleware(lambda request: HttpResponse())
