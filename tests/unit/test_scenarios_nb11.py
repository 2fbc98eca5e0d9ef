"""scenarios.py, section 11_latency_vs_resources: one feed followed by short polling, long polling and push,
with every request, empty answer, pushed message and connection counted from the trace."""

import math

import pytest

from pushpull_lab import scenarios


def test_short_polling_makes_clients_over_interval_requests_and_delivers_every_event():
    """20 clients every 0.5 s for 10 s send exactly 20 × 10 / 0.5 requests; every client gets every event."""
    v = scenarios.feed("short", clients=20, interval=0.5, rate=2.0, seconds=10.0).value
    assert v["requests"] == 400
    assert v["events"] > 0 and v["delivered"] == 20 * v["events"]
    assert v["messages"] == 0
    assert 0 < v["empty"] < v["requests"]


def test_short_polling_latency_is_half_the_interval_and_push_and_long_polling_are_instant():
    """Mean latency of short polling within 10 % of interval/2; push and long polling deliver in the same instant."""
    common = {"clients": 50, "rate": 1.0, "seconds": 60.0}
    for interval in (0.2, 2.0):
        latency = scenarios.feed("short", interval=interval, **common).value["latency"]
        assert abs(latency.mean - interval / 2) <= 0.1 * interval / 2, interval
        assert latency.max <= interval + 1e-9
    for design in ("long", "push"):
        v = scenarios.feed(design, **common).value
        assert v["latency"].max == 0 and v["delivered"] == 50 * v["events"], design


def test_the_same_seed_gives_every_design_the_same_events_and_the_same_numbers():
    """Events are drawn before anything else: the same times in every design; a re-run is identical."""

    def arrivals(design, seed=11):
        run = scenarios.feed(design, clients=5, rate=1.5, seconds=20.0, seed=seed)
        return [e.time for e in run.trace.filter(kind={"append", "publish"})]

    assert arrivals("short") == arrivals("long") == arrivals("push")
    assert arrivals("push", seed=1) != arrivals("push", seed=2)
    again = [scenarios.feed("short", clients=5, seconds=20.0).value for _ in range(2)]
    assert again[0] == again[1]


def test_connections_are_held_by_push_all_the_time_and_by_short_polling_only_while_served():
    """Push: clients × seconds connection-seconds; short polling: requests × service; long polling: at least push's."""
    common = {"clients": 30, "rate": 1.0, "seconds": 20.0, "service": 0.05}
    push = scenarios.feed("push", **common).value
    assert push["connection_seconds"] == pytest.approx(30 * 20.0)
    assert push["mean_open"] == pytest.approx(30) and push["peak_open"] == 30
    short = scenarios.feed("short", interval=1.0, **common).value
    # every request holds its connection for 0.05 s; the few still open at the end are cut at the window
    assert short["connection_seconds"] == pytest.approx(short["requests"] * 0.05, rel=0.01)
    assert short["mean_open"] == pytest.approx(30 * 0.05 / 1.0, rel=0.01)
    long = scenarios.feed("long", **common).value
    assert long["mean_open"] >= 30 and long["peak_open"] > 30  # answered and re-asked requests overlap


def test_long_polling_sends_one_request_per_event_per_client_and_none_comes_back_empty():
    """With events much closer than the hold, each client asks once at the start and once after each event."""
    v = scenarios.feed("long", clients=10, rate=1.0, seconds=30.0, hold=60.0).value
    assert v["empty"] == 0
    assert v["requests"] == 10 * (v["events"] + 1)


def test_long_polling_on_a_quiet_feed_asks_again_every_hold():
    """No event in 25 s: each client's held request times out every 5 s and comes back empty."""
    v = scenarios.feed("long", clients=3, rate=1e-9, seconds=25.0, hold=5.0).value
    assert v["events"] == 0
    assert (
        v["requests"] == 3 * 5 and v["empty"] == 3 * 4
    )  # the 5th answer falls at t = 25 s, outside the window


def test_empty_polls_follow_e_to_the_minus_rate_times_interval():
    """The share of empty short polls is close to e^(-λT) for a long enough run (λ measured from the feed)."""
    for interval in (0.5, 2.0):
        v = scenarios.feed("short", clients=4, interval=interval, rate=0.5, seconds=600.0).value
        lam = v["events"] / v["seconds"]
        assert v["empty"] / v["requests"] == pytest.approx(math.exp(-lam * interval), abs=0.03), interval


def test_feed_counts_are_the_trace_counts_in_the_window():
    """requests = connects before the end of the window; empty = empty_poll events; messages = deliveries."""
    run = scenarios.feed("short", clients=4, interval=1.0, rate=1.0, seconds=10.0)
    window = run.trace.filter(until=10.0 - 1e-9)
    assert run.value["requests"] == len(window.filter(kind="connect"))
    assert run.value["empty"] == len(window.filter(kind="empty_poll"))
    push = scenarios.feed("push", clients=4, rate=1.0, seconds=10.0)
    assert push.value["messages"] == len(push.trace.filter(kind="deliver"))


def test_open_connections_steps_from_the_trace():
    """Push: all clients connect at 0 and disconnect at the end; short polling never exceeds its clients."""
    push = scenarios.feed("push", clients=7, rate=1.0, seconds=5.0)
    assert scenarios.open_connections(push.trace) == [(0.0, 7), (5.0, 0)]
    short = scenarios.feed("short", clients=7, interval=0.5, rate=1.0, seconds=5.0)
    steps = scenarios.open_connections(short.trace)
    assert max(n for _, n in steps) <= 7 and steps[-1][1] == 0


def test_feed_cost_prices_requests_messages_and_connection_seconds_per_client_per_second():
    """The cost is the stated sum divided by clients × seconds; prices can be changed one at a time."""
    v = {"clients": 10, "seconds": 100.0, "requests": 2_000, "messages": 500, "connection_seconds": 1_000.0}
    assert scenarios.feed_cost(v) == pytest.approx((2_000 * 1.0 + 500 * 0.1 + 1_000 * 0.01) / 1_000)
    assert scenarios.feed_cost(v, {"message": 1.0}) == pytest.approx((2_000 + 500 + 10) / 1_000)
    push = scenarios.feed("push", clients=10, rate=2.0, seconds=50.0).value
    assert scenarios.feed_cost(push) == pytest.approx(0.01 + 0.1 * push["events"] / 50.0)


def test_short_polling_gets_cheaper_than_push_above_the_crossover_rate():
    """Every 5 s: push is cheaper at 1 event/s, dearer at 4 events/s (the formula's crossover is 1.9/s)."""
    common = {"clients": 4, "seconds": 300.0}

    def gap(rate):
        poll = scenarios.feed("short", interval=5.0, rate=rate, **common).value
        push = scenarios.feed("push", rate=rate, **common).value
        return scenarios.feed_cost(poll) - scenarios.feed_cost(push)

    assert gap(1.0) > 0 > gap(4.0)


def test_feed_sweep_runs_every_interval_then_long_polling_and_push_on_the_same_events():
    """Keys name each run; each value equals the single run with the same arguments."""
    out = scenarios.feed_sweep((0.5, 2.0), clients=3, rate=1.0, seconds=10.0)
    assert list(out) == ["short 0.5 s", "short 2 s", "long", "push"]
    assert out["short 2 s"] == scenarios.feed("short", clients=3, interval=2.0, rate=1.0, seconds=10.0).value
    assert len({v["events"] for v in out.values()}) == 1


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"design": "pool"}, "design must be one of 'short', 'long', 'push'"),
        ({"clients": 0}, "clients must be an integer >= 1"),
        ({"interval": 0}, "interval must be a finite number > 0"),
        ({"rate": -1.0}, "rate must be a finite number > 0"),
        ({"seconds": math.inf}, "seconds must be a finite number > 0"),
        ({"service": -0.1}, "service must be a finite number >= 0"),
    ],
)
def test_feed_rejects_bad_arguments_naming_them(kwargs, says):
    """Bad input fails at the call with a ValueError that names the parameter and what is allowed."""
    with pytest.raises(ValueError, match=says):
        scenarios.feed(**kwargs)


@pytest.mark.parametrize(
    "value, prices, says",
    [
        ({"requests": 1}, None, "value must be the run.value of scenarios.feed"),
        ("x", None, "value must be the run.value"),
        (
            None,
            {"bandwidth": 1.0},
            "prices must be a dict with keys among request, message, connection_second",
        ),
        (None, {"request": -1.0}, r"prices\['request'\] must be a finite number >= 0"),
    ],
)
def test_feed_cost_rejects_bad_arguments(value, prices, says):
    """A value that is not a feed result, an unknown price or a negative one is refused with a reason."""
    good = {"clients": 1, "seconds": 1.0, "requests": 0, "messages": 0, "connection_seconds": 0.0}
    with pytest.raises(ValueError, match=says):
        scenarios.feed_cost(good if value is None else value, prices)


def test_feed_sweep_rejects_an_empty_list_of_intervals():
    """No interval to sweep is an error, not an empty result."""
    with pytest.raises(ValueError, match="intervals must be a non-empty list of seconds"):
        scenarios.feed_sweep(())


def test_keepalive_polling_holds_one_connection_per_client_and_makes_the_same_requests():
    """With keepalive each poller opens one connection and reuses it: same requests, a connection per client."""
    common = dict(clients=10, interval=0.5, rate=1.0, seconds=10.0)
    apart = scenarios.feed("short", **common).value
    run = scenarios.feed("short", keepalive=True, **common)
    kept = run.value
    assert kept["requests"] == apart["requests"] == 200 and kept["empty"] == apart["empty"]
    assert len(run.trace.filter(kind="connect")) == 10 and kept["peak_open"] == 10
    # each client's connection is open from its first poll (within the first 0.5 s) to the end
    assert 10 * 9.5 <= kept["connection_seconds"] <= 10 * 10.0
    assert apart["connection_seconds"] == pytest.approx(200 * 0.05, rel=0.01)
    with pytest.raises(ValueError, match=r"feed\(keepalive=1\): keepalive must be True or False"):
        scenarios.feed("short", keepalive=1)
