"""Idempotency keys: ``IdempotencyMiddleware`` and the store of first responses."""

from __future__ import annotations

from django_prodkit.idempotency.middleware import REPLAYED_HEADER, IdempotencyMiddleware

__all__ = ["REPLAYED_HEADER", "IdempotencyMiddleware"]
