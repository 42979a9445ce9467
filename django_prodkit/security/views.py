"""``POST /csp-report/``: the receiver for the browsers' CSP violation reports."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from django_prodkit import conf
from django_prodkit.ratelimit import check
from django_prodkit.ratelimit.responses import too_many_requests
from django_prodkit.security import reports

logger = logging.getLogger("django_prodkit.security")


@csrf_exempt
@login_not_required
@require_POST
# Reports are stored in autocommit, outside ATOMIC_REQUESTS: a failed write must not
# leave a broken transaction behind, and one group's write does not wait for the others.
@transaction.non_atomic_requests
def csp_report(request: HttpRequest) -> HttpResponse:
    """Store a CSP violation report: 204, or 400, 413, 415 or 429 with a JSON error."""
    options = conf.get().security
    if not options.enabled:
        raise Http404
    decision = check(request, name="csp-report", rate=options.csp_report_rate, key="ip")
    if decision.limited:
        return too_many_requests(decision)
    if request.content_type not in reports.CONTENT_TYPES:
        return _error(
            415,
            "unsupported_media_type",
            "Send application/csp-report or application/reports+json.",
        )
    limit = options.csp_report_max_bytes
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "bad_report", "The Content-Length header is not a number.")
    # Content-Length first, then a bounded read: a body sent without one (chunked,
    # under ASGI) is cut at the limit instead of being read whole.
    if declared > limit or len(body := request.read(limit + 1)) > limit:
        return _error(413, "too_large", f"A report may be at most {limit} bytes.")
    try:
        violations = reports.parse(request.content_type, body)
    except reports.BadReport as exc:
        return _error(400, "bad_report", str(exc))
    try:
        reports.record(violations)
    except DatabaseError:
        # The browser cannot retry usefully: keep the report in the log instead.
        logger.warning(
            "CSP report not stored: %s",
            [(v.directive, v.blocked_uri, v.document_uri) for v in violations],
            exc_info=True,
        )
    return HttpResponse(status=204)


def _error(status: int, error: str, message: str) -> JsonResponse:
    return JsonResponse({"error": error, "message": message}, status=status)
