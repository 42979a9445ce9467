from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

URI_LENGTH = 500


class CSPReport(models.Model):
    """One group of CSP violations: same directive, blocked URI, page and disposition.

    Rows are written by the ``/csp-report/`` endpoint; each new report of a group bumps
    ``count`` and ``last_seen`` and replaces ``sample``.
    """

    class Disposition(models.TextChoices):
        ENFORCE = "enforce", _("enforced")
        REPORT = "report", _("report only")

    fingerprint = models.CharField(_("fingerprint"), max_length=64, unique=True)
    directive = models.CharField(_("directive"), max_length=100)
    blocked_uri = models.CharField(_("blocked URI"), max_length=URI_LENGTH, blank=True)
    document_uri = models.CharField(
        _("document URI"), max_length=URI_LENGTH, blank=True
    )
    source_file = models.CharField(_("source file"), max_length=URI_LENGTH, blank=True)
    line_number = models.PositiveIntegerField(_("line"), null=True, blank=True)
    disposition = models.CharField(
        _("disposition"), max_length=7, choices=Disposition.choices
    )
    count = models.PositiveBigIntegerField(_("count"), default=1)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    sample = models.JSONField(
        _("last report"), default=dict, help_text=_("Scrubbed; query strings removed.")
    )

    class Meta:
        verbose_name = _("CSP report")
        verbose_name_plural = _("CSP reports")
        ordering = ["-last_seen"]
        indexes = [
            models.Index(fields=["last_seen"], name="prodkit_csp_last_seen_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.directive}: {self.blocked_uri or '?'} on {self.document_uri}"
