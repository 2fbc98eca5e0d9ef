"""push/channels.py on real loopback HTTP: SSE and WebSocket push every event, in order, and close cleanly."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from loopback_helpers import run

import pushpull_lab as ppl


# -- SSE ------------------------------------------------------------------------------------------
def test_sse_every_client_receives_every_event_in_order():
    """Two SSE clients get all 50 events in publish order with increasing ids; each event is one
    publish and one deliver per client, so there are 100 publish->deliver latencies."""

    async def main(lab):
        async with (
            ppl.SSEServer(lab=lab) as server,
            ppl.SSEClient(server.url, name="a", lab=lab) as a,
            ppl.SSEClient(server.url, name="b", lab=lab) as b,
        ):
            assert server.clients == 2
            routed = [await server.publish({"n": i}, event="tick") for i in range(50)]
            await a.wait_for(50)
            await b.wait_for(50)
        return routed, a, b, lab.trace

    routed, a, b, trace = run(main)
    assert routed == [2] * 50
    for client in (a, b):
        assert [e.data for e in client.received] == [{"n": i} for i in range(50)]
        assert all(e.event == "tick" for e in client.received)
        ids = [e.id for e in client.received]
        assert ids == sorted(ids) and len(set(ids)) == 50
    assert trace.latency("publish", "deliver").count == 100
    deliver = trace.filter(kind="deliver", peer="a").events[0]
    assert deliver.actor == "sse-server"


def test_sse_wire_format_is_an_event_stream_with_id_lines():
    """A plain HTTP GET sees text/event-stream and 'id: N', 'event: x', 'data: JSON' lines."""

    async def main(lab):
        async with ppl.SSEServer(lab=lab) as server, aiohttp.ClientSession() as session:
            async with session.get(server.url) as response:
                await server.publish({"x": 1}, event="hello")
                lines = []
                while len(lines) < 6:
                    lines.append((await response.content.readline()).decode())
            return response.headers["Content-Type"], lines

    content_type, lines = run(main)
    assert content_type == "text/event-stream"
    assert lines[:2] == [": connected\n", "\n"]
    assert lines[2].startswith("id: ") and lines[2][4:-1].isdigit()
    assert lines[3:] == ["event: hello\n", 'data: {"x":1}\n', "\n"]


def test_sse_last_event_id_resumes_with_what_was_missed():
    """A client connecting with Last-Event-ID gets the newer retained events first, then live ones,
    without a duplicate; a 'replay' event says how many were replayed."""

    async def main(lab):
        async with ppl.SSEServer(lab=lab) as server:
            ids = []
            for i in range(5):
                await server.publish(i)
                ids.append(lab.trace.filter(kind="publish").events[-1].msg)
            async with ppl.SSEClient(server.url, last_event_id=ids[1], lab=lab) as client:
                await client.wait_for(3)
                await server.publish(5)
                await client.wait_for(4)
        return ids, client, lab.trace

    ids, client, trace = run(main)
    assert [e.data for e in client.received] == [2, 3, 4, 5]
    assert [e.id for e in client.received][:3] == ids[2:]
    assert client.last_event_id == client.received[-1].id
    (replay,) = trace.filter(kind="replay").events
    assert replay.fields == {"events": 3, "after": ids[1]}


def test_sse_bad_last_event_id_is_refused_with_400():
    """A Last-Event-ID that is not an integer gets 400, and the client raises saying so."""

    async def main(lab):
        async with (
            ppl.SSEServer(lab=lab) as server,
            aiohttp.ClientSession() as session,
            session.get(server.url, headers={"Last-Event-ID": "abc"}) as response,
        ):
            return response.status

    assert run(main) == 400


def test_sse_server_close_ends_the_stream_and_the_client_notices():
    """Closing the server ends every stream: the client's reader ends and wait_for says so."""

    async def main(lab):
        async with ppl.SSEClient((server := await ppl.SSEServer(lab=lab).start()).url, lab=lab) as client:
            await server.publish(1)
            await client.wait_for(1)
            await server.close()
            with pytest.raises(RuntimeError, match="closed the stream after 1 of 2"):
                await client.wait_for(2, timeout=5)
            assert client.ended
        return server, lab.trace

    server, trace = run(main)
    assert server.clients == 0 and server.open_connections == 0
    assert trace.counts()["connect"] == trace.counts()["disconnect"] == 1


def test_sse_client_that_leaves_is_forgotten_at_once():
    """When a client disconnects the server drops it without waiting for the next event."""

    async def main(lab):
        async with ppl.SSEServer(lab=lab, heartbeat=None) as server:
            async with ppl.SSEClient(server.url, lab=lab):
                assert server.clients == 1
            for _ in range(100):
                if server.clients == 0:
                    break
                await asyncio.sleep(0.01)
            return server.clients, await server.publish("nobody")

    assert run(main) == (0, 0)


def test_sse_heartbeat_keeps_an_idle_stream_alive():
    """With heartbeat=0.05 an idle stream carries ': ping' comments (counted as bytes, not events)."""

    async def main(lab):
        async with ppl.SSEServer(lab=lab, heartbeat=0.05) as server:
            async with ppl.SSEClient(server.url, lab=lab) as client:
                await asyncio.sleep(0.3)
            await asyncio.sleep(0.05)
        return client.received, lab.trace

    received, trace = run(main)
    assert received == []
    (gone,) = trace.filter(kind="disconnect").events
    assert gone.fields["bytes_out"] > 4 * len(b": ping\n\n")


def test_sse_on_event_error_is_raised_not_swallowed():
    """An on_event callback that raises stops the reader, and wait_for re-raises its exception."""

    async def main(lab):
        async with ppl.SSEServer(lab=lab) as server:
            client = ppl.SSEClient(server.url, on_event=lambda e: 1 / 0, lab=lab)
            await client.__aenter__()
            await server.publish(1)
            with pytest.raises(ZeroDivisionError):
                await client.wait_for(1)
            with pytest.raises(ZeroDivisionError):
                await client.close()

    run(main)


# -- WebSocket ------------------------------------------------------------------------------------
def test_websocket_every_client_receives_every_event_in_order():
    """Two WebSocket clients get all 50 events in publish order; 100 publish->deliver latencies."""

    async def main(lab):
        async with (
            ppl.WebSocketServer(lab=lab) as server,
            ppl.WebSocketClient(server.url, name="a", lab=lab) as a,
            ppl.WebSocketClient(server.url, name="b", lab=lab) as b,
        ):
            assert server.url.startswith("ws://127.0.0.1:") and server.clients == 2
            routed = [await server.publish({"n": i}) for i in range(50)]
            await a.wait_for(50)
            await b.wait_for(50)
        return routed, a, b, lab.trace

    routed, a, b, trace = run(main)
    assert routed == [2] * 50
    for client in (a, b):
        assert [e.data for e in client.received] == [{"n": i} for i in range(50)]
    assert trace.latency("publish", "deliver").count == 100
    assert trace.counts()["http"] == 2  # one upgrade request per client, however many events


def test_websocket_is_two_way():
    """A client's send() reaches the server's on_message on the same connection, traced as the
    client's publish and a deliver at the server."""

    async def main(lab):
        got = asyncio.Queue()

        async def on_message(client, data):
            await got.put((client, data))

        async with (
            ppl.WebSocketServer(on_message=on_message, lab=lab) as server,
            ppl.WebSocketClient(server.url, name="phone", lab=lab) as client,
        ):
            msg_id = await client.send({"like": 7})
            item = await asyncio.wait_for(got.get(), 5)
        return msg_id, item, server.received, lab.trace

    msg_id, item, received, trace = run(main)
    assert item == ("phone", {"like": 7}) and received == [item]
    deliver = trace.filter(kind="deliver", peer="ws-server").events[0]
    assert (deliver.actor, deliver.msg) == ("phone", msg_id)
    assert trace.latency("publish", "deliver").count == 1
    assert trace.counts()["connect"] == 1  # the same single connection carried both directions


def test_websocket_message_handler_error_is_recorded_and_closes_the_socket():
    """An on_message that raises: an 'error' event, server.errors holds it, the client is closed."""

    async def main(lab):
        async with (
            ppl.WebSocketServer(on_message=lambda c, d: 1 / 0, lab=lab) as server,
            ppl.WebSocketClient(server.url, lab=lab) as client,
        ):
            await client.send("boom")
            with pytest.raises(RuntimeError, match="closed the stream"):
                await client.wait_for(1, timeout=5)
        return server, lab.trace

    server, trace = run(main)
    assert [type(e) for e in server.errors] == [ZeroDivisionError]
    assert "ZeroDivisionError" in trace.filter(kind="error").events[0].fields["error"]


def test_websocket_server_close_closes_clients():
    """Closing the server closes every socket; the client ends and the server has no connection left."""

    async def main(lab):
        server = await ppl.WebSocketServer(lab=lab).start()
        async with ppl.WebSocketClient(server.url, lab=lab) as client:
            await server.publish(1)
            await client.wait_for(1)
            await server.close()
            with pytest.raises(RuntimeError, match="closed the stream"):
                await client.wait_for(2, timeout=5)
        return server, lab.trace

    server, trace = run(main)
    assert server.open_connections == 0 and server.clients == 0
    assert trace.counts()["disconnect"] == 1


# -- both -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: ppl.SSEServer(),
        lambda: ppl.SSEClient("http://127.0.0.1:9/events"),
        lambda: ppl.WebSocketServer(),
        lambda: ppl.WebSocketClient("ws://127.0.0.1:9/ws"),
    ],
    ids=["sse-server", "sse-client", "ws-server", "ws-client"],
)
def test_virtual_time_is_refused_at_once(make):
    """Inside simulate(), making an SSE or WebSocket server or client raises VirtualTimeError."""

    async def main(lab):
        make()

    with pytest.raises(
        ppl.VirtualTimeError, match=r"real HTTP on 127\.0\.0\.1 is not possible in virtual time"
    ):
        ppl.simulate(main)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ppl.SSEServer(""), ValueError, "name must be"),
        (lambda: ppl.SSEServer(path="events"), ValueError, "path must be"),
        (lambda: ppl.SSEServer(history=-1), ValueError, "history must be"),
        (lambda: ppl.SSEServer(heartbeat=0), ValueError, "heartbeat must be"),
        (lambda: ppl.SSEClient("127.0.0.1:9"), ValueError, "url must be"),
        (lambda: ppl.SSEClient("http://127.0.0.1:9/", last_event_id=-1), ValueError, "last_event_id must be"),
        (lambda: ppl.SSEClient("http://127.0.0.1:9/", on_event="print"), TypeError, "on_event must be"),
        (lambda: ppl.WebSocketServer(on_message=1), TypeError, "on_message must be"),
        (lambda: ppl.WebSocketClient("http://127.0.0.1:9/ws"), ValueError, "url must be a ws://"),
    ],
)
def test_bad_arguments_fail_at_the_call_naming_the_parameter(make, error, match):
    """Each bad argument raises at construction with a message naming it and what is allowed."""
    with pytest.raises(error, match=match):
        make()


def test_publish_checks_data_and_that_the_server_runs():
    """Non-JSON data is a TypeError; publishing on a server that is not started is a RuntimeError."""

    async def main(lab):
        for server in (ppl.SSEServer(lab=lab), ppl.WebSocketServer(lab=lab)):
            with pytest.raises(RuntimeError, match="not running"):
                await server.publish(1)
            async with server:
                with pytest.raises(TypeError, match="JSON-serialisable"):
                    await server.publish({1, 2})
        with pytest.raises(ValueError, match="event must be one line"):
            async with ppl.SSEServer(lab=lab) as sse:
                await sse.publish(1, event="a\nb")

    run(main)
