"""One circuit breaker per backend, shared by every capability that calls it.

After ``PRODKIT["REDIS"]["BREAKER_FAILURES"]`` consecutive errors the breaker opens: callers
skip the backend (and fail open or closed as each capability decides) without paying a
connect timeout. After ``BREAKER_SECONDS`` one caller is let through as a probe; its success
closes the breaker, its failure keeps it open for another period. Each change of state is
logged once, not per request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

from django_prodkit import conf

__all__ = ["CircuitBreaker", "get_breaker", "breakers"]

logger = logging.getLogger("django_prodkit.breaker")

State = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """A breaker for one backend; thread-safe, lock-free when closed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failures = 0
        self.opened_at: float | None = None
        self.last_error = ""
        self._probe_until = 0.0
        self._lock = threading.Lock()

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= conf.get().redis.breaker_seconds:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """Whether to call the backend now. Cheap when closed: one attribute read."""
        if self.opened_at is None:
            return True
        now = time.monotonic()
        if now - self.opened_at < conf.get().redis.breaker_seconds:
            return False
        with self._lock:
            # One probe at a time; a probe that hangs past its own budget frees the slot.
            if now < self._probe_until:
                return False
            self._probe_until = now + conf.get().redis.breaker_seconds
            return True

    def success(self) -> None:
        if self.opened_at is None:
            if self.failures:
                self.failures = 0
            return
        with self._lock:
            was_open = self.opened_at is not None
            self.opened_at = None
            self.failures = 0
            self._probe_until = 0.0
        if was_open:
            logger.warning("%s is reachable again; circuit breaker closed", self.name)

    def failure(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {error}"
            if self.opened_at is not None:
                # A failed probe: stay open for another period.
                self.opened_at = time.monotonic()
                self._probe_until = 0.0
                return
            if self.failures < conf.get().redis.breaker_failures:
                return
            self.opened_at = time.monotonic()
        logger.error(
            "%s failed %d times in a row (%s); circuit breaker open for %gs",
            self.name,
            self.failures,
            self.last_error,
            conf.get().redis.breaker_seconds,
        )

    def reset(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None
            self._probe_until = 0.0


_breakers: dict[str, CircuitBreaker] = {}
_registry_lock = threading.Lock()


def get_breaker(name: str) -> CircuitBreaker:
    """The breaker of backend ``name`` (e.g. ``"cache:default"``), created on first use."""
    breaker = _breakers.get(name)
    if breaker is None:
        with _registry_lock:
            breaker = _breakers.setdefault(name, CircuitBreaker(name))
    return breaker


def breakers() -> dict[str, CircuitBreaker]:
    """Every breaker created in this process so far."""
    return dict(_breakers)
