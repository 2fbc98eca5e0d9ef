"""widgets/progress.py: a job board fed only by pushed QueueEvents, never by asking the queue."""

import asyncio

import pytest

import pushpull_lab as ppl


async def _until(predicate):
    """Wait (without timing anything) until predicate() holds."""
    while not predicate():
        await asyncio.sleep(0.005)


def test_board_follows_jobs_from_waiting_to_completed_through_pushed_events():
    """Rows appear per job, progress bars fill from progress events, completed rows say so."""

    async def main():
        lab = ppl.Lab()
        board = ppl.widgets.job_progress("video", lab=lab)
        await board.events.ready()
        queue = ppl.Queue("video", lab=lab)

        async def transcode(job):
            for percent in (25, 50, 75):
                await job.update_progress(percent)
                await asyncio.sleep(0.01)
            return "ok"

        worker = ppl.Worker("video", transcode, name="w", lab=lab)
        jobs = [await queue.add("transcode", {"n": n}) for n in range(3)]
        await _until(lambda: all(board.jobs.get(j.id, {}).get("state") == "completed" for j in jobs))
        await asyncio.sleep(0.1)  # the coalesced redraw
        assert {j.id: board.jobs[j.id]["progress"] for j in jobs} == {j.id: 100.0 for j in jobs}
        assert board.table.value.count("completed") == 3
        assert "3 completed" in board.title.value
        # waiting + active + 3 progress + completed per job, at least: all pushed, none fetched.
        assert board.received >= 3 * 6
        assert not [e for e in lab.trace if e.actor == board.events.name and e.kind in {"fetch", "poll"}]
        await worker.close()
        await board.close()
        await queue.close()

    asyncio.run(main())


def test_board_keeps_only_the_newest_rows():
    """With limit=2, three jobs leave the two newest on the board."""

    async def main():
        lab = ppl.Lab()
        board = ppl.widgets.job_progress("q", limit=2, lab=lab)
        await board.events.ready()
        queue = ppl.Queue("q", lab=lab)
        jobs = [await queue.add("j", {}) for _ in range(3)]
        await _until(lambda: board.received >= 3)
        assert list(board.jobs) == [jobs[1].id, jobs[2].id]
        await board.close()
        await queue.close()

    asyncio.run(main())


def test_board_refuses_virtual_time_and_bad_limit():
    """In simulate() it points to replay(); limit must be an integer >= 1."""

    async def main(lab):
        with pytest.raises(ValueError, match=r"virtual time.*replay"):
            ppl.widgets.job_progress("video")

    ppl.simulate(main)

    async def bad():
        with pytest.raises(ValueError, match="limit"):
            ppl.widgets.job_progress("video", limit=0, lab=ppl.Lab())

    asyncio.run(bad())


def test_refresh_draws_at_once_from_the_caller():
    """refresh() renders the board now instead of after the coalescing delay."""

    async def main():
        lab = ppl.Lab()
        board = ppl.widgets.job_progress("q", lab=lab)
        await board.events.ready()
        queue = ppl.Queue("q", lab=lab)
        job = await queue.add("j", {})
        await _until(lambda: board.received >= 1)
        board.refresh()
        assert f"job {job.id}" in board.table.value and "1 waiting" in board.title.value
        await board.close()
        await queue.close()

    asyncio.run(main())
