from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_prodkit.errors.context import PATH_LENGTH


class ErrorGroup(models.Model):
    """Every occurrence of one error, grouped under its fingerprint.

    The fingerprint is the exception type, the innermost frame in the project's own code
    and the message with numbers, ids and quoted values stripped, so the same failure
    with different data is one group. Rows are written by the capture's writer thread,
    never inside a user's transaction; the ``last_*`` fields and ``traceback`` describe
    the most recent occurrence, scrubbed of secrets.
    """

    class Status(models.TextChoices):
        UNRESOLVED = "unresolved", _("unresolved")
        RESOLVED = "resolved", _("resolved")
        IGNORED = "ignored", _("ignored")

    class Severity(models.TextChoices):
        WARNING = "warning", _("warning")
        ERROR = "error", _("error")
        CRITICAL = "critical", _("critical")

    class Source(models.TextChoices):
        REQUEST = "request", _("request")
        LOG = "log", _("log record")
        TASK = "task", _("Celery task")
        CODE = "code", _("capture_exception()")

    fingerprint = models.CharField(_("fingerprint"), max_length=64, unique=True)
    exception_type = models.CharField(_("exception type"), max_length=255, blank=True)
    message = models.TextField(_("message"), blank=True)
    culprit = models.CharField(
        _("culprit"),
        max_length=255,
        blank=True,
        help_text=_("The innermost function in the project's own code."),
    )
    logger = models.CharField(_("logger"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default=Severity.ERROR
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.UNRESOLVED
    )
    count = models.PositiveBigIntegerField(_("occurrences"), default=0)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    regressed_at = models.DateTimeField(
        _("regressed at"),
        null=True,
        blank=True,
        help_text=_("When the group last occurred again after it was resolved."),
    )
    times_regressed = models.PositiveIntegerField(_("regressions"), default=0)
    request_method = models.CharField(_("method"), max_length=10, blank=True)
    request_path = models.CharField(_("path"), max_length=PATH_LENGTH, blank=True)
    request_route = models.CharField(_("route"), max_length=PATH_LENGTH, blank=True)
    user_id = models.CharField(
        _("user id"),
        max_length=64,
        blank=True,
        help_text=_("The primary key of the last signed-in user, as JSON."),
    )
    request_id = models.CharField(_("request ID"), max_length=128, blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    context = models.JSONField(
        _("context"),
        default=dict,
        blank=True,
        help_text=_(
            "Headers, query, form data, locals or task of the last occurrence; scrubbed."
        ),
    )
    sentry_event_id = models.CharField(_("Sentry event id"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("error group")
        verbose_name_plural = _("error groups")
        ordering = ["-last_seen"]
        indexes = [
            models.Index(
                fields=["status", "-last_seen"], name="prodkit_error_status_idx"
            ),
            models.Index(fields=["-last_seen"], name="prodkit_error_last_seen_idx"),
        ]

    def __str__(self) -> str:
        title = self.message.splitlines()[0] if self.message else ""
        if self.exception_type:
            return f"{self.exception_type}: {title}"[:200]
        return title[:200] or self.fingerprint
