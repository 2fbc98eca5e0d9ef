"""Argument checks that fail at the call, naming the parameter, the value and what is allowed.

Every public constructor and method uses these so that messages read the same everywhere::

    ValueError: Worker(concurrency=0): concurrency must be an integer >= 1
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def _fail(where: str, name: str, value: Any, allowed: str, exc: type[Exception] = ValueError):
    raise exc(f"{where}({name}={value!r}): {name} must be {allowed}")


def integer(where: str, name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` if it is an int (not a bool) at least ``minimum``."""
    allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, name, value, allowed, TypeError)
    if minimum is not None and value < minimum:
        _fail(where, name, value, allowed)
    return value


def number(
    where: str,
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    positive: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number in range."""
    if positive:
        allowed = "a finite number > 0"
    elif minimum is not None:
        allowed = f"a finite number >= {minimum:g}"
    else:
        allowed = "a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(where, name, value, allowed + " (seconds)" if "seconds" in name else allowed, TypeError)
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0) or (minimum is not None and value < minimum):
        _fail(where, name, value, allowed)
    return value


def optional_number(where: str, name: str, value: Any, **kw: Any) -> float | None:
    return None if value is None else number(where, name, value, **kw)


def choice(where: str, name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        _fail(where, name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def name(where: str, param: str, value: Any) -> str:
    """Return ``value`` if it is a non-empty string without surrounding whitespace."""
    if not isinstance(value, str):
        _fail(where, param, value, "a non-empty string", TypeError)
    if not value or value != value.strip():
        _fail(where, param, value, "a non-empty string without leading or trailing spaces")
    return value


def function(where: str, param: str, value: Any) -> Any:
    """Return ``value`` if it is callable."""
    if not callable(value):
        _fail(where, param, value, "a function (sync or async)", TypeError)
    return value
