"""push/pubsub.py: routing, per-subscriber buffers, overflow policies, accounting, errors."""

import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pushpull_lab as ppl
from pushpull_lab import scenarios


def sim(main, **kw):
    return ppl.simulate(main, **kw)


def test_exact_topics_and_globs_route_like_redis_psubscribe():
    """A message reaches exact-topic and matching glob subscribers only; publish returns the count."""

    async def main(lab):
        bus = ppl.PubSub("b")
        got = {n: [] for n in ("exact", "star", "qmark", "other")}
        bus.subscribe("match.1", lambda m: got["exact"].append(m.data), name="exact")
        bus.subscribe("match.*", lambda m: got["star"].append(m.data), name="star")
        bus.subscribe("match.?", lambda m: got["qmark"].append(m.data), name="qmark")
        bus.subscribe("news", lambda m: got["other"].append(m.data), name="other")
        routed = [
            await bus.publish("match.1", "a"),
            await bus.publish("match.12", "b"),
            await bus.publish("x", "c"),
        ]
        await bus.join()
        return routed, got

    routed, got = sim(main).value
    assert routed == [3, 1, 0]
    assert got == {"exact": ["a"], "star": ["a", "b"], "qmark": ["a"], "other": []}


def test_handler_receives_message_with_topic_id_and_publish_time():
    """Handlers get a Message carrying topic, data, a lab-wide id and the publish time."""

    async def main(lab):
        bus = ppl.PubSub("b")
        seen = []
        bus.subscribe("t", seen.append)
        await ppl.sleep(2)
        await bus.publish("t", {"x": 1})
        await bus.join()
        return seen[0]

    m = sim(main).value
    assert (m.topic, m.data, m.published_at) == ("t", {"x": 1}, 2.0) and isinstance(m.id, int)


def test_sync_and_async_handlers_both_work_in_order():
    """Each subscriber handles its messages one at a time, in publish order."""

    async def main(lab):
        bus = ppl.PubSub("b")
        out = []

        async def slow(m):
            await ppl.sleep(1)
            out.append(("slow", m.data, lab.now()))

        bus.subscribe("t", slow, buffer=10)
        bus.subscribe("t", lambda m: out.append(("fast", m.data, lab.now())), buffer=10)
        for i in range(3):
            await bus.publish("t", i)
        await bus.join()
        return out

    out = sim(main).value
    assert [o for o in out if o[0] == "fast"] == [("fast", 0, 0), ("fast", 1, 0), ("fast", 2, 0)]
    assert [o for o in out if o[0] == "slow"] == [("slow", 0, 1), ("slow", 1, 2), ("slow", 2, 3)]


def test_drop_oldest_keeps_the_newest_messages():
    """With drop_oldest the slow subscriber ends up seeing the last messages published."""
    trace = scenarios.slow_subscriber(overflow="drop_oldest").trace
    seen = [r["msg"] for r in trace.filter(kind="deliver", peer="slow-phone").to_rows()]
    dropped = [r["msg"] for r in trace.filter(kind="drop", peer="slow-phone").to_rows()]
    assert seen[-4:] == [27, 28, 29, 30]
    assert all(r["reason"] == "drop_oldest" for r in trace.filter(kind="drop").to_rows())
    assert set(seen).isdisjoint(dropped)


def test_drop_newest_keeps_the_backlog():
    """With drop_newest the buffered (older) messages are kept and newcomers dropped."""
    trace = scenarios.slow_subscriber(overflow="drop_newest").trace
    seen = [r["msg"] for r in trace.filter(kind="deliver", peer="slow-phone").to_rows()]
    assert seen[:9] == list(range(1, 10))
    assert 30 not in seen


def test_block_loses_nothing_and_holds_the_publisher_up():
    """With block nothing is dropped and the publisher's waiting is recorded as 'blocked' events."""
    run = scenarios.slow_subscriber(overflow="block")
    v = run.value
    assert v["slow"]["dropped"] == 0
    assert v["slow"]["delivered"] + v["slow"]["pending"] == 30
    assert v["publisher_waited"] > 0
    blocked = run.trace.filter(kind="blocked").to_rows()
    assert blocked and all(r["actor"] == "stadium" and r["waited"] >= 0 for r in blocked)


def test_error_policy_raises_after_delivering_to_the_others():
    """overflow='error' raises BufferFullError naming the subscriber; other subscribers still get it."""

    async def main(lab):
        bus = ppl.PubSub("b")
        fast = bus.subscribe("t", lambda m: None, name="fast")
        bus.subscribe("t", lambda m: None, buffer=1, overflow="error", name="strict")
        await bus.publish("t", 1)  # strict's delivery task has not run yet: buffer now full
        with pytest.raises(ppl.BufferFullError, match=r"'strict'.*full \(1 messages\)"):
            await bus.publish("t", 2)
        await bus.join()
        return fast.delivered

    run = sim(main)
    assert run.value == 2
    assert [r["reason"] for r in run.trace.filter(kind="drop").to_rows()] == ["error"]


@settings(max_examples=40, deadline=None)
@given(
    subscribers=st.lists(
        st.tuples(
            st.integers(1, 6),
            st.sampled_from(["block", "drop_oldest", "drop_newest", "error"]),
            st.floats(0, 0.5),
            st.sampled_from(["t.*", "t.a", "t.b", "u"]),
        ),
        min_size=1,
        max_size=4,
    ),
    topics=st.lists(st.sampled_from(["t.a", "t.b", "u"]), min_size=1, max_size=40),
    gap=st.floats(0, 0.3),
    stop_early=st.booleans(),
)
def test_every_message_is_accounted_for(subscribers, topics, gap, stop_early):
    """For any mix of policies: delivered + dropped + pending == messages routed to each subscriber."""

    async def main(lab):
        bus = ppl.PubSub("b")
        subs = []
        for i, (buf, policy, handling, pattern) in enumerate(subscribers):

            async def handler(m, handling=handling):
                await ppl.sleep(handling)

            subs.append(bus.subscribe(pattern, handler, buffer=buf, overflow=policy, name=f"s{i}"))
        for topic in topics:
            with contextlib.suppress(ppl.BufferFullError):
                await bus.publish(topic, None)
            await ppl.sleep(gap)
        if not stop_early:
            await bus.join()
        return subs

    run = sim(main)
    publishes = run.trace.filter(kind="publish").to_rows()
    for sub in run.value:
        routed_here = sum(1 for p in publishes if sub.matches(p["topic"]))
        delivered = len(run.trace.filter(kind="deliver", peer=sub.name))
        dropped = len(run.trace.filter(kind="drop", peer=sub.name))
        assert delivered == sub.delivered and dropped == sub.dropped
        assert delivered + dropped + sub.pending == routed_here
        if not stop_early:
            assert sub.pending == 0


def test_handler_error_goes_to_on_error_and_delivery_continues():
    """A raising handler is reported to on_error, traced, and the next messages still arrive."""
    reported = []

    async def main(lab):
        bus = ppl.PubSub("b", on_error=lambda exc, msg, sub: reported.append((str(exc), msg.data, sub.name)))

        def handler(m):
            if m.data == 1:
                raise ValueError("bad score")

        sub = bus.subscribe("t", handler, name="ui")
        for i in range(3):
            await bus.publish("t", i)
        await bus.join()
        return sub

    run = sim(main)
    assert reported == [("bad score", 1, "ui")]
    assert run.value.delivered == 3 and len(run.value.errors) == 1
    assert run.trace.filter(kind="error").to_rows()[0]["error"] == "ValueError: bad score"


def test_handler_error_without_on_error_is_not_swallowed():
    """With no on_error, a handler's exception makes simulate() raise BackgroundTaskError."""

    async def main(lab):
        bus = ppl.PubSub("b")
        bus.subscribe("t", lambda m: 1 / 0)
        await bus.publish("t", 1)
        await bus.join()

    with pytest.raises(ppl.BackgroundTaskError, match="ZeroDivisionError"):
        sim(main)


def test_unsubscribe_traces_buffered_messages_and_releases_blocked_publisher():
    """Closing a subscription drops its buffer (traced) and never leaves a publisher hanging."""

    async def main(lab):
        bus = ppl.PubSub("b")

        async def stuck(m):
            await asyncio.Event().wait()

        sub = bus.subscribe("t", stuck, buffer=1, overflow="block", name="stuck")
        await bus.publish("t", 1)  # taken by the handler, which never returns
        await bus.publish("t", 2)  # fills the buffer
        blocked = asyncio.ensure_future(bus.publish("t", 3))
        await ppl.sleep(1)
        assert not blocked.done()
        sub.close()
        await blocked
        return sub

    run = sim(main)
    reasons = [r["reason"] for r in run.trace.filter(kind="drop").to_rows()]
    assert reasons == ["unsubscribed", "unsubscribed"]
    assert run.value.closed and run.value.pending == 0


def test_subscribing_again_with_the_same_name_replaces_the_old_one():
    """Re-running a notebook cell that subscribes name='ui' leaves one subscription, not two."""

    async def main(lab):
        bus = ppl.PubSub("b")
        first = bus.subscribe("t", lambda m: None, name="ui")
        second = bus.subscribe("t", lambda m: None, name="ui")
        return first.closed, second.closed, len(bus.subscriptions)

    assert sim(main).value == (True, False, 1)


def test_a_new_bus_with_the_same_name_closes_the_old_one():
    """The lab registry closes a bus when another with the same explicit name is made."""
    lab = ppl.Lab()
    old = ppl.PubSub("scores", lab=lab)
    old.subscribe("t", lambda m: None)
    ppl.PubSub("scores", lab=lab)
    assert old.closed and old.subscriptions == []


def test_real_time_pubsub_on_asyncio_run():
    """The same bus works on a real event loop, recording real elapsed times."""

    async def main():
        lab = ppl.Lab()
        bus = ppl.PubSub("b", lab=lab)
        got = []
        bus.subscribe("t", got.append)
        await bus.publish("t", "hello")
        await bus.join()
        return got, lab.trace

    got, trace = asyncio.run(main())
    assert [m.data for m in got] == ["hello"]
    assert 0 <= trace.latency().max < 5


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"buffer": 0}, ValueError, r"PubSub.subscribe\(buffer=0\): buffer must be an integer >= 1"),
        ({"buffer": 2.5}, TypeError, r"buffer must be an integer"),
        (
            {"overflow": "spill"},
            ValueError,
            r"overflow must be one of 'block', 'drop_oldest', 'drop_newest', 'error'",
        ),
        ({"name": ""}, ValueError, r"name must be a non-empty string"),
    ],
)
def test_subscribe_rejects_bad_arguments(kwargs, error, message):
    """Bad subscribe arguments fail at the call, naming the parameter and what is allowed."""
    bus = ppl.PubSub(lab=ppl.Lab())
    with pytest.raises(error, match=message):
        bus.subscribe("t", lambda m: None, **kwargs)


def test_subscribe_rejects_bad_pattern_and_handler():
    """An empty pattern or a non-callable handler is refused at once."""
    bus = ppl.PubSub(lab=ppl.Lab())
    with pytest.raises(ValueError, match=r"pattern=''\): pattern must be a non-empty string"):
        bus.subscribe("", print)
    with pytest.raises(TypeError, match=r"handler=42\): handler must be a function"):
        bus.subscribe("t", 42)


@pytest.mark.parametrize("topic", ["", "a.*", 3])
def test_publish_rejects_bad_topics(topic):
    """Topics must be non-empty strings without glob characters."""
    bus = ppl.PubSub(lab=ppl.Lab())
    with pytest.raises(ValueError, match=r"PubSub.publish\(topic=.*\): topic must be a non-empty string"):
        asyncio.run(bus.publish(topic, 1))


def test_closed_bus_refuses_work():
    """A closed bus says so instead of silently dropping."""
    bus = ppl.PubSub(lab=ppl.Lab())
    bus.close()
    with pytest.raises(RuntimeError, match="is closed"):
        asyncio.run(bus.publish("t", 1))
    with pytest.raises(RuntimeError, match="is closed"):
        bus.subscribe("t", print)
