from __future__ import annotations

import django
import pytest
from django.core.cache import caches

from django_prodkit.security.csp import recommended_policy

SECURITY_HEADERS = "django_prodkit.security.SecurityHeadersMiddleware"
PACKAGE_CSP = "csp.middleware.CSPMiddleware"
DJANGO_CSP = "django.middleware.csp.ContentSecurityPolicyMiddleware"


@pytest.fixture(autouse=True)
def _security_urls(request, settings):
    if request.node.get_closest_marker("urls") is None:
        settings.ROOT_URLCONF = "tests.security.urls"


@pytest.fixture(autouse=True)
def _fresh_counters():
    # The report endpoint is rate limited per client IP, and every test client is
    # 127.0.0.1: counters must not carry over from one test to the next.
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture(
    params=[
        "django-csp",
        pytest.param(
            "django",
            marks=pytest.mark.skipif(
                django.VERSION < (6, 0), reason="Django's own CSP needs Django 6.0"
            ),
        ),
    ]
)
def with_csp(request, settings):
    """SecurityHeadersMiddleware above a CSP middleware sending the strict policy."""
    if request.param == "django":
        settings.MIDDLEWARE = [SECURITY_HEADERS, DJANGO_CSP, *settings.MIDDLEWARE]
        settings.SECURE_CSP = recommended_policy(
            report_uri="/csp-report/", backend="django"
        )
    else:
        settings.MIDDLEWARE = [SECURITY_HEADERS, PACKAGE_CSP, *settings.MIDDLEWARE]
        settings.CONTENT_SECURITY_POLICY = recommended_policy(
            report_uri="/csp-report/", backend="django-csp"
        )
    return settings


@pytest.fixture
def start_server(transactional_db):
    """Start a live server now, so that it loads the test's MIDDLEWARE.

    pytest-django's ``live_server`` is started once per session, before a test can
    change ``MIDDLEWARE``, and keeps the middleware it loaded then.
    """
    from pytest_django.live_server_helper import LiveServer

    servers = []

    def start():
        servers.append(LiveServer("localhost"))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
