"""scenarios.py, section 10_scaling: push fan-out at scale, competing consumers, bursts, M/M/c."""

import pytest

from pushpull_lab import scenarios, theory


def test_fanout_accounts_for_every_message_of_every_kind_of_client():
    """Per kind of client, delivered + dropped + pending = clients × published; fast clients get all at once."""
    run = scenarios.fanout_at_scale(subscribers=50, messages=30, slow=3, offline=2, buffer=5)
    v = run.value
    assert v["published"] == 30 and v["subscribers"] == 50
    for kind, clients in (("fast", 45), ("slow", 3), ("offline", 2)):
        row = v["per_kind"][kind]
        assert row["clients"] == clients
        assert row["delivered"] + row["dropped"] + row["pending"] == clients * 30, kind
    fast, slow, offline = (v["per_kind"][k] for k in ("fast", "slow", "offline"))
    assert fast["delivered"] == 45 * 30 and fast["dropped"] == 0 and fast["max_delay"] == 0
    assert offline["delivered"] == 2  # the first message each, handed to a dead connection
    assert slow["dropped"] > 0 and offline["dropped"] > 0
    assert v["deliveries"] == run.trace.counts()["deliver"]
    assert v["burst"] == 50  # one publish: 50 deliveries at the same instant
    # The broker holds a full buffer for each client that is behind.
    assert v["backlog_at_end"] == v["peak_backlog"] == 5 * 5


def test_fanout_work_grows_with_the_audience_and_nothing_is_held_for_fast_clients():
    """All-fast clients: deliveries = clients × messages, no backlog, no drop."""
    for n in (1, 10, 200):
        v = scenarios.fanout_at_scale(subscribers=n, messages=7).value
        assert (v["deliveries"], v["dropped"], v["peak_backlog"], v["burst"]) == (7 * n, 0, 0, n)


def test_block_makes_every_client_wait_for_the_slowest():
    """overflow='block' with slow clients: no drops, but the producer is held and fast clients get the
    last message late."""
    v = scenarios.fanout_at_scale(subscribers=100, messages=30, slow=2, overflow="block").value
    assert v["dropped"] == 0 and v["publisher_held"] > 1.0
    assert v["publisher_waiting"] == 0  # every wait ended: the run completed
    assert v["last_publish"] > 29 * 0.1 + 1.0
    # the last tick was due at 2.9 s; fast clients get it after the producer's last wait for room
    assert v["per_kind"]["fast"]["last_delivery"] >= v["last_publish"] > 2.9 + 5.0


def test_block_with_an_offline_client_stops_the_broadcast():
    """overflow='block' and one dead connection: after its buffer fills, nobody gets anything more."""
    run = scenarios.fanout_at_scale(
        subscribers=20, messages=30, offline=1, buffer=4, overflow="block", until=30.0
    )
    v = run.value
    assert not run.completed and run.now == 30.0
    assert v["published"] == 6  # 1 in the dead handler + 4 buffered, the 6th blocks
    assert v["per_kind"]["fast"]["delivered"] == 19 * 5
    # the producer has waited since the 6th publish (0.5 s) and was still waiting when the run stopped
    assert v["last_publish"] == 0.5
    assert v["publisher_held"] == v["publisher_waiting"] == pytest.approx(30.0 - 0.5)


def test_fanout_is_deterministic_and_checks_its_arguments():
    """Same arguments, same numbers; impossible mixes are refused naming the parameter."""
    a = scenarios.fanout_at_scale(subscribers=30, slow=3, offline=1).value
    assert a == scenarios.fanout_at_scale(subscribers=30, slow=3, offline=1).value
    with pytest.raises(
        ValueError, match=r"fanout_at_scale\(slow=5, offline=6\): slow \+ offline must be <= subscribers"
    ):
        scenarios.fanout_at_scale(subscribers=10, slow=5, offline=6)
    with pytest.raises(ValueError, match=r"overflow must be one of"):
        scenarios.fanout_at_scale(subscribers=10, overflow="queue")


@pytest.mark.parametrize("workers", [1, 5, 10, 20, 40])
def test_competing_consumers_throughput_is_the_smaller_of_capacity_and_offer(workers):
    """Throughput = min(workers / duration, rate); each worker holds one job at most; busy workers share evenly."""
    v = scenarios.competing_consumers(workers=workers, rate=10.0, duration=1.0, seconds=10.0).value
    assert v["throughput"] == pytest.approx(min(workers, 10.0), rel=0.02)
    assert v["utilisation"] == pytest.approx(min(1.0, 10.0 / workers), rel=0.02)
    assert v["max_in_flight"] == 1
    counts = list(v["per_worker"].values())
    assert sum(counts) == 100
    if workers <= 10:  # every worker is always busy: they take turns exactly
        assert max(counts) - min(counts) <= 1


def test_competing_consumers_checks_speeds():
    """speeds must give one factor per worker."""
    with pytest.raises(ValueError, match=r"speeds must be None or a list of 3"):
        scenarios.competing_consumers(workers=3, speeds=[1.0, 2.0])


def test_pull_shares_work_by_speed_and_round_robin_push_waits_for_the_slowest():
    """Workers 1x, 2x, 4x slower: pulled jobs split about 4:2:1 and finish near the ideal; pushed round
    robin they split 1:1:1 and the slowest worker sets the makespan."""
    pull = scenarios.load_balance("pull").value
    push = scenarios.load_balance("push").value
    assert list(push["per_worker"].values()) == [20, 20, 20]
    assert push["makespan"] == 80.0
    a, b, c = pull["per_worker"].values()
    assert a + b + c == 60 and a > b > c and a >= 3 * c
    assert pull["makespan"] <= 1.1 * pull["ideal"] < push["makespan"]


def test_queue_absorbs_a_burst_that_a_push_buffer_drops():
    """Same arrivals: the queue keeps every job and drains at its workers' pace; the push buffer of 50
    overflows and loses the rest."""
    pull = scenarios.burst("pull").value
    push = scenarios.burst("push").value
    for v in (pull, push):
        assert v["processed"] + v["lost"] == v["arrived"] == 440
    assert pull["lost"] == 0 and pull["peak_backlog"] > 150
    assert pull["drained_at"] is not None and pull["drain_rate"] == pytest.approx(pull["capacity"], rel=0.02)
    assert push["lost"] > 100 and push["peak_backlog"] == 50


def test_mmc_queue_reports_the_erlang_c_value_and_a_measurement_near_it():
    """The M/M/c scenario's formula value is theory.mmc_wait, and its measurement lies in its own 99 % interval
    around it (seed and size as in notebook 10)."""
    v = scenarios.mmc_queue(2, seed=2).value
    assert v["arrival_rate"] == pytest.approx(1.4)
    assert v["erlang_c"] == theory.mmc_wait(1.4, 1.0, 2)
    assert 0 < v["half_width"] < 0.5 * v["erlang_c"]
    assert abs(v["measured"] - v["erlang_c"]) <= v["half_width"]
    with pytest.raises(ValueError, match=r"utilisation must be < 1"):
        scenarios.mmc_queue(2, utilisation=1.0)
