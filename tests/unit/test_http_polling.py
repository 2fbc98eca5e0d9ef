"""pull/http_polling.py on real loopback HTTP: short polls cost empty requests, long polls answer at once."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import pytest
from loopback_helpers import run

import pushpull_lab as ppl


async def stop(task):
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_short_polling_counts_its_empty_polls():
    """ppl.short_poll every 0.05 s for about 0.6 s with 2 events: both consumed once, most polls
    empty, and the server saw exactly one HTTP request per poll."""

    async def main(lab):
        got = []
        async with (
            ppl.PollingServer(lab=lab) as server,
            ppl.PollingClient(server.url, name="app", lab=lab) as client,
        ):
            task = asyncio.create_task(ppl.short_poll(client, got.append, interval=0.05))
            await asyncio.sleep(0.2)
            await server.publish("a")
            await server.publish("b")
            await asyncio.sleep(0.4)
            await stop(task)
        return got, lab.trace

    got, trace = run(main)
    assert [e.data for e in got] == ["a", "b"]
    counts = trace.counts()
    assert counts["consume"] == 2 and counts["poll"] in (1, 2)
    assert counts["empty_poll"] >= 5  # ~12 polls in 0.6 s, at most two of them brought data
    answered = counts["poll"] + counts["empty_poll"]
    requests = trace.filter(kind="http", actor="app")
    assert answered <= len(requests) <= answered + 1  # +1: the poll cancelled in flight
    empty = trace.filter(kind="empty_poll").events[0]
    assert (empty.actor, empty.peer) == ("app", "rest-server")  # the client initiates


def test_long_poll_returns_as_soon_as_data_arrives():
    """A long poll held with a 5 s timeout returns about 0.2 s later, when the event is published."""

    async def main(lab):
        async with ppl.PollingServer(lab=lab) as server, ppl.PollingClient(server.url, lab=lab) as client:

            async def later():
                await asyncio.sleep(0.2)
                await server.publish({"order": 1})

            producer = asyncio.create_task(later())
            started = time.monotonic()
            events = await client.poll(timeout=5)
            took = time.monotonic() - started
            await producer
        return events, took, lab.trace

    events, took, trace = run(main)
    assert [e.data for e in events] == [{"order": 1}]
    assert 0.18 <= took < 1.0  # far sooner than the 5 s timeout
    (consumed,) = trace.latencies("publish", "consume")
    assert consumed < 0.1
    assert trace.filter(kind="poll").events[0].fields["waited"] == pytest.approx(took, abs=0.05)


def test_long_poll_returns_empty_after_its_timeout():
    """With nothing published, a 0.3 s long poll answers [] after about 0.3 s: one empty poll."""

    async def main(lab):
        async with ppl.PollingServer(lab=lab) as server, ppl.PollingClient(server.url, lab=lab) as client:
            started = time.monotonic()
            events = await client.poll(timeout=0.3)
            return events, time.monotonic() - started, lab.trace

    events, took, trace = run(main)
    assert events == [] and 0.29 <= took < 1.5
    assert trace.counts()["empty_poll"] == 1 and "poll" not in trace.counts()


def test_max_hold_caps_what_a_client_asks_for():
    """A server with max_hold=0.2 answers a 30 s long poll after about 0.2 s."""

    async def main(lab):
        async with (
            ppl.PollingServer(max_hold=0.2, lab=lab) as server,
            ppl.PollingClient(server.url, lab=lab) as client,
        ):
            started = time.monotonic()
            await client.poll(timeout=30)
            return time.monotonic() - started

    assert 0.19 <= run(main) < 1.5


def test_long_poll_loop_receives_every_event_in_order_without_empty_polls():
    """ppl.long_poll over HTTP gets 20 events published at random-ish moments, in order, once each,
    with no empty poll (each request is held until there is data)."""

    async def main(lab):
        got = []
        async with ppl.PollingServer(lab=lab) as server, ppl.PollingClient(server.url, lab=lab) as client:
            task = asyncio.create_task(ppl.long_poll(client, got.append, hold=5))
            for i in range(20):
                await asyncio.sleep(0.005 * (i % 3))
                await server.publish(i)
            for _ in range(200):
                if len(got) == 20:
                    break
                await asyncio.sleep(0.01)
            await stop(task)
        return got, lab.trace

    got, trace = run(main)
    assert [e.data for e in got] == list(range(20))
    assert trace.counts().get("empty_poll", 0) == 0
    assert trace.latency("publish", "consume").count == 20


def test_cursor_and_limit_page_through_without_duplicates():
    """Five stored events fetched with max_records=2 come as 2, 2, 1, then an empty poll."""

    async def main(lab):
        async with ppl.PollingServer(lab=lab) as server, ppl.PollingClient(server.url, lab=lab) as client:
            for i in range(5):
                await server.publish(i)
            return [[e.data for e in await client.poll(max_records=2)] for _ in range(4)]

    assert run(main) == [[0, 1], [2, 3], [4], []]


def test_a_client_behind_the_history_is_told_about_the_gap():
    """history=2 and 5 events: a client starting at 0 gets the last 2 and a poll marked gap=True."""

    async def main(lab):
        async with (
            ppl.PollingServer(history=2, lab=lab) as server,
            ppl.PollingClient(server.url, lab=lab) as client,
        ):
            for i in range(5):
                await server.publish(i)
            events = await client.poll()
        return [e.data for e in events], lab.trace

    data, trace = run(main)
    assert data == [3, 4]
    assert trace.filter(kind="poll").events[0].fields["gap"] is True


def test_closing_the_server_releases_a_held_long_poll():
    """A long poll held for 30 s answers [] at once when the server closes."""

    async def main(lab):
        server = await ppl.PollingServer(lab=lab).start()
        async with ppl.PollingClient(server.url, lab=lab) as client:
            poll = asyncio.create_task(client.poll(timeout=30))
            await asyncio.sleep(0.1)
            started = time.monotonic()
            await server.close()
            events = await poll
            return events, time.monotonic() - started, server

    events, took, server = run(main)
    assert events == [] and took < 2
    assert server.open_connections == 0


def test_bad_query_is_a_400_and_a_client_error_is_raised():
    """A malformed query gets 400 with the rule; the client turns a non-200 into ConnectionError."""

    async def main(lab):
        async with ppl.PollingServer(lab=lab) as server, aiohttp.ClientSession() as session:
            async with session.get(server.url, params={"after": "x"}) as response:
                status, text = response.status, await response.text()
            async with ppl.PollingClient(server.url + "/nope", lab=lab) as client:
                with pytest.raises(ConnectionError, match="answered 404"):
                    await client.poll()
        return status, text

    status, text = run(main)
    assert status == 400 and "after must be an integer" in text


@pytest.mark.parametrize(
    "make",
    [lambda: ppl.PollingServer(), lambda: ppl.PollingClient("http://127.0.0.1:9/events")],
    ids=["server", "client"],
)
def test_virtual_time_is_refused_at_once(make):
    """Inside simulate(), making a polling server or client raises VirtualTimeError."""

    async def main(lab):
        make()

    with pytest.raises(ppl.VirtualTimeError, match="not possible in virtual time"):
        ppl.simulate(main)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ppl.PollingServer(history=0), ValueError, "history must be"),
        (lambda: ppl.PollingServer(max_hold=0), ValueError, "max_hold must be"),
        (lambda: ppl.PollingServer(path=""), ValueError, "path must be"),
        (lambda: ppl.PollingClient("localhost"), ValueError, "url must be"),
        (lambda: ppl.PollingClient("http://127.0.0.1:9/", after=-1), ValueError, "after must be"),
        (lambda: ppl.PollingClient("http://127.0.0.1:9/", name=""), ValueError, "name must be"),
    ],
)
def test_bad_arguments_fail_at_the_call_naming_the_parameter(make, error, match):
    """Each bad argument raises at construction with a message naming it and what is allowed."""
    with pytest.raises(error, match=match):
        make()


def test_poll_and_publish_check_their_arguments():
    """poll(max_records=0), poll(timeout=-1), polling while closed, and non-JSON data all fail clearly."""

    async def main(lab):
        server = ppl.PollingServer(lab=lab)
        with pytest.raises(RuntimeError, match="not running"):
            await server.publish(1)
        async with server, ppl.PollingClient(server.url, lab=lab) as client:
            with pytest.raises(ValueError, match="max_records must be"):
                await client.poll(max_records=0)
            with pytest.raises(ValueError, match="timeout must be"):
                await client.poll(timeout=-1)
            with pytest.raises(TypeError, match="JSON-serialisable"):
                await server.publish(object())
        with pytest.raises(RuntimeError, match="not open"):
            await client.poll()

    run(main)


def test_connections_and_bytes_are_traced():
    """Ten short polls on one keep-alive connection: one connect, ten requests, and bytes each way."""

    async def main(lab):
        async with ppl.PollingServer(lab=lab) as server, ppl.PollingClient(server.url, lab=lab) as client:
            for _ in range(10):
                await client.poll()
        return lab.trace

    trace = run(main)
    assert trace.counts()["connect"] == 1
    (gone,) = trace.filter(kind="disconnect").events
    assert gone.fields["requests"] == 10
    assert gone.fields["bytes_in"] > 10 * 50 and gone.fields["bytes_out"] > 10 * 100


def test_a_server_is_registered_so_a_rerun_or_close_all_closes_it():
    """Starting a server with a live one's name closes the old one; lab.close_all() closes the rest."""

    async def main():
        lab = ppl.Lab()
        first = await ppl.PollingServer(name="feed", lab=lab).start()
        second = await ppl.PollingServer(name="feed", lab=lab).start()
        await asyncio.sleep(0.05)  # the replaced server closes in a task
        assert first.closed and not second.closed
        assert lab.live == [second]
        assert lab.close_all() == 1
        await asyncio.sleep(0.05)
        assert second.closed and lab.live == []

    asyncio.run(main())
