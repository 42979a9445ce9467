"""What a dead letter keeps of a failure: its error as text, its arguments as JSON.

Secrets are removed with the shared scrubber, as error capture removes them from a failed
task's arguments, its message and its traceback; lengths are capped the same way.
"""

from __future__ import annotations

import json
import reprlib
from typing import Any, cast

from django_prodkit.scrub import scrub_text, scrub_value

__all__ = [
    "ARGUMENTS_REPR_LENGTH",
    "MAX_ARGUMENTS_BYTES",
    "MESSAGE_LENGTH",
    "TRACEBACK_LENGTH",
    "arguments",
    "exception_text",
    "repr_short",
    "short",
    "tail",
    "type_name",
]

MESSAGE_LENGTH = 2000
TRACEBACK_LENGTH = 65536
# Arguments larger than this, as JSON, are kept as a short repr only.
MAX_ARGUMENTS_BYTES = 1_000_000
ARGUMENTS_REPR_LENGTH = 2000

_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200
_repr.maxlevel = 2
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 10


def type_name(cls: type[BaseException]) -> str:
    """``ValueError`` for a builtin, ``module.Class`` for any other exception."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def exception_text(exception: BaseException) -> str:
    """``str(exception)``, NUL made visible (PostgreSQL refuses it); never raises."""
    try:
        text = str(exception)
    except Exception:
        return f"<unprintable {type(exception).__name__}>"
    return text.replace("\x00", "\\x00")


def short(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, NUL made visible."""
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def tail(text: str, limit: int) -> str:
    """The end of ``text`` (a traceback ends with the error), NUL made visible."""
    text = text.replace("\x00", "\\x00")
    if len(text) <= limit:
        return text
    return "…(truncated)\n" + text[-(limit - 20) :]


def repr_short(value: object) -> str:
    """A repr of ``value`` cut to a few items and characters; never raises."""
    try:
        return _repr.repr(value)
    except Exception as error:
        return f"<repr failed: {type(error).__name__}>"


def arguments(
    args: Any, kwargs: Any
) -> tuple[list[Any] | None, dict[str, Any] | None, str, str]:
    """The scrubbed args and kwargs as JSON, a repr when they are not JSON, and the
    reason the task cannot be sent again ("" when it can).

    Scrubbing works as error capture's: the values of sensitive keys and secrets in
    strings are masked. Masked arguments would send the mask on a retry, so a dead letter
    whose arguments scrubbing changed is not retryable either.
    """
    positional = list(args or ())
    named = dict(kwargs or {})
    try:
        text = json.dumps([positional, named], allow_nan=False)
    except (TypeError, ValueError) as error:
        reason = f"the arguments are not JSON ({short(str(error), 150)})"
    else:
        if "\\u0000" in text:
            reason = "the arguments hold NUL characters, which a database cannot store"
        elif len(text) > MAX_ARGUMENTS_BYTES:
            reason = (
                f"the arguments are larger than {MAX_ARGUMENTS_BYTES} bytes as JSON"
            )
        else:
            scrubbed_args = scrub_value(positional)
            scrubbed_kwargs = scrub_value(named)
            if scrubbed_args == positional and scrubbed_kwargs == named:
                return positional, named, "", ""
            return (
                cast("list[Any]", scrubbed_args),
                cast("dict[str, Any]", scrubbed_kwargs),
                "",
                "the arguments held secrets, which were masked; a retry would send "
                "the masks",
            )
    shown_args = short(scrub_text(repr_short(scrub_value(args))), ARGUMENTS_REPR_LENGTH)
    shown_kwargs = short(
        scrub_text(repr_short(scrub_value(kwargs))), ARGUMENTS_REPR_LENGTH
    )
    return None, None, f"args={shown_args} kwargs={shown_kwargs}", reason
