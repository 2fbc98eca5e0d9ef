"""scenarios.backpressure / backpressure_sweep / prefetch_link (notebook 12), checked against the trace."""

import pytest

from pushpull_lab import scenarios
from pushpull_lab.scenarios import BACKPRESSURE_STRATEGIES

LOSSY = ("drop_oldest", "drop_newest", "error")
LOSSLESS = ("block", "queue", "prefetch", "credit")


@pytest.mark.parametrize("strategy", BACKPRESSURE_STRATEGIES)
def test_every_message_is_handled_or_lost_exactly_once(strategy):
    """At twice the consumer's rate, handled + lost = messages, read from the trace's own events."""
    run = scenarios.backpressure(strategy, ratio=2.0, messages=120)
    v = run.value
    assert v["handled"] + v["lost"] == 120
    counts = run.trace.counts()
    assert counts.get("drop", 0) == v["lost"]
    assert v["latency"].count == v["handled"]


def test_the_lossy_policies_lose_under_overload_and_not_without_it():
    """drop_* and error lose messages when the producer is 2x faster, none at half speed with room."""
    for s in LOSSY:
        assert scenarios.backpressure(s, ratio=2.0).value["lost"] > 0
        assert scenarios.backpressure(s, ratio=0.5, buffer=50).value["lost"] == 0
    assert (
        scenarios.backpressure("error", ratio=2.0).value["refused"]
        == scenarios.backpressure("error", ratio=2.0).value["lost"]
    )


def test_lossless_strategies_lose_nothing_even_at_three_times_the_rate():
    """block, queue, prefetch and credit hand every message to the consumer."""
    for s in LOSSLESS:
        v = scenarios.backpressure(s, ratio=3.0).value
        assert v["lost"] == 0 and v["handled"] == v["messages"]


def test_memory_is_bounded_only_where_something_bounds_it():
    """Push buffers and credit hold at most buffer (+1 a blocked producer holds); the queue grows with the ratio."""
    for s in ("drop_oldest", "drop_newest", "error", "credit"):
        for ratio in (1.5, 3.0):
            assert scenarios.backpressure(s, ratio=ratio, buffer=8).value["peak_held"] <= 8
    assert scenarios.backpressure("block", ratio=3.0, buffer=8).value["peak_held"] == 9
    queue = [scenarios.backpressure("queue", ratio=r).value["peak_held"] for r in (1.5, 2.0, 3.0)]
    assert queue == sorted(queue) and queue[-1] > 100


def test_prefetch_protects_the_consumer_but_the_broker_holds_the_backlog():
    """Prefetch: at most prefetch messages at the consumer, while the total backlog equals the queue's."""
    for buffer in (3, 10):
        pre = scenarios.backpressure("prefetch", ratio=2.0, buffer=buffer).value
        assert pre["peak_at_consumer"] <= buffer
        assert pre["peak_held"] == scenarios.backpressure("queue", ratio=2.0).value["peak_held"]


def test_only_the_blocking_strategies_hold_the_producer():
    """block and credit make the producer wait and finish late; the others keep its schedule."""
    for s in BACKPRESSURE_STRATEGIES:
        v = scenarios.backpressure(s, ratio=2.0).value
        late = v["producer_done"] - v["schedule"]
        if s in ("block", "credit"):
            assert v["producer_waited"] > 1.0 and late == pytest.approx(v["producer_waited"], abs=1e-6)
        else:
            assert v["producer_waited"] == 0.0 and late == pytest.approx(0.0, abs=1e-9)


def test_same_seed_same_workload_for_every_strategy():
    """With nothing overflowing, all strategies give the same latencies: they share the random draws."""
    p99s = {scenarios.backpressure(s, ratio=0.5, buffer=50).value["p99"] for s in BACKPRESSURE_STRATEGIES}
    assert len(p99s) == 1
    assert (
        scenarios.backpressure("queue", seed=1).value["p99"] != scenarios.backpressure("queue").value["p99"]
    )


def test_sweep_returns_one_row_per_ratio():
    """backpressure_sweep: {strategy: [value per ratio]} in the order asked."""
    sweep = scenarios.backpressure_sweep(("credit", "queue"), (0.5, 2.0), messages=50)
    assert list(sweep) == ["credit", "queue"]
    assert [row["ratio"] for row in sweep["queue"]] == [0.5, 2.0]


def test_prefetch_window_must_cover_the_round_trip():
    """A 50 ms link and 20 ms work: prefetch 1 gets 1/(s + 2d); prefetch >= 1 + 2d/s keeps the consumer busy."""
    one = scenarios.prefetch_link(1).value
    assert one["throughput"] == pytest.approx(1 / (0.02 + 2 * 0.05), rel=1e-6)
    assert scenarios.prefetch_link(5).value["busy"] < 0.9 < scenarios.prefetch_link(6).value["busy"]
    assert scenarios.prefetch_link(6).value["max_unacked"] == 6


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: scenarios.backpressure("lossy"), ValueError, r"strategy must be one of 'drop_oldest'"),
        (lambda: scenarios.backpressure(ratio=0), ValueError, r"ratio must be a finite number > 0"),
        (lambda: scenarios.backpressure(buffer=0), ValueError, r"buffer must be an integer >= 1"),
        (lambda: scenarios.backpressure_sweep(ratios=()), ValueError, r"ratios must list"),
        (lambda: scenarios.backpressure_sweep(("x",)), ValueError, r"strategies"),
        (lambda: scenarios.prefetch_link(0), ValueError, r"prefetch must be an integer >= 1"),
        (lambda: scenarios.prefetch_link(2, delay=-1), ValueError, r"delay"),
    ],
)
def test_bad_arguments_are_refused_clearly(call, error, match):
    """Bad input names the parameter and what is allowed."""
    with pytest.raises(error, match=match):
        call()
