"""Views of the metrics tests: sync and async, fast, failing and missing."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse


def note(request: HttpRequest, pk: int) -> HttpResponse:
    return JsonResponse({"pk": pk})


async def async_note(request: HttpRequest, pk: int) -> HttpResponse:
    return JsonResponse({"pk": pk})


def article(request: HttpRequest, year: str) -> HttpResponse:
    return JsonResponse({"year": year})


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


def item(request: HttpRequest, slug: str) -> HttpResponse:
    return HttpResponse(slug)


def missing(request: HttpRequest, pk: int) -> HttpResponse:
    raise Http404("no such note")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


async def async_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("async boom")


def server_error(request: HttpRequest) -> HttpResponse:
    return HttpResponse("down", status=503)
