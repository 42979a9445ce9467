"""Helpers shared by the benchmarks that count what a request does."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

__all__ = ["counting", "redacted"]


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


@contextmanager
def counting(
    owner: Any, name: str, record: Callable[..., None], *, is_async: bool = False
) -> Iterator[None]:
    """Call ``record(*args)`` on every call of the method ``owner.name``, in any thread.

    ``args`` are the call's positional arguments after ``self``. The method must be a
    plain function in the class's ``__dict__``; it is put back on exit.
    """
    original = owner.__dict__[name]
    wrapper: Callable[..., Any]
    if is_async:

        @functools.wraps(original)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            record(*args)
            return await original(self, *args, **kwargs)

    else:

        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            record(*args)
            return original(self, *args, **kwargs)

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)
