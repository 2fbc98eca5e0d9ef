"""Self-checks for the notebooks' exercises.

::

    ppl.exercises.check("01.predict-drops", 12)

A check recomputes the right answer by running the lab (never a stored number) and says
what is right or what to look at next. ``ppl.exercises.available()`` lists every exercise.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import scenarios


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: ``ok`` and a sentence for the learner."""

    exercise: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        mark = "✓ Correct" if self.ok else "✗ Not yet"
        return f"{mark} ({self.exercise}): {self.message}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#b35900"
        mark = "✓ Correct" if self.ok else "✗ Not yet"
        return (
            f"<div style='border-left:4px solid {colour};padding:4px 10px'>"
            f"<b>{mark}</b> <code>{html.escape(self.exercise)}</code>: {html.escape(self.message)}</div>"
        )


_CHECKS: dict[str, tuple[str, Callable[[Any], tuple[bool, str]]]] = {}


def _exercise(exercise_id: str, prompt: str):
    def register(fn: Callable[[Any], tuple[bool, str]]):
        _CHECKS[exercise_id] = (prompt, fn)
        return fn

    return register


def check(exercise: str, answer: Any) -> Verdict:
    """Check ``answer`` for ``exercise``; returns a :class:`Verdict` that displays itself."""
    if exercise not in _CHECKS:
        known = ", ".join(sorted(_CHECKS))
        raise ValueError(f"check(exercise={exercise!r}): exercise must be one of {known}")
    if answer is ... or answer is None:
        return Verdict(exercise, False, "replace the ... with your answer, then run the cell again.")
    ok, message = _CHECKS[exercise][1](answer)
    return Verdict(exercise, ok, message)


def available() -> dict[str, str]:
    """Every exercise id with its prompt."""
    return {k: prompt for k, (prompt, _) in sorted(_CHECKS.items())}


# -- 00_welcome ---------------------------------------------------------------------------
@_exercise(
    "00.first-simulation",
    "Write async def main(lab) that publishes 3 messages to a subscribed PubSub, one virtual "
    "second apart, and returns how many the subscriber received.",
)
def _first_simulation(main: Any) -> tuple[bool, str]:
    from .clock import simulate

    if not (callable(main) and inspect.iscoroutinefunction(main)):
        return False, "pass your function itself: an `async def main(lab)`, not its result."
    run = simulate(main, seed=0)
    publishes = run.trace.filter(kind="publish").to_rows()
    times = [round(r["time"], 9) for r in publishes]
    delivered = run.trace.counts().get("deliver", 0)
    if len(publishes) != 3:
        return False, f"the trace shows {len(publishes)} publish event(s); publish exactly 3."
    if times != [0.0, 1.0, 2.0]:
        return False, f"the messages were published at t={times}; sleep 1 virtual second between them."
    if delivered != 3:
        return (
            False,
            f"the subscriber received {delivered}; subscribe before publishing, and await bus.join().",
        )
    if run.value != delivered:
        return False, f"main returned {run.value!r}, but the trace shows {delivered} deliveries."
    return True, f"3 messages at t={times}, 3 delivered, virtual run ended at t={run.now:g} s."


# -- 01_push ------------------------------------------------------------------------------
_PREDICT = {"messages": 30, "interval": 0.1, "handling": 0.25, "buffer": 5, "overflow": "drop_newest"}


@_exercise(
    "01.predict-drops",
    "30 messages, one every 0.1 s; the slow subscriber needs 0.25 s each, buffer=5, "
    "overflow='drop_newest'. How many messages does it drop?",
)
def _predict_drops(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int):
        return False, f"answer with a whole number of messages, not {answer!r}."
    dropped = scenarios.slow_subscriber(**_PREDICT).value["slow"]["dropped"]
    if answer == dropped:
        return True, f"the slow subscriber drops {dropped} of 30: it drains 4 per second while 10 arrive."
    hint = "fewer" if answer > dropped else "more"
    return False, (
        f"it drops {hint} than {answer}. Count: in 3 s it handles about 3/0.25 = 12 messages, "
        "and the buffer holds 5 more at the end of publishing."
    )


@_exercise(
    "01.no-loss",
    "Same stream (30 messages, 0.1 s apart, 0.25 s handling). Choose buffer and overflow so "
    "the slow subscriber loses nothing AND the publisher is never held up.",
)
def _no_loss(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict) or set(answer) != {"buffer", "overflow"}:
        return False, 'answer with a dict: {"buffer": <int>, "overflow": "<policy>"}.'
    try:
        value = scenarios.slow_subscriber(messages=30, interval=0.1, handling=0.25, **answer).value
    except (TypeError, ValueError) as exc:
        return False, str(exc)
    lost, waited = value["slow"]["dropped"], value["publisher_waited"]
    if lost:
        return False, f"the slow subscriber still lost {lost} messages: its buffer overflows."
    if waited > 0:
        return False, (
            f"nothing was lost, but the publisher was held up for {waited:g} s in total: 'block' moves "
            "the backlog back onto the producer."
        )
    backlog = max(
        d for _, d in scenarios.slow_subscriber(buffer=1000, overflow="drop_newest").trace.depth("slow-phone")
    )
    return True, (
        f"no loss and no waiting. The backlog peaks at {backlog} messages, so any buffer >= {backlog} "
        "works — push needs memory sized for the worst burst."
    )


# -- 02_pull ------------------------------------------------------------------------------
_INTERVALS = [round(0.1 * k, 1) for k in range(1, 41)]  # 0.1 s .. 4.0 s


@_exercise(
    "02.pick-interval",
    "For scenarios.pull_styles('short', interval=...): the largest polling interval (a multiple "
    "of 0.1 s) whose p99 latency stays at or under 1 second.",
)
def _pick_interval(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer <= 0:
        return False, f"answer with an interval in seconds, such as 0.7, not {answer!r}."
    p99 = scenarios.pull_styles("short", interval=answer).value["latency"].p99
    best = max(
        i for i in _INTERVALS if scenarios.pull_styles("short", interval=i).value["latency"].p99 <= 1.0
    )
    if p99 > 1.0:
        return False, f"at interval={answer:g} s the p99 latency is {p99:.3g} s: over 1 s. Poll more often."
    if round(answer, 1) < best:
        requests = scenarios.pull_styles("short", interval=answer).value["requests"]
        return (
            False,
            f"p99 is {p99:.3g} s, within the limit, but {requests} requests is more than needed: try longer.",
        )
    requests = scenarios.pull_styles("short", interval=best).value["requests"]
    return True, (
        f"interval={best:g} s keeps p99 at {p99:.3g} s with {requests} requests. Long polling gets "
        "0 s with one request per message: compare them in the table above."
    )


@_exercise(
    "02.group-split",
    "A log with 3 partitions and a consumer group of 2 members (range assignment, members "
    "sorted by name: 'a', 'b'). Which partitions does member 'a' read? Answer with a list.",
)
def _group_split(answer: Any) -> tuple[bool, str]:
    from .pull.log import range_assignment

    truth = range_assignment(["a", "b"], 3)["a"]
    if not isinstance(answer, (list, tuple)) or not all(isinstance(p, int) for p in answer):
        return False, "answer with a list of partition numbers, such as [0]."
    if sorted(answer) == sorted(truth):
        return (
            True,
            f"'a' reads {truth}, 'b' reads the rest: range assignment gives the first member the extra one.",
        )
    return (
        False,
        "not quite: range assignment splits partitions 0..2 into contiguous runs, the first member taking the remainder.",
    )


# -- 03_bullmq_workers --------------------------------------------------------------------
@_exercise(
    "03.makespan",
    "12 jobs of 1 s each are added at t=0 to a queue pulled by one Worker with concurrency=4. "
    "At what time (seconds) does the last job finish?",
)
def _makespan(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, f"answer with a time in seconds, not {answer!r}."
    makespan = scenarios.worker_pool(jobs=12, duration=1.0, concurrency=4).value["makespan"]
    if abs(answer - makespan) < 1e-6:
        return (
            True,
            f"the last job finishes at t={makespan:g} s: 4 slots take 4 jobs per second, 12 jobs take 3 s.",
        )
    return False, "not quite. How many jobs run at the same time, and how many rounds do 12 jobs need?"


@_exercise(
    "03.retry-times",
    "A job added at t=0 with attempts=4 and backoff=('exponential', 1.0) fails instantly every "
    "time. At which times do its 4 attempts start? Answer with a list of 4 numbers.",
)
def _retry_times(answer: Any) -> tuple[bool, str]:
    from .clock import simulate, sleep
    from .pull.queue import Queue
    from .pull.worker import Worker

    if not isinstance(answer, (list, tuple)) or len(answer) != 4:
        return False, "answer with a list of 4 start times, such as [0, 1, 2, 3]."

    async def main(lab):
        queue = Queue("flaky")

        def always_fails(job):
            raise RuntimeError("the encoder crashed")

        worker = Worker("flaky", always_fails)
        await queue.add("transcode", {}, attempts=4, backoff=("exponential", 1.0))
        while (await queue.get_job_counts())["failed"] < 1:
            await sleep(0.5)
        await worker.close()
        return [round(e.time, 9) for e in lab.trace.filter(kind="active")]

    starts = simulate(main).value
    if [float(a) for a in answer] == starts:
        return True, f"attempts start at {starts}: the waits double, 1 s, 2 s, 4 s, after each failure."
    return False, "not quite. After the n-th failure the wait is 1 s × 2^(n-1); add the waits up."


# -- 04_queue_events ----------------------------------------------------------------------
_POLL_DELAY = {"jobs": 40, "interval": 4.0}


@_exercise(
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


@_exercise(
    "04.catch-up",
    "An auditor's QueueEvents heard job 1, then was closed while jobs 2-4 completed. Write "
    "reconnect(offline) returning a new ppl.QueueEvents('video-processing', ...) that delivers "
    "jobs 2, 3, 4 and then 5, each once.",
)
def _catch_up(answer: Any) -> tuple[bool, str]:
    from .clock import simulate, sleep
    from .pull.events import QueueEvents
    from .pull.queue import Queue
    from .pull.worker import Worker

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


# -- 05_comparison ------------------------------------------------------------------------
def _pushed_stream_p99(seed: int = 3) -> float:
    """Notebook 05's push run: the pull_styles stream (seed 3) published through a PubSub."""
    from .clock import simulate, sleep
    from .push.pubsub import PubSub
    from .trace import Stats

    async def main(lab):
        bus = PubSub("news")
        bus.subscribe("story", lambda message: None, name="app")
        for n in range(50):
            await sleep(lab.rng.expovariate(0.5))
            await bus.publish("story", {"n": n}, sender="newsroom")

    return Stats.of(simulate(main, seed=seed).trace.latencies("publish", "deliver")).p99


@_exercise(
    "05.predict-p50",
    "For scenarios.pull_styles('short', interval=3.0): the p50 latency in seconds, within 0.25 s.",
)
def _predict_p50(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, f"answer with a number of seconds, such as 0.8, not {answer!r}."
    p50 = scenarios.pull_styles("short", interval=3.0).value["latency"].p50
    if abs(answer - p50) <= 0.25:
        return True, (
            f"the median is {p50:.3g} s: a story waits on average half the 3 s interval for the next poll."
        )
    hint = "too high: most stories do not wait a whole interval" if answer > p50 else "too low"
    return False, f"{answer:g} s is {hint}. Where, between two polls, does a story arrive on average?"


@_exercise(
    "05.only-short-polling",
    "If pull were only short polling (every 0.5, 1 and 2 s), what would notebook 05's rule give "
    "for the Latency row: 'confirmed', 'nuanced' or 'contradicted'?",
)
def _only_short_polling(answer: Any) -> tuple[bool, str]:
    choices = ("confirmed", "nuanced", "contradicted")
    if not isinstance(answer, str) or answer.strip().lower() not in choices:
        return False, f"answer with one of {', '.join(repr(c) for c in choices)}, not {answer!r}."
    push = _pushed_stream_p99()
    p50s = {i: scenarios.pull_styles("short", interval=i).value["latency"].p50 for i in (0.5, 1.0, 2.0)}
    slower = all(abs(p - i / 2) <= 0.25 * i and p > push + 0.05 for i, p in p50s.items())
    truth = "confirmed" if slower else "contradicted"
    if answer.strip().lower() == truth:
        return True, (
            f"{truth}: push p99 is {push:.3g} s and every short poll is slower (p50 "
            + ", ".join(f"{p:.3g} s" for p in p50s.values())
            + "). The nuance comes only from long polling and blocking pulls."
        )
    return False, (
        "not quite: with no long polling or blocking pull, is there any pull style left that matches push?"
    )
