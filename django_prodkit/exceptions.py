"""Exceptions shared by every capability."""

from __future__ import annotations

from collections.abc import Mapping


class ServiceUnavailable(Exception):
    """Raised by a health check whose service is down: the check's status is ``fail``."""

    def __init__(self, message: str, *, details: Mapping[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, object] = details or {}


class ServiceWarning(ServiceUnavailable):
    """Raised by a health check whose service works but needs attention: ``warn``."""
