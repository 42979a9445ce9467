from __future__ import annotations

from typing import NamedTuple

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost, MiddlewareNotUsed
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control

from django_prodkit import conf
from django_prodkit._typing import AsyncGetResponse, GetResponse
from django_prodkit.conf import SecuritySettings
from django_prodkit.security.csp import REPORT_TO_GROUP
from django_prodkit.security.permissions import header_value

CSP_HEADER = "content-security-policy"
CSP_REPORT_ONLY_HEADER = "content-security-policy-report-only"
REPORT_URL_NAME = "prodkit:csp-report"
# django-permissions-policy sets Permissions-Policy itself; two sources would disagree.
PERMISSIONS_POLICY_PACKAGE = "django_permissions_policy."
# Reporting-Endpoints values by scheme, host, script prefix and urlconf. The host comes
# from the request, so the cache is bounded.
_ENDPOINTS_CACHE_SIZE = 256


class _Plan(NamedTuple):
    """What to add for one settings object, computed once."""

    options: SecuritySettings
    headers: tuple[tuple[str, str], ...]
    reporting_endpoints: bool
    private_nonce: bool


def defers_permissions_policy() -> bool:
    """Whether django-permissions-policy's middleware is in ``MIDDLEWARE``."""
    return any(
        path.startswith(PERMISSIONS_POLICY_PACKAGE) for path in settings.MIDDLEWARE
    )


def _plan(options: SecuritySettings) -> _Plan:
    headers = []
    if options.permissions_policy and not defers_permissions_policy():
        headers.append(("Permissions-Policy", header_value(options.permissions_policy)))
    for name, value in (
        ("Cross-Origin-Resource-Policy", options.cross_origin_resource_policy),
        ("Cross-Origin-Embedder-Policy", options.cross_origin_embedder_policy),
        ("X-XSS-Protection", options.x_xss_protection),
    ):
        if value is not None:
            headers.append((name, value))
    return _Plan(
        options=options,
        headers=tuple(headers),
        reporting_endpoints=options.reporting_endpoints,
        private_nonce=options.private_nonce_responses,
    )


class SecurityHeadersMiddleware:
    """Add the security headers Django does not set, and keep nonce pages private.

    Adds ``Permissions-Policy``, ``Cross-Origin-Resource-Policy``,
    ``Cross-Origin-Embedder-Policy`` and ``X-XSS-Protection`` unless the response
    already has them. To responses with a CSP header it adds ``Reporting-Endpoints``
    (the URL of the report receiver) and, when the policy carries a nonce,
    ``Cache-Control: private``. Put it above (before) the CSP middleware in
    ``MIDDLEWARE`` so that it sees the CSP header on the way out.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        options = conf.get().security
        if not options.enabled:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        self._plan = _plan(options)
        self._endpoints: dict[tuple[object, ...], str | None] = {}
        self._generation = _generation

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        response = self.get_response(request)
        return self._after(request, response)  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = await self.get_response(request)  # type: ignore[misc]
        return self._after(request, response)

    def _current(self) -> _Plan:
        plan = self._plan
        options = conf.get().security
        if plan.options is not options:  # PRODKIT changed: rebuild once.
            plan = self._plan = _plan(options)
        return plan

    def _after(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        plan = self._current()
        headers = response.headers
        for name, value in plan.headers:
            if name not in headers:
                headers[name] = value
        enforced = headers.get(CSP_HEADER)
        reported = headers.get(CSP_REPORT_ONLY_HEADER)
        if enforced is None and reported is None:
            # Only a response with a policy has violations to report: API responses
            # and files pay nothing more.
            return response
        if plan.reporting_endpoints and "Reporting-Endpoints" not in headers:
            endpoint = self._reporting_endpoints(request)
            if endpoint is not None:
                headers["Reporting-Endpoints"] = endpoint
        # A shared cache would serve one nonce to every visitor, and a nonce known in
        # advance protects nothing (https://code.djangoproject.com/ticket/37280).
        if plan.private_nonce and (
            "'nonce-" in (enforced or "") or "'nonce-" in (reported or "")
        ):
            if "Cache-Control" in headers:
                patch_cache_control(response, private=True)
            else:  # What patch_cache_control() writes, without parsing.
                headers["Cache-Control"] = "private"
        return response

    def _reporting_endpoints(self, request: HttpRequest) -> str | None:
        # Keyed by the raw inputs of build_absolute_uri(), which are cheap to read;
        # get_host() (validation), get_urlconf() and get_script_prefix() cost several
        # microseconds each and run only on a miss.
        meta = request.META
        path = request.path
        key = (
            request.scheme,
            meta.get("HTTP_HOST"),
            meta.get("HTTP_X_FORWARDED_HOST"),
            meta.get("HTTP_X_FORWARDED_PORT"),
            meta.get("SERVER_NAME"),
            meta.get("SERVER_PORT"),
            path[: len(path) - len(request.path_info)],
            getattr(request, "urlconf", None),
        )
        endpoints = self._endpoints
        if self._generation != _generation:  # ALLOWED_HOSTS, ROOT_URLCONF...
            endpoints = self._endpoints = {}
            self._generation = _generation
        try:
            return endpoints[key]
        except KeyError:
            pass
        value = _endpoint_value(request)
        if len(endpoints) >= _ENDPOINTS_CACHE_SIZE:
            endpoints.clear()
        endpoints[key] = value
        return value


def _endpoint_value(request: HttpRequest) -> str | None:
    try:
        request.get_host()
        path = reverse(REPORT_URL_NAME, urlconf=getattr(request, "urlconf", None))
    except (DisallowedHost, NoReverseMatch):
        return None
    return f'{REPORT_TO_GROUP}="{request.build_absolute_uri(path)}"'


# Bumped on every settings change (tests, override_settings): cached endpoints depend on
# ALLOWED_HOSTS, ROOT_URLCONF, FORCE_SCRIPT_NAME and the proxy settings.
_generation = 0


@receiver(setting_changed, dispatch_uid="django_prodkit.security.middleware")
def _settings_changed(**kwargs: object) -> None:
    global _generation
    _generation += 1
