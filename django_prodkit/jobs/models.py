from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Celery's task ids are UUIDs, but a caller may choose its own (``task_id=...``).
TASK_ID_LENGTH = 255
REQUEST_ID_LENGTH = 128


class DeadLetter(models.Model):
    """A Celery task that failed for good: its retries ran out, it had no retry policy,
    or it rejected its message without requeueing it.

    One row per task id, written by the jobs writer thread (never inside the task's own
    transaction). The arguments are kept as JSON so that the task can be sent again; when
    they are not JSON, or scrubbing had to mask part of them, ``retryable`` is off and
    ``not_retryable_reason`` says why. The ``retried_*`` fields record who sent the task
    again, when and how; the row stays for audit.
    """

    class State(models.TextChoices):
        DEAD = "dead", _("dead")
        RETRIED = "retried", _("retried")

    class Outcome(models.TextChoices):
        FAILED = "failed", _("failed")
        REJECTED = "rejected", _("rejected without requeue")

    class RetriedVia(models.TextChoices):
        COMMAND = "command", _("management command")
        ADMIN = "admin", _("admin")

    task_name = models.CharField(_("task"), max_length=255)
    task_id = models.CharField(_("task id"), max_length=TASK_ID_LENGTH, unique=True)
    state = models.CharField(
        _("state"), max_length=8, choices=State.choices, default=State.DEAD
    )
    outcome = models.CharField(
        _("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.FAILED
    )
    queue = models.CharField(_("queue"), max_length=255, blank=True)
    routing_key = models.CharField(_("routing key"), max_length=255, blank=True)
    exchange = models.CharField(_("exchange"), max_length=255, blank=True)
    args = models.JSONField(
        _("args"),
        null=True,
        blank=True,
        help_text=_("Positional arguments, scrubbed; empty when they are not JSON."),
    )
    kwargs = models.JSONField(
        _("kwargs"),
        null=True,
        blank=True,
        help_text=_("Keyword arguments, scrubbed; empty when they are not JSON."),
    )
    arguments_repr = models.TextField(
        _("arguments"),
        blank=True,
        help_text=_("A readable, scrubbed repr of arguments that are not JSON."),
    )
    retryable = models.BooleanField(_("retryable"), default=True)
    not_retryable_reason = models.CharField(
        _("why not retryable"), max_length=255, blank=True
    )
    exception_type = models.CharField(_("exception type"), max_length=255, blank=True)
    message = models.TextField(_("message"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    attempts = models.PositiveIntegerField(
        _("attempts"),
        default=1,
        help_text=_("How many times the task ran: its retries plus one."),
    )
    first_failed_at = models.DateTimeField(_("first failure"), default=timezone.now)
    last_failed_at = models.DateTimeField(_("last failure"), default=timezone.now)
    hostname = models.CharField(_("worker"), max_length=255, blank=True)
    parent_id = models.CharField(_("parent id"), max_length=TASK_ID_LENGTH, blank=True)
    root_id = models.CharField(_("root id"), max_length=TASK_ID_LENGTH, blank=True)
    request_id = models.CharField(
        _("request ID"),
        max_length=REQUEST_ID_LENGTH,
        blank=True,
        help_text=_("The X-Request-ID of the web request that enqueued the task."),
    )
    retried_at = models.DateTimeField(_("retried at"), null=True, blank=True)
    retried_by = models.CharField(_("retried by"), max_length=150, blank=True)
    retried_via = models.CharField(
        _("retried via"), max_length=8, choices=RetriedVia.choices, blank=True
    )
    retry_task_id = models.CharField(
        _("retry task id"),
        max_length=TASK_ID_LENGTH,
        blank=True,
        help_text=_("The id of the task sent again in this one's place."),
    )

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ["-last_failed_at"]
        indexes = [
            # The list: newest first, by task and state (the admin's filters, the
            # command's --task, a retry of --all --task NAME).
            models.Index(
                fields=["task_name", "state", "-last_failed_at"],
                name="prodkit_deadletter_task_idx",
            ),
            # The unfiltered list, the growth count of the last hour, retention.
            models.Index(
                fields=["-last_failed_at"], name="prodkit_deadletter_last_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"
