"""Alerts: tell people about a new, regressed or busy error group, once per cooldown.

:func:`on_group_recorded` receives ``group_recorded`` on the writer's thread, never on a
request's. It decides whether the group deserves an alert, claims the group's cooldown
with one atomic ``cache.add`` in ``PRODKIT["ERRORS"]["ALERTS"]["CACHE"]`` (so among all
the instances sharing that cache, one sends), then sends it with ``mail_admins`` and to
the webhook, or hands it to the Celery task ``prodkit.errors.send_alert``. A channel that
fails is logged, never raised. While the cache is unavailable, cooldowns and rate counts
are kept in this process, so a Redis outage cannot turn into an alert storm.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import django
from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.mail import mail_admins

from django_prodkit import __version__, conf
from django_prodkit.breaker import get_breaker
from django_prodkit.conf.validators import parse_threshold
from django_prodkit.errors.capture import SEVERITIES
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.scrub import scrub_text

__all__ = ["build_payload", "dispatch", "on_group_recorded", "send", "webhook_body"]

logger = logging.getLogger(__name__)

Payload = dict[str, Any]
_T = TypeVar("_T")

LABELS = {"new": "New error", "regression": "Regression", "rate": "Error rate"}
SUBJECT_LENGTH = 200
TITLE_LENGTH = 300

# Cooldowns and rate counts while the shared cache is unavailable: this process only.
_fallback = LocMemCache("django-prodkit-alerts", {"OPTIONS": {"MAX_ENTRIES": 10000}})
_degraded = False


def on_group_recorded(
    sender: object,
    *,
    group: ErrorGroup,
    new: bool,
    regressed: bool,
    occurrences: int,
    **kwargs: object,
) -> None:
    """Receiver of ``group_recorded``: alert when the group deserves it; never raises."""
    try:
        options = conf.get().errors.alerts
        reason = _reason(options, group, new, regressed, occurrences)
        if reason is not None and _claim(options, group, reason):
            dispatch(build_payload(group, reason, options))
    except Exception:
        logger.exception("alert for error group %s failed", group.fingerprint[:12])


def _reason(
    options: conf.AlertSettings,
    group: ErrorGroup,
    new: bool,
    regressed: bool,
    occurrences: int,
) -> str | None:
    if not options.enabled or not (options.mail_admins or options.webhook_url):
        return None
    if group.status == ErrorGroup.Status.IGNORED:
        return None
    if SEVERITIES.get(group.severity, 1) < SEVERITIES[options.min_severity]:
        return None
    # Counted first, so that the occurrences of a new group count towards the rate.
    busy = options.rate is not None and _over_rate(
        options.cache, options.rate, group.fingerprint, occurrences
    )
    if new and options.on_new:
        return "new"
    if regressed and options.on_regression:
        return "regression"
    return "rate" if busy else None


def _over_rate(alias: str, rate: str, fingerprint: str, occurrences: int) -> bool:
    threshold, seconds = parse_threshold(rate)
    now = time.time()
    window = int(now // seconds)
    key = f"prodkit:alerts:rate:{fingerprint}:{window}"
    previous_key = f"prodkit:alerts:rate:{fingerprint}:{window - 1}"

    def count(cache: BaseCache) -> float:
        current = occurrences
        if not cache.add(key, occurrences, 2 * seconds):
            try:
                current = cache.incr(key, occurrences)
            except ValueError:  # Expired between add and incr.
                cache.add(key, occurrences, 2 * seconds)
        # A sliding window: the previous window's count, weighted by how much of it
        # the window ending now still covers.
        previous = int(cache.get(previous_key) or 0)
        return current + previous * (1 - (now % seconds) / seconds)

    return _shared(alias, count) >= threshold


def _claim(options: conf.AlertSettings, group: ErrorGroup, reason: str) -> bool:
    # A regression starts a new cooldown: resolving a group re-arms its alert.
    key = f"prodkit:alerts:cooldown:{group.fingerprint}:{group.times_regressed}"
    if _fallback.get(key) is not None:
        return False  # Alerted from this process while the cache was unavailable.
    return _shared(
        options.cache, lambda cache: cache.add(key, reason, options.cooldown)
    )


def _shared(alias: str, operation: Callable[[BaseCache], _T]) -> _T:
    """``operation`` on the shared cache, or on this process's fallback when it fails."""
    global _degraded
    breaker = get_breaker(f"cache:{alias}")
    problem = "circuit breaker open"
    if breaker.allow():
        try:
            result = operation(caches[alias])
        except Exception as error:  # redis.RedisError, OSError, a missing alias...
            breaker.failure(error)
            problem = f"{type(error).__name__}: {scrub_text(str(error))}"
        else:
            breaker.success()
            if _degraded:
                _degraded = False
                logger.warning("alert cache %r is available again", alias)
            return result
    if not _degraded:
        _degraded = True
        logger.warning(
            "alert cache %r is unavailable (%s): alert cooldowns and rate counts are "
            "kept in this process until it is back",
            alias,
            problem,
        )
    return operation(_fallback)


def reset() -> None:
    """Forget this process's fallback cooldowns and counts (tests)."""
    global _degraded
    _fallback.clear()
    _degraded = False


def build_payload(
    group: ErrorGroup, reason: str, options: conf.AlertSettings
) -> Payload:
    """The alert of ``group`` as JSON-ready data; every field is scrubbed already."""
    return {
        "reason": reason,
        "id": group.pk,
        "fingerprint": group.fingerprint,
        "exception_type": group.exception_type,
        "message": group.message,
        "culprit": group.culprit,
        "severity": group.severity,
        "status": group.status,
        "count": int(group.count),
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "times_regressed": group.times_regressed,
        "rate": options.rate if reason == "rate" else None,
        "request_method": group.request_method,
        "request_path": group.request_path,
        "request_route": group.request_route,
        "request_id": group.request_id,
        "traceback": group.traceback,
    }


def dispatch(payload: Payload) -> None:
    """Send now, or through the Celery task when ``ALERTS.CELERY`` is on."""
    if conf.get().errors.alerts.celery:
        try:
            from django_prodkit.tasks import send_alert
        except ImportError:
            logger.warning("ALERTS.CELERY is on but Celery is not installed")
        else:
            try:
                send_alert.delay(payload)
                return
            except Exception as error:  # The broker is down, or refused the message.
                logger.warning(
                    "alert for error group %s could not be queued (%s: %s); "
                    "sending it from this process",
                    payload["fingerprint"][:12],
                    type(error).__name__,
                    scrub_text(str(error)),
                )
    send(payload)


def send(payload: Payload) -> None:
    """Send ``payload`` through every configured channel; a failure is logged."""
    options = conf.get().errors.alerts
    if options.mail_admins:
        _mail(payload, options.mailer)
    if options.webhook_url:
        _post(payload, options.webhook_url, options.webhook_timeout)


def _title(payload: Payload) -> str:
    lines = str(payload["message"]).strip().splitlines()
    first = lines[0] if lines else ""
    title = (
        f"{payload['exception_type']}: {first}" if payload["exception_type"] else first
    )
    title = title or payload["fingerprint"][:12]
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1] + "…"


def _headline(payload: Payload) -> str:
    label = LABELS.get(payload["reason"], "Error")
    if payload["reason"] == "rate" and payload.get("rate"):
        label = f"{label} over {payload['rate']}"
    return f"{label}: {_title(payload)}"


def summary(payload: Payload) -> str:
    """One line: what happened, to which group, where, how often."""
    count = payload["count"]
    details = f"({payload['severity']}, {count} occurrence{'s' if count != 1 else ''})"
    where = f"{payload['request_method']} {payload['request_path']}".strip()
    return (
        f"{_headline(payload)} — {where} {details}"
        if where
        else f"{_headline(payload)} {details}"
    )


def webhook_body(payload: Payload) -> dict[str, Any]:
    """A Slack-compatible body: ``text``, and every field under ``prodkit``."""
    # Slack reads &, < and > as markup: https://api.slack.com/reference/surfaces/formatting#escaping
    text = summary(payload).replace("&", "&amp;").replace("<", "&lt;")
    fields = {key: value for key, value in payload.items() if key != "traceback"}
    return {"text": text.replace(">", "&gt;"), "prodkit": fields}


def _mail_body(payload: Payload) -> str:
    rows = [
        ("Severity", payload["severity"]),
        ("Status", payload["status"]),
        ("Occurrences", str(payload["count"])),
        ("First seen", payload["first_seen"]),
        ("Last seen", payload["last_seen"]),
        ("Request", f"{payload['request_method']} {payload['request_path']}".strip()),
        ("Route", payload["request_route"]),
        ("Request ID", payload["request_id"]),
        ("Culprit", payload["culprit"]),
        ("Fingerprint", payload["fingerprint"]),
    ]
    lines = [_headline(payload), ""]
    lines += [f"{name}: {value}" for name, value in rows if value]
    lines += ["", "Message:", str(payload["message"])]
    if payload.get("traceback"):
        lines += ["", str(payload["traceback"])]
    return "\n".join(lines)


def _mail(payload: Payload, mailer: str | None) -> None:
    options: dict[str, Any] = {}
    if mailer is not None and django.VERSION >= (6, 1):
        options["using"] = mailer  # MAILERS, new in Django 6.1.
    subject = " ".join(_headline(payload).split())[:SUBJECT_LENGTH]
    try:
        mail_admins(subject, _mail_body(payload), **options)
    except Exception as error:  # SMTP refused, a bad MAILERS alias...
        logger.error(
            "alert mail for error group %s failed: %s: %s",
            payload["fingerprint"][:12],
            type(error).__name__,
            scrub_text(str(error)),
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib turns a redirected POST into a GET without the body: treat it as a failure.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(payload: Payload, url: str, timeout: float) -> None:
    problem = ""
    if urlsplit(url).scheme not in ("http", "https"):
        problem = "WEBHOOK_URL is not an http:// or https:// URL"
    else:
        request = urllib.request.Request(
            url,
            data=json.dumps(webhook_body(payload)).encode(),
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"django-prodkit/{__version__}",
            },
            method="POST",
        )
        try:
            with _opener.open(request, timeout=timeout) as response:
                response.read(65536)
                if not 200 <= response.status < 300:
                    problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
            error.close()
        except Exception as error:  # Refused, timed out, no such host, bad TLS...
            reason = getattr(error, "reason", None)
            cause = reason if isinstance(reason, BaseException) else error
            problem = f"{type(cause).__name__}: {cause}"
    if problem:
        logger.error(
            "alert webhook for error group %s failed: %s",
            payload["fingerprint"][:12],
            _redact(problem, url),
        )


def _redact(text: str, url: str) -> str:
    # Never the URL, nor its path: webhook URLs carry their token there.
    parts = urlsplit(url)
    path = parts._replace(scheme="", netloc="").geturl()
    for secret in (url, path if len(path) > 1 else ""):
        if secret:
            text = text.replace(secret, "<WEBHOOK_URL>")
    return scrub_text(text)
