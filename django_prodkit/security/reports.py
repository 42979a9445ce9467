"""CSP violation reports: parse both wire formats, normalise, and store them grouped.

Two formats reach the endpoint: the ``report-uri`` one (``application/csp-report``, one
``{"csp-report": {...}}`` object, kebab-case keys) and the Reporting API one
(``application/reports+json``, a list of reports whose ``body`` has camelCase keys).
https://w3c.github.io/webappsec-csp/#reporting
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from django.db import IntegrityError, router, transaction
from django.db.models import F
from django.utils import timezone

from django_prodkit.scrub import scrub_value
from django_prodkit.security.models import URI_LENGTH, CSPReport

LEGACY_TYPE = "application/csp-report"
REPORTS_TYPE = "application/reports+json"
JSON_TYPE = "application/json"
CONTENT_TYPES = frozenset({LEGACY_TYPE, REPORTS_TYPE, JSON_TYPE})

# A batch from one page rarely holds more than a few groups; more is noise or abuse, and
# each group costs a write.
MAX_GROUPS_PER_REQUEST = 20
DIRECTIVE_LENGTH = 100
SAMPLE_KEYS = 40
SAMPLE_TEXT_LENGTH = 1000

_LEGACY_URIS = frozenset({"blocked-uri", "document-uri", "source-file", "referrer"})
_REPORT_URIS = frozenset({"blockedURL", "documentURL", "sourceFile", "referrer"})
# These carry content, not a location: only the scheme is worth keeping.
_CONTENT_SCHEMES = frozenset({"data", "blob", "filesystem", "javascript"})
_DIRECTIVE = re.compile(r"[a-z0-9-]+")


class BadReport(ValueError):
    """The body is not JSON, or not shaped like a CSP report."""


@dataclasses.dataclass(frozen=True, slots=True)
class Violation:
    directive: str
    blocked_uri: str
    document_uri: str
    source_file: str
    line_number: int | None
    disposition: str
    sample: dict[str, object]

    @property
    def fingerprint(self) -> str:
        parts = (self.directive, self.blocked_uri, self.document_uri, self.disposition)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def parse(content_type: str, body: bytes) -> list[Violation]:
    """The CSP violations in ``body``; reports of other types are skipped."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadReport("The body is not valid JSON.") from exc
    if content_type == REPORTS_TYPE or (
        content_type == JSON_TYPE and isinstance(data, list)
    ):
        return _reporting_api(data)
    return [_legacy(data)]


def _legacy(data: object) -> Violation:
    report = data.get("csp-report") if isinstance(data, dict) else None
    if not isinstance(report, dict):
        raise BadReport('Expected a JSON object {"csp-report": {...}}.')
    directive = report.get("effective-directive") or report.get("violated-directive")
    return _violation(
        directive,
        blocked=report.get("blocked-uri"),
        document=report.get("document-uri"),
        source=report.get("source-file"),
        line=report.get("line-number"),
        disposition=report.get("disposition"),
        sample=_sample(report, _LEGACY_URIS),
    )


def _reporting_api(data: object) -> list[Violation]:
    if not isinstance(data, list):
        raise BadReport("Expected a JSON list of reports.")
    violations = []
    for item in data:
        if not isinstance(item, dict):
            raise BadReport("Each report must be a JSON object.")
        if item.get("type") != "csp-violation":
            continue
        body = item.get("body")
        if not isinstance(body, dict):
            raise BadReport('A "csp-violation" report needs a "body" object.')
        violations.append(
            _violation(
                body.get("effectiveDirective"),
                blocked=body.get("blockedURL"),
                document=body.get("documentURL") or item.get("url"),
                source=body.get("sourceFile"),
                line=body.get("lineNumber"),
                disposition=body.get("disposition"),
                sample=_sample(body, _REPORT_URIS),
            )
        )
    return violations


def _violation(
    directive: object,
    *,
    blocked: object,
    document: object,
    source: object,
    line: object,
    disposition: object,
    sample: dict[str, object],
) -> Violation:
    # CSP2 browsers send violated-directive as "script-src 'self' ..."; keep the name.
    name = directive.split(maxsplit=1)[0].lower() if isinstance(directive, str) else ""
    if not name or not _DIRECTIVE.fullmatch(name):
        raise BadReport("A report has no valid directive.")
    return Violation(
        directive=name[:DIRECTIVE_LENGTH],
        blocked_uri=normalise_uri(blocked),
        document_uri=normalise_uri(document),
        source_file=normalise_uri(source),
        line_number=_line(line),
        disposition="report" if disposition == "report" else "enforce",
        sample=sample,
    )


def normalise_uri(value: object) -> str:
    """``value`` without query string, fragment or credentials, at most 500 characters.

    Query strings and fragments are dropped because they can carry tokens (password
    reset links, OAuth codes); ``data:`` and ``blob:`` URIs keep only their scheme.
    """
    if not isinstance(value, str):
        return ""
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        parts = None
    if parts is not None and parts.scheme in _CONTENT_SCHEMES:
        return parts.scheme
    if parts is not None and parts.netloc:
        netloc = parts.netloc.rpartition("@")[2]
        value = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    else:  # a keyword such as "inline" or "eval", "about:blank", a relative URL
        value = value.split("#", 1)[0].split("?", 1)[0]
    return value[:URI_LENGTH]


def _line(value: object) -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None


def _sample(
    report: Mapping[str, object], uri_keys: frozenset[str]
) -> dict[str, object]:
    cleaned: dict[str, object] = {}
    for key, value in list(report.items())[:SAMPLE_KEYS]:
        if key in uri_keys:
            cleaned[key] = normalise_uri(value)
        elif isinstance(value, str):
            cleaned[key] = value[:SAMPLE_TEXT_LENGTH]
        elif value is None or isinstance(value, bool | int | float):
            cleaned[key] = value
    scrubbed = scrub_value(cleaned)
    assert isinstance(scrubbed, dict)
    return scrubbed


def record(violations: Sequence[Violation]) -> int:
    """Store ``violations``, one write per group; returns how many groups were written."""
    groups: dict[str, tuple[Violation, int]] = {}
    for violation in violations:
        key = violation.fingerprint
        if key in groups:
            groups[key] = (violation, groups[key][1] + 1)
        elif len(groups) < MAX_GROUPS_PER_REQUEST:
            groups[key] = (violation, 1)
    for key, (violation, count) in groups.items():
        _upsert(key, violation, count)
    return len(groups)


def _upsert(fingerprint: str, violation: Violation, count: int) -> None:
    # An UPDATE first: the common case (a known group) is one statement and takes no
    # lock beyond the row's. Two first reports racing both miss it; the unique
    # fingerprint lets one INSERT win and the other falls back to the UPDATE.
    now = timezone.now()
    changes = {
        "count": F("count") + count,
        "last_seen": now,
        "source_file": violation.source_file,
        "line_number": violation.line_number,
        "sample": violation.sample,
    }
    rows = CSPReport.objects.filter(fingerprint=fingerprint)
    if rows.update(**changes):
        return
    try:
        with transaction.atomic(using=router.db_for_write(CSPReport)):
            CSPReport.objects.create(
                fingerprint=fingerprint,
                directive=violation.directive,
                blocked_uri=violation.blocked_uri,
                document_uri=violation.document_uri,
                source_file=violation.source_file,
                line_number=violation.line_number,
                disposition=violation.disposition,
                count=count,
                first_seen=now,
                last_seen=now,
                sample=violation.sample,
            )
    except IntegrityError:
        rows.update(**changes)
