"""Sentry with prodkit's defaults: scrubbed events, linked to prodkit's error groups.

:func:`init` calls ``sentry_sdk.init`` with the Django (and, when installed, Celery)
integration and installs :func:`before_send`, which drops Django's client errors unless
``PRODKIT["ERRORS"]["CLIENT_ERRORS"]`` is true, removes what prodkit's own capture
removes, and records the event id on the matching error group.

``init`` is meant for ``settings.py``: it reads no Django setting and imports no part of
the kit that does. Settings are read when an event is sent. This is the only module of
the kit that imports ``sentry_sdk``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

try:
    import sentry_sdk
    from sentry_sdk.consts import DEFAULT_OPTIONS
    from sentry_sdk.integrations import Integration
    from sentry_sdk.integrations import logging as sentry_logging
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import ignore_logger
except ImportError as error:  # pragma: no cover - the extra is missing
    raise ImportError(
        "django_prodkit.integrations.sentry needs sentry-sdk: "
        "pip install 'django-prodkit[sentry]'"
    ) from error

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint

__all__ = ["before_send", "before_send_transaction", "init", "scrub_event"]

EventHook = Callable[["Event", "Hint"], "Event | None"]

logger = logging.getLogger(__name__)

_DISALLOWED_HOST = "django.security.DisallowedHost"


def init(
    dsn: str | None = None,
    *,
    environment: str | None = None,
    release: str | None = None,
    before_send: EventHook | None = None,
    integrations: Iterable[Integration] = (),
    ignore_disallowed_host: bool = True,
    **options: Any,
) -> bool:
    """Initialise sentry-sdk with prodkit's defaults; False when there is no DSN.

    Args:
        dsn: The project's DSN; default ``SENTRY_DSN`` from the environment. With
            neither (nor a ``transport``), Sentry is not initialised at all, so a
            development machine pays nothing for it.
        environment: Default ``SENTRY_ENVIRONMENT``, else ``"production"``.
        release: Default ``SENTRY_RELEASE``, else what sentry-sdk detects (the git
            commit, or the commit variables of Heroku, AWS CodeBuild, CircleCI,
            App Engine and Cloud Run).
        before_send: Your own hook. It runs after client errors are dropped and
            before scrubbing, so it sees the event as Sentry built it; prodkit
            scrubs and links what it returns (``None`` drops the event).
        integrations: Added to ``DjangoIntegration()`` and, when Celery is
            installed, ``CeleryIntegration()``; an integration of the same kind
            replaces the default one.
        ignore_disallowed_host: Keep Sentry from even building events for the
            ``django.security.DisallowedHost`` logger, which bots flood. Pass
            False, and set ``CLIENT_ERRORS``, to have them in Sentry.
        **options: Passed to ``sentry_sdk.init``; they win over prodkit's defaults
            (``include_local_variables=True``, and no personal data). A
            ``before_send_transaction`` of yours is chained like ``before_send``.
    """
    dsn = dsn or os.environ.get("SENTRY_DSN") or None
    if dsn is None and not options.get("transport") and not options.get("spotlight"):
        return False
    options.setdefault("include_local_variables", True)
    if "data_collection" not in DEFAULT_OPTIONS:
        # sentry-sdk releases before ``data_collection`` need the flag; later ones
        # warn when it is passed and collect no personal data without it.
        options.setdefault("send_default_pii", False)
    ignore_logger(__name__)  # prodkit's own warnings about Sentry never become events
    # The writer's lines about groups it could not store repeat errors Sentry has.
    ignore_logger("django_prodkit.errors")
    if ignore_disallowed_host:
        # before_send would drop them too, but only after building each event (~8 ms).
        ignore_logger(_DISALLOWED_HOST)
    else:
        _unignore_logger(_DISALLOWED_HOST)
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or os.environ.get("SENTRY_ENVIRONMENT") or "production",
        release=release or os.environ.get("SENTRY_RELEASE") or None,
        integrations=_integrations(integrations),
        before_send=_with(_before_send, before_send),
        before_send_transaction=_with(
            _before_send_transaction, options.pop("before_send_transaction", None)
        ),
        **options,
    )
    return True


def before_send(event: Event, hint: Hint) -> Event | None:
    """Drop client errors, scrub the event and link it to its error group.

    Pass it to ``sentry_sdk.init(before_send=...)`` when you call ``sentry_sdk.init``
    yourself. It never raises: an event that cannot be scrubbed is dropped (prodkit's
    own capture still has the error) rather than sent unscrubbed.
    """
    return _before_send(event, hint, None)


def before_send_transaction(event: Event, hint: Hint) -> Event | None:
    """Scrub a transaction, which carries request data too; dropped if that fails."""
    return _before_send_transaction(event, hint, None)


def scrub_event(event: Event, hint: Hint | None = None) -> Event:
    """``event`` with secrets masked, as prodkit's own capture masks them.

    Request headers, cookies, query string, body and environment; every string and
    every value under a sensitive key elsewhere (frame variables, extra, contexts,
    breadcrumbs, messages, spans); the user but for its id. With ``hint``, also the
    variables Django's ``@sensitive_variables`` hides, and the secret values of the
    request (found on the log record or in the exception's frames) wherever they
    reappear.
    """
    from django_prodkit.integrations.sentry_events import scrub

    return cast("Event", scrub(cast("dict[str, Any]", event), hint))


def _before_send(event: Event, hint: Hint, own: EventHook | None) -> Event | None:
    try:
        if not _settings_ready() or _client_error(hint):
            return None
    except Exception:
        logger.warning("a Sentry event was dropped: settings unreadable", exc_info=True)
        return None
    if own is not None:  # The user's hook: sees the event as Sentry built it.
        result = own(event, hint)
        if result is None:
            return None
        event = result
    try:
        _tag_request_id(event)
        event = scrub_event(event, hint)
    except Exception:
        logger.warning("a Sentry event was dropped: scrubbing failed", exc_info=True)
        return None
    try:
        _link(event, hint)
    except Exception:
        logger.warning("a Sentry event could not be linked", exc_info=True)
    return event


def _before_send_transaction(
    event: Event, hint: Hint, own: EventHook | None
) -> Event | None:
    if own is not None:
        result = own(event, hint)
        if result is None:
            return None
        event = result
    try:
        return scrub_event(event, hint) if _settings_ready() else None
    except Exception:
        logger.warning(
            "a Sentry transaction was dropped: scrubbing failed", exc_info=True
        )
        return None


def _with(
    hook: Callable[[Event, Hint, EventHook | None], Event | None],
    own: EventHook | None,
) -> EventHook:
    def chained(event: Event, hint: Hint) -> Event | None:
        return hook(event, hint, own)

    return chained


def _client_error(hint: Hint) -> bool:
    from django_prodkit import conf
    from django_prodkit.errors.filters import is_client_error, is_client_error_record

    if conf.get().errors.client_errors:
        return False
    exc_info = hint.get("exc_info")
    if exc_info and is_client_error(exc_info[1]):
        return True
    record = hint.get("log_record")
    return isinstance(record, logging.LogRecord) and is_client_error_record(record)


def _tag_request_id(event: Event) -> None:
    from django_prodkit.logs import get_request_id

    request_id = get_request_id()
    if request_id:
        tags = event.setdefault("tags", {})
        if isinstance(tags, dict):
            tags.setdefault("request_id", request_id)


def _link(event: Event, hint: Hint) -> None:
    from django_prodkit.errors import link_sentry_event

    event_id = event.get("event_id")
    if not event_id:
        return
    exc_info = hint.get("exc_info")
    record = hint.get("log_record")
    # The exception first: prodkit skips a log record whose exception it captured already.
    if exc_info and exc_info[1] is not None:
        link_sentry_event(exc_info[1], event_id)
    elif isinstance(record, logging.LogRecord):
        link_sentry_event(record, event_id)


def _settings_ready() -> bool:
    # Before Django's settings are loaded (an error in settings.py itself), prodkit
    # cannot know what is secret; reading them here would import settings.py again.
    from django.conf import settings

    return settings.configured


def _integrations(extra: Iterable[Integration]) -> list[Integration]:
    chosen: dict[str, Integration] = {"django": DjangoIntegration()}
    if importlib.util.find_spec("celery") is not None:
        from sentry_sdk.integrations.celery import CeleryIntegration

        chosen["celery"] = CeleryIntegration()
    for integration in extra:
        chosen[integration.identifier] = integration
    return list(chosen.values())


def _unignore_logger(name: str) -> None:
    # Older sentry-sdk releases have no unignore_logger.
    unignore = getattr(sentry_logging, "unignore_logger", None)
    if unignore is not None:
        unignore(name)
