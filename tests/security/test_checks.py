from __future__ import annotations

import django
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_prodkit.security.checks import (
    check_csp,
    check_django_security,
    check_security,
    check_security_middleware,
)
from django_prodkit.security.csp import recommended_policy
from tests.security.conftest import PACKAGE_CSP, SECURITY_HEADERS

SECURITY = "django.middleware.security.SecurityMiddleware"
FRAME_OPTIONS = "django.middleware.clickjacking.XFrameOptionsMiddleware"
UPDATE_CACHE = "django.middleware.cache.UpdateCacheMiddleware"
FETCH_CACHE = "django.middleware.cache.FetchFromCacheMiddleware"
PERMISSIONS_POLICY = "django_permissions_policy.PermissionsPolicyMiddleware"
NONCE_PROCESSOR = "csp.context_processors.nonce"


def ids(check):
    return [message.id for message in check(None)]


@pytest.fixture
def deployable(settings):
    """Settings on which every deploy check passes; tests then break one thing."""
    settings.MIDDLEWARE = [
        SECURITY,
        SECURITY_HEADERS,
        PACKAGE_CSP,
        "django.contrib.sessions.middleware.SessionMiddleware",
        FRAME_OPTIONS,
    ]
    settings.CONTENT_SECURITY_POLICY = recommended_policy(backend="django-csp")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {"context_processors": [NONCE_PROCESSOR]},
        }
    ]
    return settings


def test_deployable_settings_pass_every_check(deployable):
    for check in (
        check_security,
        check_security_middleware,
        check_csp,
        check_django_security,
    ):
        assert check(None) == []


class TestSettings:
    def test_default_settings_pass(self, settings):
        assert check_security(None) == []

    def test_unknown_feature_is_w040_with_a_suggestion(self, settings):
        settings.PRODKIT = {"SECURITY": {"PERMISSIONS_POLICY": {"camra": []}}}
        [message] = check_security(None)
        assert (message.id, message.hint) == ("prodkit.W040", "Did you mean 'camera'?")
        assert "'camra'" in message.msg

    def test_unknown_feature_without_a_close_name(self, settings):
        settings.PRODKIT = {"SECURITY": {"PERMISSIONS_POLICY": {"teleport-zz": []}}}
        [message] = check_security(None)
        assert message.id == "prodkit.W040"
        assert "Did you mean" not in str(message.hint)

    @pytest.mark.parametrize(
        "policy",
        [
            {"Camera ": []},
            {"camera": ["none"]},
            {"camera": ["'self'"]},
            {"camera": ["example.com"]},
            {"camera": ["https://a.example/path"]},
        ],
    )
    def test_bad_permissions_policy_is_e041(self, settings, policy):
        settings.PRODKIT = {"SECURITY": {"PERMISSIONS_POLICY": policy}}
        assert ids(check_security) == ["prodkit.E041"]

    def test_good_origins_pass(self, settings):
        settings.PRODKIT = {
            "SECURITY": {
                "PERMISSIONS_POLICY": {
                    "camera": ["self", "https://a.example", "https://*.b.example:8443"],
                    "fullscreen": ["*"],
                }
            }
        }
        assert check_security(None) == []

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("CROSS_ORIGIN_RESOURCE_POLICY", "same-host"),
            ("CROSS_ORIGIN_EMBEDDER_POLICY", "require_corp"),
            ("X_XSS_PROTECTION", "yes"),
        ],
    )
    def test_bad_header_value_is_e041(self, settings, key, value):
        settings.PRODKIT = {"SECURITY": {key: value}}
        [message] = check_security(None)
        assert message.id == "prodkit.E041"
        assert repr(value) in message.msg

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("CROSS_ORIGIN_RESOURCE_POLICY", "cross-origin"),
            ("CROSS_ORIGIN_EMBEDDER_POLICY", "credentialless"),
            ("X_XSS_PROTECTION", "1; mode=block"),
        ],
    )
    def test_good_header_values_pass(self, settings, key, value):
        settings.PRODKIT = {"SECURITY": {key: value}}
        assert check_security(None) == []

    def test_policy_set_beside_django_permissions_policy_is_w042(self, settings):
        settings.MIDDLEWARE = [PERMISSIONS_POLICY, *settings.MIDDLEWARE]
        settings.PRODKIT = {"SECURITY": {"PERMISSIONS_POLICY": {"camera": []}}}
        assert ids(check_security) == ["prodkit.W042"]

    def test_default_policy_beside_django_permissions_policy_passes(self, settings):
        settings.MIDDLEWARE = [PERMISSIONS_POLICY, *settings.MIDDLEWARE]
        assert check_security(None) == []
        settings.PRODKIT = {"SECURITY": {"PERMISSIONS_POLICY": None}}
        assert check_security(None) == []

    def test_skipped_while_settings_are_invalid(self, settings):
        settings.PRODKIT = {"SECURITY": {"X_XSS_PROTECTION": 1}}
        assert check_security(None) == []

    def test_skipped_when_disabled(self, settings):
        settings.PRODKIT = {
            "SECURITY": {"ENABLED": False, "CROSS_ORIGIN_RESOURCE_POLICY": "x"}
        }
        for check in (
            check_security,
            check_security_middleware,
            check_csp,
            check_django_security,
        ):
            assert check(None) == []

    # Django 6.1 runs the model checks against the database (JSONField support).
    @pytest.mark.django_db
    def test_e041_is_registered(self, settings):
        settings.PRODKIT = {"SECURITY": {"CROSS_ORIGIN_RESOURCE_POLICY": "nope"}}
        with pytest.raises(SystemCheckError, match=r"prodkit\.E041"):
            call_command("check")


class TestMiddleware:
    def test_missing_is_w043(self, deployable):
        deployable.MIDDLEWARE = [
            path for path in deployable.MIDDLEWARE if path != SECURITY_HEADERS
        ]
        [message] = check_security_middleware(None)
        assert message.id == "prodkit.W043"
        assert SECURITY_HEADERS in str(message.hint)

    def test_full_module_path_is_accepted(self, deployable):
        deployable.MIDDLEWARE = [
            "django_prodkit.security.middleware.SecurityHeadersMiddleware"
            if path == SECURITY_HEADERS
            else path
            for path in deployable.MIDDLEWARE
        ]
        assert check_security_middleware(None) == []

    @pytest.mark.parametrize(
        ("middleware", "reason"),
        [
            ([SECURITY, PACKAGE_CSP, SECURITY_HEADERS], "below csp.middleware"),
            (
                [SECURITY, SECURITY_HEADERS, UPDATE_CACHE, PACKAGE_CSP, FETCH_CACHE],
                "above django.middleware.cache.UpdateCacheMiddleware",
            ),
            ([SECURITY_HEADERS, SECURITY, SECURITY_HEADERS], "more than once"),
        ],
    )
    def test_misplaced_is_w044(self, deployable, middleware, reason):
        deployable.MIDDLEWARE = middleware
        [message] = check_security_middleware(None)
        assert message.id == "prodkit.W044"
        assert reason in message.msg

    def test_below_the_cache_and_above_csp_passes(self, deployable):
        deployable.MIDDLEWARE = [
            UPDATE_CACHE,
            SECURITY,
            SECURITY_HEADERS,
            PACKAGE_CSP,
            FETCH_CACHE,
        ]
        assert check_security_middleware(None) == []

    def test_is_a_deploy_check(self, settings, capsys):
        settings.MIDDLEWARE = [SECURITY]
        call_command("check", tags=["prodkit"])
        assert "prodkit.W043" not in capsys.readouterr().err
        call_command("check", tags=["prodkit"], deploy=True, fail_level="CRITICAL")
        assert "prodkit.W043" in capsys.readouterr().err


class TestCSP:
    def test_no_csp_middleware_is_w045(self, deployable):
        deployable.MIDDLEWARE = [p for p in deployable.MIDDLEWARE if p != PACKAGE_CSP]
        [message] = check_csp(None)
        assert message.id == "prodkit.W045"
        expected = (
            "SECURE_CSP" if django.VERSION >= (6, 0) else "CONTENT_SECURITY_POLICY"
        )
        assert expected in str(message.hint)

    def test_csp_middleware_without_a_policy_is_w045(self, deployable):
        deployable.CONTENT_SECURITY_POLICY = None
        assert ids(check_csp) == ["prodkit.W045"]

    def test_report_only_policy_counts(self, deployable):
        deployable.CONTENT_SECURITY_POLICY = None
        deployable.CONTENT_SECURITY_POLICY_REPORT_ONLY = recommended_policy(
            report_only=True, backend="django-csp"
        )
        assert check_csp(None) == []

    def test_rate_limited_csp_middleware_counts(self, deployable):
        deployable.MIDDLEWARE = [
            "csp.contrib.rate_limiting.RateLimitedCSPMiddleware"
            if p == PACKAGE_CSP
            else p
            for p in deployable.MIDDLEWARE
        ]
        assert check_csp(None) == []

    @pytest.mark.skipif(django.VERSION < (6, 0), reason="Django's own CSP needs 6.0")
    def test_django_6_csp_counts(self, deployable):
        deployable.MIDDLEWARE = [
            "django.middleware.csp.ContentSecurityPolicyMiddleware"
            if p == PACKAGE_CSP
            else p
            for p in deployable.MIDDLEWARE
        ]
        deployable.CONTENT_SECURITY_POLICY = None
        deployable.SECURE_CSP = recommended_policy(backend="django")
        deployable.TEMPLATES[0]["OPTIONS"]["context_processors"] = [
            "django.template.context_processors.csp"
        ]
        assert check_csp(None) == []
        deployable.TEMPLATES[0]["OPTIONS"]["context_processors"] = []
        assert ids(check_csp) == ["prodkit.W046"]

    def test_nonce_without_context_processor_is_w046(self, deployable):
        backend = {k: v for k, v in deployable.TEMPLATES[0].items() if k != "OPTIONS"}
        deployable.TEMPLATES = [backend, {**backend, "OPTIONS": {}}]
        [message] = check_csp(None)
        assert message.id == "prodkit.W046"
        assert "CONTENT_SECURITY_POLICY uses a nonce" in message.msg

    def test_policy_without_nonce_needs_no_context_processor(self, deployable):
        deployable.TEMPLATES = [{**deployable.TEMPLATES[0], "OPTIONS": {}}]
        deployable.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"]}}
        assert check_csp(None) == []

    def test_is_a_deploy_check(self, settings, capsys):
        call_command("check", tags=["prodkit"])
        assert "prodkit.W045" not in capsys.readouterr().err
        call_command("check", tags=["prodkit"], deploy=True, fail_level="CRITICAL")
        assert "prodkit.W045" in capsys.readouterr().err


class TestDjangoSecurity:
    @pytest.mark.parametrize("missing", [SECURITY, FRAME_OPTIONS])
    def test_missing_middleware_is_e047(self, deployable, missing):
        deployable.MIDDLEWARE = [p for p in deployable.MIDDLEWARE if p != missing]
        [message] = check_django_security(None)
        assert message.id == "prodkit.E047"
        assert missing in message.msg

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("SECURE_CONTENT_TYPE_NOSNIFF", False),
            ("SECURE_REFERRER_POLICY", None),
            ("SECURE_HSTS_SECONDS", 0),
        ],
    )
    def test_weak_setting_is_e048(self, deployable, name, value):
        setattr(deployable, name, value)
        [message] = check_django_security(None)
        assert message.id == "prodkit.W048"
        assert message.msg.startswith(f"{name} is {value!r}")

    def test_weak_settings_do_not_matter_without_the_middleware(self, deployable):
        deployable.MIDDLEWARE = [p for p in deployable.MIDDLEWARE if p != SECURITY]
        deployable.SECURE_HSTS_SECONDS = 0
        assert ids(check_django_security) == ["prodkit.E047"]

    def test_missing_middleware_fails_the_deploy_check(self, deployable):
        deployable.MIDDLEWARE = [p for p in deployable.MIDDLEWARE if p != SECURITY]
        call_command("check", tags=["prodkit"])
        with pytest.raises(SystemCheckError, match=r"prodkit\.E047"):
            call_command("check", tags=["prodkit"], deploy=True)

    def test_a_weakened_header_warns_at_deploy(self, deployable):
        deployable.SECURE_HSTS_SECONDS = 0
        call_command("check", tags=["prodkit"], deploy=True)  # A warning passes...
        with pytest.raises(SystemCheckError, match=r"prodkit\.W048"):
            call_command("check", tags=["prodkit"], deploy=True, fail_level="WARNING")
