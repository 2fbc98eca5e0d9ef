"""widgets/monitor.py: a live view of a real-time lab, refreshed by a task, stopped cleanly."""

import asyncio
import gc

import pytest

import pushpull_lab as ppl


async def _ticks(monitor, n):
    """Wait (without timing anything) until the monitor has refreshed n more times."""
    target = monitor.ticks + n
    while monitor.ticks < target:
        await asyncio.sleep(0.01)


def test_monitor_shows_subscription_queue_and_worker_counts_and_stop_ends_the_task():
    """Ticking on a real-time lab, the table shows delivered/dropped, completed jobs; stop() ends the task."""

    async def main():
        lab = ppl.Lab()
        bus = ppl.PubSub("alerts", lab=lab)
        gate = asyncio.Event()

        async def stuck(message):
            await gate.wait()

        phone = bus.subscribe("alert.*", stuck, buffer=2, overflow="drop_newest", name="phone")
        queue = ppl.Queue("jobs", lab=lab)

        async def process(job):
            return job.data["n"]

        worker = ppl.Worker("jobs", process, concurrency=2, name="w1", lab=lab)
        monitor = ppl.widgets.monitor(lab, every=0.02, window=10.0)
        for i in range(6):
            await bus.publish("alert.fire", i)
            await queue.add("job", {"n": i})
            while phone.delivered == 0:  # the first message reaches the (stuck) handler
                await asyncio.sleep(0.001)
        while worker.completed < 6:
            await asyncio.sleep(0.01)
        await _ticks(monitor, 3)
        # One message is in the handler, two wait in the buffer, three were dropped.
        rows = {row["name"]: row for row in monitor.rows}
        assert rows["phone"]["counts"] == {"pending": 2, "buffer": 2, "delivered": 1, "dropped": 3}
        assert rows["jobs"]["counts"] == {"waiting": 0, "active": 0, "completed": 6, "failed": 0}
        assert rows["w1"]["counts"]["completed"] == 6 and rows["alerts"]["counts"]["published"] == 6
        assert rows["phone"]["rates"]["dropped"] > 0 and rows["jobs"]["rates"]["completed"] > 0
        assert "dropped <b>3</b>" in monitor.table.value and "completed <b>6</b>" in monitor.table.value
        assert bytes(monitor.image.value).startswith(b"\x89PNG") and monitor.error is None
        assert monitor.running
        monitor.stop()
        await asyncio.sleep(0)
        assert monitor.task.done() and not monitor.running
        assert "stopped" in monitor.status.value
        ticks = monitor.ticks
        await asyncio.sleep(0.1)
        assert monitor.ticks == ticks  # nothing refreshes after stop
        gate.set()
        await worker.close()
        bus.close()

    asyncio.run(main())


def test_monitor_without_a_running_loop_is_refused_clearly():
    """Outside any event loop the monitor cannot refresh, and says so instead of never updating."""
    with pytest.raises(RuntimeError, match=r"monitor\(\): no asyncio event loop is running"):
        ppl.widgets.monitor(ppl.Lab())


def test_monitor_bad_arguments_name_the_parameter():
    """every/window must be positive numbers and the lab real-time; each error names the parameter."""

    async def main():
        with pytest.raises(ValueError, match=r"monitor\(every=0\.0\)"):
            ppl.widgets.monitor(ppl.Lab(), every=0)
        with pytest.raises(TypeError, match=r"monitor\(window='30'\)"):
            ppl.widgets.monitor(ppl.Lab(), window="30")
        with pytest.raises(TypeError, match=r"monitor\(lab=3\)"):
            ppl.widgets.monitor(3)

    asyncio.run(main())
    with pytest.raises(ValueError, match=r"virtual time .* ppl\.widgets\.replay"):

        async def inside(lab):
            ppl.widgets.monitor(lab)

        ppl.simulate(inside)


def test_a_refresh_error_is_shown_in_the_widget_and_the_next_good_refresh_clears_it():
    """An exception while refreshing appears in the status line, named, instead of vanishing."""

    async def main():
        lab = ppl.Lab()
        monitor = ppl.widgets.monitor(lab, every=0.02)

        class Broken:  # a primitive whose state cannot be read
            @property
            def name(self):
                raise KeyError("no name today")

        lab._live[("broken", "broken")] = Broken()
        await _ticks_or_error(monitor)
        assert "monitor refresh failed: KeyError" in monitor.status.value
        assert monitor.running  # it keeps trying
        del lab._live[("broken", "broken")]
        await _ticks(monitor, 1)
        assert monitor.error is None and "live" in monitor.status.value
        monitor.stop()

    async def _ticks_or_error(monitor):
        while monitor.error is None:
            await asyncio.sleep(0.01)

    asyncio.run(main())


def test_a_new_monitor_on_the_same_lab_stops_the_old_one_and_a_dropped_one_leaves_no_task():
    """Re-running the cell stops the previous monitor; a monitor nobody holds cancels its task."""

    async def main():
        lab = ppl.Lab()
        first = ppl.widgets.monitor(lab, every=0.02)
        second = ppl.widgets.monitor(lab, every=0.02)
        await asyncio.sleep(0)
        assert first.task.done() and "stopped" in first.status.value and second.running
        task = second.task
        second.button.click()  # the Stop button
        await asyncio.sleep(0)
        assert task.done()

        third = ppl.widgets.monitor(ppl.Lab(), every=0.02)
        task = third.task
        del third
        gc.collect()
        await asyncio.sleep(0.05)
        assert task.done()

    asyncio.run(main())


def test_refresh_redraws_now_without_waiting_for_the_task():
    """refresh() updates the table and figure at once, e.g. at the end of a later cell."""

    async def main():
        lab = ppl.Lab()
        queue = ppl.Queue("jobs", lab=lab)
        monitor = ppl.widgets.monitor(lab, every=60.0)
        ticks = monitor.ticks
        await queue.add("job", {})
        monitor.refresh()
        assert monitor.ticks == ticks + 1
        assert "waiting <b>1</b>" in monitor.table.value
        assert bytes(monitor.image.value).startswith(b"\x89PNG")
        monitor.stop()
        await queue.close()

    asyncio.run(main())


def test_depth_figure_holds_a_slots_peak_only_for_that_slot():
    """Three jobs added and two taken at once: the curve peaks at 3, then stays at the last depth, 1."""

    async def main():
        lab = ppl.Lab()
        monitor = ppl.widgets.monitor(lab, every=60.0, window=10.0)
        series = [[4, 3, 1], [20, 1, 0]]  # slot 4: peak 3, ended at 1; slot 20: ended at 0
        times, values = monitor._depth_points(series, 0.0, 5.0)
        slot = monitor._slot
        assert times == [4 * slot, 5 * slot, 20 * slot, 21 * slot, 5.0]
        assert values == [3, 1, 1, 0, 0]
        monitor.stop()

    asyncio.run(main())
