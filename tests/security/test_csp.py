from __future__ import annotations

from typing import Any

import django
import pytest
from csp.constants import NONCE as PACKAGE_NONCE
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.template import Context, Template, engines

from django_prodkit.security import (
    BASELINE_POLICY,
    REPORT_ONLY_POLICY,
    STRICT_POLICY,
    get_nonce,
    recommended_policy,
)

needs_django_6 = pytest.mark.skipif(
    django.VERSION < (6, 0), reason="Django's own CSP needs Django 6.0"
)


def csp_request(rf):
    request = rf.get("/")
    CSPMiddleware(lambda request: HttpResponse()).process_request(request)
    return request


def render(template, context):
    return engines["django"].from_string(template).render(context)


class TestGetNonce:
    def test_none_without_csp_middleware(self, rf):
        assert get_nonce(rf.get("/")) is None

    def test_django_csp_nonce_is_generated_once(self, rf):
        request = csp_request(rf)
        nonce = get_nonce(request)
        assert nonce
        assert get_nonce(request) == nonce

    def test_reading_the_nonce_puts_it_in_the_header(self, rf, settings):
        settings.CONTENT_SECURITY_POLICY = recommended_policy(backend="django-csp")
        request = csp_request(rf)
        nonce = get_nonce(request)
        response = CSPMiddleware(lambda r: HttpResponse()).process_response(
            request, HttpResponse()
        )
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]

    def test_none_after_django_csp_wrote_the_header_without_it(self, rf, settings):
        settings.CONTENT_SECURITY_POLICY = recommended_policy(backend="django-csp")
        request = csp_request(rf)
        CSPMiddleware(lambda r: HttpResponse()).process_response(
            request, HttpResponse()
        )
        assert get_nonce(request) is None

    @needs_django_6
    def test_django_6_middleware(self, rf, settings):
        from django.middleware.csp import ContentSecurityPolicyMiddleware

        settings.SECURE_CSP = recommended_policy(backend="django")
        request = rf.get("/")
        middleware = ContentSecurityPolicyMiddleware(lambda r: HttpResponse())
        middleware.process_request(request)
        nonce = get_nonce(request)
        response = middleware.process_response(request, HttpResponse())
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]


class TestNonceTag:
    TAG = "{% load prodkit %}<script {% prodkit_nonce %}></script>"

    def test_renders_the_nonce_attribute(self, rf):
        request = csp_request(rf)
        html = render(self.TAG, {"request": request})
        assert html == f'<script nonce="{get_nonce(request)}"></script>'

    def test_needs_no_context_processor(self, rf):
        request = csp_request(rf)
        html = engines["django"].from_string(self.TAG).render(request=request)
        assert html == f'<script nonce="{get_nonce(request)}"></script>'

    def test_renders_nothing_without_csp(self, rf):
        assert render(self.TAG, {"request": rf.get("/")}) == "<script ></script>"

    def test_renders_nothing_without_a_request(self):
        template = Template(self.TAG)
        assert template.render(Context({})) == "<script ></script>"


class TestRecommendedPolicy:
    def test_strict_policy_header(self):
        policy = recommended_policy(report_uri="/csp-report/", backend="django-csp")
        header = build_policy(config=_config(directives(policy)), nonce="abc")
        assert sorted(header.split("; ")) == [
            "base-uri 'none'",
            "object-src 'none'",
            "report-to csp-endpoint",
            "report-uri /csp-report/",
            "script-src 'nonce-abc' 'strict-dynamic'",
        ]

    def test_baseline_policy_header(self):
        policy = recommended_policy(strict=False, report_to=None, backend="django-csp")
        header = build_policy(config=_config(directives(policy)), nonce="abc")
        assert sorted(header.split("; ")) == [
            "base-uri 'self'",
            "default-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
            "object-src 'none'",
            "script-src 'self' 'nonce-abc'",
        ]

    def test_report_only_adds_report_sample(self):
        policy = directives(recommended_policy(report_only=True, backend="django-csp"))
        assert policy["script-src"] == [
            PACKAGE_NONCE,
            "'strict-dynamic'",
            "'report-sample'",
        ]

    def test_constants_use_the_installed_backend_sentinel(self):
        sentinel = STRICT_POLICY["script-src"][0]
        if django.VERSION >= (6, 0):
            from django.utils.csp import CSP

            assert sentinel == CSP.NONCE
        else:
            assert sentinel is PACKAGE_NONCE
        assert REPORT_ONLY_POLICY["script-src"][-1] == "'report-sample'"
        assert BASELINE_POLICY["script-src"] == ["'self'", sentinel]

    def test_results_are_copies(self):
        policy = recommended_policy(backend="django-csp")
        directives(policy)["script-src"].append("https://evil.example")
        assert "https://evil.example" not in STRICT_POLICY["script-src"]
        assert recommended_policy(backend="django-csp") != policy

    @pytest.mark.skipif(django.VERSION >= (6, 0), reason="Django 5.2 only")
    def test_django_backend_needs_django_6(self):
        with pytest.raises(ImproperlyConfigured, match="Django 6.0 or later"):
            recommended_policy(backend="django")

    def test_default_backend_follows_the_django_version(self):
        policy = recommended_policy()
        assert ("DIRECTIVES" in policy) is (django.VERSION < (6, 0))

    @needs_django_6
    def test_django_6_policy_header(self):
        from django.utils.csp import build_policy as django_build_policy

        policy = recommended_policy(report_uri="/csp-report/", backend="django")
        header = django_build_policy(policy, nonce="abc")  # type: ignore[arg-type]
        assert sorted(header.split("; ")) == [
            "base-uri 'none'",
            "object-src 'none'",
            "report-to csp-endpoint",
            "report-uri /csp-report/",
            "script-src 'nonce-abc' 'strict-dynamic'",
        ]


def directives(policy: dict[str, object]) -> dict[str, Any]:
    """The directives of a django-csp shaped policy."""
    value = policy["DIRECTIVES"]
    assert isinstance(value, dict)
    return value


def _config(directives):
    from csp.utils import default_config

    return default_config(directives)
