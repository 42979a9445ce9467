"""A view that enqueues a task, for the request-ID tests."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path


def enqueue(request: HttpRequest) -> JsonResponse:
    from tests.jobs.test_celery import logs_then_fails

    result = logs_then_fails.delay("from a view")
    return JsonResponse({"task_id": result.id}, status=202)


urlpatterns = [path("enqueue/", enqueue)]
