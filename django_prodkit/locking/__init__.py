"""Correct writes: optimistic locking for models, and transactions that retry.

``VersionedModel`` refuses a stale save or delete with ``ConflictError``;
``ConflictMiddleware`` (or the DRF handler in ``django_prodkit.locking.drf``) answers it
with 409; ``check_if_match``/``set_etag`` expose the version over HTTP;
``VersionedAdminMixin`` refuses a stale admin save; ``atomic_retry`` reruns a
transaction that lost a serialization race or a deadlock.
"""

from __future__ import annotations

from django_prodkit.exceptions import ConflictError
from django_prodkit.locking.forms import VersionedModelForm
from django_prodkit.locking.http import (
    PreconditionFailed,
    PreconditionRequired,
    check_if_match,
    etag,
    if_match_required,
    set_etag,
)
from django_prodkit.locking.middleware import ConflictMiddleware
from django_prodkit.locking.models import (
    VersionedManager,
    VersionedModel,
    VersionedQuerySet,
    VersionField,
    unversioned_updates,
)
from django_prodkit.locking.retry import atomic_retry

__all__ = [
    "ConflictError",
    "ConflictMiddleware",
    "PreconditionFailed",
    "PreconditionRequired",
    "VersionField",
    "VersionedManager",
    "VersionedModel",
    "VersionedModelForm",
    "VersionedQuerySet",
    "atomic_retry",
    "check_if_match",
    "etag",
    "if_match_required",
    "set_etag",
    "unversioned_updates",
]
