from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

ROUTE_LENGTH = 255
REQUEST_ID_LENGTH = 128


class SlowQuery(models.Model):
    """Every slow execution of one query on one database, under its fingerprint.

    The fingerprint is a hash of the normalised SQL (literals and placeholders replaced,
    value lists collapsed), so the same query with other values is one row. Rows are
    written by the slow-query writer thread, never inside a user's transaction; no
    parameter value is ever stored, and a captured plan has its literals redacted.
    """

    alias = models.CharField(_("database"), max_length=100)
    fingerprint = models.CharField(_("fingerprint"), max_length=32)
    sql = models.TextField(_("SQL"), help_text=_("Normalised: values replaced by ?."))
    count = models.PositiveBigIntegerField(_("count"), default=0)
    total_ms = models.FloatField(_("total (ms)"), default=0.0)
    max_ms = models.FloatField(_("max (ms)"), default=0.0)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    last_route = models.CharField(_("last route"), max_length=ROUTE_LENGTH, blank=True)
    last_request_id = models.CharField(
        _("last request ID"), max_length=REQUEST_ID_LENGTH, blank=True
    )
    plan = models.TextField(
        _("plan"),
        blank=True,
        help_text=_("EXPLAIN of the slowest sample, with its literals redacted."),
    )
    plan_at = models.DateTimeField(_("plan captured at"), null=True, blank=True)

    class Meta:
        verbose_name = _("slow query")
        verbose_name_plural = _("slow queries")
        ordering = ["-total_ms"]
        constraints = [
            models.UniqueConstraint(
                fields=["alias", "fingerprint"], name="prodkit_sq_alias_fp_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["-total_ms"], name="prodkit_sq_total_idx"),
            models.Index(fields=["last_seen"], name="prodkit_sq_last_seen_idx"),
        ]

    def __str__(self) -> str:
        # Short enough for the admin's page heading to fit beside its History button.
        return Truncator(self.sql).chars(72) or self.fingerprint

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.count if self.count else 0.0
