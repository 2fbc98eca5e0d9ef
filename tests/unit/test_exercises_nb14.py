"""Checks of notebook 14's exercises: right answers pass, wrong ones get a reason."""

from __future__ import annotations

import pytest

import pushpull_lab as ppl
from pushpull_lab.exercises import nb14_security


def test_ssrf_urls_accepts_the_refused_letters_recomputed_by_the_policy():
    """The letters the default DestinationPolicy refuses (b c d f g) pass, with each reason named."""
    assert set(nb14_security.refused_urls()) == {"b", "c", "d", "f", "g"}
    verdict = ppl.exercises.check("14.ssrf-urls", {"b", "c", "d", "f", "g"})
    assert verdict.ok and "credentials" in verdict.message and "127.0.0.1" in verdict.message


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"b", "c"}, "d, f, g are refused too"),
        ({"a", "b", "c", "d", "f", "g"}, "a is a public address"),
        ({"b", "z"}, "there is no URL 'z'"),
        ("bcdfg", "answer with a set of letters"),
    ],
)
def test_ssrf_urls_wrong_answers_get_a_reason(answer, reason):
    """Missing letters, a public URL, an unknown letter or a string each get a pointed reason."""
    verdict = ppl.exercises.check("14.ssrf-urls", answer)
    assert not verdict.ok and reason in verdict.message


def test_tolerance_band_is_recomputed_from_the_scenario():
    """(240, 420) passes: 210 s still refuses partner-e's clock, 450 s overflows the cache of 200."""
    assert ppl.exercises.check("14.tolerance-band", (240, 420)).ok
    below = ppl.scenarios.webhook_window(tolerance=210).value
    above = ppl.scenarios.webhook_window(tolerance=450).value
    assert below["refused_for_clock"] == ["partner-e"]
    assert above["deliveries"]["503 replay cache full"] > 0 and above["peak_remembered"] == 200


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((210, 420), "the smallest must exceed the largest clock skew"),
        ((240, 600), "the largest is where rate x tolerance"),
        ((240,), "answer with two whole numbers"),
        ((240.0, 420.0), "answer with two whole numbers"),
    ],
)
def test_tolerance_band_wrong_answers_get_a_reason(answer, reason):
    """A too-small lower end, a too-large upper end and malformed answers are refused with a reason."""
    verdict = ppl.exercises.check("14.tolerance-band", answer)
    assert not verdict.ok and reason in verdict.message


def test_no_tolerance_lets_a_delivery_be_accepted_twice():
    """At 30, 300 and 600 s the receiver accepts no delivery twice (replays caught by 401 or 409)."""
    for tolerance in (30, 300, 600):
        value = ppl.scenarios.webhook_window(tolerance=tolerance).value
        assert value["accepted_twice"] == 0 and value["published"] > 500
