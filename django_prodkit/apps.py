from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class ProdkitConfig(AppConfig):
    name = "django_prodkit"
    label = "prodkit"
    verbose_name = "django-prodkit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_prodkit.checks import production
        from django_prodkit.checks.settings import check_settings
        from django_prodkit.errors.checks import check_errors
        from django_prodkit.health.checks import check_health
        from django_prodkit.idempotency.checks import check_idempotency
        from django_prodkit.locking.checks import check_locking
        from django_prodkit.logs.checks import check_middleware
        from django_prodkit.metrics.checks import check_metrics
        from django_prodkit.queries.checks import (
            check_queries,
            check_statement_timeout,
        )
        from django_prodkit.ratelimit.checks import MIDDLEWARE_PATHS, check_ratelimit
        from django_prodkit.security.checks import (
            check_csp,
            check_django_security,
            check_security,
            check_security_middleware,
        )

        checks.register(check_settings, "prodkit")
        checks.register(check_middleware, "prodkit")
        checks.register(check_health, "prodkit")
        checks.register(check_ratelimit, "prodkit")
        checks.register(check_idempotency, "prodkit")
        checks.register(check_errors, "prodkit")
        checks.register(check_metrics, "prodkit")
        checks.register(check_queries, "prodkit")
        checks.register(check_statement_timeout, "prodkit", deploy=True)
        checks.register(check_locking, "prodkit", checks.Tags.models)
        checks.register(check_security, "prodkit", checks.Tags.security)
        for deploy_check in (
            check_security_middleware,
            check_csp,
            check_django_security,
        ):
            checks.register(deploy_check, "prodkit", checks.Tags.security, deploy=True)
        for deploy_check in (
            production.check_persistent_connections,
            production.check_health_token,
            production.check_upload_limits,
            production.check_error_capture,
        ):
            checks.register(deploy_check, "prodkit", deploy=True)
        _connect_errors()
        _connect_queries()
        if MIDDLEWARE_PATHS.intersection(settings.MIDDLEWARE):
            from django_prodkit.health import register
            from django_prodkit.ratelimit.health import ratelimit_check

            register("ratelimit", ratelimit_check, critical=False)


def _connect_queries() -> None:
    """Time the queries of every connection, new ones and those already open."""
    from django.core.signals import setting_changed
    from django.db.backends.signals import connection_created

    from django_prodkit.queries import recorder

    connection_created.connect(
        recorder.on_connection_created, dispatch_uid="prodkit.queries.connection"
    )
    setting_changed.connect(
        recorder.on_setting_changed, dispatch_uid="prodkit.queries.settings"
    )
    recorder.install_open_connections()
    try:
        from celery import signals as celery_signals
    except ImportError:
        return
    from django_prodkit.queries import flush

    # A prefork child leaves through os._exit(), which skips the writer's atexit flush.
    celery_signals.worker_process_shutdown.connect(
        lambda **kwargs: flush(2.0), dispatch_uid="prodkit.queries.flush", weak=False
    )


def _connect_errors() -> None:
    """Connect error capture to Django's and, when installed, Celery's signals."""
    from django.core.signals import got_request_exception

    from django_prodkit.errors import alerts, group_recorded, receivers

    got_request_exception.connect(
        receivers.request_failed, dispatch_uid="prodkit.errors.request"
    )
    group_recorded.connect(
        alerts.on_group_recorded, dispatch_uid="prodkit.errors.alerts", weak=False
    )
    try:
        from celery import signals as celery_signals
    except ImportError:
        return
    from django_prodkit.errors import flush

    celery_signals.task_failure.connect(
        receivers.task_failed, dispatch_uid="prodkit.errors.task", weak=False
    )
    celery_signals.worker_process_shutdown.connect(
        lambda **kwargs: flush(2.0), dispatch_uid="prodkit.errors.flush", weak=False
    )
