"""The 13_reliability section of scenarios.py: delivery under crashes, ordering, the poison message."""

from __future__ import annotations

import pytest

import pushpull_lab as ppl
from pushpull_lab import scenarios


def test_delivery_modes_differ_as_the_theory_says():
    """Same crashes: push and at-most-once lose, at-least-once repeats, effectively-once neither."""
    runs = {mode: scenarios.delivery_under_crashes(mode) for mode in scenarios.DELIVERY_MODES}
    v = {mode: run.value for mode, run in runs.items()}
    assert all(x["sent"] == 16 for x in v.values())
    assert v["push"]["lost"] > v["at-most-once"]["lost"] > 0
    assert v["at-most-once"]["duplicated"] == 0
    assert v["at-least-once"]["lost"] == 0 and v["at-least-once"]["duplicated"] > 0
    assert v["effectively-once"]["lost"] == v["effectively-once"]["duplicated"] == 0
    # the store absorbed exactly the repeats that at-least-once applied twice
    assert v["effectively-once"]["absorbed"] == v["at-least-once"]["duplicated"]


def test_push_loses_what_is_published_while_the_subscriber_is_down():
    """Every message published with no subscriber (routed=0) is among the lost ones."""
    run = scenarios.delivery_under_crashes("push")
    unrouted = sum(1 for e in run.trace if e.kind == "publish" and e.fields["routed"] == 0)
    assert unrouted > 0 and run.value["lost"] >= unrouted


def test_no_crash_means_nothing_lost_or_repeated_in_any_mode():
    """Without crashes every mode applies each message once, in order."""
    for mode in scenarios.DELIVERY_MODES:
        value = scenarios.delivery_under_crashes(mode, crashes=()).value
        assert (value["lost"], value["duplicated"], value["reordered"]) == (0, 0, 0), mode


def test_a_crash_after_the_effect_duplicates_one_before_it_loses():
    """One crash: before the in-hand job's effect at-most-once loses it; after it at-least-once repeats it."""
    before = {m: scenarios.delivery_under_crashes(m, crashes=(1.05,)).value for m in scenarios.DELIVERY_MODES}
    after = {m: scenarios.delivery_under_crashes(m, crashes=(1.15,)).value for m in scenarios.DELIVERY_MODES}
    assert (before["at-most-once"]["lost"], before["at-least-once"]["duplicated"]) == (1, 0)
    assert (after["at-most-once"]["lost"], after["at-least-once"]["duplicated"]) == (0, 1)


def test_delivery_counts_reads_a_trace():
    """lost / duplicated / reordered are computed from effect events (message numbers give the order)."""

    async def main(lab):
        bus = ppl.PubSub("b")
        for _ in range(4):
            await bus.publish("t", None)
        for n in (0, 2, 1, 2):
            lab.trace.record("effect", "c", "ledger", n)

    value = scenarios.delivery_counts(ppl.simulate(main).trace)
    assert value == {"sent": 4, "deliveries": 0, "lost": 1, "duplicated": 1, "reordered": 1, "absorbed": 0}


def test_ordering_one_consumer_fifo_many_reorder_partitions_keep_keys():
    """FIFO with one consumer; parallel consumers reorder; a keyed Log never reorders within a key."""
    assert scenarios.ordering("queue", consumers=1).value["reordered"] == 0
    parallel = [scenarios.ordering("queue", consumers=3, seed=s).value for s in range(5)]
    logged = [scenarios.ordering("log", consumers=3, seed=s).value for s in range(5)]
    assert all(v["applied"] == 30 for v in parallel + logged)
    assert all(v["reordered"] > 0 for v in parallel + logged)
    assert any(v["per_key_reordered"] > 0 for v in parallel)
    assert all(v["per_key_reordered"] == 0 for v in logged)


def test_poison_message_is_tried_attempts_times_then_dead_lettered():
    """The poison order runs `attempts` times, fails, and its copy waits in orders-dlq."""
    value = scenarios.poison_message(attempts=4).value
    assert value["tries"] == 4
    assert (value["counts"]["completed"], value["counts"]["failed"]) == (5, 1)
    [dead] = value["dlq"]
    assert dead["data"]["data"] == {"n": 3} and dead["data"]["attempts_made"] == 4
    assert dead["data"]["failed_reason"] == "ValueError: order 3 has a malformed address"


def test_scenarios_are_deterministic():
    """Same arguments, same numbers and the same trace length."""
    a, b = (scenarios.delivery_under_crashes("at-least-once") for _ in range(2))
    assert a.value == b.value and len(a.trace) == len(b.trace)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: scenarios.delivery_under_crashes("exactly-once"), "mode must be one of"),
        (lambda: scenarios.delivery_under_crashes("push", crashes=(2.0, 2.2)), "crashes must be increasing"),
        (
            lambda: scenarios.delivery_under_crashes("push", effect_at=1.5),
            "effect_at must be between 0 and 1",
        ),
        (lambda: scenarios.ordering("queue", keys=7), "keys must be an integer from 1 to 6"),
        (lambda: scenarios.ordering("topic"), "kind must be one of"),
        (lambda: scenarios.poison_message(poison=6), "poison must be an order number from 0 to 5"),
    ],
)
def test_bad_arguments_are_refused(call, message):
    """Each scenario names the bad parameter and what is allowed."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call()
