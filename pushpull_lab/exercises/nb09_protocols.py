"""Checks for notebooks/09_protocols.ipynb.

Both checks recompute their answer on real HTTP on 127.0.0.1 (a fresh server and client, on a
helper thread when called from a running kernel loop). Their outcomes do not depend on
timing: a signature check and a request count come out the same on every run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._core import exercise

SECRET = "whsec-09"
CASES = {
    "a": "a delivery signed just now with the shared secret",
    "b": "delivery a sent a second time, byte for byte",
    "c": "delivery a with one character of its body changed (headers unchanged)",
    "d": "a fresh delivery, correctly signed, whose timestamp is 10 minutes old (tolerance: 5 minutes)",
    "e": "delivery a's body, timestamp and signature under a new Webhook-Id header",
}
STATUSES = (204, 400, 401, 409)


def _run_real(main: Callable[[Any], Awaitable[Any]]) -> Any:
    """``asyncio.run(main(lab))`` with a fresh real-time lab, on a helper thread inside a kernel."""
    from ..clock import _run_in_thread
    from ..lab import Lab

    def go():
        return asyncio.run(main(Lab()))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return go()
    return _run_in_thread(go)


def webhook_statuses() -> dict[str, tuple[int, str]]:
    """Send the five deliveries of exercise 09.webhook-verdicts to a real receiver, in order:
    ``{case: (status, reason)}``."""
    import aiohttp

    from ..push.webhook import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookReceiver, sign

    def delivery(delivery_id: str, age: float = 0.0) -> tuple[dict, bytes]:
        body = json.dumps(
            {"id": delivery_id, "seq": 1, "event": "order.paid", "data": {"order": 42}}
        ).encode()
        ts = str(int(time.time() - age))
        return {ID_HEADER: delivery_id, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(SECRET, ts, body)}, body

    async def main(lab):
        headers_a, body_a = delivery("whd_a")
        requests = {
            "a": (headers_a, body_a),
            "b": (headers_a, body_a),
            "c": (headers_a, body_a.replace(b"42", b"43")),
            "d": delivery("whd_d", age=600),
            "e": ({**headers_a, ID_HEADER: "whd_e"}, body_a),
        }
        out = {}
        async with (
            WebhookReceiver(SECRET, tolerance=300, lab=lab) as receiver,
            aiohttp.ClientSession(headers={"X-PPL-Client": "exercise"}) as session,
        ):
            for case, (headers, body) in requests.items():
                async with session.post(receiver.url, data=body, headers=headers) as response:
                    text = await response.text()
                    reason = json.loads(text)["error"] if text else "accepted"
                    out[case] = (response.status, reason)
        return out

    return _run_real(main)


@exercise(
    "09.webhook-verdicts",
    "Five deliveries reach a WebhookReceiver (tolerance 5 minutes), in order a-e. Give the status "
    "each gets, as a dict: {'a': 204, ...}, using 204, 400, 401 or 409.",
)
def _webhook_verdicts(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict) or set(answer) != set(CASES):
        return False, f"answer with a dict with the keys {', '.join(repr(k) for k in CASES)}, not {answer!r}."
    bad = {k: v for k, v in answer.items() if isinstance(v, bool) or v not in STATUSES}
    if bad:
        return False, f"each status must be one of {', '.join(map(str, STATUSES))}; got {bad!r}."
    truth = webhook_statuses()
    wrong = [k for k in CASES if answer[k] != truth[k][0]]
    if not wrong:
        return True, "all five right: " + "; ".join(f"{k}: {s} ({r})" for k, (s, r) in truth.items()) + "."
    k = wrong[0]
    return False, (
        f"{len(wrong)} of 5 differ. Look again at {k} ({CASES[k]}): which check of the receiver "
        "(headers, signature, timestamp, id in the body, replay cache) does it meet first?"
    )


FLAKY_FIRST = (0, 5, 10, 15)  # 09.webhook-requests: these events fail their first attempt
FLAKY_TWICE = (19,)  # ... and this one its first two


def webhook_requests(events: int = 20) -> dict[str, int]:
    """Send ``events`` events, one after another, through a real :class:`WebhookSender` to a
    receiver whose handler fails (HTTP 500) the first attempt of the events in ``FLAKY_FIRST``
    and the first two of those in ``FLAKY_TWICE``; the sender retries (up to 5 attempts, 10 ms
    backoff). Returns the sender's HTTP requests (its ``http`` events in the trace), the
    attempts its results report, and the events the receiver's handler accepted."""
    from ..push.webhook import WebhookReceiver, WebhookSender

    async def main(lab):
        calls: dict[int, int] = {}
        accepted: list[int] = []

        def handler(delivery):
            n = delivery.data["n"]
            calls[n] = calls.get(n, 0) + 1
            fails = 2 if n in FLAKY_TWICE else 1 if n in FLAKY_FIRST else 0
            if calls[n] <= fails:
                raise RuntimeError("database unavailable")
            accepted.append(n)

        async with (
            WebhookReceiver(SECRET, handler=handler, name="receiver", lab=lab) as receiver,
            WebhookSender(receiver.url, SECRET, attempts=5, backoff=0.01, name="sender", lab=lab) as sender,
        ):
            attempts = 0
            for n in range(events):
                result = await sender.send({"n": n})
                result.raise_for_failure()
                attempts += len(result.attempts)
        return {
            "requests": len(lab.trace.filter(kind="http", actor="sender")),
            "attempts": attempts,
            "accepted": len(accepted),
        }

    return _run_real(main)


@exercise(
    "09.webhook-requests",
    "A webhook sender delivers 20 events (0 … 19) one after another. The receiver fails the first "
    "attempt of events 0, 5, 10 and 15 and the first two attempts of event 19. How many HTTP requests "
    "does the sender make? (A whole number.)",
)
def _webhook_requests(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int):
        return False, f"answer with a whole number of requests, such as 3, not {answer!r}."
    got = webhook_requests(20)
    if got["accepted"] != 20 or got["attempts"] != got["requests"]:
        return False, f"the check itself saw {got}; run it again."
    if answer == got["requests"]:
        return True, (
            f"{got['requests']} requests: one POST per event, plus one per failed attempt "
            f"({got['requests'] - 20} retries). With push, every failure costs the producer another request."
        )
    if answer == 20:
        return False, "that is one request per event. What does the sender do when it gets a 500?"
    return False, (
        f"not {answer}. Each attempt is a whole POST: count one per event, then one more for every "
        "attempt the receiver failed."
    )
