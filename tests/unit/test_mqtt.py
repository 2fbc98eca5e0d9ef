"""push/mqtt.py: MQTT topic matching, QoS 0 / QoS 1 over lossy links, the trace, bad input."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pushpull_lab as ppl
from pushpull_lab.push.mqtt import Broker, check_filter, topic_matches

# (filter, topic, matches?) — the examples of MQTT 3.1.1 section 4.7 and a few edges.
MATCH_TABLE = [
    ("sport/tennis/player1", "sport/tennis/player1", True),
    ("sport/tennis/player1", "sport/tennis/player2", False),
    ("sport/tennis/player1/#", "sport/tennis/player1", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
    ("sport/#", "sport", True),
    ("#", "sport/tennis", True),
    ("sport/tennis/+", "sport/tennis/player1", True),
    ("sport/tennis/+", "sport/tennis/player1/tournament", False),
    ("sport/+", "sport", False),
    ("sport/+", "sport/", True),
    ("+/+", "/finance", True),
    ("/+", "/finance", True),
    ("+", "/finance", False),
    ("+/tennis/#", "sport/tennis/player1", True),
    ("site/+/+/temp", "site/f2/r7/temp", True),
    ("site/+/+/temp", "site/f2/temp", False),
    ("Site/#", "site/f2", False),
    ("#", "$SYS/uptime", False),
    ("+/monitor/Clients", "$SYS/monitor/Clients", False),
    ("$SYS/#", "$SYS/monitor/Clients", True),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
]


@pytest.mark.parametrize("topic_filter, topic, expected", MATCH_TABLE)
def test_topic_matching_table(topic_filter, topic, expected):
    """Each row of the MQTT specification's examples (plus edges) matches as the spec says."""
    assert topic_matches(topic_filter, topic) is expected


def _reference(topic_filter: str, topic: str) -> bool:
    """An independent matcher: translate the filter into a regular expression."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    if topic_filter == "#":
        return True
    parts = []
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return re.fullmatch("/".join(parts) + "(/.*)?", topic) is not None
        parts.append("[^/]*" if level == "+" else re.escape(level))
        del i
    return re.fullmatch("/".join(parts), topic) is not None


LEVEL = st.sampled_from(["a", "b", "", "$x", "ab"])
TOPICS = st.lists(LEVEL, min_size=1, max_size=4).map("/".join).filter(bool)
FILTERS = (
    st.tuples(
        st.lists(st.sampled_from(["a", "b", "", "+", "$x"]), min_size=0, max_size=4),
        st.booleans(),
    )
    .map(lambda t: "/".join([*t[0], "#"] if t[1] else t[0]))
    .filter(bool)
)


@settings(max_examples=400, deadline=None)
@given(FILTERS, TOPICS)
def test_wildcard_matching_agrees_with_a_regex_reference(topic_filter, topic):
    """For random filters (with + and #) and topics, topic_matches equals a regex translation."""
    assert topic_matches(topic_filter, topic) == _reference(topic_filter, topic)


@pytest.mark.parametrize("bad", ["a/#/b", "a#", "a/b+", "+a/b", ""])
def test_invalid_filters_are_refused_with_the_rule(bad):
    """A filter with # not last, a wildcard inside a level, or empty, raises ValueError naming the parameter."""
    with pytest.raises(ValueError, match="topic_filter"):
        check_filter("topic_matches", "topic_filter", bad)


def test_publish_refuses_wildcards_and_bad_arguments():
    """publish() with a wildcard topic or qos 2, connect() with loss 1.5: clear ValueErrors at the call."""

    async def main(lab):
        broker = Broker("b")
        c = broker.connect("c")
        with pytest.raises(ValueError, match=r"publish\(topic='a/\+'\)"):
            await c.publish("a/+", 1)
        with pytest.raises(ValueError, match=r"qos must be one of 0, 1"):
            await c.publish("a", 1, qos=2)
        with pytest.raises(ValueError, match=r"loss=1.5"):
            broker.connect("d", loss=1.5)
        with pytest.raises(ValueError, match="retry_after"):
            broker.connect("d", retry_after=0)
        with pytest.raises(TypeError, match="max_retries"):
            broker.connect("d", max_retries=1.5)
        with pytest.raises(ValueError, match="unsubscribe"):
            c.unsubscribe("x/#")

    ppl.simulate(main)


def _run(qos: int, loss: float, messages: int, *, max_retries: int = 10, seed: int = 0):
    async def main(lab):
        broker = Broker("broker")
        got = []
        sink = broker.connect("sink", on_message=got.append)
        sink.subscribe("t/#", qos=1)
        source = broker.connect("source", loss=loss, retry_after=0.2, max_retries=max_retries)
        for n in range(messages):
            await source.publish(f"t/{n % 3}", n, qos=qos)
            await ppl.sleep(0.05)
        await broker.join()
        return got, sink, source

    return ppl.simulate(main, seed=seed)


def test_lossless_link_delivers_every_message_once_at_both_qos():
    """With loss 0, QoS 0 and QoS 1 each deliver every message exactly once."""
    for qos in (0, 1):
        got, sink, _ = _run(qos, 0.0, 30).value
        assert sorted(m.payload for m in got) == list(range(30))
        assert sink.duplicates == 0


def test_qos0_loses_about_the_loss_rate_and_never_duplicates():
    """QoS 0 over a 20% lossy link: the lost share is within 4 binomial sigmas of 0.2; no duplicates."""
    n, loss = 2000, 0.2
    run = _run(0, loss, n)
    got, sink, _ = run.value
    delivered = {m.id for m in got}
    lost_share = 1 - len(delivered) / n
    sigma = (loss * (1 - loss) / n) ** 0.5
    assert abs(lost_share - loss) < 4 * sigma
    assert sink.duplicates == 0
    # the trace says the same: one 'lost' PUBLISH per message that never arrived
    assert run.trace.counts()["lost"] == n - len(delivered)


@pytest.mark.parametrize("loss", [0.1, 0.5, 0.7])
def test_qos1_never_loses_with_enough_retries_but_duplicates(loss):
    """QoS 1 with loss < 1 and enough retries (an attempt succeeds w.p. (1-loss)^2) loses nothing."""
    got, sink, source = _run(1, loss, 200, max_retries=200).value
    assert {m.payload for m in got} == set(range(200))
    assert source.gave_up == 0
    assert sink.duplicates == len(got) - 200


def test_qos1_duplicates_come_from_lost_acknowledgements_and_carry_the_dup_flag():
    """Every duplicate at the subscriber follows a lost PUBACK or a timeout, and arrives after a resend."""
    run = _run(1, 0.3, 300, max_retries=100)
    got, sink, _ = run.value
    assert sink.duplicates > 0
    resends = sum(1 for e in run.trace.filter(kind="send", actor="source") if e.fields["dup"])
    lost = [e for e in run.trace.filter(kind="lost") if "source" in (e.actor, e.peer)]
    # one attempt at a time: each failed attempt lost exactly one packet, and was resent once
    assert resends == len(lost) > 0
    # a copy reaches the sink twice exactly when the broker's PUBACK to the source was lost
    assert sink.duplicates == sum(e.fields["packet"] == "PUBACK" for e in lost)
    assert all(m.dup is False for m in got)  # the broker's own hop sends each copy fresh


def test_qos1_gives_up_after_max_retries_on_a_dead_link():
    """On a link that loses everything, QoS 1 sends 1 + max_retries times, then records give_up."""
    run = _run(1, 1.0, 3, max_retries=4)
    got, _, source = run.value
    assert got == [] and source.gave_up == 3
    sends = run.trace.filter(kind="send", actor="source")
    assert len(sends) == 3 * 5
    assert [e.fields["attempts"] for e in run.trace.filter(kind="give_up")] == [5, 5, 5]


def test_subscription_qos_caps_the_delivery_qos():
    """A QoS 1 publication to a QoS 0 subscription travels the last hop at QoS 0."""

    async def main(lab):
        broker = Broker("b")
        got = []
        sub = broker.connect("sub", on_message=got.append)
        sub.subscribe("x", qos=0)
        pub = broker.connect("pub")
        await pub.publish("x", 1, qos=1)
        await broker.join()
        return got

    run = ppl.simulate(main)
    assert [m.qos for m in run.value] == [0]
    sends = {e.actor: e.fields["qos"] for e in run.trace.filter(kind="send")}
    assert sends == {"pub": 1, "b": 0}


def test_overlapping_filters_deliver_once_at_the_highest_qos():
    """A message matching two of a client's filters is delivered once, at the higher QoS."""

    async def main(lab):
        broker = Broker("b")
        got = []
        sub = broker.connect("sub", on_message=got.append)
        sub.subscribe("a/#", qos=0)
        sub.subscribe("a/+", qos=1)
        pub = broker.connect("pub")
        await pub.publish("a/b", 1, qos=1)
        await pub.publish("a/b/c", 2, qos=1)
        await broker.join()
        return [(m.payload, m.qos) for m in got]

    assert ppl.simulate(main).value == [(1, 1), (2, 0)]


def test_trace_latency_is_end_to_end_and_the_actors_are_the_initiators():
    """publish→deliver latency is two link delays; send's actor is the sender, puback's the receiver."""

    async def main(lab):
        broker = Broker("b")
        sub = broker.connect("sub", lambda m: None, delay=0.03)
        sub.subscribe("x", qos=1)
        pub = broker.connect("pub", delay=0.02)
        await pub.publish("x", 1, qos=1)
        await broker.join()

    trace = ppl.simulate(main).trace
    assert trace.latencies("publish", "deliver") == [pytest.approx(0.05)]
    assert [(e.actor, e.peer) for e in trace.filter(kind="send")] == [("pub", "b"), ("b", "sub")]
    assert [(e.actor, e.peer) for e in trace.filter(kind="puback")] == [("b", "pub"), ("sub", "b")]


def test_same_seed_same_trace():
    """A lossy QoS 1 run is reproducible: the same seed gives identical trace rows."""
    a = _run(1, 0.3, 50, seed=5).trace.to_rows()
    b = _run(1, 0.3, 50, seed=5).trace.to_rows()
    assert a == b


def test_disconnected_subscriber_stops_receiving_and_nothing_hangs():
    """After disconnect no copy is delivered and broker.join() still returns."""

    async def main(lab):
        broker = Broker("b")
        got = []
        sub = broker.connect("sub", on_message=got.append, loss=0.5, retry_after=0.1)
        sub.subscribe("x", qos=1)
        pub = broker.connect("pub")
        for n in range(10):
            await pub.publish("x", n, qos=1)
        sub.disconnect()
        for n in range(10, 20):
            await pub.publish("x", n, qos=1)
        await broker.join()
        return [m.payload for m in got]

    assert all(p < 10 for p in ppl.simulate(main, seed=2).value)


def test_async_handler_errors_are_recorded_not_swallowed():
    """An on_message that raises leaves an 'error' event and makes simulate raise by default."""

    async def boom(message):
        raise RuntimeError("bad reading")

    async def main(lab):
        broker = Broker("b")
        sub = broker.connect("sub", on_message=boom)
        sub.subscribe("x")
        await broker.connect("pub").publish("x", 1)
        await broker.join()

    with pytest.raises(ppl.BackgroundTaskError):
        ppl.simulate(main)
    run = ppl.simulate(main, errors="record")
    assert [e.fields["error"] for e in run.trace.filter(kind="error", actor="sub")] == [
        "RuntimeError: bad reading"
    ]
