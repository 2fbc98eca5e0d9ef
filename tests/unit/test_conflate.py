"""push/conflate.py: the per-key conflating queue and subscriber keep exactly the latest value per key."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pushpull_lab as ppl
from pushpull_lab.push.conflate import ConflatingQueue, ConflatingSubscriber


def test_queue_replaces_in_place_and_pops_oldest_key_first():
    """A put for a pending key replaces its item and keeps its turn; pop takes the longest-pending key."""
    q = ConflatingQueue()
    assert q.put("ABC", 1) is None
    assert q.put("XYZ", 7) is None
    assert q.put("ABC", 2) == 1
    assert q.keys() == ["ABC", "XYZ"] and len(q) == 2
    assert q.pop() == ("ABC", 2)
    assert q.pop() == ("XYZ", 7)
    with pytest.raises(IndexError, match="empty"):
        q.pop()


def test_queue_refuses_unhashable_keys():
    """An unhashable key raises TypeError naming the parameter."""
    with pytest.raises(TypeError, match=r"put\(key=\['a'\]\)"):
        ConflatingQueue().put(["a"], 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers()), max_size=60))
def test_queue_holds_exactly_the_latest_item_per_key_in_first_seen_order(puts):
    """After any puts, draining gives each key once, with its last item, in order of first put."""
    q = ConflatingQueue()
    for key, item in puts:
        q.put(key, item)
    drained = [q.pop() for _ in range(len(q))]
    latest = {}
    for key, item in puts:
        latest[key] = item  # a dict keeps first-insertion order
    assert drained == list(latest.items())


def _ticker(handling: float, *, ticks: int = 60, symbols: str = "ABC", interval: float = 0.1):
    async def main(lab):
        bus = ppl.PubSub("ticker")
        shown = {}

        async def draw(message):
            await ppl.sleep(handling)
            shown[message.topic] = message.data

        sub = ConflatingSubscriber(bus, "price.*", draw, name="phone")
        last = {}
        for n in range(ticks):
            topic = f"price.{symbols[lab.rng.randrange(len(symbols))]}"
            last[topic] = n
            await bus.publish(topic, n)
            await ppl.sleep(interval)
        await sub.join()
        return shown, last, sub

    return ppl.simulate(main, seed=4)


@pytest.mark.parametrize("handling", [0.0, 0.05, 0.35, 1.0])
def test_subscriber_ends_with_exactly_the_latest_value_of_every_key(handling):
    """Fast or slow, the client's final view holds each symbol's last published price."""
    shown, last, sub = _ticker(handling).value
    assert shown == last
    assert sub.received == sub.delivered + sub.conflated + sub.pending == 60


def test_a_fast_client_gets_everything_and_a_slow_one_gets_fewer_fresher_values():
    """No conflation when the client keeps up; a slow one saves messages and never waits behind a backlog."""
    fast = _ticker(0.0)
    _, _, fast_sub = fast.value
    assert (fast_sub.delivered, fast_sub.conflated) == (60, 0)
    slow = _ticker(0.35)
    _, _, slow_sub = slow.value
    assert slow_sub.conflated > 0 and slow_sub.delivered < 60
    # at most one value per symbol waits: a delivered value is never older than
    # (symbols ahead of it + the one being drawn) x handling
    ages = slow.trace.latencies("publish", "deliver", peer="phone")
    assert max(ages) <= 3 * 0.35 + 1e-9


def test_trace_accounts_for_every_message_with_conflate_events():
    """conflate events name the superseded message and its replacement; counts match the counters."""
    run = _ticker(0.35)
    _, _, sub = run.value
    conflates = run.trace.filter(kind="conflate", peer="phone")
    assert len(conflates) == sub.conflated
    delivered = {e.msg for e in run.trace.filter(kind="deliver", peer="phone")}
    superseded = {e.msg for e in conflates}
    assert not delivered & superseded
    assert len(delivered) + len(superseded) == 60
    for e in conflates:
        assert e.fields["replaced_by"] > e.msg


def test_custom_key_conflates_across_topics():
    """key=fn groups messages by what fn returns (here the data's 'sym'), not by topic."""

    async def main(lab):
        bus = ppl.PubSub("b")
        got = []

        async def slow(m):
            await ppl.sleep(1)
            got.append(m.data)

        sub = ConflatingSubscriber(bus, "*", slow, key=lambda m: m.data["sym"], name="s")
        await bus.publish("x", {"sym": "A", "v": 1})
        await ppl.sleep(0)
        await bus.publish("y", {"sym": "A", "v": 2})
        await bus.publish("z", {"sym": "A", "v": 3})
        await sub.join()
        return got

    assert ppl.simulate(main).value == [{"sym": "A", "v": 1}, {"sym": "A", "v": 3}]


def test_bad_arguments_raise_at_the_call():
    """A non-PubSub bus, a non-callable handler or key: TypeError naming the parameter."""

    async def main(lab):
        bus = ppl.PubSub("b")
        with pytest.raises(TypeError, match="bus="):
            ConflatingSubscriber("b", "*", print)
        with pytest.raises(TypeError, match="handler="):
            ConflatingSubscriber(bus, "*", 3)
        with pytest.raises(TypeError, match="key="):
            ConflatingSubscriber(bus, "*", print, key="topic")
        with pytest.raises(ValueError, match="pattern="):
            ConflatingSubscriber(bus, "", print)

    ppl.simulate(main)


def test_same_name_replaces_and_close_drops_pending_into_the_trace():
    """A second subscriber with the same name closes the first; closing drops pending values as 'drop'."""

    async def main(lab):
        bus = ppl.PubSub("b")

        async def slow(m):
            await ppl.sleep(10)

        first = ConflatingSubscriber(bus, "*", slow, name="s")
        second = ConflatingSubscriber(bus, "*", slow, name="s")
        assert first.closed and not second.closed
        for t in ("a", "b", "c"):
            await bus.publish(t, 1)
        await ppl.sleep(1)
        second.close()
        return second.pending

    run = ppl.simulate(main)
    assert run.value == 0
    assert [e.fields["key"] for e in run.trace.filter(kind="drop", peer="s")] == ["b", "c"]


def test_handler_errors_are_reported():
    """A handler that raises leaves an error event; delivery goes on with the next key."""

    def handler(m):
        if m.data == 1:
            raise ValueError("bad tick")

    async def main(lab):
        bus = ppl.PubSub("b")
        sub = ConflatingSubscriber(bus, "*", handler, name="s")
        await bus.publish("a", 1)
        await bus.publish("b", 2)
        await sub.join()
        return sub.delivered

    run = ppl.simulate(main, errors="record")
    assert run.value == 2
    assert [e.fields["error"] for e in run.trace.filter(kind="error", actor="s")] == ["ValueError: bad tick"]
