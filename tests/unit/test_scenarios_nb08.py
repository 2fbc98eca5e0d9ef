"""scenarios.hybrid: notebook 08's three wirings of the same uploads, measured from the trace."""

import pytest

from pushpull_lab import scenarios


def test_hybrid_loses_nothing_and_every_dashboard_sees_every_update_at_once():
    """Workers pull (nothing lost, one job each at a time); pushed progress reaches all dashboards in 0 s."""
    value = scenarios.hybrid(design="hybrid", uploads=12, workers=2, steps=4, viewers=2).value
    assert value["completed"] == 12 and value["lost"] == 0
    assert value["missed"] == 0 and value["requests"] == 0
    assert len(value["delays"]) == 12 * 4 * 2 and max(value["delays"]) == 0
    assert value["max_in_flight"] == 1
    # 12 jobs of 2 s on 2 workers, the last added at 1.1 s: the queue spreads them, 6 each.
    assert value["makespan"] == pytest.approx(12.1)


def test_all_pull_dashboards_lag_miss_updates_and_make_requests():
    """Polling every 1 s: delays up to one interval, half the 0.5 s-apart updates never seen, requests paid."""
    value = scenarios.hybrid(design="all_pull", poll_interval=1.0, step_time=0.5).value
    assert value["lost"] == 0 and value["completed"] == 12
    assert 0 < max(value["delays"]) <= 1.0
    assert value["missed"] > 0
    assert value["requests"] >= 2 * int(value["makespan"] / 1.0)


def test_all_push_drops_the_jobs_beyond_each_transcoders_buffer():
    """Pushing a burst round robin: each transcoder holds one job plus `buffer`; the rest are dropped."""
    value = scenarios.hybrid(design="all_push", uploads=12, workers=2, buffer=2).value
    assert value["completed"] == 2 * (1 + 2) and value["lost"] == 12 - 6
    assert value["missed"] == 0 and max(value["delays"]) == 0
    slow_burst = scenarios.hybrid(design="all_push", uploads=12, workers=2, spacing=1.0).value
    assert slow_burst["lost"] == 0  # uploads 1 s apart fit: 2 transcoders finish one every 1 s


def test_hybrid_runs_are_deterministic_and_inputs_are_checked():
    """The same seed gives the same trace; a wrong design names the allowed ones."""
    assert scenarios.hybrid(seed=4).trace.to_rows() == scenarios.hybrid(seed=4).trace.to_rows()
    with pytest.raises(ValueError, match="design"):
        scenarios.hybrid(design="push")
    with pytest.raises(ValueError, match="poll_interval"):
        scenarios.hybrid(poll_interval=0)
