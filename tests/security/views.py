from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import engines

PAGE = "{% load prodkit %}<script {% prodkit_nonce %}>1</script>"


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("plain")


def nonce_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(PAGE).render(request=request))


async def async_nonce_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(PAGE).render(request=request))


def cacheable_nonce_page(request: HttpRequest) -> HttpResponse:
    response = nonce_page(request)
    response["Cache-Control"] = "public, max-age=60"
    return response


def own_headers(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("own")
    response["Permissions-Policy"] = "camera=*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["Cross-Origin-Embedder-Policy"] = "unsafe-none"
    response["X-XSS-Protection"] = "1; mode=block"
    response["Reporting-Endpoints"] = 'main="https://reports.example/"'
    response["Content-Security-Policy"] = "default-src 'self'; report-to main"
    return response
