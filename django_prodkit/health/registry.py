"""Which checks run: the built-ins that settings switch on, dotted paths, and ``register``."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Protocol, TypedDict, TypeVar, overload

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from django_prodkit import conf
from django_prodkit import redis as prodkit_redis
from django_prodkit.exceptions import ServiceUnavailable
from django_prodkit.health import builtins
from django_prodkit.health.base import Check, CheckFunction, FunctionCheck
from django_prodkit.health.runner import RESET_ON

F = TypeVar("F", bound=CheckFunction)

DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"


class _CheckOptions(Protocol):
    @property
    def critical(self) -> bool: ...

    @property
    def timeout(self) -> float | None: ...


class HealthRegistry:
    """The project's own checks, added with ``register`` (as a call or a decorator)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checks: dict[str, Check] = {}

    @overload
    def register(self, check: Check, /) -> Check: ...

    @overload
    def register(
        self, name: str, /, *, critical: bool = ..., timeout: float | None = ...
    ) -> Callable[[F], F]: ...

    @overload
    def register(
        self,
        name: str,
        function: F,
        /,
        *,
        critical: bool = ...,
        timeout: float | None = ...,
    ) -> F: ...

    def register(
        self,
        name: str | Check,
        function: CheckFunction | None = None,
        /,
        *,
        critical: bool = True,
        timeout: float | None = None,
    ) -> object:
        """Add a check; a later check with the same name replaces the earlier one.

        ``register(Check(...))``, ``register("name", function, critical=False)``, or
        ``@register("name", timeout=1.0)`` on a function that returns ``None`` (or a dict
        of details) and raises ``ServiceUnavailable`` or ``ServiceWarning``.
        """
        if isinstance(name, Check):
            self._add(name)
            return name

        def decorate(function: F) -> F:
            self._add(
                FunctionCheck(
                    name=name, critical=critical, timeout=timeout, function=function
                )
            )
            return function

        return decorate if function is None else decorate(function)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._checks.pop(name, None)

    def _add(self, check: Check) -> None:
        if check.timeout is not None and check.timeout <= 0:
            raise ValueError(f"timeout of health check {check.name!r} must be > 0")
        with self._lock:
            self._checks[check.name] = check

    def checks(self) -> list[Check]:
        """Every check that runs, built-ins first, in a stable order."""
        with self._lock:
            registered = list(self._checks.values())
        by_name = {check.name: check for check in _configured()}
        by_name.update((check.name, check) for check in registered)
        return list(by_name.values())


registry = HealthRegistry()


def load_check(path: str) -> Check:
    """The check named by a dotted path: a ``Check`` instance or a function."""
    target = import_string(path)
    if isinstance(target, Check):
        return target
    if callable(target):
        name = getattr(target, "__name__", path.rpartition(".")[2]).replace("_", "-")
        return FunctionCheck(name=name, function=target)
    raise TypeError(f"{path} is neither a health Check nor a function")


@functools.cache
def _configured() -> tuple[Check, ...]:
    """The built-in and dotted-path checks for the current settings (built once)."""
    health = conf.get().health
    checks: list[Check] = []
    database, cache, redis = health.database, health.cache, health.redis
    migrations, disk, memory, broker = (
        health.migrations,
        health.disk,
        health.memory,
        health.broker,
    )
    if database.enabled:
        checks += [
            builtins.DatabaseCheck(
                name=f"database:{alias}",
                alias=alias,
                warn_ms=database.warn_ms,
                **_common(database),
            )
            for alias in database.aliases or settings.DATABASES
        ]
    if cache.enabled:
        checks += [
            builtins.CacheCheck(name=f"cache:{alias}", alias=alias, **_common(cache))
            for alias in cache.aliases or settings.CACHES
            if settings.CACHES.get(alias, {}).get("BACKEND") != DUMMY_CACHE
        ]
    if redis.enabled:
        checks += [
            builtins.RedisCheck(
                name=f"redis:{alias}",
                alias=alias,
                memory_warn_percent=redis.memory_warn_percent,
                warn_on_evictions=redis.warn_on_evictions,
                **_common(redis),
            )
            for alias in redis.aliases or prodkit_redis.django_redis_aliases()
        ]
    if migrations.enabled:
        checks += [
            builtins.MigrationsCheck(
                name=f"migrations:{alias}", alias=alias, **_common(migrations)
            )
            for alias in migrations.databases
        ]
    if disk.enabled:
        checks += [
            builtins.DiskCheck(
                name=f"disk:{path}",
                path=path,
                warn_percent=disk.warn_percent,
                fail_percent=disk.fail_percent,
                **_common(disk),
            )
            for path in disk.paths
        ]
    if memory.enabled:
        checks.append(
            builtins.MemoryCheck(
                name="memory",
                warn_mb=memory.warn_mb,
                fail_mb=memory.fail_mb,
                **_common(memory),
            )
        )
    broker_url = broker_url_for(health)
    if broker.enabled and broker_url:
        checks.append(
            builtins.BrokerCheck(
                name="broker",
                url=broker_url,
                connect_timeout=broker.timeout or health.timeout,
                **_common(broker),
            )
        )
    checks += [_load_or_report(path) for path in health.checks]
    return tuple(checks)


class _Common(TypedDict):
    critical: bool
    timeout: float | None


def _common(options: _CheckOptions) -> _Common:
    return {"critical": options.critical, "timeout": options.timeout}


def _load_or_report(path: str) -> Check:
    """A path that does not load becomes a failing check named after it, so a probe
    reports it (prodkit.E020 reports it at start-up) instead of answering 500."""
    try:
        return load_check(path)
    except Exception as exc:
        message = f"cannot load {path}: {type(exc).__name__}: {exc}"

        def unloadable() -> None:
            raise ServiceUnavailable(message)

        return FunctionCheck(name=path, critical=False, function=unloadable)


def broker_url_for(health: conf.HealthSettings) -> str | None:
    """The broker to check: ``BROKER.URL``, else ``CELERY_BROKER_URL`` unless tasks run
    eagerly (then there is no broker to reach) or Celery is not installed."""
    if health.broker.url:
        return health.broker.url
    url = getattr(settings, "CELERY_BROKER_URL", None)
    if not url or getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return None
    try:
        import kombu  # noqa: F401
    except ImportError:
        return None
    return str(url)


@receiver(setting_changed, dispatch_uid="django_prodkit.health.registry")
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting in RESET_ON:
        _configured.cache_clear()
