"""URLs of the rate-limit tests: the kit's endpoints, a django-ratelimit view, a catch-all."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django_ratelimit.decorators import ratelimit


def ok(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Touches neither the database nor the cache."""
    return JsonResponse({"ok": True, "path": request.path})


@ratelimit(key="ip", rate="2/m", block=True)  # type: ignore[untyped-decorator]
def decorated(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("", include("django_prodkit.urls")),
    path("decorated/", decorated, name="decorated"),
    re_path(r"^(?P<rest>.*)$", ok, name="ok"),
]
