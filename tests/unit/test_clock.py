"""clock.py: virtual time is fast, deterministic, refuses the real world and reports deadlocks."""

import asyncio
import contextlib
import json
import subprocess
import sys
import textwrap

import pytest

import pushpull_lab as ppl


def test_virtual_time_jumps_to_the_next_timer():
    """Ten virtual minutes of sleeping end at exactly t=600 and report main's value."""

    async def main(lab):
        await ppl.sleep(600)
        return lab.now()

    run = ppl.simulate(main)
    assert (run.value, run.now, run.completed) == (600.0, 600.0, True)


def test_concurrent_sleepers_wake_in_time_order():
    """Timers fire in deadline order, ties in scheduling order."""
    woke = []

    async def sleeper(name, delay):
        await ppl.sleep(delay)
        woke.append((name, asyncio.get_running_loop().time()))

    async def main(lab):
        await asyncio.gather(sleeper("c", 3), sleeper("a", 1), sleeper("b", 1), sleeper("d", 2.5))

    ppl.simulate(main)
    assert woke == [("a", 1), ("b", 1), ("d", 2.5), ("c", 3)]


def test_same_seed_same_rows_across_processes():
    """Two separate Python processes with the same seed produce identical trace rows."""
    script = textwrap.dedent(
        """
        import json, pushpull_lab as ppl
        async def main(lab):
            bus = ppl.PubSub("b")
            async def slow(m):
                await ppl.sleep(lab.rng.expovariate(2.0))
            for i in range(3):
                bus.subscribe("t.*", slow, buffer=4, overflow="drop_oldest")
            for i in range(50):
                await bus.publish(f"t.{i % 3}", i)
                await ppl.sleep(lab.rng.expovariate(5.0))
            await bus.join()
        print(json.dumps(ppl.simulate(main, seed=42).trace.to_rows()))
        """
    )
    outs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    rows = json.loads(outs[0])
    assert len(rows) > 100
    assert outs[0] == outs[1]


def test_different_seeds_differ():
    """The seed really feeds lab.rng (a check that could otherwise pass vacuously)."""

    async def main(lab):
        return [lab.rng.random() for _ in range(3)]

    assert ppl.simulate(main, seed=1).value != ppl.simulate(main, seed=2).value
    assert ppl.simulate(main, seed=1).value == ppl.simulate(main, seed=1).value


def test_deadlock_raises_instead_of_hanging():
    """Waiting on a queue nobody fills is reported as a DeadlockError naming the time."""

    async def main(lab):
        await ppl.sleep(5)
        await asyncio.Queue().get()

    with pytest.raises(ppl.DeadlockError, match=r"virtual time 5 s nothing is scheduled"):
        ppl.simulate(main)


def test_until_stops_the_whole_system_at_that_time():
    """With until=..., background tasks keep running after main returns, up to that time."""
    ticks = []

    async def ticker():
        while True:
            await ppl.sleep(1)
            ticks.append(asyncio.get_running_loop().time())

    async def main(lab):
        asyncio.ensure_future(ticker())
        return "started"

    run = ppl.simulate(main, until=5.5)
    assert run.value == "started" and run.now == 5.5 and ticks == [1, 2, 3, 4, 5]


def test_until_cancels_an_unfinished_main():
    """If main is still running at until, the run stops there and says it did not complete."""

    async def main(lab):
        await ppl.sleep(100)
        return "never"

    run = ppl.simulate(main, until=10)
    assert (run.value, run.completed, run.now) == (None, False, 10)


def test_idle_with_until_is_not_a_deadlock():
    """With until set, a system with nothing left to do simply ends at until."""

    async def main(lab):
        await asyncio.Event().wait()

    run = ppl.simulate(main, until=3)
    assert not run.completed and run.now == 3


@pytest.mark.parametrize(
    "call, message",
    [
        ("asyncio.open_connection('127.0.0.1', 6379)", "Opening a network connection"),
        ("asyncio.to_thread(print, 'x')", "Running a function in a thread"),
        ("asyncio.start_server(lambda r, w: None, '127.0.0.1', 0)", "Starting a server"),
        ("asyncio.create_subprocess_exec('true')", "Starting a subprocess"),
    ],
)
def test_real_world_is_refused_with_a_clear_error(call, message):
    """Sockets, threads and processes raise VirtualTimeError saying what to do instead."""

    async def main(lab):
        await eval(call)

    with pytest.raises(ppl.VirtualTimeError, match=message) as info:
        ppl.simulate(main)
    assert "memory" in str(info.value) and "real time" in str(info.value)


def test_unretrieved_background_exception_is_raised():
    """A background task that crashes unobserved makes simulate() raise BackgroundTaskError."""

    async def boom():
        await ppl.sleep(1)
        raise KeyError("lost job")

    async def main(lab):
        asyncio.ensure_future(boom())
        await ppl.sleep(2)

    with pytest.raises(ppl.BackgroundTaskError, match="KeyError") as info:
        ppl.simulate(main)
    assert isinstance(info.value.__cause__, KeyError)


def test_errors_record_keeps_them_in_the_trace():
    """errors='record' completes the run and leaves an 'error' event in the trace."""

    async def boom():
        raise ValueError("bad")

    async def main(lab):
        asyncio.ensure_future(boom())
        await ppl.sleep(1)

    run = ppl.simulate(main, errors="record")
    assert run.trace.counts()["error"] == 1
    assert "ValueError: bad" in run.trace.filter(kind="error").to_rows()[0]["error"]


def test_awaited_exception_is_not_reported_twice():
    """An exception some task awaited and handled is not a background error."""

    async def boom():
        raise ValueError("handled")

    async def main(lab):
        try:
            await asyncio.ensure_future(boom())
        except ValueError:
            return "caught"

    assert ppl.simulate(main).value == "caught"


def test_main_exception_propagates():
    """An exception in main itself reaches the caller unchanged."""

    async def main(lab):
        raise ZeroDivisionError("in main")

    with pytest.raises(ZeroDivisionError, match="in main"):
        ppl.simulate(main)


def test_simulate_works_inside_a_running_loop():
    """Called from a coroutine (as in a Jupyter cell), simulate runs on a helper thread."""

    async def main(lab):
        await ppl.sleep(3)
        return lab.now()

    async def cell():
        return ppl.simulate(main).value

    assert asyncio.run(cell()) == 3


def test_primitives_inside_main_join_the_simulation_lab():
    """current_lab() inside main is the run's lab, and it is virtual."""

    async def main(lab):
        return ppl.current_lab() is lab and lab.virtual

    assert ppl.simulate(main).value is True
    assert ppl.current_lab().virtual is False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": "x"}, r"simulate\(seed='x'\): seed must be an integer"),
        ({"until": -1}, r"simulate\(until=-1.0\): until must be a finite number >= 0"),
        ({"errors": "ignore"}, r"errors must be one of 'raise', 'record'"),
        ({"backend": "redis://127.0.0.1:6379/0"}, r"backend must be 'memory' or 'fakeredis'"),
        ({"backend": "mongo"}, r"Lab\(backend='mongo'\): backend must be"),
    ],
)
def test_simulate_rejects_bad_arguments(kwargs, message):
    """Bad arguments fail at the call, naming the parameter and what is allowed."""

    async def main(lab):
        return None

    with pytest.raises((ValueError, TypeError), match=message):
        ppl.simulate(main, **kwargs)


def test_simulate_rejects_a_non_function():
    """main must be callable."""
    with pytest.raises(TypeError, match=r"simulate\(main=3\): main must be a function"):
        ppl.simulate(3)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "1", True])
def test_sleep_rejects_bad_durations(bad):
    """sleep() needs a finite, non-negative number of seconds."""
    with pytest.raises((ValueError, TypeError), match=r"sleep\(seconds="):
        ppl.sleep(bad)


# -- the fast paths of VirtualTimeLoop keep asyncio's behaviour ----------------------------


def run_on_virtual_loop(coro_fn, **loop_kwargs):
    """Run ``coro_fn(loop)`` to completion on a bare VirtualTimeLoop; return (result, loop time)."""
    loop = ppl.VirtualTimeLoop(**loop_kwargs)
    try:
        result = loop.run_until_complete(coro_fn(loop))
        return result, loop.time()
    finally:
        loop.close()


def test_many_timers_due_at_the_same_time_fire_in_scheduling_order():
    """Ties among timers fire first-scheduled-first (asyncio's heap alone leaves it undefined)."""
    fired = []

    async def sleeper(i):
        await ppl.sleep(0.25)
        fired.append(("sleep", i))

    async def main(lab):
        loop = asyncio.get_running_loop()
        for i in range(30):  # call_later and call_at, interleaved, all due at t=1
            if i % 2:
                loop.call_later(1, fired.append, ("timer", i))
            else:
                loop.call_at(1, fired.append, ("timer", i))
        await asyncio.gather(*(sleeper(i) for i in range(30)))
        await ppl.sleep(1)

    ppl.simulate(main)
    assert fired == [("sleep", i) for i in range(30)] + [("timer", i) for i in range(30)]


def test_cancelled_timer_never_runs_and_the_clock_does_not_jump_to_it():
    """A cancelled call_later timer is skipped, and idling ends at the last live timer's time."""
    calls = []

    async def main(loop):
        loop.call_later(2, calls.append, "kept")
        h = loop.call_later(50, calls.append, "cancelled")
        h.cancel()
        await ppl.sleep(3)
        return h.cancelled()

    async def main_lab(lab):
        return await main(asyncio.get_running_loop())

    run = ppl.simulate(main_lab, until=100)
    assert run.value is True and calls == ["kept"]
    result, now = run_on_virtual_loop(main)
    assert result is True and now == 3 and calls == ["kept", "kept"]


def test_cancelled_timers_are_counted_and_purged():
    """Cancelling timers keeps _timer_cancelled_count right, and a mostly-dead heap is rebuilt."""

    async def main(loop):
        handles = [loop.call_later(10 + i, lambda: None) for i in range(300)]
        for h in handles[:250]:
            h.cancel()
        counted = loop._timer_cancelled_count
        await ppl.sleep(1)  # one step of the loop: the heap is purged
        return counted, loop._timer_cancelled_count, len(loop._scheduled)

    (counted, after, size), _ = run_on_virtual_loop(main)
    assert (counted, after, size) == (250, 0, 50)


def test_call_soon_returns_a_cancellable_asyncio_handle():
    """call_soon gives a real asyncio.Handle; cancel() before it runs means it never runs."""
    calls = []

    async def main(loop):
        h = loop.call_soon(calls.append, "cancelled")
        kept = loop.call_soon(calls.append, "kept")
        h.cancel()
        await asyncio.sleep(0)
        return h, kept

    (h, kept), _ = run_on_virtual_loop(main)
    assert isinstance(h, asyncio.Handle) and h.cancelled() and not kept.cancelled()
    assert calls == ["kept"]
    assert "Handle" in repr(kept)  # every slot of the hand-built Handle is set


def test_call_soon_runs_the_callback_in_the_current_context():
    """call_soon without context= copies the caller's contextvars, as asyncio does."""
    import contextvars

    var = contextvars.ContextVar("var", default="unset")
    seen = []

    async def main(loop):
        var.set("from main")
        loop.call_soon(lambda: seen.append(var.get()))
        ctx = contextvars.Context()
        loop.call_soon(lambda: seen.append(var.get()), context=ctx)
        await asyncio.sleep(0)

    run_on_virtual_loop(main)
    assert seen == ["from main", "unset"]


def test_stop_finishes_the_running_batch_like_asyncio():
    """stop() inside a callback lets the callbacks already ready run, not the ones they schedule."""

    def scenario(loop):
        log = []
        loop.call_soon(log.append, "a")
        loop.call_soon(loop.stop)
        loop.call_soon(lambda: (log.append("b"), loop.call_soon(log.append, "next batch")))
        loop.run_forever()
        return log

    virtual, reference = ppl.VirtualTimeLoop(), asyncio.new_event_loop()
    try:
        assert scenario(virtual) == scenario(reference) == ["a", "b"]
    finally:
        virtual.close()
        reference.close()


def test_exception_in_a_plain_callback_reaches_the_exception_handler():
    """A callback that raises is reported with asyncio's message, the exception and its handle."""
    reported = []

    def boom():
        raise KeyError("in callback")

    async def main(loop):
        loop.set_exception_handler(lambda loop, context: reported.append(context))
        soon = loop.call_soon(boom)
        later = loop.call_later(1, boom)
        await ppl.sleep(2)
        return soon, later

    (soon, later), _ = run_on_virtual_loop(main)
    assert [c["handle"] for c in reported] == [soon, later]
    for context in reported:
        assert context["message"].startswith("Exception in callback ") and "boom" in context["message"]
        assert isinstance(context["exception"], KeyError)


def test_exception_in_a_plain_callback_fails_the_simulation():
    """Inside simulate(), such a callback error is a background error like any other."""

    async def main(lab):
        asyncio.get_running_loop().call_later(1, lambda: 1 / 0)
        await ppl.sleep(2)

    with pytest.raises(ppl.BackgroundTaskError, match="ZeroDivisionError"):
        ppl.simulate(main)


def test_cancelling_a_sleeping_task_cancels_its_sleep_at_once():
    """A cancelled sleeper gets CancelledError at cancel time, and its timer no longer moves the clock."""
    log = []

    async def sleeper():
        try:
            await ppl.sleep(100)
        except asyncio.CancelledError:
            log.append(("cancelled at", asyncio.get_running_loop().time()))
            raise

    async def main(lab):
        task = asyncio.ensure_future(sleeper())
        await ppl.sleep(1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ppl.sleep(50), 2)
        return lab.now()

    run = ppl.simulate(main, until=1000)
    assert log == [("cancelled at", 1)] and run.value == 3
    assert run.now == 1000  # idle until the end: no dead timer was "waited for" on the way


def test_dead_sleep_does_not_delay_deadlock_detection():
    """A sleep whose coroutine was closed half-way is dead: the deadlock is reported at t=5, not t=50."""

    async def main(lab):
        abandoned = ppl.sleep(50)
        abandoned.send(None)  # starts it: its timer is in the heap
        abandoned.close()
        await ppl.sleep(5)
        await asyncio.Event().wait()

    with pytest.raises(ppl.DeadlockError, match=r"virtual time 5 s"):
        ppl.simulate(main)


def test_sleep_is_a_coroutine_with_a_result_on_both_clocks():
    """ppl.sleep returns a coroutine (create_task works) and its result, in virtual and real time."""

    async def main(lab):
        task = asyncio.create_task(ppl.sleep(2, result="virtual"))
        zero = await ppl.sleep(0, result="zero")
        return await task, zero, lab.now()

    assert ppl.simulate(main).value == ("virtual", "zero", 2)
    assert asyncio.run(ppl.sleep(0.001, result="real")) == "real"


def test_debug_mode_takes_asyncio_paths_and_gives_the_same_trace():
    """With the loop in debug mode (asyncio's checks on), a run records the same trace."""

    def scenario(debug):
        async def main(lab):
            asyncio.get_running_loop().set_debug(debug)
            bus = ppl.PubSub("b")
            bus.subscribe("t", lambda m: None, buffer=2, overflow="drop_oldest")
            for i in range(20):
                await bus.publish("t", i)
                await ppl.sleep(lab.rng.expovariate(3.0))
            await bus.join()

        return ppl.simulate(main, seed=3).trace.to_rows()

    assert scenario(True) == scenario(False)
