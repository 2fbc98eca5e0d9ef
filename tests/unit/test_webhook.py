"""push/webhook.py on real loopback HTTP: signed deliveries, every rejection, retries with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import aiohttp
import pytest
from loopback_helpers import run

import pushpull_lab as ppl
from pushpull_lab.push.webhook import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDeliveryError,
    sign,
)

SECRET = "whsec-test"


def signed_request(secret=SECRET, *, delivery_id="whd_manual", body_id=None, timestamp=None, data=None):
    """Headers and body of one hand-made delivery."""
    body = json.dumps({"id": body_id or delivery_id, "seq": 1, "event": "test", "data": data}).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {ID_HEADER: delivery_id, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}
    return headers, body


async def post(url, headers, body):
    async with (
        aiohttp.ClientSession(headers={"X-PPL-Client": "attacker"}) as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


def test_deliveries_reach_the_handler_in_order_and_are_traced():
    """Three sends: three 204s on the first attempt, the handler sees them in order, the trace
    has publish/webhook/deliver for each and a publish->deliver latency per delivery."""

    async def main(lab):
        got = []
        async with (
            ppl.WebhookReceiver(SECRET, handler=got.append, lab=lab) as receiver,
            ppl.WebhookSender(receiver.url, SECRET, lab=lab) as sender,
        ):
            results = [await sender.send({"n": i}, event="tick") for i in range(3)]
        return got, results, lab.trace

    got, results, trace = run(main)
    assert [d.data for d in got] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(d.event == "tick" and d.sender == "webhook-sender" for d in got)
    assert [(r.ok, r.status, len(r.attempts)) for r in results] == [(True, 204, 1)] * 3
    counts = trace.counts()
    assert counts["publish"] == counts["webhook"] == counts["deliver"] == 3
    assert trace.latency("publish", "deliver").count == 3
    deliver = trace.filter(kind="deliver").events[0]
    assert (deliver.actor, deliver.peer) == ("webhook-sender", "webhook-receiver")
    assert [e.peer for e in trace.filter(kind="webhook")] == ["webhook-receiver"] * 3


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    """sign() is exactly HMAC-SHA256(secret, f"{ts}." + body) in hex with a v1= prefix."""
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, body) == "v1=" + expected
    assert sign(SECRET, "1700000000", body) != sign("other", "1700000000", body)


def test_hand_signed_request_is_accepted_and_wire_bytes_counted():
    """A request signed by hand with the shared secret gets 204; its connection's bytes are traced."""

    async def main(lab):
        async with ppl.WebhookReceiver(SECRET, lab=lab) as receiver:
            headers, body = signed_request()
            status, _ = await post(receiver.url, headers, body)
        return status, receiver, lab.trace

    status, receiver, trace = run(main)
    assert status == 204
    assert [d.id for d in receiver.received] == ["whd_manual"]
    (gone,) = trace.filter(kind="disconnect").events
    assert gone.actor == "attacker"
    assert gone.fields["bytes_in"] > len(signed_request()[1])  # body plus request line and headers
    assert gone.fields["bytes_out"] > 0 and gone.fields["requests"] == 1


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (
            lambda: (lambda h, b: (h, b.replace(b'"test"', b'"evil"')))(*signed_request()),
            401,
            "bad signature",
        ),
        (lambda: signed_request("not-the-secret"), 401, "bad signature"),
        (lambda: signed_request(timestamp=int(time.time()) - 3600), 401, "timestamp outside tolerance"),
        (lambda: signed_request(timestamp=int(time.time()) + 3600), 401, "timestamp outside tolerance"),
        (
            lambda: signed_request(delivery_id="whd_fresh", body_id="whd_captured"),
            400,
            "body id does not match the Webhook-Id header",
        ),
        (
            lambda: (lambda h, b: ({k: v for k, v in h.items() if k != SIGNATURE_HEADER}, b))(
                *signed_request()
            ),
            400,
            "missing header Webhook-Signature",
        ),
        (
            lambda: (lambda h, b: ({**h, TIMESTAMP_HEADER: "soon"}, b))(*signed_request()),
            400,
            "timestamp is not an integer",
        ),
    ],
    ids=[
        "tampered-body",
        "forged-signature",
        "old-timestamp",
        "future-timestamp",
        "id-swapped",
        "no-signature",
        "bad-timestamp",
    ],
)
def test_bad_deliveries_are_rejected_with_4xx_and_never_handled(make, status, reason):
    """Tampered body, wrong secret, stale or future timestamp, a fresh id header on a captured
    body, missing or malformed headers: each gets its 4xx and reason, the handler never runs,
    and the trace records a reject."""

    async def main(lab):
        handled = []
        async with ppl.WebhookReceiver(SECRET, handler=handled.append, tolerance=300, lab=lab) as receiver:
            got = await post(receiver.url, *make())
        return got, handled, receiver, lab.trace

    (got_status, text), handled, receiver, trace = run(main)
    assert got_status == status
    assert json.loads(text) == {"error": reason}
    assert handled == [] and receiver.received == []
    assert receiver.rejected == {reason: 1}
    (rejected,) = trace.filter(kind="reject").events
    assert (rejected.actor, rejected.peer, rejected.fields["status"]) == (
        "attacker",
        "webhook-receiver",
        status,
    )
    assert "deliver" not in trace.counts()


def test_replayed_request_is_rejected_with_409():
    """The exact same signed request sent twice: 204, then 409 'replayed delivery id'."""

    async def main(lab):
        async with ppl.WebhookReceiver(SECRET, lab=lab) as receiver:
            headers, body = signed_request()
            first = await post(receiver.url, headers, body)
            second = await post(receiver.url, headers, body)
        return first[0], second, receiver

    first, (status, text), receiver = run(main)
    assert first == 204 and status == 409
    assert json.loads(text)["error"] == "replayed delivery id"
    assert len(receiver.received) == 1


def test_full_replay_cache_answers_503_instead_of_forgetting():
    """With room for one id, a second fresh delivery inside the window gets 503 (retry later)."""

    async def main(lab):
        async with ppl.WebhookReceiver(SECRET, replay_cache=1, lab=lab) as receiver:
            first = await post(receiver.url, *signed_request(delivery_id="whd_1"))
            second = await post(receiver.url, *signed_request(delivery_id="whd_2"))
        return first[0], second[0], receiver.rejected

    assert run(main) == (204, 503, {"replay cache full": 1})


def test_secret_rotation_accepts_either_secret():
    """A receiver given [old, new] accepts senders on either secret and refuses a third."""

    async def main(lab):
        async with ppl.WebhookReceiver(["old", "new"], lab=lab) as receiver:
            results = []
            for i, secret in enumerate(["old", "new", "other"]):
                async with ppl.WebhookSender(receiver.url, secret, name=f"s{i}", lab=lab) as sender:
                    results.append((await sender.send(i)).status)
        return results

    assert run(main) == [204, 204, 401]


def test_retries_with_exponential_backoff_after_500s_then_succeeds():
    """A handler failing twice: attempts 1 and 2 get 500, attempt 3 gets 204; the trace has three
    webhook attempts, two errors and two retries waiting 0.05 s then 0.1 s, and the attempts are
    really that far apart."""

    async def main(lab):
        calls = []

        def flaky(delivery):
            calls.append(delivery.id)
            if len(calls) <= 2:
                raise RuntimeError("database down")

        async with (
            ppl.WebhookReceiver(SECRET, handler=flaky, lab=lab) as receiver,
            ppl.WebhookSender(receiver.url, SECRET, attempts=5, backoff=0.05, factor=2, lab=lab) as sender,
        ):
            result = await sender.send("hello")
        return calls, result, receiver, lab.trace

    calls, result, receiver, trace = run(main)
    assert result.ok and result.status == 204
    assert [a.status for a in result.attempts] == [500, 500, 204]
    assert len(set(calls)) == 1  # the same delivery id on every attempt
    attempts = trace.filter(kind="webhook").events
    assert [e.fields["attempt"] for e in attempts] == [1, 2, 3]
    assert [e.fields["delay"] for e in trace.filter(kind="retry")] == [0.05, 0.1]
    assert trace.counts()["error"] == 4  # two on the sender (per failed attempt), two on the receiver
    assert [e.fields["error"] for e in trace.filter(kind="error", actor="webhook-receiver")] == [
        "RuntimeError: database down"
    ] * 2
    starts = [e.time - e.fields["duration"] for e in attempts]
    assert starts[1] - starts[0] >= 0.05 and starts[2] - starts[1] >= 0.1
    assert len(receiver.received) == 1 and trace.counts()["deliver"] == 1


def test_giving_up_is_surfaced_in_the_result_and_the_trace():
    """A receiver that always fails: 3 attempts, result.ok False with the last error, a 'failed'
    event, and raise_for_failure() raises."""

    async def main(lab):
        def broken(delivery):
            raise ValueError("nope")

        async with (
            ppl.WebhookReceiver(SECRET, handler=broken, lab=lab) as receiver,
            ppl.WebhookSender(receiver.url, SECRET, attempts=3, backoff=0.01, lab=lab) as sender,
        ):
            return await sender.send(1), lab.trace

    result, trace = run(main)
    assert not result.ok and result.status == 500 and len(result.attempts) == 3
    assert "HTTP 500" in result.error
    (failed,) = trace.filter(kind="failed").events
    assert failed.fields["attempts_made"] == 3
    with pytest.raises(WebhookDeliveryError, match="failed after 3 attempt"):
        result.raise_for_failure()


def test_connection_errors_are_retried_and_reported():
    """Nobody listening on the port: every attempt is a connection error (status None), retried,
    then reported as failed."""

    async def main(lab):
        async with ppl.WebhookReceiver(SECRET, lab=lab) as receiver:
            url = receiver.url
        async with ppl.WebhookSender(url, SECRET, attempts=2, backoff=0.01, lab=lab) as sender:
            return await sender.send(1), lab.trace

    result, trace = run(main)
    assert not result.ok and [a.status for a in result.attempts] == [None, None]
    assert "Connect" in result.error  # aiohttp's ClientConnectorError
    assert trace.counts()["retry"] == 1 and trace.counts()["failed"] == 1


def test_a_final_4xx_is_not_retried():
    """A wrong secret gets 401 once: retrying a refused delivery cannot help, so there is one attempt."""

    async def main(lab):
        async with (
            ppl.WebhookReceiver(SECRET, lab=lab) as receiver,
            ppl.WebhookSender(receiver.url, "wrong", attempts=5, backoff=0.01, lab=lab) as sender,
        ):
            return await sender.send(1)

    result = run(main)
    assert not result.ok and result.status == 401 and len(result.attempts) == 1


def test_virtual_time_is_refused_at_once():
    """Inside simulate(), making a receiver or a sender raises VirtualTimeError immediately."""

    async def receiver(lab):
        ppl.WebhookReceiver(SECRET)

    async def sender(lab):
        ppl.WebhookSender("http://127.0.0.1:9/webhook", SECRET)

    for main in (receiver, sender):
        with pytest.raises(ppl.VirtualTimeError, match="not possible in virtual time"):
            ppl.simulate(main)
    with pytest.raises(ppl.VirtualTimeError):
        ppl.WebhookReceiver(SECRET, lab=ppl.Lab(_virtual=True))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ppl.WebhookReceiver(""), ValueError, "secret must be a non-empty"),
        (lambda: ppl.WebhookReceiver([]), ValueError, "secret must be a non-empty"),
        (lambda: ppl.WebhookReceiver(SECRET, tolerance=0), ValueError, "tolerance must be"),
        (lambda: ppl.WebhookReceiver(SECRET, replay_cache=0), ValueError, "replay_cache must be"),
        (lambda: ppl.WebhookReceiver(SECRET, handler=3), TypeError, "handler must be a function"),
        (lambda: ppl.WebhookReceiver(SECRET, path="hook"), ValueError, "path must be"),
        (lambda: ppl.WebhookSender("ftp://x", SECRET), ValueError, "url must be"),
        (lambda: ppl.WebhookSender("http://127.0.0.1:9/", None), ValueError, "secret must be"),
        (
            lambda: ppl.WebhookSender("http://127.0.0.1:9/", SECRET, attempts=0),
            ValueError,
            "attempts must be",
        ),
        (lambda: ppl.WebhookSender("http://127.0.0.1:9/", SECRET, backoff=-1), ValueError, "backoff must be"),
        (lambda: ppl.WebhookSender("http://127.0.0.1:9/", SECRET, factor=0.5), ValueError, "factor must be"),
        (lambda: ppl.WebhookSender("http://127.0.0.1:9/", SECRET, timeout=0), ValueError, "timeout must be"),
        (lambda: ppl.WebhookSender("http://127.0.0.1:9/", SECRET, name=" x"), ValueError, "name must be"),
    ],
)
def test_bad_arguments_fail_at_the_call_naming_the_parameter(make, error, match):
    """Each bad argument raises at construction with a message naming it and what is allowed."""
    with pytest.raises(error, match=match):
        make()


def test_send_checks_its_arguments_and_that_the_sender_is_open():
    """Non-JSON data is a TypeError; sending outside 'async with' is a RuntimeError."""

    async def main(lab):
        sender = ppl.WebhookSender("http://127.0.0.1:9/", SECRET, lab=lab)
        with pytest.raises(RuntimeError, match="not open"):
            await sender.send(1)
        async with sender:
            with pytest.raises(TypeError, match="JSON-serialisable"):
                await sender.send(object())
            with pytest.raises(ValueError, match="event must be"):
                await sender.send(1, event="")

    run(main)


def test_backoff_schedule_is_exponential_and_capped():
    """delay_before(n): 0, backoff, backoff*factor, ... never above max_delay."""
    sender = ppl.WebhookSender("http://127.0.0.1:9/", SECRET, backoff=0.5, factor=3, max_delay=4)
    assert [sender.delay_before(n) for n in range(1, 6)] == [0.0, 0.5, 1.5, 4.0, 4.0]


def test_receiver_closes_cleanly_and_reports_it():
    """After 'async with' the receiver has no open connection, records 'closed', and leaves no task."""

    async def main(lab):
        async with (
            ppl.WebhookReceiver(SECRET, lab=lab) as receiver,
            ppl.WebhookSender(receiver.url, SECRET, lab=lab) as sender,
        ):
            await sender.send(1)
            assert receiver.open_connections == 1  # keep-alive: the sender's connection stays open
        return receiver, lab.trace

    receiver, trace = run(main)
    assert receiver.open_connections == 0
    assert trace.filter(kind="closed").events[-1].fields == {"open": 0}
    assert trace.counts()["connect"] == trace.counts()["disconnect"] == 1
