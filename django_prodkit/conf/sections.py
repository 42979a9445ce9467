"""The settings sections: one frozen dataclass per upper-case key of ``PRODKIT``.

A field's name upper-cased is its key; its type and validator say what the key accepts;
a field with ``repr=False`` is a secret, never echoed in a check message.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Literal

from django_prodkit.conf.deploy import GateSettings, IndexesSettings
from django_prodkit.conf.validators import (
    IPNetwork,
    between,
    header_name,
    header_names,
    header_styles,
    ip_networks,
    not_negative,
    optional_positive,
    optional_prefixes,
    optional_threshold,
    path_prefixes,
    percent,
    positive,
    rate_text,
    unsafe_methods,
    validated,
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogsSettings:
    """``PRODKIT["LOGS"]``: request IDs and the request-finished log line."""

    enabled: bool = True
    request_id_header: str = validated("X-Request-ID", header_name)
    trust_request_id: bool = True
    request_id_max_length: int = validated(128, between(8, 1024))
    request_log: bool = True
    request_log_skip: tuple[str, ...] = validated((), path_prefixes)
    # Derived once per settings object so the middleware does no string work per request.
    request_id_meta_key: str = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = "HTTP_" + self.request_id_header.upper().replace("-", "_")
        object.__setattr__(self, "request_id_meta_key", key)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseCheckSettings:
    """``PRODKIT["HEALTH"]["DATABASE"]``: a ``SELECT 1`` per database alias."""

    enabled: bool = True
    critical: bool = True
    timeout: float | None = validated(None, optional_positive)
    aliases: tuple[str, ...] | None = None
    warn_ms: float = validated(200.0, positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CacheCheckSettings:
    """``PRODKIT["HEALTH"]["CACHE"]``: a set/get/delete round trip per cache alias."""

    enabled: bool = True
    critical: bool = True
    timeout: float | None = validated(None, optional_positive)
    aliases: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RedisCheckSettings:
    """``PRODKIT["HEALTH"]["REDIS"]``: ``INFO`` of each django-redis cache's server."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = validated(None, optional_positive)
    aliases: tuple[str, ...] | None = None
    memory_warn_percent: int = validated(90, percent)
    warn_on_evictions: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MigrationsCheckSettings:
    """``PRODKIT["HEALTH"]["MIGRATIONS"]``: unapplied migrations per database."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = validated(None, optional_positive)
    databases: tuple[str, ...] = ("default",)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DiskCheckSettings:
    """``PRODKIT["HEALTH"]["DISK"]``: used space on each path."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = validated(None, optional_positive)
    paths: tuple[str, ...] = ("/",)
    warn_percent: int = validated(90, percent)
    fail_percent: int = validated(95, percent)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemoryCheckSettings:
    """``PRODKIT["HEALTH"]["MEMORY"]``: the resident memory of this process."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = validated(None, optional_positive)
    warn_mb: int | None = validated(None, optional_positive)
    fail_mb: int | None = validated(None, optional_positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BrokerCheckSettings:
    """``PRODKIT["HEALTH"]["BROKER"]``: a connection to the Celery broker."""

    enabled: bool = True
    critical: bool = False
    timeout: float | None = validated(None, optional_positive)
    url: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HealthSettings:
    """``PRODKIT["HEALTH"]``: the health endpoints, their checks and their history."""

    enabled: bool = True
    token: str | None = dataclasses.field(default=None, repr=False)
    timeout: float = validated(2.0, positive)
    cache_seconds: float = validated(5.0, not_negative)
    checks: tuple[str, ...] = ()
    history_days: int = validated(30, between(1, 3650))
    database: DatabaseCheckSettings = dataclasses.field(
        default_factory=DatabaseCheckSettings
    )
    cache: CacheCheckSettings = dataclasses.field(default_factory=CacheCheckSettings)
    redis: RedisCheckSettings = dataclasses.field(default_factory=RedisCheckSettings)
    migrations: MigrationsCheckSettings = dataclasses.field(
        default_factory=MigrationsCheckSettings
    )
    disk: DiskCheckSettings = dataclasses.field(default_factory=DiskCheckSettings)
    memory: MemoryCheckSettings = dataclasses.field(default_factory=MemoryCheckSettings)
    broker: BrokerCheckSettings = dataclasses.field(default_factory=BrokerCheckSettings)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientIPSettings:
    """``PRODKIT["CLIENT_IP"]``: which peers are trusted proxies."""

    trusted_proxies: tuple[str, ...] = validated((), ip_networks)
    proxy_count: int | None = validated(None, optional_positive)
    header: str = validated("X-Forwarded-For", header_name)
    # Derived once: parsed networks and the META key of the header.
    networks: tuple[IPNetwork, ...] = dataclasses.field(init=False, repr=False)
    header_meta_key: str = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        networks: list[IPNetwork] = []
        for item in self.trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                continue
        object.__setattr__(self, "networks", tuple(networks))
        key = "HTTP_" + self.header.upper().replace("-", "_")
        object.__setattr__(self, "header_meta_key", key)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RedisSettings:
    """``PRODKIT["REDIS"]``: the circuit breaker in front of every Redis backend."""

    breaker_failures: int = validated(3, between(1, 1000))
    breaker_seconds: float = validated(10.0, positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RollupSettings:
    """``PRODKIT["ROLLUP"]``: the per-minute counters that every instance adds to."""

    cache: str = "default"
    flush_seconds: float = validated(5.0, positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RuleSettings:
    """One entry of ``PRODKIT["RATELIMIT"]["RULES"]``."""

    name: str = ""
    path: str | None = None
    regex: str | None = None
    methods: tuple[str, ...] = ()
    key: str = "ip"
    rate: str = validated("standard", rate_text)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitSettings:
    """``PRODKIT["RATELIMIT"]``: rules applied by ``RateLimitMiddleware``."""

    enabled: bool = True
    algorithm: Literal["auto", "fixed", "sliding"] = "auto"
    cache: str | None = None
    rules: tuple[RuleSettings, ...] = ()
    presets: dict[str, str] = dataclasses.field(default_factory=dict)
    exempt_paths: tuple[str, ...] | None = validated(None, optional_prefixes)
    fail: Literal["open", "closed"] = "open"
    headers: tuple[str, ...] = validated(("ietf",), header_styles)
    headers_on_success: bool = True
    ipv4_prefix: int = validated(32, between(8, 32))
    ipv6_prefix: int = validated(64, between(16, 128))
    decorator_retry_after: int = validated(60, between(1, 86400))


_NONE: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SecuritySettings:
    """``PRODKIT["SECURITY"]``: headers Django does not set, and the CSP report receiver."""

    enabled: bool = True
    permissions_policy: dict[str, tuple[str, ...]] | None = dataclasses.field(
        default_factory=lambda: dict.fromkeys(
            ("camera", "geolocation", "microphone", "payment", "usb"), _NONE
        )
    )
    cross_origin_resource_policy: str | None = "same-origin"
    cross_origin_embedder_policy: str | None = None
    x_xss_protection: str | None = "0"
    reporting_endpoints: bool = True
    private_nonce_responses: bool = True
    csp_report_rate: str = validated("60/m", rate_text)
    csp_report_max_bytes: int = validated(65536, between(1024, 1048576))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LockingSettings:
    """``PRODKIT["LOCKING"]``: the defaults of ``atomic_retry``."""

    retry_attempts: int = validated(5, between(1, 100))
    retry_budget: float = validated(5.0, positive)
    retry_base_delay: float = validated(0.02, positive)
    retry_max_delay: float = validated(1.0, positive)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IdempotencySettings:
    """``PRODKIT["IDEMPOTENCY"]``: ``IdempotencyMiddleware`` and its response store."""

    enabled: bool = True
    cache: str = "default"
    header: str = validated("Idempotency-Key", header_name)
    methods: tuple[str, ...] = validated(
        ("POST", "PUT", "PATCH", "DELETE"), unsafe_methods
    )
    paths: tuple[str, ...] = validated(("/",), path_prefixes)
    required_paths: tuple[str, ...] = validated((), path_prefixes)
    ttl: int = validated(86400, between(1, 30 * 86400))
    lock_ttl: float = validated(60.0, positive)
    max_key_length: int = validated(255, between(8, 1024))
    max_response_bytes: int = validated(1048576, between(0, 64 * 1048576))
    replay_headers: tuple[str, ...] = validated(
        (
            "Content-Type",
            "Location",
            "ETag",
            "Last-Modified",
            "Content-Language",
            "Cache-Control",
            "Vary",
        ),
        header_names,
    )
    fail: Literal["open", "closed"] = "closed"


SEVERITIES = ("warning", "error", "critical")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AlertSettings:
    """``PRODKIT["ERRORS"]["ALERTS"]``: who hears about a new, regressed or busy group."""

    enabled: bool = True
    on_new: bool = True
    on_regression: bool = True
    rate: str | None = validated(None, optional_threshold)
    cooldown: int = validated(3600, between(1, 30 * 86400))
    min_severity: Literal["warning", "error", "critical"] = "error"
    cache: str = "default"
    mail_admins: bool = False
    mailer: str | None = None
    webhook_url: str | None = dataclasses.field(default=None, repr=False)
    webhook_timeout: float = validated(5.0, positive)
    celery: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ErrorsSettings:
    """``PRODKIT["ERRORS"]``: error capture, grouping, storage and alerts."""

    enabled: bool = True
    capture_requests: bool = True
    capture_tasks: bool = True
    client_errors: bool = False
    ignore: tuple[str, ...] = ()
    ignore_loggers: tuple[str, ...] = ()
    scrub_fields: tuple[str, ...] = ()
    capture_locals: bool = True
    database: str | None = None
    flush_seconds: float = validated(5.0, positive)
    max_pending: int = validated(1000, between(1, 100000))
    retention_days: int = validated(90, between(1, 3650))
    sentry_event_url: str | None = None
    alerts: AlertSettings = dataclasses.field(default_factory=AlertSettings)
    # Derived once: the configured field names, lower-cased for the scrubber.
    scrub_keys: tuple[str, ...] = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        keys = tuple(name.lower() for name in self.scrub_fields if name)
        object.__setattr__(self, "scrub_keys", keys)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class QueriesSettings:
    """``PRODKIT["QUERIES"]``: the slow-query log and per-request query statistics."""

    enabled: bool = True
    aliases: tuple[str, ...] | None = None
    slow_ms: float = validated(500.0, positive)
    alias_slow_ms: dict[str, float] = dataclasses.field(default_factory=dict)
    log_slow: bool = True
    store: bool = True
    database: str | None = None
    flush_seconds: float = validated(5.0, positive)
    max_pending: int = validated(1000, between(1, 100000))
    explain: bool = False
    server_timing: bool | None = None
    n_plus_one: int | None = validated(10, optional_positive)
    max_queries: int | None = validated(None, optional_positive)
    max_db_ms: float | None = validated(None, optional_positive)
    retention_days: int = validated(30, between(1, 3650))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSettings:
    """``PRODKIT["METRICS"]``: request metrics, their roll-ups and ``/metrics``."""

    enabled: bool = True
    token: str | None = dataclasses.field(default=None, repr=False)
    allowed_ips: tuple[str, ...] = validated((), ip_networks)
    skip_paths: tuple[str, ...] | None = validated(None, optional_prefixes)
    # Derived once: the parsed networks of ALLOWED_IPS.
    allowed_networks: tuple[IPNetwork, ...] = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        networks = []
        for item in self.allowed_ips:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                continue
        object.__setattr__(self, "allowed_networks", tuple(networks))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """All of ``PRODKIT``, one attribute per upper-case section."""

    logs: LogsSettings = dataclasses.field(default_factory=LogsSettings)
    health: HealthSettings = dataclasses.field(default_factory=HealthSettings)
    client_ip: ClientIPSettings = dataclasses.field(default_factory=ClientIPSettings)
    redis: RedisSettings = dataclasses.field(default_factory=RedisSettings)
    rollup: RollupSettings = dataclasses.field(default_factory=RollupSettings)
    ratelimit: RateLimitSettings = dataclasses.field(default_factory=RateLimitSettings)
    security: SecuritySettings = dataclasses.field(default_factory=SecuritySettings)
    locking: LockingSettings = dataclasses.field(default_factory=LockingSettings)
    idempotency: IdempotencySettings = dataclasses.field(
        default_factory=IdempotencySettings
    )
    errors: ErrorsSettings = dataclasses.field(default_factory=ErrorsSettings)
    queries: QueriesSettings = dataclasses.field(default_factory=QueriesSettings)
    metrics: MetricsSettings = dataclasses.field(default_factory=MetricsSettings)
    gate: GateSettings = dataclasses.field(default_factory=GateSettings)
    indexes: IndexesSettings = dataclasses.field(default_factory=IndexesSettings)
