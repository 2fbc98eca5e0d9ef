"""Checks for notebooks/16_choosing.ipynb: submit a Design for a brief; the check runs it and grades it."""

from __future__ import annotations

from typing import Any

from .. import capstone
from ._core import exercise


def _grade(brief_name: str, answer: Any) -> tuple[bool, str]:
    """Run ``answer`` on the brief (in virtual time) and turn the grade into a verdict."""
    if not isinstance(answer, capstone.Design):
        return False, (
            "answer with a capstone.Design, such as Design('pull', workers=2, concurrency=2), "
            f"not {answer!r}."
        )
    brief = capstone.BRIEFS[brief_name]
    grade = capstone.evaluate(brief, answer)
    shown = answer.show(brief)
    reasons = " · ".join(grade.reasons)
    if grade:
        notes = "".join(f" (Note: {n}.)" for n in grade.notes)
        return True, f"{shown} meets every requirement — {reasons}{notes}"
    failing = " · ".join(str(c) for c in grade.failed)
    return False, f"{shown} fails {len(grade.failed)} of {len(grade.checks)}: {failing}"


@exercise(
    "16.scores",
    "A capstone.Design that meets every requirement of capstone.BRIEFS['scores'] (live match scores).",
)
def _scores(answer: Any) -> tuple[bool, str]:
    return _grade("scores", answer)


@exercise(
    "16.invoices",
    "A capstone.Design that meets every requirement of capstone.BRIEFS['invoices'] (nightly invoices).",
)
def _invoices(answer: Any) -> tuple[bool, str]:
    return _grade("invoices", answer)


@exercise(
    "16.uploads",
    "A capstone.Design that meets every requirement of capstone.BRIEFS['uploads'] (video uploads).",
)
def _uploads(answer: Any) -> tuple[bool, str]:
    return _grade("uploads", answer)
