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


def sse_requests(events: int = 20) -> dict[str, int]:
    """Publish ``events`` events to a real SSE server with one client: the client's HTTP requests,
    the events it received and the bytes its connection carried to it."""
    from ..push.channels import SSEClient, SSEServer

    async def main(lab):
        async with SSEServer(lab=lab) as server, SSEClient(server.url, name="reader", lab=lab) as client:
            for n in range(events):
                await server.publish({"n": n})
            await client.wait_for(events)
        counts = lab.trace.filter(actor="reader")
        gone = counts.filter(kind="disconnect").events
        return {
            "requests": len(counts.filter(kind="http")),
            "received": len(client.received),
            "bytes_out": sum(e.fields["bytes_out"] for e in gone),
        }

    return _run_real(main)


@exercise(
    "09.sse-requests",
    "An SSE client receives 20 events. How many HTTP requests did it make? (A whole number.)",
)
def _sse_requests(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int):
        return False, f"answer with a whole number of requests, such as 3, not {answer!r}."
    got = sse_requests(20)
    if got["received"] != 20:
        return False, f"the check itself received {got['received']} of 20 events; run it again."
    if answer == got["requests"]:
        return True, (
            f"{got['requests']} request: the GET that opened the stream. The server then pushed all "
            f"{got['received']} events down that one response ({got['bytes_out']} bytes on the wire)."
        )
    if answer >= 20:
        return False, "that is what a poller would need at best. Who sends each event on an open stream?"
    return False, f"not {answer}. Count the requests the client makes, not the events the server sends."
