from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from django_prodkit.locking import check_if_match, if_match_required, set_etag
from tests.locking.models import Note


def _body(note: Note) -> dict[str, object]:
    return {"id": note.pk, "text": note.text, "version": note.version}


@csrf_exempt
def note(request: HttpRequest, pk: int) -> JsonResponse:
    """GET the note with its ETag; PUT ``{"text", "version"}`` or with If-Match."""
    instance = get_object_or_404(Note, pk=pk)
    if request.method == "PUT":
        data = json.loads(request.body)
        check_if_match(request, instance)
        if "version" in data:
            instance.version = data["version"]
        instance.text = data["text"]
        instance.save()
    response = JsonResponse(_body(instance))
    set_etag(response, instance)
    return response


@csrf_exempt
@if_match_required
def strict_note(request: HttpRequest, pk: int) -> JsonResponse:
    """PUT needs If-Match (428 without)."""
    instance = get_object_or_404(Note, pk=pk)
    check_if_match(request, instance, required=True)
    instance.text = json.loads(request.body)["text"]
    instance.save()
    return JsonResponse(_body(instance))


@api_view(["PUT"])  # type: ignore[untyped-decorator]
def drf_note(request: Request, pk: int) -> Response:
    instance = get_object_or_404(Note, pk=pk)
    instance.version = request.data["version"]
    instance.text = request.data["text"]
    instance.save()
    return Response(_body(instance))
