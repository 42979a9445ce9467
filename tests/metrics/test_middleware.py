from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import ResolverMatch, resolve

from django_prodkit import rollup
from django_prodkit.metrics import MetricsMiddleware
from django_prodkit.metrics.middleware import UNMATCHED, route_of, skip_paths
from tests.metrics import views
from tests.metrics.helpers import requests

pytestmark = pytest.mark.django_db


def test_route_pattern_with_converters_is_the_label(client, store):
    for pk in (1, 2, 3):
        assert client.get(f"/notes/{pk}/").status_code == 200
    assert requests() == {("/notes/<int:pk>/", "GET", "2xx"): 3}


def test_async_view_is_labelled_by_its_route(async_client, store):
    for pk in (1, 2):
        response = async_to_sync(async_client.get)(f"/async/notes/{pk}/")
        assert response.status_code == 200
    assert requests() == {("/async/notes/<int:pk>/", "GET", "2xx"): 2}


def test_regex_and_included_routes_keep_their_patterns(client):
    client.get("/articles/2024/")
    client.get("/api/items/blue-shoes/")
    client.get("/")
    assert requests() == {
        ("/^articles/(?P<year>[0-9]{4})/$", "GET", "2xx"): 1,
        ("/api/items/<slug:slug>/", "GET", "2xx"): 1,
        ("/", "GET", "2xx"): 1,
    }


def test_a_404_with_no_route_is_unmatched_and_never_its_path(client, store):
    assert client.get("/no/such/page/").status_code == 404
    assert client.get("/another/secret-token-in-path/").status_code == 404
    assert requests() == {(UNMATCHED, "GET", "4xx"): 2}


def test_a_404_raised_by_a_view_keeps_the_route(client):
    assert client.get("/missing/7/").status_code == 404
    assert requests() == {("/missing/<int:pk>/", "GET", "4xx"): 1}


def test_an_exception_in_a_view_counts_as_a_5xx_error(client, store):
    client.raise_request_exception = False
    assert client.get("/boom/").status_code == 500
    assert client.get("/unavailable/").status_code == 503
    assert requests() == {
        ("/boom/", "GET", "5xx"): 1,
        ("/unavailable/", "GET", "5xx"): 1,
    }
    assert rollup.total("http.errors") == 2
    assert rollup.total("http.requests") == 2


def test_an_exception_in_an_async_view_counts_as_an_error(async_client):
    async_client.raise_request_exception = False
    assert async_to_sync(async_client.get)("/async/boom/").status_code == 500
    assert requests() == {("/async/boom/", "GET", "5xx"): 1}
    assert rollup.total("http.errors") == 1


def test_unknown_methods_are_folded_into_other(client):
    client.generic("PURGE", "/notes/1/")
    client.generic("BREW", "/notes/1/")
    client.delete("/notes/1/")
    assert requests() == {
        ("/notes/<int:pk>/", "other", "2xx"): 2,
        ("/notes/<int:pk>/", "DELETE", "2xx"): 1,
    }


def test_a_thousand_raw_paths_of_one_route_make_one_label_set(client, store):
    for pk in range(1000):
        client.get(f"/notes/{pk}/")
    assert requests() == {("/notes/<int:pk>/", "GET", "2xx"): 1000}
    labelled = [name for name in rollup.totals() if name.startswith("http.requests|")]
    assert labelled == ["http.requests|/notes/<int:pk>/|GET|2xx"]


def test_health_metrics_and_static_paths_are_not_timed(client, settings):
    settings.PRODKIT = {**settings.PRODKIT, "METRICS": {"TOKEN": "t" * 32}}
    client.get("/health/live/")
    client.get("/health/")
    client.get("/metrics", headers={"authorization": "Bearer " + "t" * 32})
    client.get("/static/app.css")
    client.get("/notes/1/")
    assert requests() == {("/notes/<int:pk>/", "GET", "2xx"): 1}


def test_default_skip_paths_follow_the_urlconf_and_settings(settings):
    settings.MEDIA_URL = "/uploads/"
    assert skip_paths() == (
        ("/health/", "/static/", "/uploads/"),
        frozenset({"/metrics"}),
    )


def test_only_metrics_itself_is_skipped_not_paths_that_start_like_it(client, settings):
    settings.ROOT_URLCONF = "tests.metrics.prefixed_urls"
    assert skip_paths() == (("/ops/health/", "/static/"), frozenset({"/ops/metrics"}))
    client.get("/ops/metrics")
    client.get("/ops/metrics-dashboard/")
    assert requests() == {("/ops/metrics-dashboard/", "GET", "2xx"): 1}


def test_skip_paths_setting_replaces_the_defaults(client, settings):
    settings.PRODKIT = {**settings.PRODKIT, "METRICS": {"SKIP_PATHS": ["/notes/"]}}
    client.get("/notes/1/")
    client.get("/health/live/")
    assert requests() == {("/health/live/", "GET", "2xx"): 1}


def test_disabled_metrics_remove_the_middleware(settings):
    settings.PRODKIT = {**settings.PRODKIT, "METRICS": {"ENABLED": False}}
    with pytest.raises(MiddlewareNotUsed):
        MetricsMiddleware(lambda request: HttpResponse())


# The middleware alone, around a dummy view, sync and async.


def test_sync_middleware_times_the_view(rf):
    middleware = MetricsMiddleware(lambda request: HttpResponse(status=201))
    assert not iscoroutinefunction(middleware)
    request = rf.get("/notes/5/")
    request.resolver_match = resolve("/notes/5/")
    assert middleware(request).status_code == 201
    assert requests() == {("/notes/<int:pk>/", "GET", "2xx"): 1}


def test_async_middleware_times_the_view(rf):
    async def view(request):
        await asyncio.sleep(0.03)
        return HttpResponse(status=302)

    middleware = MetricsMiddleware(view)
    assert iscoroutinefunction(middleware)
    request = rf.post("/notes/5/")
    request.resolver_match = resolve("/notes/5/")
    assert asyncio.run(middleware(request)).status_code == 302
    assert requests() == {("/notes/<int:pk>/", "POST", "3xx"): 1}
    # 30 ms and more: in the (25, 50] or a later bucket, never a faster one.
    assert rollup.total("http.bucket.5") + rollup.total("http.bucket.25") == 0
    assert rollup.total("http.duration_us") >= 30_000


def call(middleware, request, *, is_async):
    if is_async:
        return asyncio.run(middleware(request))
    return middleware(request)


@pytest.mark.parametrize("is_async", [False, True])
def test_an_exception_escaping_the_middleware_is_counted_as_500(rf, is_async):
    def fail(request):
        raise RuntimeError("no handler caught this")

    async def afail(request):
        fail(request)

    middleware = MetricsMiddleware(afail if is_async else fail)
    request = rf.get("/boom/")
    with pytest.raises(RuntimeError, match="no handler caught this"):
        call(middleware, request, is_async=is_async)
    assert requests() == {("/boom/", "GET", "5xx"): 1}


def test_a_request_answered_before_resolution_is_resolved_for_its_label():
    request = RequestFactory().get("/notes/9/")
    assert request.resolver_match is None
    assert route_of(request, 429) == "/notes/<int:pk>/"
    assert route_of(request, 404) == UNMATCHED
    assert route_of(RequestFactory().get("/nowhere/"), 301) == UNMATCHED


def test_a_failure_to_count_never_breaks_the_response(rf, caplog):
    request = rf.get("/notes/1/")
    request.resolver_match = "not a match"  # route_of() fails on it.
    response = MetricsMiddleware(lambda request: HttpResponse())(request)
    assert response.status_code == 200
    assert "request metrics could not be recorded" in caplog.text


def test_an_async_request_under_a_skipped_path_is_not_counted(rf):
    async def view(request):
        return HttpResponse()

    request = rf.get("/health/live/")
    response = call(MetricsMiddleware(view), request, is_async=True)
    assert response.status_code == 200
    assert requests() == {}


def test_a_match_without_a_route_is_labelled_by_its_view_name():
    request = RequestFactory().get("/legacy/")
    request.resolver_match = ResolverMatch(views.home, (), {}, url_name="legacy")
    assert route_of(request) == "legacy"
