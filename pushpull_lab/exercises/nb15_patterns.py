"""Checks for notebooks/15_patterns.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ..push.mqtt import topic_matches
from ._core import exercise

TOPIC_FILTER = "site/+/r1/#"
CANDIDATE_TOPICS = (
    "site/f1/r1",
    "site/f1/r1/temperature",
    "site/f2/r1/humidity/raw",
    "site/r1/temperature",
    "site/f1/r2/temperature",
    "site/f1/f2/r1/temperature",
)


@exercise(
    "15.wildcards",
    f"Which of CANDIDATE_TOPICS does the MQTT filter {TOPIC_FILTER!r} match? Answer with a list of topics.",
)
def _wildcards(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, str) or not isinstance(answer, (list, tuple, set, frozenset)):
        return False, f"answer with a list of topics (strings) taken from CANDIDATE_TOPICS, not {answer!r}."
    chosen = set(answer)
    strangers = sorted(t for t in chosen if t not in CANDIDATE_TOPICS)
    if strangers:
        return False, f"{strangers} are not in CANDIDATE_TOPICS: pick from that list only."
    truth = {t for t in CANDIDATE_TOPICS if topic_matches(TOPIC_FILTER, t)}
    if chosen == truth:
        return True, (
            f"{TOPIC_FILTER!r} matches {sorted(truth)}: '+' is exactly one level (any floor), "
            "'#' is every level below r1 — including none, so 'site/f1/r1' itself matches."
        )
    extra, missing = sorted(chosen - truth), sorted(truth - chosen)
    hints = []
    if extra:
        hints.append(f"{extra} do not match (count the levels: '+' stands for exactly one)")
    if missing:
        hints.append(f"you left out {missing} ('#' also matches zero levels, and any number below)")
    return False, "; ".join(hints) + "."


@exercise(
    "15.reprocessed",
    "scenarios.etl_job(batch=25, crash_after=90): how many records are loaded twice?",
)
def _reprocessed(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int) or answer < 0:
        return False, f"answer with a whole number of records (0 or more), not {answer!r}."
    value = scenarios.etl_job(batch=25, crash_after=90).value
    truth = value["reprocessed"]
    if answer == truth:
        return True, (
            f"{truth}: the last checkpoint before the crash was at offset {value['resumed_from']}, so the "
            f"restarted job loads records {value['resumed_from']}..89 again. A smaller batch redoes less "
            "but pays for more checkpoints."
        )
    if answer == 0:
        return False, "0 would need a checkpoint after every record: which offset was committed last?"
    return False, (
        f"not {answer}. The job commits after each batch of 25; which offset did it commit last before "
        "record 90, and where does the restarted consumer therefore start?"
    )
