from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse
from django.test import AsyncClient, Client

from django_prodkit.security import SecurityHeadersMiddleware
from tests.security.conftest import SECURITY_HEADERS

DEFAULT_POLICY = "camera=(), geolocation=(), microphone=(), payment=(), usb=()"
NONCE = re.compile(r"'nonce-[A-Za-z0-9+/=_-]+'")


@pytest.fixture
def headers_only(settings):
    settings.MIDDLEWARE = [SECURITY_HEADERS, *settings.MIDDLEWARE]
    return settings


@pytest.fixture(params=["wsgi", "asgi"])
def get(request):
    """GET through the full stack, under WSGI (Client) or ASGI (AsyncClient)."""
    if request.param == "wsgi":
        client = Client()
        return lambda path, **extra: client.get(path, **extra)
    async_client = AsyncClient()
    return lambda path, **extra: async_to_sync(async_client.get)(path, **extra)


def view(request):
    return HttpResponse("ok")


def csp_view(request):
    response = HttpResponse("ok")
    response["Content-Security-Policy"] = "default-src 'self'; report-to csp-endpoint"
    return response


async def async_view(request):
    return HttpResponse("ok")


def test_default_headers(headers_only, get):
    response = get("/plain/")

    assert response["Permissions-Policy"] == DEFAULT_POLICY
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert response["X-XSS-Protection"] == "0"
    assert "Cross-Origin-Embedder-Policy" not in response
    assert "Cache-Control" not in response
    # No policy, nothing to report: no reporting endpoint.
    assert "Reporting-Endpoints" not in response


def test_reporting_endpoint_on_responses_with_a_policy(with_csp, get):
    assert get("/plain/")["Reporting-Endpoints"] == (
        'csp-endpoint="http://testserver/csp-report/"'
    )
    assert get("/nonce/")["Reporting-Endpoints"] == (
        'csp-endpoint="http://testserver/csp-report/"'
    )


def test_embedder_policy_when_configured(headers_only, get):
    headers_only.PRODKIT = {
        "SECURITY": {"CROSS_ORIGIN_EMBEDDER_POLICY": "credentialless"}
    }
    assert get("/plain/")["Cross-Origin-Embedder-Policy"] == "credentialless"


@pytest.mark.parametrize(
    ("key", "header"),
    [
        ("PERMISSIONS_POLICY", "Permissions-Policy"),
        ("CROSS_ORIGIN_RESOURCE_POLICY", "Cross-Origin-Resource-Policy"),
        ("X_XSS_PROTECTION", "X-XSS-Protection"),
    ],
)
def test_none_turns_a_header_off(headers_only, get, key, header):
    headers_only.PRODKIT = {"SECURITY": {key: None}}
    response = get("/plain/")
    assert header not in response
    assert "X-XSS-Protection" in response or key == "X_XSS_PROTECTION"


def test_empty_permissions_policy_sends_no_header(headers_only, get):
    headers_only.PRODKIT = {"SECURITY": {"PERMISSIONS_POLICY": {}}}
    assert "Permissions-Policy" not in get("/plain/")


def test_permissions_policy_syntax(headers_only, get):
    headers_only.PRODKIT = {
        "SECURITY": {
            "PERMISSIONS_POLICY": {
                "camera": ["self", "https://a.example"],
                "fullscreen": ["*"],
                "geolocation": [],
                "payment": ["https://pay.example:8443"],
            }
        }
    }
    assert get("/plain/")["Permissions-Policy"] == (
        'camera=(self "https://a.example"), fullscreen=*, geolocation=(), '
        'payment=("https://pay.example:8443")'
    )


def test_headers_set_by_the_view_are_kept(headers_only, get):
    response = get("/own-headers/")

    assert response["Permissions-Policy"] == "camera=*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response["Cross-Origin-Embedder-Policy"] == "unsafe-none"
    assert response["X-XSS-Protection"] == "1; mode=block"
    assert response["Reporting-Endpoints"] == 'main="https://reports.example/"'


def test_defers_permissions_policy_to_django_permissions_policy(settings, rf):
    settings.MIDDLEWARE = [
        "django_permissions_policy.PermissionsPolicyMiddleware",
        SECURITY_HEADERS,
    ]
    response = SecurityHeadersMiddleware(view)(rf.get("/"))

    assert "Permissions-Policy" not in response
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


def test_reporting_endpoint_follows_the_scheme(with_csp, get):
    response = get("/plain/", secure=True)
    assert response["Reporting-Endpoints"] == (
        'csp-endpoint="https://testserver/csp-report/"'
    )


def test_reporting_endpoint_follows_the_host(settings, rf):
    middleware = SecurityHeadersMiddleware(csp_view)
    for host in ("localhost", "127.0.0.1", "localhost"):
        response = middleware(rf.get("/", HTTP_HOST=host))
        assert response["Reporting-Endpoints"] == (
            f'csp-endpoint="http://{host}/csp-report/"'
        )


def test_reporting_endpoint_includes_the_script_prefix(settings, rf):
    request = rf.get("/plain/", SCRIPT_NAME="/shop")
    from django.urls import set_script_prefix

    set_script_prefix("/shop/")
    try:
        response = SecurityHeadersMiddleware(csp_view)(request)
    finally:
        set_script_prefix("/")
    assert response["Reporting-Endpoints"] == (
        'csp-endpoint="http://testserver/shop/csp-report/"'
    )


@pytest.mark.urls("tests.security.unmounted_urls")
def test_no_reporting_endpoint_when_the_report_url_is_not_mounted(settings, rf):
    response = SecurityHeadersMiddleware(csp_view)(rf.get("/plain/"))
    assert "Reporting-Endpoints" not in response
    assert response["X-XSS-Protection"] == "0"


def test_no_reporting_endpoint_when_turned_off(with_csp, get):
    with_csp.PRODKIT = {"SECURITY": {"REPORTING_ENDPOINTS": False}}
    response = get("/plain/")
    assert "Reporting-Endpoints" not in response
    assert "Content-Security-Policy" in response


def test_disallowed_host_gets_no_reporting_endpoint(settings, rf):
    response = SecurityHeadersMiddleware(csp_view)(
        rf.get("/", HTTP_HOST="evil.example")
    )
    assert "Reporting-Endpoints" not in response
    assert response["X-XSS-Protection"] == "0"


def test_reporting_endpoints_are_cached_per_host_within_a_bound(settings, rf):
    settings.ALLOWED_HOSTS = ["*"]
    middleware = SecurityHeadersMiddleware(csp_view)
    for number in range(300):
        host = f"h{number}.example"
        response = middleware(rf.get("/", HTTP_HOST=host))
        assert response["Reporting-Endpoints"] == (
            f'csp-endpoint="http://{host}/csp-report/"'
        )
    assert len(middleware._endpoints) <= 256


def test_nonce_page_is_private(with_csp, get):
    response = get("/nonce/")

    policy = response["Content-Security-Policy"]
    nonce = NONCE.search(policy)
    assert nonce is not None, policy
    assert f'nonce="{nonce.group()[7:-1]}"' in response.content.decode()
    assert response["Cache-Control"] == "private"


def test_async_view_nonce_page_is_private(with_csp, get):
    response = get("/async-nonce/")
    assert NONCE.search(response["Content-Security-Policy"])
    assert response["Cache-Control"] == "private"


def test_page_without_nonce_stays_cacheable(with_csp, get):
    response = get("/plain/")

    assert "'strict-dynamic'" in response["Content-Security-Policy"]
    assert "'nonce-" not in response["Content-Security-Policy"]
    assert "Cache-Control" not in response


def test_private_replaces_public_and_keeps_other_directives(with_csp, get):
    response = get("/cacheable-nonce/")
    assert sorted(response["Cache-Control"].split(", ")) == ["max-age=60", "private"]


def test_report_only_nonce_page_is_private(settings, get):
    from django_prodkit.security.csp import recommended_policy
    from tests.security.conftest import PACKAGE_CSP

    settings.MIDDLEWARE = [SECURITY_HEADERS, PACKAGE_CSP, *settings.MIDDLEWARE]
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = recommended_policy(
        report_only=True, backend="django-csp"
    )
    response = get("/nonce/")

    assert "Content-Security-Policy" not in response
    assert NONCE.search(response["Content-Security-Policy-Report-Only"])
    assert response["Cache-Control"] == "private"


def test_nonce_page_stays_public_when_turned_off(with_csp, get):
    with_csp.PRODKIT = {"SECURITY": {"PRIVATE_NONCE_RESPONSES": False}}
    response = get("/nonce/")
    assert NONCE.search(response["Content-Security-Policy"])
    assert "Cache-Control" not in response


def test_below_the_csp_middleware_it_cannot_see_the_nonce(settings, get):
    from tests.security.conftest import PACKAGE_CSP

    settings.MIDDLEWARE = [PACKAGE_CSP, SECURITY_HEADERS, *settings.MIDDLEWARE]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'"]}}
    from csp.constants import NONCE as SENTINEL

    settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"].append(SENTINEL)
    response = get("/nonce/")
    assert NONCE.search(response["Content-Security-Policy"])
    assert "Cache-Control" not in response  # Why prodkit.W044 exists.


def test_settings_changes_are_picked_up(settings, rf):
    middleware = SecurityHeadersMiddleware(view)
    assert middleware(rf.get("/"))["X-XSS-Protection"] == "0"

    settings.PRODKIT = {"SECURITY": {"X_XSS_PROTECTION": None}}
    assert "X-XSS-Protection" not in middleware(rf.get("/"))


def test_disabled_middleware_removes_itself(settings):
    settings.PRODKIT = {"SECURITY": {"ENABLED": False}}
    with pytest.raises(MiddlewareNotUsed):
        SecurityHeadersMiddleware(view)


def test_disabled_middleware_is_dropped_from_the_stack(headers_only, get):
    headers_only.PRODKIT = {"SECURITY": {"ENABLED": False}}
    response = get("/plain/")
    assert "Permissions-Policy" not in response
    assert "X-XSS-Protection" not in response


def test_sync_and_async_modes(rf):
    assert not iscoroutinefunction(SecurityHeadersMiddleware(view))
    middleware = SecurityHeadersMiddleware(async_view)
    assert iscoroutinefunction(middleware)
    response = async_to_sync(middleware)(rf.get("/"))
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


def test_cached_endpoints_follow_settings_changes(settings, rf):
    middleware = SecurityHeadersMiddleware(csp_view)
    request = rf.get("/", HTTP_HOST="new.example")
    assert "Reporting-Endpoints" not in middleware(request)

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "new.example"]
    response = middleware(rf.get("/", HTTP_HOST="new.example"))
    assert response["Reporting-Endpoints"] == (
        'csp-endpoint="http://new.example/csp-report/"'
    )
