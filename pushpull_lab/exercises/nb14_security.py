"""Checks for notebooks/14_security.ipynb."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from .. import scenarios
from ._core import exercise

SSRF_URLS = {
    "a": "http://93.184.216.34/hooks/orders",
    "b": "http://10.20.0.7:8080/admin",
    "c": "http://169.254.169.254/latest/meta-data/",
    "d": "http://localhost:9000/hook",
    "e": "http://[::ffff:93.184.216.34]/hook",
    "f": "http://partner:s3cret@93.184.216.34/hook",
    "g": "http://[::ffff:10.0.0.1]/hook",
}
"""The webhook URLs users "registered" in exercise a) of notebook 14."""

TOLERANCES = tuple(range(100, 601, 100))
"""The tolerances exercise b) considers: 100, 200, ... 600 s."""


def refused_urls() -> dict[str, str]:
    """{letter: why} for each of :data:`SSRF_URLS` a default :class:`DestinationPolicy` refuses."""
    from ..push.webhook import DestinationPolicy, DestinationRefusedError

    refused = {}
    for letter, url in SSRF_URLS.items():
        try:
            DestinationPolicy().check(url)
        except DestinationRefusedError as exc:
            found = _WHY.search(str(exc))
            refused[letter] = (
                "credentials in the URL"
                if "credentials" in str(exc)
                else (f"resolves to {found[1]}, " if found and found[1] else "")
                + (found[2] if found else str(exc))
            )
    return refused


_WHY = re.compile(r"refused to deliver to \S+(?: \(it resolves to ([^)]+)\))?, (?:an? |the )?([^.(]+)")


@exercise(
    "14.ssrf-urls",
    "Which of the URLs a-g does a WebhookSender with the default policy refuse? Answer a set of letters.",
)
def _ssrf_urls(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, (set, frozenset, list, tuple)) or not all(isinstance(x, str) for x in answer):
        return False, f"answer with a set of letters such as {{'a', 'c'}}, not {answer!r}."
    given = {x.strip().lower() for x in answer}
    unknown = sorted(given - set(SSRF_URLS))
    if unknown:
        return False, f"there is no URL {', '.join(map(repr, unknown))}: the letters are a to g."
    refused = refused_urls()
    if given == set(refused):
        allowed = sorted(set(SSRF_URLS) - set(refused))
        return True, (
            "refused: "
            + "; ".join(f"{k} ({why.strip()})" for k, why in sorted(refused.items()))
            + f". Allowed: {', '.join(allowed) or 'none'} (public addresses)."
        )
    missed = sorted(set(refused) - given)
    wrong = sorted(given - set(refused))
    parts = []
    if missed:
        parts.append(
            f"{', '.join(missed)} {'is' if len(missed) == 1 else 'are'} refused too: look at the host"
        )
    if wrong:
        parts.append(
            f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} a public address: allowed "
            "(an IPv4-mapped ::ffff:a.b.c.d is judged by the IPv4 address inside)"
        )
    return False, "; ".join(parts) + "."


@cache
def _band() -> tuple[int, int] | None:
    ok = [
        t
        for t in TOLERANCES
        if (v := scenarios.webhook_window(tolerance=t).value)["never_accepted"] == 0
        and "503 replay cache full" not in v["deliveries"]
    ]
    return (ok[0], ok[-1]) if ok else None


@exercise(
    "14.tolerance-band",
    "In scenarios.webhook_window (its defaults: replay_cache=220, 0.5 deliveries/s), which tolerances "
    "from 100, 200, ... 600 s accept every delivery (no 401 for a clock, no 503)? Answer (smallest, largest).",
)
def _tolerance_band(answer: Any) -> tuple[bool, str]:
    if (
        not isinstance(answer, (tuple, list))
        or len(answer) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in answer)
    ):
        return False, f"answer with two whole numbers of seconds, (smallest, largest), not {answer!r}."
    low, high = answer
    if low not in TOLERANCES or high not in TOLERANCES:
        return False, f"both ends must be among {', '.join(map(str, TOLERANCES))} s, not {answer!r}."
    band = _band()
    skew = max(abs(s) for s in scenarios.PARTNER_SKEWS.values())
    if band is None:  # pragma: no cover - the scenario's defaults always leave a band
        return False, "no tolerance accepts every delivery with these settings."
    if (low, high) == band:
        peak = scenarios.webhook_window(tolerance=high).value["peak_remembered"]
        return True, (
            f"from {band[0]} s to {band[1]} s. Below, the clock {skew:g} s behind is refused (401); "
            f"the cache needs about 0.5/s x tolerance ids: {0.5 * high:g} at {high} s (measured peak: "
            f"{peak} of 220), {0.5 * (high + 100):g} at {high + 100} s, more than its 220 "
            "(503, and the senders' retries pile up)."
        )
    hints = []
    if low != band[0]:
        hints.append(
            "the smallest must exceed the largest clock skew in PARTNER_SKEWS"
            + (" (with a little room for the network)" if low < band[0] else "; a smaller one already works")
        )
    if high != band[1]:
        hints.append(
            "the largest is where rate x tolerance first outgrows the replay cache: look at "
            "run.value['peak_remembered']"
        )
    return False, "; ".join(hints) + "."
