from __future__ import annotations

import logging
import time

from django.http import HttpRequest, HttpResponse, JsonResponse

from django_prodkit.logs import get_request_id

logger = logging.getLogger("tests.views")


def sync_view(request: HttpRequest, pk: int) -> HttpResponse:
    logger.info("inside the sync view")
    return JsonResponse(
        {"request_id": get_request_id(request), "in_context": get_request_id()}
    )


async def async_view(request: HttpRequest, pk: int) -> HttpResponse:
    logger.info("inside the async view")
    return JsonResponse(
        {"request_id": get_request_id(request), "in_context": get_request_id()}
    )


def held_id(request: HttpRequest) -> HttpResponse:
    """Read the context's ID before and after a pause, to expose any sharing between threads."""
    before = get_request_id()
    time.sleep(0.005)
    return JsonResponse(
        {
            "request_id": get_request_id(request),
            "before": before,
            "after": get_request_id(),
        }
    )


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")
