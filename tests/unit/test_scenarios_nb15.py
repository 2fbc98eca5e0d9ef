"""scenarios.py, section 15_patterns: chat room, stock ticker, IoT telemetry and ETL, measured from traces."""

import itertools
import math

import pytest

from pushpull_lab import scenarios
from pushpull_lab.trace import Stats, Trace

# -- chat room ---------------------------------------------------------------------------------


def _offline_messages(schedule, messages=12, interval=1.0):
    """Message numbers sent while each member was offline (messages go out at 0.5 + n * interval)."""
    out = {}
    for member, sessions in schedule.items():
        out[member] = {
            n
            for n in range(messages)
            if not any(a <= 0.5 + n * interval and (b is None or 0.5 + n * interval < b) for a, b in sessions)
        }
    return out


@pytest.mark.parametrize("history", [False, True])
def test_chat_members_get_pushed_only_what_is_sent_while_they_are_online(history):
    """Live deliveries = messages sent while online; without history the rest is missed, with it recovered."""
    value = scenarios.chat_room(history=history).value
    offline = _offline_messages(scenarios.CHAT_SCHEDULE)
    assert value["sent"] == 12
    for member in scenarios.CHAT_SCHEDULE:
        assert value[member]["live"] == 12 - len(offline[member])
        if history:
            assert (value[member]["history"], value[member]["missed"]) == (len(offline[member]), 0)
        else:
            assert (value[member]["history"], value[member]["missed"]) == (0, len(offline[member]))
    assert (
        len(offline["chloe"]) == 6 and len(offline["ben"]) == 4
    )  # the default schedule has something to miss


def test_chat_history_never_shows_a_message_twice():
    """A rejoining member who subscribes first and then reads the history sees each message once."""
    run = scenarios.chat_room(history=True)
    for member in scenarios.CHAT_SCHEDULE:
        seen = [e.msg for e in run.trace.filter(kind="seen", actor=member)]
        assert len(seen) == len(set(seen)) == 12


def test_chat_history_reads_start_at_the_members_cursor():
    """A returning member pulls only the messages it lacks: its consume events equal what it missed live."""
    run = scenarios.chat_room(history=True)
    offline = _offline_messages(scenarios.CHAT_SCHEDULE)
    for member in scenarios.CHAT_SCHEDULE:
        assert len(run.trace.filter(kind="consume", actor=member)) == len(offline[member])


def test_chat_presence_timeline_follows_the_schedule_and_is_pushed():
    """Each join and leave is a presence event at the scheduled time, and is delivered to members online."""
    run = scenarios.chat_room()
    assert run.value["online"] == [
        (0.0, "ana", True),
        (0.0, "ben", True),
        (4.2, "ben", False),
        (6.2, "chloe", True),
        (8.2, "ben", True),
    ]
    # chloe's join at 6.2 s is pushed to ana (online) but not to ben (offline then)
    presence_deliveries = {e.peer for e in run.trace.filter(kind="deliver", since=6.2, until=6.2)}
    assert "ana:presence" in presence_deliveries and "ben:presence" not in presence_deliveries
    assert run.value["roster"]["ana"] == ["ana", "ben", "chloe"]


def test_chat_custom_schedule_and_bad_schedule():
    """A custom schedule is honoured; overlapping sessions raise ValueError naming schedule."""
    schedule = {"x": [(0.0, None)], "y": [(2.0, 3.0)]}
    value = scenarios.chat_room(schedule=schedule, messages=5, history=False).value
    offline = _offline_messages(schedule, messages=5)
    assert value["y"]["missed"] == len(offline["y"]) == 4
    with pytest.raises(ValueError, match="schedule="):
        scenarios.chat_room(schedule={"x": [(0.0, 5.0), (4.0, None)]})
    with pytest.raises(ValueError, match="schedule="):
        scenarios.chat_room(schedule={})


# -- stock ticker ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", scenarios.TICKER_MODES)
def test_ticker_accounts_for_every_update(mode):
    """For both screens, received = delivered + saved, and the desk (instant) gets everything."""
    value = scenarios.ticker(mode=mode).value
    for screen in ("desk", "phone"):
        v = value[screen]
        assert v["received"] == v["delivered"] + v["saved"] == 200
    assert value["desk"]["saved"] == 0 and value["desk"]["staleness"] == {"mean": 0.0, "max": 0.0}


def test_ticker_modes_differ_as_the_lesson_says():
    """Slow phone: fifo saves nothing but lags; latest and conflate save most; only conflate is right and fresh."""
    v = {mode: scenarios.ticker(mode=mode, handling=0.2).value["phone"] for mode in scenarios.TICKER_MODES}
    assert v["fifo"]["saved"] == 0 and v["fifo"]["lag"] > 20
    assert v["latest"]["saved"] > 100 and v["conflate"]["saved"] > 100
    assert v["latest"]["wrong"] > 0 and v["conflate"]["wrong"] == v["fifo"]["wrong"] == 0
    assert (
        v["conflate"]["staleness"]["mean"] < v["latest"]["staleness"]["mean"] < v["fifo"]["staleness"]["mean"]
    )
    # with one pending value per symbol, no delivered value waited longer than symbols x handling
    assert max(v["conflate"]["ages"]) <= 4 * 0.2 + 1e-9


@pytest.mark.parametrize("seed, handling", list(itertools.product([0, 1, 2], [0.1, 0.35])))
def test_ticker_conflation_always_ends_on_the_last_price(seed, handling):
    """Whatever the seed and speed, the conflated phone's final prices are the last published ones."""
    assert scenarios.ticker(mode="conflate", handling=handling, seed=seed).value["phone"]["wrong"] == 0


def test_ticker_with_an_instant_phone_all_modes_agree():
    """When the phone keeps up (handling 0), nothing is saved and nothing is ever stale."""
    for mode in scenarios.TICKER_MODES:
        phone = scenarios.ticker(mode=mode, handling=0.0).value["phone"]
        assert (phone["saved"], phone["wrong"], phone["staleness"]["max"]) == (0, 0, 0.0)


def test_staleness_on_a_hand_made_trace():
    """One symbol published at 0 and 1, shown at 0 and 3 (window 0-1): stale from 1 on, mean 0 over [0, 1]."""
    now = [0.0]
    trace = Trace(lambda: now[0])
    trace.record("publish", "exchange", "ticker", 1, topic="price.A")
    trace.record("shown", "phone", None, 1, symbol="A", price=1.0)
    now[0] = 1.0
    trace.record("publish", "exchange", "ticker", 2, topic="price.A")
    assert scenarios.ticker_summary(trace)["phone"]["staleness"] == {"mean": 0.0, "max": 0.0}
    now[0] = 2.0
    trace.record("publish", "exchange", "ticker", 3, topic="price.A")
    # window [0, 2]: msg 1 is stale from t=1, and still on screen at 2: area 1*1/2 over 2 s
    assert scenarios.ticker_summary(trace)["phone"]["staleness"] == {"mean": 0.25, "max": 1.0}


def test_ticker_bad_arguments():
    """Unknown mode or too many symbols: ValueError naming the parameter."""
    with pytest.raises(ValueError, match="mode="):
        scenarios.ticker(mode="lifo")
    with pytest.raises(ValueError, match="symbols=9"):
        scenarios.ticker(symbols=9)


# -- IoT telemetry -----------------------------------------------------------------------------


def test_iot_expected_counts_follow_the_wildcards():
    """dashboard (site/+/+/temperature) expects half, archive (site/#) all, floor-1-alarm one floor."""
    v = scenarios.iot_telemetry(qos=0, loss=0.0, readings=10).value
    assert v["dashboard"]["expected"] == 2 * 2 * 10
    assert v["archive"]["expected"] == 2 * 2 * 10 * 2
    assert v["floor-1-alarm"]["expected"] == 2 * 10 * 2
    for name in scenarios.IOT_SUBSCRIBERS:
        assert (v[name]["lost"], v[name]["duplicates"]) == (0, 0)


def test_iot_qos0_loses_what_the_radio_loses_and_qos1_loses_nothing():
    """QoS 0: the archive's losses are exactly the lost packets, none resent; QoS 1: none lost, some duplicated."""
    q0 = scenarios.iot_telemetry(qos=0, loss=0.2).value
    assert q0["archive"]["lost"] == q0["lost_packets"] > 0 and q0["resent"] == 0
    assert abs(q0["archive"]["lost"] / q0["archive"]["expected"] - 0.2) < 4 * math.sqrt(0.2 * 0.8 / 240)
    q1 = scenarios.iot_telemetry(qos=1, loss=0.2).value
    assert q1["gave_up"] == 0
    for name in scenarios.IOT_SUBSCRIBERS:
        assert q1[name]["lost"] == 0 and q1[name]["unique"] == q1[name]["expected"]
    assert q1["archive"]["duplicates"] > 0 and q1["resent"] == q1["lost_packets"]


def test_iot_bad_arguments():
    """qos 2 and loss 2: ValueError naming the parameter."""
    with pytest.raises(ValueError, match="qos="):
        scenarios.iot_telemetry(qos=2)
    with pytest.raises(ValueError, match="loss="):
        scenarios.iot_telemetry(loss=2)


# -- ETL ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 7, 10, 100])
def test_etl_without_a_crash_loads_each_record_once(batch):
    """No crash: every record loaded once, one checkpoint per batch."""
    v = scenarios.etl_job(batch=batch).value
    assert (v["loaded"], v["reprocessed"], v["resumed_from"]) == (100, 0, None)
    assert v["checkpoints"] == math.ceil(100 / batch)


@pytest.mark.parametrize("batch, crash_after", [(10, 37), (10, 40), (25, 90), (1, 50), (100, 99)])
def test_etl_crash_reprocesses_what_came_after_the_last_checkpoint(batch, crash_after):
    """A crash after k loads redoes the k-th record's batch up to it: ((k - 1) mod batch) + 1 records."""
    v = scenarios.etl_job(batch=batch, crash_after=crash_after).value
    redo = (crash_after - 1) % batch + 1
    assert v["reprocessed"] == redo
    assert v["resumed_from"] == crash_after - redo
    assert v["unique"] == 100 and v["loaded"] == 100 + redo


def test_etl_small_batches_cost_checkpoints():
    """Smaller batches mean more checkpoints and a longer run without a crash."""
    small, large = scenarios.etl_job(batch=2).value, scenarios.etl_job(batch=50).value
    assert small["checkpoints"] > large["checkpoints"] and small["finished"] > large["finished"]


def test_etl_bad_arguments():
    """crash_after beyond the records, or batch 0: a clear error naming the parameter."""
    with pytest.raises(ValueError, match="crash_after=101"):
        scenarios.etl_job(crash_after=101)
    with pytest.raises(ValueError, match="batch"):
        scenarios.etl_job(batch=0)


def test_scenarios_are_deterministic():
    """The same arguments give the same trace rows (virtual time, seeded rng)."""
    for make in (scenarios.chat_room, scenarios.ticker, scenarios.iot_telemetry, scenarios.etl_job):
        assert make().trace.to_rows() == make().trace.to_rows()


def test_ages_are_seconds_not_float_noise():
    """Delivery ages are rounded to the nanosecond, so an instant delivery reads exactly 0."""
    ages = scenarios.ticker(mode="latest").value["phone"]["ages"]
    assert Stats.of(ages).count > 0 and min(ages) == 0.0
