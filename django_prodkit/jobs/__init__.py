"""Background jobs: the dead letters of Celery tasks that failed for good.

Celery has no dead-letter queue: a task whose last retry fails is gone, except as a log
line. The receivers that ``ready()`` connects to Celery's signals record such a task as a
:class:`~django_prodkit.jobs.models.DeadLetter` (through the writer thread, outside the
task's transaction), and carry the web request's ``X-Request-ID`` into every task's
message headers and log records. Celery is optional: this package imports without it.
"""

from __future__ import annotations

# The header that carries the enqueuing request's ID in a task message.
REQUEST_ID_HEADER = "prodkit_request_id"


def flush(timeout: float = 10.0) -> bool:
    """Store every pending dead letter now; False when ``timeout`` ran out first.

    For tests, management commands and worker shutdown: a worker needs no call.
    """
    from django_prodkit.jobs.writer import writer

    return writer.flush(timeout)


def prune(
    days: int | None = None, max_entries: int | None = None, *, using: str | None = None
) -> int:
    """Delete dead letters older than ``days`` (default ``JOBS.RETENTION_DAYS``) and all
    but the newest ``max_entries`` (default ``JOBS.MAX_ENTRIES``); the number deleted."""
    from django_prodkit.jobs.retention import prune as prune_rows

    return prune_rows(days, max_entries, using=using)


__all__ = ["REQUEST_ID_HEADER", "flush", "prune"]
