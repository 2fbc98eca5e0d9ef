"""Checks for notebooks/04_queue_events.ipynb."""

from __future__ import annotations

import inspect
from typing import Any

from .. import scenarios
from ._core import exercise

_POLL_DELAY = {"jobs": 40, "interval": 4.0}


@exercise(
    "04.poll-delay",
    "Notebook 04, section 3 (40 jobs, seed 0): the client polls get_job every 4 s. What is the "
    "mean delay from a job's completion until the poller knows, and until the QueueEvents "
    "listener knows? Answer {'listener': seconds, 'poller': seconds}; the poller's may be off by 25 %.",
)
def _poll_delay(answer: Any) -> tuple[bool, str]:

    usage = "answer with a dict of two numbers in seconds: {'listener': ..., 'poller': ...}."
    if not isinstance(answer, dict) or set(answer) != {"listener", "poller"}:
        return False, usage
    values = list(answer.values())
    if any(v is ... or v is None for v in values):
        return False, "replace both ... with numbers of seconds, then run the cell again."
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        return False, usage
    v = scenarios.watch_jobs(**_POLL_DELAY).value
    listener = sum(v["listener"]) / len(v["listener"])
    poller = sum(v["poller"]) / len(v["poller"])
    interval = _POLL_DELAY["interval"]
    if abs(answer["listener"] - listener) > 0.05:
        return False, (
            f"the listener's delay is not {answer['listener']:g} s. When does its blocking read return, "
            "compared with the moment the job's 'completed' entry is appended?"
        )
    if abs(answer["poller"] - poller) > 0.25 * poller:
        hint = "shorter" if answer["poller"] > poller else "longer"
        return False, (
            f"the listener is right; the poller's mean delay is {hint} than {answer['poller']:g} s. A "
            f"completion lands at a random moment between two polls {interval:g} s apart."
        )
    return True, (
        f"measured: listener {listener:g} s, poller {poller:.2f} s (about half of {interval:g} s), at the "
        f"cost of {v['requests']} get_job calls."
    )


@exercise(
    "04.catch-up",
    "An auditor's QueueEvents heard job 1, then was closed while jobs 2-4 completed. Write "
    "reconnect(offline) returning a new ppl.QueueEvents('video-processing', ...) that delivers "
    "jobs 2, 3, 4 and then 5, each once.",
)
def _catch_up(answer: Any) -> tuple[bool, str]:
    from ..clock import simulate, sleep
    from ..pull.events import QueueEvents
    from ..pull.queue import Queue
    from ..pull.worker import Worker

    if not callable(answer) or inspect.iscoroutinefunction(answer):
        return False, "pass your function itself: def reconnect(offline): return ppl.QueueEvents(...)."

    async def main(lab):
        queue = Queue("video-processing")

        async def transcode(job):
            await sleep(1.0)

        worker = Worker("video-processing", transcode, name="worker")
        auditor = QueueEvents("video-processing", name="auditor")
        await auditor.ready()
        for n in range(5):
            await queue.add("transcode", {"file": f"clip-{n}.mov"}, sender="uploader")
        await sleep(1.5)
        await auditor.close()  # jobs 2, 3 and 4 complete while it is away
        await sleep(3.0)
        try:
            back = answer(auditor)
        except Exception as exc:  # the learner's function failed: say how, as a hint
            return f"reconnect raised {type(exc).__name__}: {exc}"
        if not isinstance(back, QueueEvents):
            return f"reconnect returned {back!r}; return the new ppl.QueueEvents."
        heard = []
        back.on("completed", lambda e: heard.append(e.job_id))
        await sleep(1.0)
        await back.close()
        await worker.close()
        return heard

    heard = simulate(main, backend="fakeredis").value
    if isinstance(heard, str):
        return False, heard
    if heard == ["2", "3", "4", "5"]:
        return True, (
            "the auditor heard jobs 2, 3 and 4 at once when it came back, then 5 live: nothing lost, "
            "nothing twice. last_event_id is a pull's bookmark in the log."
        )
    if heard == ["5"]:
        return False, (
            "it only heard job 5: jobs 2, 3 and 4 were missed. last_event_id=None means 'from now on'; "
            "where did the auditor stop reading?"
        )
    if heard[:1] == ["1"]:
        return False, (
            f"it heard {', '.join(heard)}: job 1 twice, because '0' replays the whole log. Start right "
            "after the last event the auditor read."
        )
    return False, f"it heard jobs {heard}; it should hear 2, 3, 4 and 5. Is it reading 'video-processing'?"
