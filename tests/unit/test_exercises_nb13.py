"""exercises/nb13_reliability.py: the notebook 13 checks run the lab and give reasons."""

import pytest

import pushpull_lab as ppl


def test_push_lost_accepts_the_message_in_hand_plus_the_ones_sent_while_down():
    """5 = 1 in hand at the crash + 4 published while nobody was subscribed, as the trace says."""
    verdict = ppl.exercises.check("13.push-lost", 5)
    assert (
        verdict
        and "1 in the subscriber's hands" in verdict.message
        and "4 published while" in verdict.message
    )


@pytest.mark.parametrize(
    "wrong, says",
    [
        (4, "only the messages published while it was down"),
        (0, "Count the message in hand"),
        (5.0, "whole number of messages"),
        ("5", "whole number of messages"),
        (True, "whole number of messages"),
    ],
)
def test_push_lost_wrong_answers_get_a_reason(wrong, says):
    """Forgetting the in-hand message, a wrong count and a non-count each get their own reason."""
    verdict = ppl.exercises.check("13.push-lost", wrong)
    assert not verdict and says in verdict.message


def reordered_within_key(trace):
    """A correct answer: effects whose seq is below the highest seq already applied for that key."""
    highest, late = {}, 0
    for e in trace:
        if e.kind == "effect":
            key, seq = e.fields["key"], e.fields["seq"]
            if seq < highest.get(key, -1):
                late += 1
            highest[key] = max(highest.get(key, -1), seq)
    return late


def test_per_key_order_accepts_a_correct_function():
    """A correct counter matches the trace on every run; the message contrasts queue and log."""
    verdict = ppl.exercises.check("13.per-key-order", reordered_within_key)
    assert verdict and "the keyed log [0, 0, 0, 0]" in verdict.message


def global_reordering(trace):
    """A plausible mistake: counting reordering across all keys."""
    top, late = -1, 0
    for e in trace:
        if e.kind == "effect":
            late += int(e.msg) < top
            top = max(top, int(e.msg))
    return late


@pytest.mark.parametrize(
    "wrong, says",
    [
        (lambda trace: 0, "your function counted 0, the trace has 2"),
        (global_reordering, "count only effects whose 'seq' is lower"),
        (lambda trace: "0", "return a whole number (an int)"),
        (lambda trace: 1.0, "return a whole number (an int)"),
        (lambda trace: trace.nothing, "your function raised AttributeError"),
        (3, "pass your function itself"),
    ],
)
def test_per_key_order_wrong_answers_get_a_reason(wrong, says):
    """Always 0, global reordering, a wrong type, a crash and a non-function are each explained."""
    verdict = ppl.exercises.check("13.per-key-order", wrong)
    assert not verdict and says in verdict.message


def test_per_key_order_stub_that_returns_ellipsis_is_not_yet_answered():
    """The notebook's stub (`return ...`) gets the same 'replace the ...' as every check, and no count."""
    verdict = ppl.exercises.check("13.per-key-order", lambda trace: ...)
    assert not verdict and verdict.message == "replace the ... with your answer, then run the cell again."
    assert ppl.exercises.check("13.per-key-order", ...).message == verdict.message
