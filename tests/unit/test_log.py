"""pull/log.py: partitions, keyed routing, consumer groups, rebalancing, offsets, commits, lag."""

import asyncio
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pushpull_lab as ppl
from pushpull_lab.pull.log import Consumer, Log, Record, range_assignment

KEYS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", b"raw-bytes", 42, "ünïcode"]


def sim(main, **kw):
    return ppl.simulate(main, **kw)


async def drain(consumer, max_records=100):
    """Poll without waiting until nothing is left; return everything read."""
    out = []
    while batch := await consumer.poll(max_records=max_records, timeout=0):
        out.extend(batch)
    return out


# -- producing --------------------------------------------------------------------------------


def test_keyed_routing_is_the_same_in_other_processes():
    """A key goes to the same partition in processes with different hash seeds (crc32, not hash())."""
    script = (
        "import pushpull_lab as ppl\n"
        f"keys = {KEYS!r}\n"
        "async def main(lab):\n"
        "    log = ppl.Log('t', partitions=7)\n"
        "    return [(await log.append(None, key=k)).partition for k in keys]\n"
        "print(ppl.simulate(main).value)\n"
    )

    async def main(lab):
        log = ppl.Log("t", partitions=7)
        return [(await log.append(None, key=k)).partition for k in KEYS]

    here = sim(main).value
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == str(here)
    assert len(set(here)) > 1  # the keys really spread over partitions


def test_same_key_same_partition_and_order_kept_per_partition():
    """Records with one key share a partition; each partition's offsets count 0, 1, 2 in append order."""

    async def main(lab):
        log = ppl.Log("orders", partitions=3)
        recs = [await log.append(i, key=f"k{i % 4}") for i in range(40)]
        return log, recs

    log, recs = sim(main).value
    by_key = {}
    for r in recs:
        by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(ps) == 1 for ps in by_key.values())
    for p in range(3):
        kept = log.records(p)
        assert [r.offset for r in kept] == list(range(len(kept)))
        assert [r.value for r in kept] == sorted(r.value for r in kept)
        assert all(log.partition_for(r.key) == p for r in kept)
    assert log.end_offsets() == {p: len(log.records(p)) for p in range(3)}


def test_unkeyed_records_go_round_robin():
    """Records without a key take the partitions in turn."""

    async def main(lab):
        log = ppl.Log("t", partitions=3)
        return [(await log.append(i)).partition for i in range(7)]

    assert sim(main).value == [0, 1, 2, 0, 1, 2, 0]


def test_record_fields_and_append_trace():
    """append returns a Record with id, topic, place, key, value and time, and traces producer → log."""

    async def main(lab):
        log = ppl.Log("orders", partitions=2)
        await ppl.sleep(1.5)
        return await log.append({"total": 3}, key="a", sender="shop")

    run = sim(main)
    rec = run.value
    assert isinstance(rec, Record)
    assert (rec.topic, rec.offset, rec.key, rec.value, rec.appended_at) == (
        "orders",
        0,
        "a",
        {"total": 3},
        1.5,
    )
    row = run.trace.filter(kind="append").to_rows()[0]
    assert row == {
        "time": 1.5,
        "kind": "append",
        "actor": "shop",
        "peer": "orders",
        "msg": rec.id,
        "partition": rec.partition,
        "offset": 0,
        "depth": 1,
    }


def test_retention_deletes_oldest_and_a_late_consumer_skips_with_a_trace_event():
    """With retention, old records expire; a consumer behind them resets to the oldest kept one."""

    async def main(lab):
        log = ppl.Log("t", partitions=1, retention=3)
        for i in range(5):
            await log.append(i)
        c = ppl.Consumer(log, group="g")
        got = await drain(c)
        await c.commit()
        return log, got

    run = sim(main)
    log, got = run.value
    assert [r.value for r in got] == [2, 3, 4]
    assert log.start_offsets() == {0: 2} and log.end_offsets() == {0: 5}
    assert run.trace.counts()["expire"] == 2
    assert run.trace.counts().get("offset_reset", 0) == 0  # a new group starts at the oldest kept

    async def late(lab):
        log = ppl.Log("t", partitions=1, retention=2)
        c = ppl.Consumer(log, group="g")
        await log.append(0)
        await log.append(1)
        await log.append(2)  # offset 0 expires before the consumer read it
        return [r.offset for r in await drain(c)]

    run = sim(late)
    assert run.value == [1, 2]
    reset = run.trace.filter(kind="offset_reset").to_rows()
    assert [(e["offset"], e["reset_to"], e["skipped"]) for e in reset] == [(0, 1, 1)]


# -- consumer groups ---------------------------------------------------------------------------


def test_range_assignment_is_deterministic_by_member_name():
    """Range assignment sorts members by name; extra partitions go to the first; extra members get none."""
    assert range_assignment(["b", "a", "c"], 5) == {"a": [0, 1], "b": [2, 3], "c": [4]}
    assert range_assignment(["x", "y", "z"], 2) == {"x": [0], "y": [1], "z": []}
    assert range_assignment([], 3) == {}


def test_group_splits_partitions_and_consumes_each_record_exactly_once_when_all_commit():
    """Members share the partitions; with every member committing, each record is read once by the group."""

    async def main(lab):
        log = ppl.Log("orders", partitions=4)
        members = [ppl.Consumer(log, group="billing", name=n) for n in ("a", "b")]
        appended = [await log.append(i, key=f"customer-{i % 9}") for i in range(30)]
        seen = []
        for _ in range(3):
            for c in members:
                seen += await c.poll(max_records=4, timeout=0)
                await c.commit()
        members.append(ppl.Consumer(log, group="billing", name="c"))  # rebalance after commits
        for i in range(30, 40):
            appended.append(await log.append(i))
        for c in members:
            seen += await drain(c)
            await c.commit()
        return log, appended, seen

    log, appended, seen = sim(main).value
    assert sorted(r.id for r in seen) == sorted(r.id for r in appended)
    assert log.lag("billing") == {0: 0, 1: 0, 2: 0, 3: 0}
    assert log.assignment("billing") == {"a": [0, 1], "b": [2], "c": [3]}


def test_rebalance_on_join_and_leave_is_deterministic_and_traced():
    """Joins and leaves reassign partitions by name order, whatever the join order, with rebalance events."""

    async def main(lab, order):
        log = ppl.Log("t", partitions=5)
        cs = {n: ppl.Consumer(log, group="g", name=n) for n in order}
        before = {n: c.assignment for n, c in cs.items()}
        await cs["b"].close()
        after = {n: c.assignment for n, c in cs.items() if n != "b"}
        return before, after, log.assignment("g")

    for order in (["a", "b", "c"], ["c", "b", "a"], ["b", "c", "a"]):
        run = sim(lambda lab, o=order: main(lab, o))
        before, after, assignment = run.value
        assert before == {"a": [0, 1], "b": [2, 3], "c": [4]}
        assert after == {"a": [0, 1, 2], "c": [3, 4]} == assignment
        rebalances = run.trace.filter(kind="rebalance").to_rows()
        assert [(e["actor"], e["reason"], e["generation"]) for e in rebalances] == [
            (order[0], "join", 1),
            (order[1], "join", 2),
            (order[2], "join", 3),
            ("b", "leave", 4),
        ]
        assert rebalances[-1]["assignment"] == {"a": [0, 1, 2], "c": [3, 4]}
        assert run.trace.counts()["join"] == 3 and run.trace.counts()["leave"] == 1


def test_uncommitted_records_are_redelivered_after_a_member_leaves():
    """At least once: what a member read but did not commit goes again to the partition's next owner."""

    async def main(lab):
        log = ppl.Log("t", partitions=2)
        a = ppl.Consumer(log, group="g", name="a")
        b = ppl.Consumer(log, group="g", name="b")
        for i in range(6):
            await log.append(i)  # partitions 0 and 1 get 3 each
        first = await a.poll(max_records=1, timeout=0)
        await a.commit()  # partition 0 committed at offset 1
        rest = await a.poll(max_records=10, timeout=0)  # offsets 1 and 2, never committed
        await a.close()
        assert b.assignment == [0, 1] and b.position(0) == 1
        again = await drain(b)
        return first, rest, again

    first, rest, again = sim(main).value
    assert [(r.partition, r.offset) for r in first] == [(0, 0)]
    assert [(r.partition, r.offset) for r in rest] == [(0, 1), (0, 2)]
    redelivered = [(r.partition, r.offset) for r in again if r.partition == 0]
    assert redelivered == [(0, 1), (0, 2)]
    assert sorted((r.partition, r.offset) for r in again if r.partition == 1) == [(1, 0), (1, 1), (1, 2)]


def test_a_kept_partition_keeps_its_position_across_a_rebalance():
    """A member that keeps a partition through a rebalance continues where it was, not at the commit."""

    async def main(lab):
        log = ppl.Log("t", partitions=2)
        a = ppl.Consumer(log, group="g", name="a")
        for i in range(4):
            await log.append(i)
        await a.poll(timeout=0)  # reads everything, commits nothing
        ppl.Consumer(log, group="g", name="b")  # a keeps partition 0, b takes partition 1
        return a.assignment, a.position(0), await a.poll(timeout=0)

    assert sim(main).value == ([0], 2, [])


def test_same_name_in_a_group_replaces_the_old_member():
    """A consumer created with a taken name closes the old one (re-running a cell), which rebalances."""

    async def main(lab):
        log = ppl.Log("t", partitions=2)
        old = ppl.Consumer(log, group="g", name="a")
        other = ppl.Consumer(log, group="other", name="a")  # same name, another group: independent
        new = ppl.Consumer(log, group="g", name="a")
        return old.closed, other.closed, new.assignment, log.assignment("g")

    run = sim(main)
    assert run.value == (True, False, [0, 1], {"a": [0, 1]})
    assert [e["reason"] for e in run.trace.filter(kind="rebalance").to_rows() if e["group"] == "g"] == [
        "join",
        "leave",
        "join",
    ]


def test_two_groups_read_independently():
    """Each group gets every record; one group's commits do not move the other's lag."""

    async def main(lab):
        log = ppl.Log("t", partitions=3)
        billing = ppl.Consumer(log, group="billing")
        audit = ppl.Consumer(log, group="audit")
        for i in range(9):
            await log.append(i)
        got_billing = await drain(billing)
        await billing.commit()
        got_audit = await drain(audit)
        return log, got_billing, got_audit

    log, got_billing, got_audit = sim(main).value
    assert sorted(r.value for r in got_billing) == sorted(r.value for r in got_audit) == list(range(9))
    assert log.lag("billing") == {0: 0, 1: 0, 2: 0}
    assert log.lag("audit") == {0: 3, 1: 3, 2: 3}
    assert log.groups == ["billing", "audit"]


# -- polling ------------------------------------------------------------------------------------


def test_long_poll_returns_the_moment_a_record_arrives_and_empty_after_the_timeout():
    """A waiting poll returns at the append's exact virtual time; with nothing new, [] exactly at the timeout."""

    async def main(lab):
        log = ppl.Log("t", partitions=2)
        c = ppl.Consumer(log, group="g", name="c")

        async def produce():
            await ppl.sleep(2)
            await log.append("hello", key="x")

        task = asyncio.create_task(produce())
        got = await c.poll(timeout=5)
        at_record = lab.now()
        await task
        empty = await c.poll(timeout=1.5)
        return got, at_record, empty, lab.now()

    run = sim(main)
    got, at_record, empty, at_empty = run.value
    assert [r.value for r in got] == ["hello"] and at_record == 2.0
    assert empty == [] and at_empty == 3.5
    rows = run.trace.filter(kind={"poll", "consume", "empty_poll"}).to_rows()
    assert [(e["time"], e["kind"], e["actor"], e["peer"]) for e in rows] == [
        (2.0, "poll", "c", "t"),
        (2.0, "consume", "c", "t"),
        (3.5, "empty_poll", "c", "t"),
    ]
    assert rows[0]["waited"] == 2.0 and rows[2]["waited"] == 1.5
    assert rows[1]["msg"] == got[0].id
    lat = run.trace.latency("append", "consume")
    assert lat.count == 1 and lat.max == 0.0


def test_end_to_end_latency_from_the_trace():
    """trace.latency('append', 'consume') measures how long records waited for their consumer."""

    async def main(lab):
        log = ppl.Log("t")
        c = ppl.Consumer(log, group="g")
        await log.append(1)
        await ppl.sleep(3)
        await log.append(2)
        await c.poll(timeout=0)

    lat = sim(main).trace.latency("append", "consume")
    assert (lat.count, lat.max, lat.p50) == (2, 3.0, 1.5)


def test_poll_respects_max_records_and_does_not_starve_a_partition():
    """max_records caps a poll, and successive polls start at different partitions."""

    async def main(lab):
        log = ppl.Log("t", partitions=2)
        c = ppl.Consumer(log, group="g")
        for i in range(20):
            await log.append(i, key="hot")
        cold = await log.append(
            "cold", key=next(k for k in KEYS if log.partition_for(k) != log.partition_for("hot"))
        )
        batches = [await c.poll(max_records=3, timeout=0) for _ in range(2)]
        return cold, batches

    cold, batches = sim(main).value
    assert all(len(b) == 3 for b in batches)
    assert cold.id in {r.id for b in batches for r in b}


def test_member_without_partitions_waits_until_a_rebalance_gives_it_some():
    """A standby member's poll wakes when a leave hands it a partition, and reads from the commit."""

    async def main(lab):
        log = ppl.Log("t", partitions=1)
        a = ppl.Consumer(log, group="g", name="a")
        b = ppl.Consumer(log, group="g", name="b")
        await log.append("x")
        waiting = asyncio.create_task(b.poll(timeout=10))
        await ppl.sleep(1)
        await a.close()
        return await waiting, lab.now()

    got, t = sim(main).value
    assert [r.value for r in got] == ["x"] and t == 1.0


def test_lag_counts_what_the_group_has_not_committed():
    """lag = end offset - committed offset per partition, moving only with commits."""

    async def main(lab):
        log = ppl.Log("t", partitions=2)
        c = ppl.Consumer(log, group="g")
        assert log.lag("g") == {0: 0, 1: 0}
        for i in range(5):
            await log.append(i)
        lag0 = log.lag("g")
        await c.poll(max_records=2, timeout=0)
        lag1 = log.lag("g")
        committed = await c.commit()
        return lag0, lag1, committed, log.lag("g"), log.committed("g")

    run = sim(main)
    lag0, lag1, committed, lag2, stored = run.value
    assert lag0 == lag1 == {0: 3, 1: 2}
    assert sum(lag2.values()) == 3 and committed == stored
    assert run.trace.filter(kind="commit").to_rows()[0]["offsets"] == committed


def test_seek_rewinds_and_skips():
    """seek moves a consumer's position back (replay) or ahead (skip) in an assigned partition."""

    async def main(lab):
        log = ppl.Log("t")
        c = ppl.Consumer(log, group="g")
        for i in range(5):
            await log.append(i)
        first = [r.value for r in await drain(c)]
        c.seek(0, 1)
        replay = [r.value for r in await drain(c)]
        c.seek(0, 5)
        assert c.position(0) == 5
        await log.append(5)
        return first, replay, [r.value for r in await drain(c)]

    run = sim(main)
    assert run.value == ([0, 1, 2, 3, 4], [1, 2, 3, 4], [5])
    assert [e["offset"] for e in run.trace.filter(kind="seek").to_rows()] == [1, 5]


def test_closing_a_consumer_or_its_log_wakes_a_waiting_poll():
    """A poll waiting for records returns [] the moment its consumer, its log or a replacement closes it."""

    async def main(lab):
        times = {}
        for how in ("consumer", "log", "replaced"):
            log = ppl.Log(f"t-{how}")
            c = ppl.Consumer(log, group="g", name="c")
            waiting = asyncio.create_task(c.poll(timeout=100))
            await ppl.sleep(1)
            if how == "consumer":
                await c.close()
            elif how == "log":
                await log.close()
            else:
                ppl.Log(f"t-{how}")  # same name in the same lab: replaces the log
            start = lab.now()
            assert await waiting == []
            times[how] = lab.now() - start
            assert c.closed
        return times

    assert sim(main).value == {"consumer": 0.0, "log": 0.0, "replaced": 0.0}


def test_closed_objects_refuse_work_and_close_is_idempotent():
    """After close, poll/commit/seek/append raise a clear RuntimeError; closing twice is harmless."""

    async def main(lab):
        log = ppl.Log("t")
        c = ppl.Consumer(log, group="g", name="c")
        await c.close()
        await c.close()
        for call in (c.poll(timeout=0), c.commit()):
            with pytest.raises(RuntimeError, match="consumer 'c' is closed"):
                await call
        with pytest.raises(RuntimeError, match="is closed"):
            c.seek(0, 0)
        await log.close()
        await log.close()
        with pytest.raises(RuntimeError, match="log 't' is closed"):
            await log.append(1)
        with pytest.raises(RuntimeError, match="log 't' is closed"):
            ppl.Consumer(log, group="g")
        return lab.live

    assert sim(main).value == []


def test_two_polls_at_once_on_one_consumer_are_refused():
    """A consumer serves one poll at a time; a second concurrent poll raises instead of racing."""

    async def main(lab):
        c = ppl.Consumer(ppl.Log("t"), group="g")
        first = asyncio.create_task(c.poll(timeout=1))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already polling"):
            await c.poll(timeout=1)
        return await first

    assert sim(main).value == []


def test_works_in_real_time_with_asyncio_run():
    """The same code runs on a real asyncio loop: long poll wakes on append, and times out empty."""

    async def main():
        lab = ppl.Lab()
        log = ppl.Log("rt", partitions=2, lab=lab)
        c = ppl.Consumer(log, group="g", lab=lab)

        async def produce():
            await asyncio.sleep(0.02)
            await log.append("x")

        task = asyncio.create_task(produce())
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        got = await c.poll(timeout=5)
        woke = loop.time() - t0
        await task
        t1 = loop.time()
        empty = await c.poll(timeout=0.05)
        waited = loop.time() - t1
        await log.close()
        return got, woke, empty, waited, lab

    got, woke, empty, waited, lab = asyncio.run(main())
    assert [r.value for r in got] == ["x"] and woke < 2
    assert empty == [] and 0.04 <= waited < 2
    assert lab.trace.counts()["consume"] == 1 and lab.live == []


def test_registry_holds_the_live_log_and_consumers():
    """Logs and consumers are in lab.live while open and leave it when closed."""

    async def main(lab):
        log = ppl.Log("t")
        c = ppl.Consumer(log, group="g", name="c")
        live = list(lab.live)
        await log.close()
        return live, lab.live, log, c

    live, after, log, c = sim(main).value
    assert live == [log, c] and after == []
    assert repr(c) == "Consumer('c', log='t', group='g', closed)"
    assert repr(log) == "Log('t', partitions=1, records=[0], groups=['g'], closed)"


def test_default_consumer_names_are_numbered_per_group():
    """Unnamed consumers are called <group>-1, <group>-2, ..."""

    async def main(lab):
        log = ppl.Log("t", partitions=2)
        return [ppl.Consumer(log, group="billing").name for _ in range(2)]

    assert sim(main).value == ["billing-1", "billing-2"]


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "exc", "message"),
    [
        (lambda: Log(""), ValueError, "Log(name=''): name must be a non-empty string"),
        (lambda: Log(3), TypeError, "Log(name=3): name must be a non-empty string"),
        (lambda: Log("t", partitions=0), ValueError, "Log(partitions=0): partitions must be an integer >= 1"),
        (
            lambda: Log("t", partitions=2.0),
            TypeError,
            "Log(partitions=2.0): partitions must be an integer >= 1",
        ),
        (lambda: Log("t", partitions=True), TypeError, "Log(partitions=True): partitions must be an integer"),
        (
            lambda: Log("t", retention=0),
            ValueError,
            "Log(retention=0): retention must be None or an integer >= 1",
        ),
        (
            lambda: Log("t", retention="1"),
            TypeError,
            "Log(retention='1'): retention must be None or an integer",
        ),
        (lambda: Log("t", lab="x"), TypeError, "Log(lab='x'): lab must be a pushpull_lab.Lab or None"),
    ],
)
def test_log_constructor_validation(make, exc, message):
    """Every Log argument is checked at the call with a message naming parameter, value and rule."""

    async def main(lab):
        with pytest.raises(exc) as info:
            make()
        return str(info.value)

    assert sim(main).value.startswith(message)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        # Consumer(...)
        (
            lambda log, c: Consumer("t", group="g"),
            TypeError,
            "Consumer(log='t'): log must be a pushpull_lab.Log",
        ),
        (lambda log, c: Consumer(log, group=""), ValueError, "Consumer(group=''): group must be a non-empty"),
        (
            lambda log, c: Consumer(log, group=None),
            TypeError,
            "Consumer(group=None): group must be a non-empty",
        ),
        (lambda log, c: Consumer(log, group="g", name=" x"), ValueError, "Consumer(name=' x'): name must be"),
        (
            lambda log, c: Consumer(log, group="g", lab=1),
            TypeError,
            "Consumer(lab=1): lab must be a pushpull_lab.Lab",
        ),
        (lambda log, c: Consumer(log, group="g", lab=ppl.Lab()), ValueError, "Consumer(lab=Lab("),
        # Log methods
        (
            lambda log, c: log.append(1, key=1.5),
            TypeError,
            "Log.append(key=1.5): key must be None, a string, bytes",
        ),
        (lambda log, c: log.append(1, key=True), TypeError, "Log.append(key=True): key must be None"),
        (
            lambda log, c: log.append(1, sender=""),
            ValueError,
            "Log.append(sender=''): sender must be a non-empty",
        ),
        (lambda log, c: log.partition_for(None), TypeError, "Log.partition_for(key=None): key must be"),
        (lambda log, c: log.partition_for([1]), TypeError, "Log.partition_for(key=[1]): key must be"),
        (
            lambda log, c: log.records(3),
            ValueError,
            "Log.records(partition=3): partition must be an integer from 0 to 2",
        ),
        (
            lambda log, c: log.records("0"),
            TypeError,
            "Log.records(partition='0'): partition must be an integer",
        ),
        (
            lambda log, c: log.lag("nope"),
            ValueError,
            "Log.lag(group='nope'): group must be a consumer group of log 't'",
        ),
        (lambda log, c: log.lag(5), TypeError, "Log.lag(group=5): group must be a non-empty string"),
        (lambda log, c: log.committed("nope"), ValueError, "Log.committed(group='nope'): group must be"),
        (lambda log, c: log.assignment("nope"), ValueError, "Log.assignment(group='nope'): group must be"),
        # Consumer methods
        (
            lambda log, c: c.poll(max_records=0),
            ValueError,
            "Consumer.poll(max_records=0): max_records must be an integer >= 1",
        ),
        (
            lambda log, c: c.poll(max_records=1.0),
            TypeError,
            "Consumer.poll(max_records=1.0): max_records must be an integer",
        ),
        (
            lambda log, c: c.poll(timeout=-1),
            ValueError,
            "Consumer.poll(timeout=-1.0): timeout must be a finite number >= 0",
        ),
        (
            lambda log, c: c.poll(timeout=None),
            TypeError,
            "Consumer.poll(timeout=None): timeout must be a finite number",
        ),
        (
            lambda log, c: c.poll(timeout=float("inf")),
            ValueError,
            "Consumer.poll(timeout=inf): timeout must be a finite",
        ),
        (
            lambda log, c: c.seek(3, 0),
            ValueError,
            "Consumer.seek(partition=3): partition must be an integer from 0 to 2",
        ),
        (
            lambda log, c: c.seek(2, 0),
            ValueError,
            "Consumer.seek(partition=2): partition must be one of this consumer's assigned partitions [0, 1]",
        ),
        (
            lambda log, c: c.seek(0, -1),
            ValueError,
            "Consumer.seek(offset=-1): offset must be an integer from 0 to 0",
        ),
        (
            lambda log, c: c.seek(0, 1),
            ValueError,
            "Consumer.seek(offset=1): offset must be an integer from 0 to 0",
        ),
        (lambda log, c: c.seek(0, "1"), TypeError, "Consumer.seek(offset='1'): offset must be an integer"),
        (
            lambda log, c: c.position(2),
            ValueError,
            "Consumer.position(partition=2): partition must be one of",
        ),
        (
            lambda log, c: c.position(None),
            TypeError,
            "Consumer.position(partition=None): partition must be an integer",
        ),
    ],
)
def test_method_validation(call, exc, message):
    """Every Consumer argument and method argument is checked at the call, naming parameter and value."""

    async def main(lab):
        log = Log("t", partitions=3)
        c = Consumer(log, group="g", name="a")
        Consumer(log, group="g", name="b")  # a holds partitions 0 and 1, b holds 2
        with pytest.raises(exc) as info:
            result = call(log, c)
            if asyncio.iscoroutine(result):
                await result
        return str(info.value)

    assert sim(main).value.startswith(message)


# -- property: nothing is skipped, everything is covered ---------------------------------------

NAMES = ["m0", "m1", "m2", "m3"]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.sampled_from([None, "a", "b", "c", "d", "e"])),
        st.tuples(st.just("join"), st.sampled_from(NAMES)),
        st.tuples(st.just("leave"), st.sampled_from(NAMES)),
        st.tuples(st.just("poll"), st.sampled_from(NAMES), st.integers(1, 4)),
        st.tuples(st.just("commit"), st.sampled_from(NAMES)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=OPS, partitions=st.integers(1, 4))
def test_property_group_covers_every_record_and_skips_none(ops, partitions):
    """Under random appends/joins/leaves/polls/commits, no offset is skipped and a final round reads all."""

    async def main(lab):
        log = ppl.Log("t", partitions=partitions)
        members: dict[str, Consumer] = {}
        appended: set[tuple[int, int]] = set()
        consumed: set[tuple[int, int]] = set()
        highest = dict.fromkeys(range(partitions), -1)

        async def poll(c, n):
            committed = log.committed("g")
            batch = await c.poll(max_records=n, timeout=0)
            by_partition: dict[int, list[int]] = {}
            for r in batch:
                by_partition.setdefault(r.partition, []).append(r.offset)
            for p, offsets in by_partition.items():
                assert p in c.assignment
                assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))  # contiguous
                assert committed.get(p, 0) <= offsets[0] <= highest[p] + 1  # no gap, not before the commit
                highest[p] = max(highest[p], offsets[-1])
            consumed.update((r.partition, r.offset) for r in batch)
            return batch

        for op in ops:
            kind, name = op[0], op[1]
            if kind == "append":
                rec = await log.append(None, key=name)
                appended.add((rec.partition, rec.offset))
            elif kind == "join":
                members[name] = ppl.Consumer(log, group="g", name=name)  # an existing name is replaced
            elif name in members:
                c = members[name]
                if kind == "leave":
                    await c.close()
                    del members[name]
                elif kind == "poll":
                    await poll(c, op[2])
                else:
                    await c.commit()
            assert sorted(p for c in members.values() for p in c.assignment) == (
                list(range(partitions)) if members else []
            )

        # The last poll round: every live member reads until nothing is left, then commits.
        if not members:
            members["last"] = ppl.Consumer(log, group="g", name="last")
        for c in members.values():
            while await poll(c, 100):
                pass
            await c.commit()
        assert consumed == appended
        assert set(log.lag("g").values()) <= {0}
        return len(lab.trace.filter(kind="consume")), len(appended)

    consumes, appended = sim(main).value
    assert consumes >= appended
