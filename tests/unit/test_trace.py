"""trace.py: recording, filtering, and the metrics every figure is computed from."""

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pushpull_lab as ppl
from pushpull_lab.trace import Stats, Trace, format_seconds, percentile


def make(events):
    clock = iter([t for t, *_ in events])
    trace = Trace(lambda: next(clock))
    for _, kind, actor, peer, msg, fields in events:
        trace.record(kind, actor, peer, msg, **fields)
    return trace


SAMPLE = [
    (0.0, "publish", "p", "bus", 1, {"topic": "t"}),
    (0.0, "enqueue", "bus", "a", 1, {"depth": 1}),
    (0.5, "deliver", "bus", "a", 1, {"depth": 0}),
    (1.0, "publish", "p", "bus", 2, {"topic": "t"}),
    (1.0, "enqueue", "bus", "a", 2, {"depth": 1}),
    (1.0, "enqueue", "bus", "b", 2, {"depth": 1}),
    (3.0, "deliver", "bus", "a", 2, {"depth": 0}),
    (3.5, "deliver", "bus", "b", 2, {"depth": 0}),
]


def test_rows_keep_time_order_and_all_fields():
    """to_rows gives one dict per event with time, kind, actor, peer, msg and the fields."""
    rows = make(SAMPLE).to_rows()
    assert rows[0] == {"time": 0.0, "kind": "publish", "actor": "p", "peer": "bus", "msg": 1, "topic": "t"}
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)


def test_latency_pairs_each_end_with_its_messages_start():
    """Latency is end time minus the first start of the same message, per end event."""
    t = make(SAMPLE)
    assert t.latencies() == [0.5, 2.0, 2.5]
    assert t.latencies(peer="b") == [2.5]
    s = t.latency()
    assert (s.count, s.max) == (3, 2.5) and s.mean == pytest.approx(5 / 3)


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=200))
def test_percentiles_match_the_standard_library(values):
    """Our percentile is linear interpolation, the same as statistics.quantiles(method='inclusive')."""
    ordered = sorted(values)
    if len(values) >= 2:
        q = statistics.quantiles(values, n=100, method="inclusive")
        assert percentile(ordered, 50) == pytest.approx(q[49], abs=1e-6)
        assert percentile(ordered, 90) == pytest.approx(q[89], abs=1e-6)
        assert percentile(ordered, 99) == pytest.approx(q[98], abs=1e-6)
    assert percentile(ordered, 100) == max(values) and percentile(ordered, 0) == min(values)


def test_empty_stats_say_so():
    """No samples gives count 0 and NaNs, printed as 'no samples'."""
    s = Stats.of([])
    assert s.count == 0 and str(s) == "no samples"


def test_counts_by_kind_actor_and_peer():
    """counts() tallies events by kind, actor or peer."""
    t = make(SAMPLE)
    assert t.counts() == {"deliver": 3, "enqueue": 3, "publish": 2}
    assert t.counts(by="peer")["a"] == 4
    with pytest.raises(ValueError, match=r"by must be one of"):
        t.counts(by="colour")


def test_throughput_counts_per_window():
    """throughput() is events per second in consecutive windows up to the trace's end."""
    assert make(SAMPLE).throughput("deliver", window=1.0) == [(0.0, 1.0), (1.0, 0.0), (2.0, 0.0), (3.0, 2.0)]
    with pytest.raises(ValueError, match="window must be a number > 0"):
        make(SAMPLE).throughput(window=0)


def test_depth_reads_the_depth_field_for_a_name():
    """depth(name) is the (time, depth) series of events touching that buffer."""
    assert make(SAMPLE).depth("a") == [(0.0, 1), (0.5, 0), (1.0, 1), (3.0, 0)]


def test_filter_by_kind_set_and_time_window():
    """filter() keeps matching events only, and accepts a set of kinds and a time window."""
    t = make(SAMPLE).filter(kind={"publish", "deliver"}, since=0.5, until=3.0)
    assert [(e.time, e.kind) for e in t] == [(0.5, "deliver"), (1.0, "publish"), (3.0, "deliver")]


def test_actors_in_order_of_appearance():
    """actors lists everyone who initiated or received an exchange, first-seen first."""
    assert make(SAMPLE).actors == ["p", "bus", "a", "b"]


def test_tail_reads_the_newest_events_in_order():
    """tail(n) gives the last n events, oldest first, with their fields."""
    t = make(SAMPLE)
    assert [(e.time, e.kind, e.fields) for e in t.tail(2)] == [
        (3.0, "deliver", {"depth": 0}),
        (3.5, "deliver", {"depth": 0}),
    ]
    assert t.tail(0) == [] and len(t.tail(100)) == len(SAMPLE)


def test_limit_keeps_the_newest_events():
    """A limited trace drops its oldest events and counts everything it ever recorded."""
    t = Trace(lambda: 0.0, limit=3)
    for i in range(5):
        t.record("x", "a", msg=i)
    assert [e.msg for e in t] == [2, 3, 4] and t.recorded == 5


def test_text_and_html_views_show_the_events():
    """table(), repr and the HTML view name the kinds and are truncated with a note."""
    t = make(SAMPLE)
    assert "publish" in t.table() and "... 3 more events" in t.table(limit=5)
    assert "<table>" in t._repr_html_() and "deliver: 3" in t._repr_html_()
    assert repr(t).startswith("<Trace 8 events")


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0 s"),
        (2e-6, "2 µs"),
        (0.0123, "12.3 ms"),
        (1.5, "1.5 s"),
        (float("nan"), "–"),
        (0.9999999999, "1 s"),
        (0.0009999999, "1 ms"),
        (-0.25, "-250 ms"),
    ],
)
def test_format_seconds_picks_the_unit(seconds, text):
    """Durations read as a person would say them."""
    assert format_seconds(seconds) == text


def test_simulated_trace_is_stamped_with_virtual_time():
    """A primitive in simulate() records the virtual time of each event."""

    async def main(lab):
        bus = ppl.PubSub("b")
        bus.subscribe("t", lambda m: None)
        await ppl.sleep(4)
        await bus.publish("t")

    assert {e.time for e in ppl.simulate(main).trace} == {4.0}
