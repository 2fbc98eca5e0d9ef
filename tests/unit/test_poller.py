"""pull/poller.py: short polling waits for its interval, long polling answers at once."""

import asyncio

import pytest

import pushpull_lab as ppl


def run(style, arrivals, **kw):
    async def main(lab):
        log = ppl.Log("news")
        consumer = ppl.Consumer(log, group="app", name="app")
        got = []
        poll = ppl.short_poll if style == "short" else ppl.long_poll
        task = asyncio.ensure_future(poll(consumer, lambda r: got.append((r.value, lab.now())), **kw))
        for at in arrivals:
            await ppl.sleep(at - lab.now())
            await log.append(at, sender="newsroom")
        await ppl.sleep(10)
        task.cancel()
        return got

    return ppl.simulate(main)


def test_short_poll_sees_records_at_the_next_interval():
    """A record is handled at the first poll after it arrived; every poll is a request."""
    r = run("short", [0.3, 1.2, 1.9], interval=1.0)
    assert r.value == [(0.3, 1.0), (1.2, 2.0), (1.9, 2.0)]
    assert r.trace.latencies("append", "consume") == pytest.approx([0.7, 0.8, 0.1])
    counts = r.trace.counts()
    assert counts["poll"] == 2 and counts["empty_poll"] == 10  # t=0 and 3..11 found nothing


def test_long_poll_answers_when_the_record_arrives():
    """A held request returns the moment a record is appended: zero latency, no empty polls."""
    r = run("long", [0.3, 1.2, 1.9], hold=30)
    assert r.value == [(0.3, 0.3), (1.2, 1.2), (1.9, 1.9)]
    assert r.trace.counts().get("empty_poll", 0) == 0


def test_long_poll_hold_bounds_an_idle_request():
    """With nothing to fetch, a long poll costs one request per hold period."""
    r = run("long", [], hold=4)
    assert [e.time for e in r.trace.filter(kind="empty_poll")] == [4.0, 8.0]


def test_handler_error_ends_the_polling_task_loudly():
    """A raising handler is not swallowed: the task fails and the simulation reports it."""

    async def main(lab):
        log = ppl.Log("news")
        consumer = ppl.Consumer(log, group="app")
        asyncio.ensure_future(ppl.long_poll(consumer, lambda r: 1 / 0, hold=5))
        await log.append("x")
        await ppl.sleep(1)

    with pytest.raises(ppl.BackgroundTaskError, match="ZeroDivisionError"):
        ppl.simulate(main)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda c: ppl.short_poll(object(), print, interval=1),
            r"short_poll\(source=.*\): source must have an async poll",
        ),
        (
            lambda c: ppl.short_poll(c, print, interval=0),
            r"short_poll\(interval=0.0\): interval must be a finite number > 0",
        ),
        (
            lambda c: ppl.long_poll(c, print, hold=-1),
            r"long_poll\(hold=-1.0\): hold must be a finite number > 0",
        ),
        (lambda c: ppl.long_poll(c, "print"), r"long_poll\(handle='print'\): handle must be a function"),
        (lambda c: ppl.long_poll(c, print, max_records=0), r"max_records must be an integer >= 1"),
    ],
)
def test_bad_arguments_fail_at_the_first_step(call, message):
    """Bad arguments raise as soon as the poller starts, naming the parameter."""

    async def main(lab):
        consumer = ppl.Consumer(ppl.Log("news"), group="app")
        await call(consumer)

    with pytest.raises((TypeError, ValueError), match=message):
        ppl.simulate(main)
