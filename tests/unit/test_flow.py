"""flow.py: AMQP-style prefetch and Reactive-Streams-style credit, checked from the trace."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pushpull_lab as ppl
from pushpull_lab.errors import BackgroundTaskError
from pushpull_lab.flow import CreditChannel, PrefetchQueue
from pushpull_lab.trace import direction


def in_flight_per_consumer(trace):
    """Replay deliver/ack events: the most messages each consumer held unacknowledged."""
    held, most = {}, {}
    for e in trace:
        if e.kind == "deliver":
            held[e.peer] = held.get(e.peer, 0) + 1
        elif e.kind == "ack":
            held[e.actor] -= 1
        elif e.kind == "returned":
            held[e.peer] -= 1
        for name, n in held.items():
            most[name] = max(most.get(name, 0), n)
    return most


# -- prefetch --------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    prefetch=st.integers(1, 6),
    consumers=st.integers(1, 3),
    gap=st.floats(0.0, 0.3),
    service=st.floats(0.01, 0.5),
    delay=st.sampled_from([0.0, 0.02, 0.1]),
    seed=st.integers(0, 1000),
)
def test_never_more_than_prefetch_unacked_whatever_the_rates(prefetch, consumers, gap, service, delay, seed):
    """Random producer and consumer rates: no consumer ever holds more than prefetch unacked; all handled once."""

    async def main(lab):
        q = PrefetchQueue("q", delay=delay)
        handled = []

        def make(i):
            async def handle(message):
                handled.append(message.data)
                await ppl.sleep(lab.rng.expovariate(1 / service) * (i + 1))

            return handle

        cs = [q.consume(make(i), prefetch=prefetch, name=f"c{i}") for i in range(consumers)]
        for n in range(30):
            await q.publish(n)
            await ppl.sleep(lab.rng.uniform(0, 2 * gap))
        await q.join()
        return sorted(handled), [c.max_unacked for c in cs]

    run = ppl.simulate(main, seed=seed)
    handled, most = run.value
    assert handled == list(range(30))
    assert all(m <= prefetch for m in most)
    assert all(n <= prefetch for n in in_flight_per_consumer(run.trace).values())
    assert run.trace.counts()["ack"] == 30


def test_fast_producer_fills_the_broker_not_the_consumer():
    """Prefetch bounds the consumer's share; the rest waits in the broker and publish never waits."""

    async def main(lab):
        q = PrefetchQueue("q")
        c = q.consume(lambda m: ppl.sleep(1.0), prefetch=3, name="slow")
        for n in range(20):
            await q.publish(n)
        published_at = lab.now()
        peak = q.backlog
        await q.join()
        return published_at, peak, c.max_unacked

    run = ppl.simulate(main)
    published_at, peak, most = run.value
    assert published_at == 0.0 and peak == 17 and most == 3
    assert max(d for _, d in run.trace.depth("q")) == 17
    assert run.now == pytest.approx(20.0)


def test_consumers_take_turns_and_a_faster_one_gets_more():
    """Deliveries go round robin to consumers with a free slot, so the faster consumer handles more."""

    async def main(lab):
        q = PrefetchQueue("q")
        fast = q.consume(lambda m: ppl.sleep(0.1), prefetch=1, name="fast")
        slow = q.consume(lambda m: ppl.sleep(0.4), prefetch=1, name="slow")
        for n in range(50):
            await q.publish(n)
        await q.join()
        return fast.acked, slow.acked

    fast, slow = ppl.simulate(main).value
    assert fast + slow == 50 and fast == 40 and slow == 10


def test_with_a_link_delay_a_window_of_one_idles_the_consumer():
    """With delay d and service s, prefetch 1 takes s + 2d per message; a window over the round trip takes s."""

    def finish(prefetch):
        async def main(lab):
            q = PrefetchQueue("q", delay=0.05)
            q.consume(lambda m: ppl.sleep(0.1), prefetch=prefetch, name="c")
            for n in range(20):
                await q.publish(n)
            await q.join()
            return lab.now()

        return ppl.simulate(main).value

    assert finish(1) == pytest.approx(20 * (0.1 + 2 * 0.05))
    assert finish(3) == pytest.approx(0.05 + 20 * 0.1 + 0.05)  # first delivery's trip, work, last ack


def test_closing_a_consumer_returns_its_unacked_messages_to_the_others():
    """A consumer that leaves puts its unacknowledged messages back; another handles them; none is lost."""

    async def main(lab):
        q = PrefetchQueue("q")
        got = {"a": [], "b": []}

        async def a(message):
            got["a"].append(message.data)
            await ppl.sleep(10)

        ca = q.consume(a, prefetch=3, name="a")
        for n in range(6):
            await q.publish(n)
        await ppl.sleep(1)
        ca.close()
        q.consume(lambda m: got["b"].append(m.data), prefetch=2, name="b")
        await q.join()
        return got

    run = ppl.simulate(main)
    assert run.value == {"a": [0], "b": [0, 1, 2, 3, 4, 5]}
    returned = run.trace.filter(kind="returned")
    assert [e.msg for e in returned] == [1, 2, 3] and {e.peer for e in returned} == {"a"}


def test_closing_the_queue_drops_the_backlog_traced_and_wakes_join():
    """close(): the backlog becomes 'drop' events (reason closed) and a waiting join returns."""

    async def main(lab):
        q = PrefetchQueue("q")
        q.consume(lambda m: ppl.sleep(5), prefetch=1, name="c")
        for n in range(4):
            await q.publish(n)
        joiner = asyncio.ensure_future(q.join())
        await ppl.sleep(1)
        q.close()
        await joiner
        with pytest.raises(RuntimeError, match="closed"):
            await q.publish(9)
        return lab.now()

    run = ppl.simulate(main)
    assert run.value == 1.0
    drops = run.trace.filter(kind="drop").to_rows()
    assert len(drops) == 4 and {d["reason"] for d in drops} == {"closed"}


def test_handler_errors_are_traced_reported_and_acknowledged():
    """A raising handler: an 'error' event by the consumer, on_error called, the message acked, work goes on."""
    seen = []

    async def main(lab):
        q = PrefetchQueue(
            "q", on_error=lambda exc, msg, consumer: seen.append((str(exc), msg.data, consumer.name))
        )

        def handle(message):
            if message.data == 1:
                raise KeyError("boom")

        q.consume(handle, prefetch=2, name="c")
        for n in range(3):
            await q.publish(n)
        await q.join()

    run = ppl.simulate(main)
    errors = run.trace.filter(kind="error").to_rows()
    assert [(e["actor"], e["peer"], e["error"]) for e in errors] == [("c", "q", "KeyError: 'boom'")]
    assert seen == [("'boom'", 1, "c")] and run.trace.counts()["ack"] == 3


def test_handler_error_without_on_error_fails_the_simulation():
    """Without on_error the exception reaches the loop: simulate raises BackgroundTaskError."""

    async def main(lab):
        q = PrefetchQueue("q")
        q.consume(lambda m: 1 / 0, name="c")
        await q.publish(1)
        await q.join()

    with pytest.raises(BackgroundTaskError, match="ZeroDivisionError"):
        ppl.simulate(main)


def test_trace_directions_deliveries_are_pushed_by_the_broker():
    """deliver goes broker -> consumer (push); ack and active are initiated by the consumer."""

    async def main(lab):
        q = PrefetchQueue("q")
        q.consume(lambda m: None, prefetch=1, name="c")
        await q.publish("x", sender="shop")
        await q.join()

    rows = [(e.kind, e.actor, e.peer) for e in ppl.simulate(main).trace]
    assert rows == [
        ("publish", "shop", "q"),
        ("deliver", "q", "c"),
        ("active", "c", "q"),
        ("ack", "c", "q"),
    ]
    assert direction("deliver") == "push"


# -- credit ----------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    initial=st.integers(1, 8),
    data=st.data(),
    gap=st.floats(0.0, 0.3),
    service=st.floats(0.01, 0.5),
    delay=st.sampled_from([0.0, 0.03]),
    seed=st.integers(0, 1000),
)
def test_credit_never_negative_and_in_flight_never_above_the_window(initial, data, gap, service, delay, seed):
    """Random rates: the producer's credit never drops below 0 and never more than `initial` are unhandled."""
    refill = data.draw(st.integers(1, initial))

    async def main(lab):
        ch = CreditChannel(
            lambda m: ppl.sleep(lab.rng.expovariate(1 / service)),
            name="ch",
            consumer="c",
            initial=initial,
            refill=refill,
            delay=delay,
        )
        lows, in_flight = [], []
        for n in range(30):
            assert await ch.send(n)
            lows.append(ch.credit)
            in_flight.append(ch.sent - ch.handled)
            await ppl.sleep(lab.rng.uniform(0, 2 * gap))
        await ch.join()
        return min(lows), max(in_flight), ch.handled

    run = ppl.simulate(main, seed=seed)
    low, most, handled = run.value
    assert low >= 0 and most <= initial and handled == 30
    assert all(row["credit"] >= 0 for row in run.trace.filter(kind="deliver").to_rows())
    # from the trace alone: sent minus started never exceeds the credit granted so far
    granted = started = sent = 0
    for e in run.trace:
        granted += e.fields.get("n", 0) if e.kind == "request" else 0
        sent += e.kind == "deliver"
        started += e.kind == "active"
        assert sent <= granted and sent - started <= initial


def test_producer_waits_at_zero_credit_and_resumes_on_request():
    """initial=0: send waits; request(2) at t=3 lets exactly two through; the wait is traced as 'blocked'."""

    async def main(lab):
        ch = CreditChannel(lambda m: None, name="ch", consumer="c", initial=0, refill=None)
        sent_at = []

        async def producer():
            for n in range(3):
                await ch.send(n, sender="p")
                sent_at.append(lab.now())

        task = asyncio.ensure_future(producer())
        await ppl.sleep(3)
        assert ch.waiting == 1 and sent_at == []
        ch.request(2)
        await ppl.sleep(1)
        waiting = ch.waiting
        ch.request(1)
        await task
        return sent_at, waiting

    run = ppl.simulate(main)
    sent_at, waiting = run.value
    assert sent_at == [3.0, 3.0, 4.0] and waiting == 1
    blocked = run.trace.filter(kind="blocked").to_rows()
    assert [(b["actor"], b["msg"], b["waited"]) for b in blocked] == [("p", 1, 3.0), ("p", 3, 1.0)]


def test_a_credit_grant_is_a_pull_initiated_by_the_consumer():
    """request events have the consumer as actor (pull); deliveries go channel -> consumer (push)."""

    async def main(lab):
        ch = CreditChannel(lambda m: None, name="ch", consumer="c", initial=1, refill=1)
        await ch.send("x", sender="p")
        await ch.join()

    rows = [(e.kind, e.actor, e.peer, e.fields.get("n")) for e in ppl.simulate(main).trace]
    assert rows == [
        ("request", "c", "ch", 1),
        ("publish", "p", "ch", None),
        ("deliver", "ch", "c", None),
        ("active", "c", "ch", None),
        ("request", "c", "ch", 1),
    ]
    assert direction("request") == "pull"


def test_refill_in_batches_grants_batch_after_batch():
    """refill=4 with initial=8: the consumer asks for 4 more after every 4 handled."""

    async def main(lab):
        ch = CreditChannel(lambda m: ppl.sleep(0.1), name="ch", initial=8, refill=4)
        for n in range(20):
            await ch.send(n)
        await ch.join()

    grants = [row["n"] for row in ppl.simulate(main).trace.filter(kind="request").to_rows()]
    assert grants == [8, 4, 4, 4, 4, 4]


def test_close_wakes_waiting_producers_and_drops_unhandled():
    """close(): a producer waiting for credit wakes with False; unhandled messages are traced as drops."""

    async def main(lab):
        ch = CreditChannel(lambda m: ppl.sleep(10), name="ch", consumer="c", initial=2, refill=None)
        await ch.send(0)
        await ch.send(1)
        waiter = asyncio.ensure_future(ch.send(2))
        await ppl.sleep(1)
        ch.close()
        result = await waiter
        with pytest.raises(RuntimeError, match="closed"):
            await ch.send(3)
        with pytest.raises(RuntimeError, match="closed"):
            ch.request(1)
        return result, lab.now()

    run = ppl.simulate(main)
    assert run.value == (False, 1.0)
    drops = run.trace.filter(kind="drop").to_rows()
    assert sorted(d["msg"] for d in drops) == [1, 2, 3] and {d["reason"] for d in drops} == {"closed"}


def test_credit_handler_errors_are_traced_and_the_link_goes_on():
    """A raising handler: 'error' event, on_error called with the channel, the refill still granted."""
    seen = []

    async def main(lab):
        def handle(message):
            if message.data == 0:
                raise ValueError("bad reading")

        ch = CreditChannel(
            handle, name="ch", consumer="c", initial=1, refill=1, on_error=lambda e, m, c: seen.append(c.name)
        )
        for n in range(3):
            await ch.send(n)
        await ch.join()
        return ch.handled

    run = ppl.simulate(main)
    assert run.value == 3 and seen == ["ch"]
    assert [(e.actor, e.fields["error"]) for e in run.trace.filter(kind="error")] == [
        ("c", "ValueError: bad reading")
    ]


def test_same_name_replaces_the_old_primitive():
    """Re-running a cell: a new queue or channel with the same name closes the old one."""

    async def main(lab):
        old_q, old_c = PrefetchQueue("q"), CreditChannel(lambda m: None, name="c")
        PrefetchQueue("q"), CreditChannel(lambda m: None, name="c")
        return old_q.closed, old_c.closed

    assert ppl.simulate(main).value == (True, True)


def test_runs_in_real_time_too():
    """The same code on a real asyncio loop: credit throttles the producer, prefetch delivers everything."""

    async def main():
        lab = ppl.Lab()
        q = PrefetchQueue("q", lab=lab)
        c = q.consume(lambda m: asyncio.sleep(0.01), prefetch=2, name="c")
        ch = CreditChannel(lambda m: asyncio.sleep(0.01), name="ch", initial=2, refill=1, lab=lab)
        for n in range(5):
            await q.publish(n)
            await ch.send(n)
        await q.join()
        await ch.join()
        q.close()
        ch.close()
        return c.acked, ch.handled, ch.waited, lab.now()

    acked, handled, waited, elapsed = asyncio.run(main())
    assert (acked, handled) == (5, 5)
    assert waited > 0.01 and elapsed >= 0.04


# -- arguments -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: PrefetchQueue(""), ValueError, r"PrefetchQueue\(name=''\)"),
        (lambda: PrefetchQueue("q", delay=-1), ValueError, r"delay must be a finite number >= 0"),
        (lambda: PrefetchQueue("q", on_error=3), TypeError, r"on_error must be a function"),
        (
            lambda: PrefetchQueue("q").consume(lambda m: None, prefetch=0),
            ValueError,
            r"prefetch must be an integer >= 1",
        ),
        (lambda: PrefetchQueue("q").consume(lambda m: None, prefetch=2.5), TypeError, r"prefetch=2.5"),
        (lambda: PrefetchQueue("q").consume("f"), TypeError, r"handler must be a function"),
        (lambda: CreditChannel(None), TypeError, r"CreditChannel\(handler=None\)"),
        (lambda: CreditChannel(print, initial=-1), ValueError, r"initial must be an integer >= 0"),
        (lambda: CreditChannel(print, initial=2, refill=0), ValueError, r"refill must be an integer >= 1"),
        (lambda: CreditChannel(print, initial=2, refill=3), ValueError, r"refill must be <= initial \(2\)"),
        (lambda: CreditChannel(print, initial=True), TypeError, r"initial=True"),
        (lambda: CreditChannel(print, delay=float("nan")), ValueError, r"delay"),
        (lambda: CreditChannel(print, consumer=" c"), ValueError, r"consumer"),
        (
            lambda: CreditChannel(print, initial=0, refill=None).request(0),
            ValueError,
            r"n must be an integer >= 1",
        ),
    ],
)
def test_bad_arguments_fail_at_the_call_naming_the_parameter(make, error, match):
    """Bad input raises at the call with the parameter, the value and what is allowed."""
    with pytest.raises(error, match=match):
        make()


def test_the_module_docstring_example_gives_the_counts_it_shows():
    """The usage example in flow.py's docstring runs, and its trace counts are the ones written there."""
    import ast
    import textwrap

    from pushpull_lab import flow

    doc = flow.__doc__
    example = textwrap.dedent(doc[doc.index("::\n") + 3 : doc.index("Trace (")])
    code, _, shown = example.partition("run.trace.counts()  # ")
    namespace = {}
    exec(compile(code, "flow.__doc__", "exec"), namespace)
    assert namespace["run"].trace.counts() == ast.literal_eval(shown.strip())
