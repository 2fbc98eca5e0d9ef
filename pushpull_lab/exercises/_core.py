"""The registry behind ``ppl.exercises``: a check per exercise id, and the verdict it returns."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: ``ok`` and a sentence for the learner."""

    exercise: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        mark = "✓ Correct" if self.ok else "✗ Not yet"
        return f"{mark} ({self.exercise}): {self.message}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#b35900"
        mark = "✓ Correct" if self.ok else "✗ Not yet"
        return (
            f"<div style='border-left:4px solid {colour};padding:4px 10px'>"
            f"<b>{mark}</b> <code>{html.escape(self.exercise)}</code>: {html.escape(self.message)}</div>"
        )


_CHECKS: dict[str, tuple[str, Callable[[Any], tuple[bool, str]]]] = {}


def exercise(exercise_id: str, prompt: str):
    def register(fn: Callable[[Any], tuple[bool, str]]):
        _CHECKS[exercise_id] = (prompt, fn)
        return fn

    return register


def check(exercise: str, answer: Any) -> Verdict:
    """Check ``answer`` for ``exercise``; returns a :class:`Verdict` that displays itself."""
    if exercise not in _CHECKS:
        known = ", ".join(sorted(_CHECKS))
        raise ValueError(f"check(exercise={exercise!r}): exercise must be one of {known}")
    if answer is ... or answer is None:
        return Verdict(exercise, False, "replace the ... with your answer, then run the cell again.")
    ok, message = _CHECKS[exercise][1](answer)
    return Verdict(exercise, ok, message)


def available() -> dict[str, str]:
    """Every exercise id with its prompt."""
    return {k: prompt for k, (prompt, _) in sorted(_CHECKS.items())}
