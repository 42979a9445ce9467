from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class HealthCheckRun(models.Model):
    """One run of one check, recorded by ``record()`` (``prodkit_health --record``)."""

    class Status(models.TextChoices):
        OK = "ok", _("ok")
        WARN = "warn", _("warn")
        FAIL = "fail", _("fail")

    round = models.UUIDField(
        _("round"), default=uuid.uuid4, help_text=_("Checks recorded together.")
    )
    name = models.CharField(_("check"), max_length=200)
    status = models.CharField(_("status"), max_length=4, choices=Status.choices)
    critical = models.BooleanField(_("critical"))
    latency_ms = models.FloatField(_("latency (ms)"))
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("checked at"), default=timezone.now)

    class Meta:
        verbose_name = _("health check run")
        verbose_name_plural = _("health check runs")
        ordering = ["-created_at", "name"]
        indexes = [
            models.Index(fields=["created_at"], name="prodkit_health_created_idx"),
            models.Index(fields=["name", "created_at"], name="prodkit_health_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"
