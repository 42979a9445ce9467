"""Security headers: prodkit's SecurityHeadersMiddleware against bare Django and django-csp.

Every case but (a) runs startproject's 7 default middleware classes. prodkit's middleware
goes above django-csp's CSPMiddleware, as its docs ask, so that it sees the CSP header.
The urlconf mounts ``django_prodkit.urls``, so ``Reporting-Endpoints`` has a URL to name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.cases.request_id import DEFAULT_MIDDLEWARE, NOOP
from benchmarks.harness import Benchmark, Case, Send
from django_prodkit.security.csp import recommended_policy

URLCONF = __name__
PRODKIT = "django_prodkit.security.SecurityHeadersMiddleware"
CSP = "csp.middleware.CSPMiddleware"
NONCE_PATH = "/nonce/"
NONCE_PAGE = "{% load prodkit %}<script {% prodkit_nonce %}></script>"

PRODKIT_HEADERS = (
    "permissions-policy",
    "cross-origin-resource-policy",
    "x-xss-protection",
)

# Filled in by build(), after django.setup(): prodkit's URLs import its views.
urlpatterns: list[Any] = []


def nonce_view(request: Any) -> Any:
    """A page whose template reads the CSP nonce, as a page with an inline script does."""
    from django.http import HttpResponse
    from django.template import engines

    return HttpResponse(
        engines["django"].from_string(NONCE_PAGE).render(request=request)
    )


def _fill_urlconf() -> None:
    from django.urls import include, path

    from benchmarks import project

    urlpatterns[:] = [
        path(project.PATH.strip("/") + "/", project.json_view),
        path(NONCE_PATH.strip("/") + "/", nonce_view),
        path("", include("django_prodkit.urls")),
    ]


def _settings(*, reporting: bool = True) -> dict[str, object]:
    # Every case resolves in the same urlconf and carries a PRODKIT, so that all of them
    # pay the same settings refill when a visit's override_settings() begins.
    return {
        "ROOT_URLCONF": URLCONF,
        "PRODKIT": {"SECURITY": {"REPORTING_ENDPOINTS": reporting}},
    }


def _expect(
    *,
    prodkit: bool,
    csp: bool = False,
    reporting: bool = False,
    nonce: bool = False,
    private: bool = False,
    default_stack: bool = True,
) -> Callable[[Send], None]:
    def verify(send: Send) -> None:
        headers = send().headers
        # XFrameOptionsMiddleware is last in the default stack: its header proves it.
        assert ("x-frame-options" in headers) is default_stack, headers
        for name in PRODKIT_HEADERS:
            assert (name in headers) is prodkit, (name, headers)
        assert ("reporting-endpoints" in headers) is reporting, headers
        if reporting:
            assert headers["reporting-endpoints"] == (
                'csp-endpoint="http://localhost/csp-report/"'
            ), headers
        policy = headers.get("content-security-policy")
        assert (policy is not None) is csp, headers
        assert ("'nonce-" in (policy or "")) is nonce, policy
        assert (headers.get("cache-control") == "private") is private, headers

    return verify


def build() -> list[Case]:
    _fill_urlconf()
    default = list(DEFAULT_MIDDLEWARE)
    on, off = _settings(), _settings(reporting=False)
    nonce_page = {"PATH_INFO": NONCE_PATH, "HTTP_ACCEPT": "text/html"}
    return [
        Case(
            key="a",
            label="bare Django, MIDDLEWARE = []",
            middleware=[],
            settings=on,
            verify=_expect(prodkit=False, default_stack=False),
        ),
        Case(
            key="b",
            label="Django's default MIDDLEWARE (7 classes)",
            middleware=default,
            settings=on,
            verify=_expect(prodkit=False),
        ),
        Case(
            key="r",
            label="ref: (b) + one no-op middleware",
            middleware=[NOOP, *default],
            settings=on,
            verify=_expect(prodkit=False),
        ),
        Case(
            key="c",
            label="(b) + prodkit SecurityHeadersMiddleware (a response without CSP)",
            middleware=[*default, PRODKIT],
            settings=on,
            verify=_expect(prodkit=True),
        ),
        Case(
            key="d",
            label="(b) + django-csp CSPMiddleware (strict policy)",
            middleware=[*default, CSP],
            settings=on,
            verify=_expect(prodkit=False, csp=True),
        ),
        Case(
            key="e",
            label="(d) + prodkit SecurityHeadersMiddleware above it",
            middleware=[*default, PRODKIT, CSP],
            settings=on,
            verify=_expect(prodkit=True, csp=True, reporting=True),
        ),
        Case(
            key="f",
            label="(e) with REPORTING_ENDPOINTS off",
            middleware=[*default, PRODKIT, CSP],
            settings=off,
            verify=_expect(prodkit=True, csp=True),
        ),
        Case(
            key="g",
            label="(d), a template page that uses the nonce",
            middleware=[*default, CSP],
            settings=on,
            environ=nonce_page,
            body=None,
            verify=_expect(prodkit=False, csp=True, nonce=True),
        ),
        Case(
            key="h",
            label="(e), a template page that uses the nonce (Cache-Control: private)",
            middleware=[*default, PRODKIT, CSP],
            settings=on,
            environ=nonce_page,
            body=None,
            verify=_expect(
                prodkit=True, csp=True, reporting=True, nonce=True, private=True
            ),
        ),
    ]


SPEC = Benchmark(
    name="security",
    title="Security headers: prodkit vs bare Django and django-csp",
    baseline="b",
    installed_apps=["django_prodkit"],
    settings={
        "CONTENT_SECURITY_POLICY": recommended_policy(
            report_uri="/csp-report/", backend="django-csp"
        ),
        "TEMPLATES": [{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
    },
    distributions=["django-prodkit", "django-csp"],
    build=build,
)
