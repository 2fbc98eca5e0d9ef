"""Security of the HTTP demos on real loopback sockets: the webhook attack battery, the SSRF
destination policy of WebhookSender, and bearer tokens on PollingServer."""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import time

import aiohttp
import pytest
from loopback_helpers import run

import pushpull_lab as ppl
from pushpull_lab import scenarios
from pushpull_lab._http import HttpServer
from pushpull_lab.pull import http_polling
from pushpull_lab.push.webhook import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DestinationPolicy,
    DestinationRefusedError,
    WebhookVerifier,
    sign,
    why_internal,
)

SECRET = "whsec-battery"


def delivery(secret=SECRET, *, delivery_id="whd_1", timestamp=None, data=None):
    """Headers and body of one hand-signed delivery, as a sender makes it."""
    body = json.dumps({"id": delivery_id, "seq": 1, "event": "test", "data": data}).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {ID_HEADER: delivery_id, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}
    return headers, body


async def post(url, headers, body, client="attacker"):
    async with (
        aiohttp.ClientSession(headers={"X-PPL-Client": client}) as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


def forged():
    headers, body = delivery()
    return {**headers, SIGNATURE_HEADER: "v1=" + "0" * 64}, body


def tampered():
    headers, body = delivery(data={"amount": 10})
    return headers, body.replace(b"10", b"99")


def without(header):
    headers, body = delivery()
    return {k: v for k, v in headers.items() if k != header}, body


ATTACKS = {
    # name: (make the request, status, reason)
    "forged signature": (forged, 401, "bad signature"),
    "tampered body": (tampered, 401, "bad signature"),
    "wrong secret": (lambda: delivery("whsec-guessed"), 401, "bad signature"),
    "expired timestamp": (
        lambda: delivery(timestamp=int(time.time()) - 600),
        401,
        "timestamp outside tolerance",
    ),
    "timestamp from the future": (
        lambda: delivery(timestamp=int(time.time()) + 600),
        401,
        "timestamp outside tolerance",
    ),
    "missing Webhook-Id": (lambda: without(ID_HEADER), 400, f"missing header {ID_HEADER}"),
    "missing Webhook-Timestamp": (
        lambda: without(TIMESTAMP_HEADER),
        400,
        f"missing header {TIMESTAMP_HEADER}",
    ),
    "missing Webhook-Signature": (
        lambda: without(SIGNATURE_HEADER),
        400,
        f"missing header {SIGNATURE_HEADER}",
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_is_rejected_with_its_status_and_a_reject_event(attack):
    """Every attack of the battery gets its 4xx and reason, never reaches the handler, and is a
    'reject' event (actor: the attacker) in the receiver's trace — while a valid delivery sent
    right after it on the same receiver is still accepted."""
    make, status, reason = ATTACKS[attack]

    async def main(lab):
        handled = []
        async with ppl.WebhookReceiver(SECRET, handler=handled.append, tolerance=300, lab=lab) as receiver:
            got = await post(receiver.url, *make())
            ok = await post(receiver.url, *delivery(delivery_id="whd_valid"), client="partner")
        return got, ok, handled, lab.trace

    (got_status, text), ok, handled, trace = run(main)
    assert (got_status, json.loads(text)) == (status, {"error": reason})
    assert ok[0] == 204 and [d.id for d in handled] == ["whd_valid"]
    (reject,) = trace.filter(kind="reject").events
    assert (reject.actor, reject.fields["status"], reject.fields["reason"]) == ("attacker", status, reason)


def test_a_replayed_delivery_id_is_rejected_409_and_the_handler_runs_once():
    """The same signed request sent three times: 204, 409, 409; one delivery handled, two rejects."""

    async def main(lab):
        handled = []
        async with ppl.WebhookReceiver(SECRET, handler=handled.append, lab=lab) as receiver:
            request = delivery(delivery_id="whd_captured")
            statuses = [(await post(receiver.url, *request))[0] for _ in range(3)]
        return statuses, handled, lab.trace

    statuses, handled, trace = run(main)
    assert statuses == [204, 409, 409] and len(handled) == 1
    assert [e.fields["reason"] for e in trace.filter(kind="reject")] == ["replayed delivery id"] * 2


def test_a_batch_of_valid_deliveries_from_several_senders_is_all_accepted():
    """4 senders x 50 deliveries sent concurrently: 200 accepted, in order per sender, no reject."""

    async def main(lab):
        handled = []
        async with ppl.WebhookReceiver(SECRET, handler=handled.append, lab=lab) as receiver:

            async def one_sender(i):
                async with ppl.WebhookSender(receiver.url, SECRET, name=f"sender-{i}", lab=lab) as sender:
                    return [await sender.send({"n": n}) for n in range(50)]

            results = await asyncio.gather(*(one_sender(i) for i in range(4)))
        return results, handled, lab.trace

    results, handled, trace = run(main)
    assert all(r.ok and r.status == 204 and len(r.attempts) == 1 for rs in results for r in rs)
    assert len(handled) == 200 and len({d.id for d in handled}) == 200
    for i in range(4):
        assert [d.data["n"] for d in handled if d.sender == f"sender-{i}"] == list(range(50))
    assert trace.counts()["deliver"] == 200 and "reject" not in trace.counts()


def test_the_verifier_alone_follows_the_clock_it_is_given():
    """WebhookVerifier without HTTP: accepted at its timestamp, 409 again inside the window, 401
    just past the window, and the id is forgotten once it has left the window."""
    verifier = WebhookVerifier(SECRET, tolerance=60, replay_cache=10)
    headers, body = delivery(timestamp=1_000)
    first = verifier.verify(headers, body, now=1_000)
    assert first.ok and first.payload["id"] == "whd_1"
    verifier.begin(first)
    assert verifier.verify(headers, body, now=1_001).status == 409  # being handled
    verifier.finish(first, accepted=True)
    assert verifier.remembered == 1
    assert verifier.verify(headers, body, now=1_060).reason == "replayed delivery id"
    assert verifier.verify(headers, body, now=1_061).reason == "timestamp outside tolerance"
    other = delivery(delivery_id="whd_2", timestamp=1_070)
    assert verifier.verify(*other, now=1_070).ok
    assert verifier.remembered == 0  # whd_1 left the window, so it was dropped


def test_expired_ids_are_forgotten_even_when_only_rejected_requests_arrive():
    """Twenty ids accepted, then only replays (409) and forgeries (401) arrive: once the window
    has passed, the cache is empty — every request prunes, whatever its verdict."""
    verifier = WebhookVerifier(SECRET, tolerance=60, replay_cache=100)
    captured = []
    for n in range(20):
        headers, body = delivery(delivery_id=f"whd_{n}", timestamp=1_000 + n)
        verdict = verifier.verify(headers, body, now=1_000 + n)
        verifier.begin(verdict)
        verifier.finish(verdict, accepted=True)
        captured.append((headers, body))
    assert verifier.remembered == 20
    held = []
    for now in range(1_030, 1_100, 5):  # replays inside the window get 409, later ones 401
        verdict = verifier.verify(*captured[0], now=now)
        assert verdict.status in (409, 401)
        held.append(verifier.remembered)
    assert held[0] == 20 and held[-1] == 0 and held == sorted(held, reverse=True)
    forged = {**captured[1][0], SIGNATURE_HEADER: "v1=" + "0" * 64}
    verifier2 = WebhookVerifier(SECRET, tolerance=60)
    ok = verifier2.verify(*captured[1], now=1_001)
    verifier2.begin(ok)
    verifier2.finish(ok, accepted=True)
    assert verifier2.verify(forged, captured[1][1], now=1_100).status == 401
    assert verifier2.remembered == 0  # a forgery alone pruned the expired id


def test_forget_expired_can_run_on_a_timer():
    """forget_expired(now) drops ids past the window without any request, and says how many."""
    verifier = WebhookVerifier(SECRET, tolerance=60)
    for n in range(3):
        verdict = verifier.verify(
            *delivery(delivery_id=f"whd_{n}", timestamp=1_000 + 30 * n), now=1_000 + 30 * n
        )
        verifier.begin(verdict)
        verifier.finish(verdict, accepted=True)
    assert verifier.forget_expired(1_100) == 2 and verifier.remembered == 1


@pytest.mark.parametrize(("entries", "status"), [(1, 0), (2, 0), (4, 0), (5, 400), (1000, 400)])
def test_the_number_of_signatures_in_one_header_is_capped(entries, status):
    """Up to MAX_SIGNATURES (4) entries, the right one last, verify; more is a 400 that names the
    cap, even when one of them is right: a header cannot carry a dictionary of guesses."""
    from pushpull_lab.push.webhook import MAX_SIGNATURES, signature_matches

    assert MAX_SIGNATURES == 4
    headers, body = delivery(timestamp=1_000)
    guesses = ["v1=" + f"{n:064x}" for n in range(entries - 1)]
    header = " ".join([*guesses, headers[SIGNATURE_HEADER]])
    verdict = WebhookVerifier(SECRET).verify({**headers, SIGNATURE_HEADER: header}, body, now=1_000)
    assert verdict.status == status
    if status:
        assert verdict.reason == "more than 4 signatures"
    assert signature_matches([SECRET.encode()], "1000", body, header) is (status == 0)


# -- SSRF: where a sender may deliver ---------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("127.0.0.1", "loopback"),
        ("127.45.6.7", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("192.0.0.192", "192.0.0.0/24"),
        ("198.18.0.1", "benchmarking"),
        ("240.0.0.1", "reserved"),
        ("2001:db8::1", "documentation"),
        ("2002:a9fe:a9fe::1", "carries 169.254.169.254 (6to4), a link-local"),
        ("2002:7f00:1::", "carries 127.0.0.1 (6to4), a loopback"),
        ("64:ff9b::a9fe:a9fe", "carries 169.254.169.254 (NAT64)"),
        ("64:ff9b::a00:1", "carries 10.0.0.1 (NAT64), a private"),
        ("::a00:1", "carries 10.0.0.1 (IPv4-compatible)"),
        ("::ffff:10.0.0.1", "private"),
        ("2001:0:4136:e378:8000:63bf:80ff:fefe", "carries 127.0.1.1 (Teredo), a loopback"),
        ("224.0.0.1", "multicast"),
        ("fd00::1", "private"),
    ],
)
def test_internal_addresses_are_named_as_such(address, word):
    """why_internal() explains each internal address (IPv4-mapped IPv6 judged by its IPv4)."""
    assert word in why_internal(address)


def test_public_addresses_are_not_internal():
    """Public unicast addresses (v4, v6, and a public IPv4 inside IPv4-mapped or 6to4) pass."""
    for address in ("93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "2002:5db8:d822::1"):
        assert why_internal(address) is None, address


def test_every_address_python_does_not_call_global_is_refused():
    """A sample of every IPv4 /8 and IPv6 special range: whatever ipaddress says is not
    is_global is refused too (the lab's own table only adds to Python's, never removes)."""
    import ipaddress

    samples = [f"{a}.{b}.0.1" for a in range(256) for b in (0, 64, 168, 255)]
    samples += ["::", "::1", "100::1", "2001::1", "2001:2::1", "fc00::1", "fe80::1", "ff02::1"]
    for address in samples:
        if not ipaddress.ip_address(address).is_global:
            assert why_internal(address) is not None, address


@pytest.mark.parametrize(
    "url",
    ["http://192.0.0.192/latest/", "http://[2002:a9fe:a9fe::1]/latest/", "http://[64:ff9b::a9fe:a9fe]/"],
)
def test_metadata_addresses_in_disguise_are_refused_at_registration(url):
    """192.0.0.192 and 169.254.169.254 inside 6to4 or NAT64 are refused by DestinationPolicy.check."""
    with pytest.raises(DestinationRefusedError, match="SSRF"):
        DestinationPolicy().check(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/admin",
        "http://192.168.1.1/",
        "http://127.0.0.1:{port}/webhook",
        "http://[::1]:{port}/webhook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:{port}/webhook",
        "http://0.0.0.0:{port}/webhook",
        "http://[::ffff:127.0.0.1]:{port}/webhook",
    ],
)
def test_internal_destinations_are_refused_before_any_request(url):
    """A sender whose URL is (or resolves to) an internal address raises DestinationRefusedError
    at send(), naming url and the allow= fix, records a 'reject', makes no attempt — and the
    loopback service behind the URL (run by another lab) sees no request at all."""

    async def main(lab):
        internal = ppl.Lab()  # the "internal admin" service: not this sender's lab
        async with ppl.WebhookReceiver(SECRET, name="admin", lab=internal) as admin:
            target = url.format(port=admin.port)
            async with ppl.WebhookSender(target, SECRET, attempts=1, lab=lab) as sender:
                with pytest.raises(DestinationRefusedError) as caught:
                    await sender.send({"cmd": "delete-all"})
        return str(caught.value), lab.trace, internal.trace

    message, trace, admin_trace = run(main)
    assert "WebhookSender.send(url=" in message and "allow=[" in message and "SSRF" in message
    assert trace.counts()["reject"] == 1 and "webhook" not in trace.counts()
    assert "http" not in admin_trace.counts() and "connect" not in admin_trace.counts()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://user:pw@example.com/hook", "credentials"),
        ("http://admin@example.com/hook", "credentials"),
        ("file:///etc/passwd", "url must be an http"),
        ("gopher://127.0.0.1:70/", "url must be an http"),
    ],
)
def test_credentials_and_other_schemes_are_refused_at_construction(url, match):
    """user:pw@ URLs and non-http(s) schemes fail when the sender is made, with the password redacted."""
    with pytest.raises(ValueError, match=match) as caught:
        ppl.WebhookSender(url, SECRET, lab=ppl.Lab())
    assert ":pw@" not in str(caught.value)


def test_an_allow_listed_loopback_receiver_is_delivered_to():
    """A receiver of another lab on 127.0.0.1: refused by default, delivered with allow=['127.0.0.1:PORT']."""

    async def main(lab):
        other = ppl.Lab()
        async with ppl.WebhookReceiver(SECRET, lab=other) as receiver:
            async with ppl.WebhookSender(receiver.url, SECRET, lab=lab) as plain:
                with pytest.raises(DestinationRefusedError, match="loopback"):
                    await plain.send(1)
            allowed = [f"127.0.0.1:{receiver.port}"]
            async with ppl.WebhookSender(receiver.url, SECRET, allow=allowed, lab=lab) as sender:
                result = await sender.send(2)
        return result, receiver

    result, receiver = run(main)
    assert result.ok and result.status == 204 and [d.data for d in receiver.received] == [2]


def test_lab_receivers_trust_can_be_turned_off():
    """By default a sender may reach its own lab's receivers; DestinationPolicy(lab_receivers=False) may not."""

    async def main(lab):
        async with ppl.WebhookReceiver(SECRET, lab=lab) as receiver:
            async with ppl.WebhookSender(receiver.url, SECRET, lab=lab) as trusting:
                ok = await trusting.send(1)
            strict = DestinationPolicy(lab_receivers=False)
            async with ppl.WebhookSender(receiver.url, SECRET, policy=strict, lab=lab) as sender:
                with pytest.raises(DestinationRefusedError):
                    await sender.send(2)
        return ok

    assert run(main).ok


class Redirector(HttpServer):
    """A receiver that answers every POST with 307 to ``target``."""

    def __init__(self, target, lab):
        self.target = target
        super().__init__("Redirector", "redirector", lab)

    def _add_routes(self, app, web):
        async def bounce(request):
            raise web.HTTPTemporaryRedirect(self.target)

        app.router.add_post("/hook", bounce)


def test_a_redirect_to_an_internal_address_is_not_followed():
    """An allow-listed receiver answering 307 -> an internal admin URL: the sender reports the 3xx
    as a final failure (one attempt) and the admin service gets no request."""

    async def main(lab):
        internal = ppl.Lab()
        async with (
            ppl.WebhookReceiver(SECRET, name="admin", lab=internal) as admin,
            Redirector(admin.url, ppl.Lab()) as bouncer,
        ):
            url = f"http://127.0.0.1:{bouncer.port}/hook"
            allow = [f"127.0.0.1:{bouncer.port}"]
            async with ppl.WebhookSender(url, SECRET, allow=allow, attempts=3, lab=lab) as sender:
                result = await sender.send({"cmd": "x"})
        return result, internal.trace

    result, admin_trace = run(main)
    assert not result.ok and result.status == 307 and len(result.attempts) == 1
    assert "not followed" in result.error
    assert "http" not in admin_trace.counts()


def test_a_name_is_checked_on_every_address_it_resolves_to_at_connect_time(monkeypatch):
    """DNS rebinding: 'hooks.partner.test' resolves (when the connection is made) to a public
    address and 127.0.0.1; the sender refuses, saying which address, and no request is made."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host == "hooks.partner.test":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)

    async def main(lab):
        async with ppl.WebhookSender("http://hooks.partner.test:8080/hook", SECRET, attempts=1, lab=lab) as s:
            with pytest.raises(DestinationRefusedError, match=r"resolves to 127\.0\.0\.1") as caught:
                await s.send(1)
        return str(caught.value), lab.trace

    message, trace = run(main)
    assert "hooks.partner.test:8080" in message
    assert trace.counts()["reject"] == 1 and "webhook" not in trace.counts()


def test_policy_check_resolves_at_registration_time():
    """DestinationPolicy.check: a public literal passes (its address returned), localhost is
    refused for what it resolves to, an allow-listed internal host:port passes unchecked."""
    policy = DestinationPolicy()
    assert policy.check("https://[2606:4700::1111]/hook") == ["2606:4700::1111"]
    with pytest.raises(DestinationRefusedError, match=r"localhost:9000 \(it resolves to"):
        policy.check("http://localhost:9000/hook")
    assert DestinationPolicy(["10.0.0.5:8443"]).check("https://10.0.0.5:8443/x") == ["10.0.0.5"]
    with pytest.raises(DestinationRefusedError, match="private"):
        DestinationPolicy(["10.0.0.5:8443"]).check("https://10.0.0.5/x")  # another port: not allowed


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"allow": "127.0.0.1:80"}, ValueError, "allow must be a list"),
        ({"allow": ["127.0.0.1"]}, ValueError, "'host:port'"),
        ({"allow": ["127.0.0.1:0"]}, ValueError, "'host:port'"),
        ({"allow": ["a:1"], "policy": DestinationPolicy()}, ValueError, "not both"),
        ({"policy": ["127.0.0.1:80"]}, TypeError, "policy must be a DestinationPolicy"),
    ],
)
def test_bad_policy_arguments_fail_at_the_call(kwargs, error, match):
    """allow must be a list of host:port; allow and policy exclude each other."""
    with pytest.raises(error, match=match):
        ppl.WebhookSender("https://hooks.example.com/x", SECRET, lab=ppl.Lab(), **kwargs)


# -- pull behind authentication ------------------------------------------------------------------
def test_a_token_protected_polling_server_answers_only_the_right_token():
    """No token and a wrong token: 401 + PermissionError + a 'reject' (missing/wrong token); the
    right token gets the events; the server's http events show the three statuses."""

    async def main(lab):
        outcomes = {}
        async with ppl.PollingServer(token="s3cret-token", lab=lab) as server:
            await server.publish({"n": 1})
            for name, token in (("anonymous-app", None), ("guessing-app", "guess"), ("app", "s3cret-token")):
                async with ppl.PollingClient(server.url, name=name, token=token, lab=lab) as client:
                    try:
                        outcomes[name] = [e.data for e in await client.poll()]
                    except PermissionError as exc:
                        outcomes[name] = str(exc)
        return outcomes, lab.trace

    outcomes, trace = run(main)
    assert outcomes["app"] == [{"n": 1}]
    assert "401" in outcomes["anonymous-app"] and "token=" in outcomes["anonymous-app"]
    assert "refused" in outcomes["guessing-app"]
    rejects = {e.actor: (e.fields["status"], e.fields["reason"]) for e in trace.filter(kind="reject")}
    assert rejects == {"anonymous-app": (401, "missing token"), "guessing-app": (401, "wrong token")}
    assert [e.fields["status"] for e in trace.filter(kind="http")] == [401, 401, 200]
    assert trace.counts()["consume"] == 1


def test_the_401_carries_a_bearer_challenge():
    """A wrong token gets WWW-Authenticate: Bearer ... error="invalid_token"; none gets no error field."""

    async def main(lab):
        async with ppl.PollingServer(token="abc", lab=lab) as server, aiohttp.ClientSession() as session:
            answers = []
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
                async with session.get(server.url, headers=headers) as response:
                    answers.append((response.status, response.headers.get("WWW-Authenticate")))
        return answers

    (none, wrong, basic) = run(main)
    assert none == (401, 'Bearer realm="pushpull-lab"')
    assert wrong == (401, 'Bearer realm="pushpull-lab", error="invalid_token"')
    assert basic[0] == 401  # only Bearer counts


def test_tokens_are_compared_with_compare_digest_and_can_rotate(monkeypatch):
    """Every check goes through hmac.compare_digest (once per accepted token); either of two
    rotating tokens is accepted."""
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(http_polling.hmac, "compare_digest", spy)

    async def main(lab):
        async with ppl.PollingServer(token=["old-token", "new-token"], lab=lab) as server:
            await server.publish("x")
            got = []
            for token in ("old-token", "new-token"):
                async with ppl.PollingClient(server.url, token=token, lab=lab) as client:
                    got.append([e.data for e in await client.poll()])
        return got

    assert run(main) == [["x"], ["x"]]
    assert calls == [(32, 32)] * 4  # SHA-256 digests: equal lengths, so the length leaks nothing


@pytest.mark.parametrize("token", ["", " padded", "two words", [], 42])
def test_bad_tokens_fail_at_the_call(token):
    """An empty, padded, spaced, empty-list or non-string token is a ValueError naming token."""
    with pytest.raises(ValueError, match="token must be"):
        ppl.PollingServer(token=token, lab=ppl.Lab())


# -- notebook 14's scenario helpers -------------------------------------------------------------
def test_an_unvalidated_receiver_accepts_the_whole_attack_battery():
    """The same eleven requests a WebhookReceiver answers with one 204 and ten 4xx: a receiver
    without validation answers 204 to all eleven and hands every body to its handler."""

    async def main(lab):
        attacks = scenarios.webhook_attacks(SECRET)
        async with scenarios.unvalidated_receiver(lab=lab) as naive:
            naive_statuses = await scenarios.send_attacks(naive.url, attacks)
        async with ppl.WebhookReceiver(SECRET, lab=ppl.Lab()) as checked:
            checked_statuses = await scenarios.send_attacks(checked.url, attacks)
        return naive_statuses, len(naive.received), checked_statuses, lab.trace

    naive, received, checked, trace = run(main)
    assert naive == [204] * 11 and received == 11 and trace.counts()["deliver"] == 11
    assert checked[0] == 204 and all(400 <= s < 500 for s in checked[1:])


def test_a_bearer_token_captured_on_a_plain_http_path_can_be_replayed():
    """A client polling through an on-path hop: the hop keeps its Authorization header, and a
    later request by someone else with that header is answered 200 with every event."""

    async def main(lab):
        async with ppl.PollingServer("api", token="tok-0123456789", lab=lab) as api:
            await api.publish({"n": 1})
            async with (
                scenarios.on_path_proxy(api.url, lab=lab) as hop,
                ppl.PollingClient(hop.url, name="billing", token="tok-0123456789", lab=lab) as c,
            ):
                got = await c.poll()
            await api.publish({"n": 2})
            headers = {"Authorization": hop.captured[0], "X-PPL-Client": "eavesdropper"}
            async with aiohttp.ClientSession(headers=headers) as s, s.get(api.url) as answer:
                return got, hop.captured, answer.status, await answer.json()

    got, captured, status, body = run(main)
    assert [e.data for e in got] == [{"n": 1}] and captured == ["Bearer tok-0123456789"]
    assert status == 200 and [e["data"] for e in body["events"]] == [{"n": 1}, {"n": 2}]


def test_webhook_window_lessons_count_late_replays_and_their_causes():
    """At 30 s every accepted replay is partner-d's (clock +100 s, refused 401 when fresh); at
    300 s none is; at 600 s the accepted replays follow 503s of a full cache."""
    narrow = scenarios.webhook_window_lessons(scenarios.webhook_window(tolerance=30))
    assert narrow["replays_accepted"] > 0
    assert set(narrow["replays_accepted_from"]) == {"partner-d"}
    assert narrow["after_refusal"] == {"401": narrow["replays_accepted"], "503": 0}
    middle = scenarios.webhook_window_lessons(scenarios.webhook_window(tolerance=300))
    assert middle["replays_accepted"] == 0 and middle["answers_503"] == 0
    wide = scenarios.webhook_window_lessons(scenarios.webhook_window(tolerance=600))
    assert wide["after_refusal"]["503"] == wide["replays_accepted"] > 0 and wide["answers_503"] > 100
    with pytest.raises(ValueError, match="run must be what webhook_window"):
        scenarios.webhook_window_lessons(ppl.simulate(lambda lab: asyncio.sleep(0)))
