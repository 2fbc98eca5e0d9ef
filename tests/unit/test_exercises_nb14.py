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
        ({"b", "c", "d", "e", "f", "g"}, "e is a public address: allowed (an IPv4-mapped"),
        ({"b", "z"}, "there is no URL 'z'"),
        ("bcdfg", "answer with a set of letters"),
    ],
)
def test_ssrf_urls_wrong_answers_get_a_reason(answer, reason):
    """Missing letters, a public URL, an unknown letter or a string each get a pointed reason."""
    verdict = ppl.exercises.check("14.ssrf-urls", answer)
    assert not verdict.ok and reason in verdict.message


def test_tolerance_band_is_recomputed_from_the_scenario():
    """(300, 400) passes: 200 s still refuses partner-e's clock, 500 s overflows the cache of 220."""
    assert ppl.exercises.check("14.tolerance-band", (300, 400)).ok
    below = ppl.scenarios.webhook_window(tolerance=200).value
    above = ppl.scenarios.webhook_window(tolerance=500).value
    assert below["refused_for_clock"] == ["partner-e"]
    assert above["deliveries"]["503 replay cache full"] > 0 and above["peak_remembered"] == 220


def test_the_taught_rule_gives_the_band_with_margin():
    """The rule the notebook teaches (cache ~ 0.5/s x tolerance, window > worst skew) gives the
    same band as the measurement, and neither end is within 10% of the cache or the skew."""
    skew = max(abs(s) for s in ppl.scenarios.PARTNER_SKEWS.values())
    grid = nb14_security.TOLERANCES
    by_rule = [t for t in grid if t > skew and 0.5 * t <= 220]
    assert (by_rule[0], by_rule[-1]) == (300, 400)
    assert ppl.scenarios.webhook_window(tolerance=400).value["peak_remembered"] <= 0.9 * 220
    uncapped = ppl.scenarios.webhook_window(tolerance=500, replay_cache=10_000).value
    assert uncapped["peak_remembered"] >= 1.05 * 220


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((200, 400), "the smallest must exceed the largest clock skew"),
        ((300, 600), "the largest is where rate x tolerance"),
        ((300, 420), "both ends must be among 100, 200"),
        ((300,), "answer with two whole numbers"),
        ((300.0, 400.0), "answer with two whole numbers"),
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
