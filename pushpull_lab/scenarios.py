"""Small ready-made experiments shared by notebooks, panels and exercise checks.

Each returns a :class:`~pushpull_lab.Run` from virtual time, so its numbers are exact and
the same on every machine::

    run = scenarios.slow_subscriber(buffer=5, overflow="drop_newest")
    run.value        # {'published': 30, 'fast': {...}, 'slow': {...}, 'publisher_waited': 0.0}
"""

from __future__ import annotations

import asyncio

from . import _validate
from .clock import Run, simulate, sleep
from .errors import BufferFullError
from .pull.events import QueueEvents
from .pull.log import Consumer, Log
from .pull.poller import long_poll, short_poll
from .pull.queue import Queue
from .pull.worker import Worker
from .push.pubsub import OVERFLOW_POLICIES, PubSub

PULL_STYLES = ("short", "long", "blocking")


def slow_subscriber(
    *,
    messages: int = 30,
    interval: float = 0.1,
    handling: float = 0.25,
    buffer: int = 5,
    overflow: str = "drop_newest",
    seed: int = 0,
) -> Run:
    """A publisher sends ``messages`` every ``interval`` s to a fast and a slow subscriber.

    The fast one handles each message instantly; the slow one takes ``handling`` s each,
    with a buffer of ``buffer`` messages and the given ``overflow`` policy. ``run.value``
    counts, per subscriber, what was delivered, dropped and still pending at the end of
    publishing, how long the publisher was held up in total, and how many times it was told
    a buffer was full (``overflow="error"``).
    """
    where = "slow_subscriber"
    _validate.integer(where, "messages", messages, minimum=1)
    _validate.number(where, "interval", interval, minimum=0)
    _validate.number(where, "handling", handling, minimum=0)
    _validate.integer(where, "buffer", buffer, minimum=1)
    _validate.choice(where, "overflow", overflow, OVERFLOW_POLICIES)

    async def main(lab):
        bus = PubSub("scores")

        async def slow_handler(message):
            await sleep(handling)

        fast = bus.subscribe("match.*", lambda m: None, name="scoreboard")
        slow = bus.subscribe("match.*", slow_handler, buffer=buffer, overflow=overflow, name="slow-phone")
        refused = 0
        for i in range(messages):
            try:
                await bus.publish(f"match.{i % 3}", {"goal": i}, sender="stadium")
            except BufferFullError:  # overflow="error": the publisher is told, counts it, goes on
                refused += 1
            await sleep(interval)
        at_end = {"fast": _counts(fast), "slow": _counts(slow)}
        await bus.join()
        waited = sum(row["waited"] for row in lab.trace.filter(kind="blocked").to_rows())
        return {
            "published": messages,
            "buffer": buffer,
            **at_end,
            "publisher_waited": round(waited, 9),
            "publisher_errors": refused,
        }

    return simulate(main, seed=seed)


def _counts(sub) -> dict[str, int]:
    return {"delivered": sub.delivered, "dropped": sub.dropped, "pending": sub.pending}


def pull_styles(
    style: str = "short",
    *,
    interval: float = 1.0,
    hold: float = 30.0,
    messages: int = 50,
    rate: float = 0.5,
    seed: int = 3,
) -> Run:
    """The same random stream of ``messages`` (``rate`` per second on average) pulled three ways.

    ``style="short"``: a consumer polls a :class:`~pushpull_lab.Log` every ``interval`` s.
    ``style="long"``: it long-polls, each request held up to ``hold`` s.
    ``style="blocking"``: a :class:`~pushpull_lab.Worker` blocks on a
    :class:`~pushpull_lab.Queue` (BullMQ's way).
    ``run.value`` has ``received``, ``requests`` (traced requests: polls, empty polls,
    fetches), ``empty`` (requests that brought nothing) and the ``latency`` :class:`Stats`
    from the moment a message was stored to the moment the consumer got it.
    """
    where = "pull_styles"
    _validate.choice(where, "style", style, PULL_STYLES)
    _validate.number(where, "interval", interval, positive=True)
    _validate.number(where, "hold", hold, positive=True)
    _validate.integer(where, "messages", messages, minimum=1)
    _validate.number(where, "rate", rate, positive=True)

    async def main(lab):
        received = []
        if style == "blocking":
            queue = Queue("news")

            async def process(job):
                received.append(job.id)

            Worker("news", process, fetch="blocking", name="app")
            store = queue.add
        else:
            log = Log("news")
            consumer = Consumer(log, group="app", name="app")
            poll = (
                short_poll(consumer, received.append, interval=interval)
                if style == "short"
                else long_poll(consumer, received.append, hold=hold)
            )
            poller = asyncio.ensure_future(poll)
            store = log.append
        for i in range(messages):
            await sleep(lab.rng.expovariate(rate))
            if style == "blocking":
                await store("story", {"n": i}, sender="newsroom")
            else:
                await store({"n": i}, sender="newsroom")
        await sleep(interval if style == "short" else 0.001)  # let the last one be picked up
        if style != "blocking":
            poller.cancel()
        trace = lab.trace
        start, end = ("add", "fetch") if style == "blocking" else ("append", "consume")
        counts = trace.filter(actor="app").counts()
        requests = sum(counts.get(k, 0) for k in ("poll", "empty_poll", "fetch"))
        return {
            "received": len(received),
            "requests": requests,
            "empty": counts.get("empty_poll", 0),
            "latency": trace.latency(start, end),
        }

    return simulate(main, seed=seed)


def worker_pool(
    *,
    jobs: int = 12,
    duration: float = 1.0,
    concurrency: int = 1,
    workers: int = 1,
    spacing: float = 0.0,
    seed: int = 0,
) -> Run:
    """``jobs`` jobs of ``duration`` s each, added ``spacing`` s apart, pulled by ``workers``
    workers of ``concurrency`` slots each (BullMQ-style, blocking fetch).

    ``run.value`` has ``makespan`` (when the last job finished), ``throughput`` (jobs per
    second over the makespan), ``per_worker`` (jobs each worker took) and ``wait`` (the
    :class:`Stats` of add → fetch).
    """
    where = "worker_pool"
    _validate.integer(where, "jobs", jobs, minimum=1)
    _validate.number(where, "duration", duration, minimum=0)
    _validate.integer(where, "concurrency", concurrency, minimum=1)
    _validate.integer(where, "workers", workers, minimum=1)
    _validate.number(where, "spacing", spacing, minimum=0)

    async def main(lab):
        queue = Queue("video")

        async def transcode(job):
            await sleep(duration)
            return {"file": job.data["file"], "seconds": duration}

        pool = [
            Worker("video", transcode, concurrency=concurrency, name=f"worker-{i + 1}")
            for i in range(workers)
        ]
        for n in range(jobs):
            if n and spacing:
                await sleep(spacing)
            await queue.add("transcode", {"file": f"clip-{n + 1}.mp4"}, sender="uploader")
        while (await queue.get_job_counts())["completed"] < jobs:
            await sleep(duration / 4 or 0.01)
        finished = max(job.finished_at for job in await queue.get_jobs("completed"))
        for w in pool:
            await w.close()
        fetched = lab.trace.filter(kind="fetch").counts(by="actor")
        return {
            "makespan": round(finished, 9),
            "throughput": jobs / finished if finished else float("inf"),
            "per_worker": {w.name: fetched.get(w.name, 0) for w in pool},
            "wait": lab.trace.latency("add", "fetch"),
        }

    return simulate(main, seed=seed)


def watch_jobs(*, jobs: int = 40, interval: float = 2.0, seed: int = 0) -> Run:
    """Notebook 04: learn that jobs finished by a QueueEvents listener (push) or by polling
    ``get_job`` every ``interval`` seconds (pull). ``run.value`` has the ``listener`` and
    ``poller`` delays (seconds after each completion), the poller's ``requests``, the
    listener's blocking ``reads`` and the event-log ``entries`` it received.
    """
    _validate.integer("watch_jobs", "jobs", jobs, minimum=1)
    _validate.number("watch_jobs", "interval", interval, positive=True)
    return simulate(lambda lab: _watch_jobs(lab, jobs, interval), seed=seed)


async def _watch_jobs(lab, jobs: int = 40, interval: float = 2.0) -> dict:
    """Notebook 04, section 3: a QueueEvents listener vs a client polling get_job.

    The notebook shows this code inline for reading; tests/unit/test_exercises.py checks
    that both give the same trace.
    """
    queue = Queue("video-processing")
    queue_events = QueueEvents("video-processing", name="queue-events")
    await queue_events.ready()
    queue_events.on("completed", lambda e: None, name="listener")

    async def transcode(job):
        await sleep(job.data["seconds"])

    worker = Worker("video-processing", transcode, concurrency=4, name="worker")
    unfinished = []

    async def poll_every(interval):
        found = 0
        while found < jobs:
            await sleep(interval)
            for job_id in list(unfinished):
                job = await queue.get_job(job_id)
                if job.state == "completed":
                    unfinished.remove(job_id)
                    found += 1
                    lab.trace.record("poll", "poller", "video-processing", job_id)
                else:
                    lab.trace.record("empty_poll", "poller", "video-processing", job_id)

    poller = asyncio.ensure_future(poll_every(interval))
    for _ in range(jobs):
        seconds = round(lab.rng.uniform(0.5, 3.0), 2)
        job = await queue.add("transcode", {"seconds": seconds}, sender="uploader")
        unfinished.append(job.id)
        await sleep(round(lab.rng.expovariate(1 / 1.5), 2))
    await poller
    await worker.close()
    await queue_events.close()
    trace = lab.trace
    return {
        "listener": trace.latencies("completed", "notify", peer="listener"),
        "poller": trace.latencies("completed", "poll", actor="poller"),
        "requests": len(trace.filter(kind={"poll", "empty_poll"}, actor="poller")),
        "reads": len(trace.filter(kind="consume", actor="queue-events")),
        "entries": queue_events.received,
    }


# -- 06_use_cases ----------------------------------------------------------------------------


def flaky_jobs(
    *,
    jobs: int = 1,
    attempts: int = 4,
    backoff: tuple | None = ("exponential", 1.0),
    delay: float = 2.0,
    work: float = 0.5,
    failure_rate: float = 1.0,
    concurrency: int = 4,
    seed: int = 0,
) -> Run:
    """Notebook 06: ``jobs`` calls to a flaky partner API, retried with ``attempts`` and ``backoff``.

    A shop adds every job at t=0 with ``delay``; a worker (``concurrency`` slots) pulls them;
    each attempt takes ``work`` s and then fails with probability ``failure_rate`` (drawn from
    ``lab.rng``; 1.0 always fails, 0.0 never). ``run.value["jobs"]`` maps each job id to its
    ``attempts`` (when each attempt started, read from the trace's ``active`` events), its
    final ``state`` and ``attempts_made``; ``run.value["failed"]`` lists the ids in the failed set.
    """
    from .pull.queue import check_backoff

    where = "flaky_jobs"
    _validate.integer(where, "jobs", jobs, minimum=1)
    _validate.integer(where, "attempts", attempts, minimum=1)
    check_backoff(where, backoff)
    _validate.number(where, "delay", delay, minimum=0)
    _validate.number(where, "work", work, minimum=0)
    _validate.number(where, "failure_rate", failure_rate, minimum=0)
    if failure_rate > 1:
        raise ValueError(f"{where}(failure_rate={failure_rate!r}): failure_rate must be between 0 and 1")
    _validate.integer(where, "concurrency", concurrency, minimum=1)

    async def main(lab):
        queue = Queue("partner-calls")

        async def call_partner(job):
            await sleep(work)
            if lab.rng.random() < failure_rate:
                raise ConnectionError("partner API answered 503")
            return {"status": 200}

        worker = Worker("partner-calls", call_partner, concurrency=concurrency, name="caller")
        options = {"delay": delay, "attempts": attempts, "backoff": backoff}
        await queue.add_bulk(
            [{"name": "notify", "data": {"order": n + 1}, **options} for n in range(jobs)], sender="shop"
        )
        while True:
            counts = await queue.get_job_counts()
            if counts["completed"] + counts["failed"] == jobs:
                break
            await sleep(0.25)
        await worker.close()
        started: dict[str, list[float]] = {}
        for e in lab.trace.filter(kind="active", actor="caller"):
            started.setdefault(e.msg, []).append(e.time)
        final = {job.id: job for job in await queue.get_jobs(["completed", "failed"])}
        return {
            "jobs": {
                job_id: {
                    "attempts": started.get(job_id, []),
                    "state": job.state,
                    "attempts_made": job.attempts_made,
                }
                for job_id, job in sorted(final.items(), key=lambda kv: int(kv[0]))
            },
            "failed": [job.id for job in await queue.get_jobs("failed")],
            "counts": counts,
        }

    return simulate(main, seed=seed)


def batch_loader(
    *,
    batch: int = 10,
    rate: float = 40.0,
    seconds: float = 15.0,
    overhead: float = 0.1,
    per_record: float = 0.004,
    linger: float = 0.5,
    seed: int = 0,
) -> Run:
    """Notebook 06: a loader pulls click records from a :class:`Log` in batches and stores them.

    A website appends records at random, ``rate`` a second on average, for ``seconds`` s.
    The loader polls up to ``batch`` records; once it has the first one it keeps polling
    until the batch is full or ``linger`` s have passed, then stores the batch, which
    costs ``overhead + per_record * size`` s (one database round trip per batch), and
    commits. Each stored record is traced as ``stored``. ``run.value`` has ``records``,
    ``batches``, ``mean_batch``, ``finished`` (when the last record was stored), ``busy``
    (fraction of that time spent storing) and ``latency`` (:class:`Stats` of append → stored).
    """
    where = "batch_loader"
    _validate.integer(where, "batch", batch, minimum=1)
    _validate.number(where, "rate", rate, positive=True)
    _validate.number(where, "seconds", seconds, positive=True)
    _validate.number(where, "overhead", overhead, minimum=0)
    _validate.number(where, "per_record", per_record, minimum=0)
    _validate.number(where, "linger", linger, minimum=0)

    async def main(lab):
        arrivals, t = [], lab.rng.expovariate(rate)
        while t <= seconds:
            arrivals.append(t)
            t += lab.rng.expovariate(rate)
        log = Log("clicks")
        consumer = Consumer(log, group="warehouse", name="loader")

        async def website():
            for n, at in enumerate(arrivals):
                await sleep(at - lab.now())
                await log.append({"click": n}, sender="website")

        producer = asyncio.ensure_future(website())
        stored, batches, busy = 0, 0, 0.0
        while stored < len(arrivals):
            got = await consumer.poll(max_records=batch, timeout=seconds)  # wait for the first record
            deadline = lab.now() + linger
            while got and len(got) < batch and lab.now() < deadline:
                got += await consumer.poll(max_records=batch - len(got), timeout=deadline - lab.now())
            if not got:
                continue
            cost = overhead + per_record * len(got)
            await sleep(cost)  # one write of the whole batch
            for record in got:
                lab.trace.record("stored", "loader", "warehouse", record.id, batch=len(got))
            await consumer.commit()
            stored, batches, busy = stored + len(got), batches + 1, busy + cost
        await producer
        finished = lab.now()
        return {
            "records": stored,
            "batches": batches,
            "mean_batch": stored / batches if batches else 0.0,
            "finished": finished,
            "busy": busy / finished if finished else 0.0,
            "latency": lab.trace.latency("append", "stored"),
        }

    return simulate(main, seed=seed)


def rate_limited_burst(
    *,
    jobs: int = 60,
    duration: float = 0.5,
    jitter: float = 0.0,
    concurrency: int = 4,
    limiter: dict | None = None,
    seed: int = 0,
) -> Run:
    """Notebook 06: a burst of ``jobs`` jobs at t=0, pulled by one worker with a concurrency and a limiter.

    Each job takes ``duration`` s, or, with ``jitter`` j, a time drawn uniformly from
    ``duration * (1 - j)`` to ``duration * (1 + j)`` (``lab.rng``, drawn when it is added).
    ``run.value`` has ``makespan`` (when the last job finished), ``throughput`` (jobs/s
    over it), ``max_in_flight`` and ``max_started`` (most jobs started in any window of
    ``window`` s: the limiter's duration, or 1 s without one), all read from the trace.
    """
    from .pull.worker import _check_limiter

    where = "rate_limited_burst"
    _validate.integer(where, "jobs", jobs, minimum=1)
    _validate.number(where, "duration", duration, minimum=0)
    _validate.number(where, "jitter", jitter, minimum=0)
    if jitter > 1:
        raise ValueError(f"{where}(jitter={jitter!r}): jitter must be between 0 and 1")
    _validate.integer(where, "concurrency", concurrency, minimum=1)
    window = 1.0 if limiter is None else _check_limiter(where, limiter)[1]

    async def main(lab):
        queue = Queue("emails")

        async def send(job):
            await sleep(job.data["seconds"])

        worker = Worker("emails", send, concurrency=concurrency, limiter=limiter, name="mailer")
        spread = [
            duration if not jitter else lab.rng.uniform(duration * (1 - jitter), duration * (1 + jitter))
            for _ in range(jobs)
        ]
        await queue.add_bulk(
            [
                {"name": "newsletter", "data": {"to": f"user-{n + 1}", "seconds": s}}
                for n, s in enumerate(spread)
            ],
            sender="campaign",
        )
        while (await queue.get_job_counts())["completed"] < jobs:
            await sleep(max(duration / 4, 0.01))
        makespan = max(job.finished_at for job in await queue.get_jobs("completed"))
        await worker.close()
        return {
            "makespan": makespan,
            "throughput": jobs / makespan if makespan else float("inf"),
            "max_in_flight": max(n for _, n in jobs_in_flight(lab.trace, "mailer")),
            "max_started": most_started(lab.trace, "mailer", window),
            "window": window,
        }

    return simulate(main, seed=seed)


def jobs_in_flight(trace, worker: str) -> list[tuple[float, int]]:
    """How many jobs ``worker`` was processing over time, read from its ``active`` events and
    their ends (``completed``, ``failed``, ``retry``, ``returned``): ``[(time, n), ...]``."""
    ends = {"completed", "failed", "retry", "returned", "lock_lost"}
    return _in_flight(trace.filter(kind={"active", *ends}, actor=worker))


def _in_flight(events) -> list[tuple[float, int]]:
    """Count up at each ``active`` event and down at every other one: ``[(time, n), ...]``,
    one point per instant (the count once that instant's events are all in)."""
    n, out = 0, [(0.0, 0)]
    for e in events:
        n += 1 if e.kind == "active" else -1
        if out[-1][0] == e.time:
            out[-1] = (e.time, n)
        else:
            out.append((e.time, n))
    return out


def most_started(trace, worker: str, window: float = 1.0) -> int:
    """The most jobs ``worker`` fetched in any ``window`` seconds (half-open, as a limiter counts)."""
    _validate.number("most_started", "window", window, positive=True)
    times = [e.time for e in trace.filter(kind="fetch", actor=worker)]
    best, j = 0, 0
    for i, t in enumerate(times):
        while j < len(times) and times[j] < t + window - 1e-9:
            j += 1
        best = max(best, j - i)
    return best


# -- 07_when_to_use_what ----------------------------------------------------------------------------
# Small experiments behind notebook 07's decision helper (pushpull_lab/advisor.py): one per row of
# the source text's "When to Use What?" table. Each runs both models on the same random draws.

WHEN_MODELS = ("push", "pull")
TASK_BURST_MODELS = ("emitter", "pubsub", "queue")


def pushed_stream(*, messages: int = 50, rate: float = 0.5, seed: int = 3) -> Run:
    """The :func:`pull_styles` stream (same gaps for the same seed) *pushed* through a PubSub to ``app``.

    ``run.value`` has ``received``, ``requests`` (0: app never asks) and the ``latency``
    :class:`Stats` from publish to delivery, to set next to ``pull_styles`` runs.
    """
    where = "pushed_stream"
    _validate.integer(where, "messages", messages, minimum=1)
    _validate.number(where, "rate", rate, positive=True)

    async def main(lab):
        bus = PubSub("news")
        bus.subscribe("story", lambda message: None, name="app")
        for i in range(messages):
            await sleep(lab.rng.expovariate(rate))
            await bus.publish("story", {"n": i}, sender="newsroom")
        await bus.join()
        requests = sum(lab.trace.filter(actor="app").counts().get(k, 0) for k in ("poll", "empty_poll"))
        return {
            "received": messages,
            "requests": requests,
            "latency": lab.trace.latency("publish", "deliver"),
        }

    return simulate(main, seed=seed)


def failing_tasks(
    model: str = "pull",
    *,
    jobs: int = 30,
    failure_rate: float = 0.3,
    attempts: int = 3,
    seed: int = 0,
) -> Run:
    """``jobs`` tasks, each attempt failing with probability ``failure_rate`` (same draws for both models).

    ``model="push"``: the tasks are published to a subscriber whose handler does the work; a
    failed handler is recorded (an ``error`` event) and the task is gone — nothing retries it.
    ``model="pull"``: the tasks are jobs in a :class:`~pushpull_lab.Queue` with ``attempts``
    tries and a 0.5 s fixed backoff, pulled by a :class:`~pushpull_lab.Worker`.
    ``run.value`` has ``done`` (tasks that succeeded), ``lost`` (failed for good), ``retries``
    and ``attempts_needed`` (for each done task, the attempt that succeeded).
    """
    where = "failing_tasks"
    _validate.choice(where, "model", model, WHEN_MODELS)
    _validate.integer(where, "jobs", jobs, minimum=1)
    _validate.number(where, "failure_rate", failure_rate, minimum=0)
    if failure_rate > 1:
        raise ValueError(f"{where}(failure_rate={failure_rate!r}): failure_rate must be between 0 and 1")
    _validate.integer(where, "attempts", attempts, minimum=1)

    async def main(lab):
        fails = [[lab.rng.random() < failure_rate for _ in range(attempts)] for _ in range(jobs)]
        succeeded: dict[int, int] = {}

        def work(n: int, attempt: int) -> None:
            if fails[n][attempt]:
                raise RuntimeError(f"task {n}: attempt {attempt + 1} failed")
            succeeded[n] = attempt + 1

        if model == "push":
            bus = PubSub("tasks", on_error=lambda exc, message, sub: None)  # recorded as 'error' events
            bus.subscribe("task", lambda message: work(message.data["n"], 0), name="handler")
            for n in range(jobs):
                await bus.publish("task", {"n": n}, sender="producer")
                await sleep(0.1)
            await bus.join()
            retries = 0
        else:
            queue = Queue("tasks")

            async def process(job):
                work(job.data["n"], job.attempts_made)

            worker = Worker("tasks", process, name="worker")
            for n in range(jobs):
                await queue.add(
                    "task", {"n": n}, attempts=attempts, backoff=("fixed", 0.5), sender="producer"
                )
                await sleep(0.1)
            while True:
                counts = await queue.get_job_counts()
                if counts["completed"] + counts["failed"] == jobs:
                    break
                await sleep(0.1)
            await worker.close()
            retries = len(lab.trace.filter(kind="retry"))
        return {
            "jobs": jobs,
            "done": len(succeeded),
            "lost": jobs - len(succeeded),
            "retries": retries,
            "attempts_needed": [succeeded[n] for n in sorted(succeeded)],
        }

    return simulate(main, seed=seed)


def fan_out(
    model: str = "push",
    *,
    producers: int = 1,
    consumers: int = 1,
    messages: int = 10,
    rate: float = 1.0,
    handling: float = 0.0,
    slow: int = 0,
    buffer: int = 5,
    seed: int = 0,
) -> Run:
    """``producers`` each send ``messages`` messages (``rate`` per second each, at random); every one
    of ``consumers`` wants every message and spends ``handling`` s on each, except the last ``slow``
    consumers, which take twice the average gap between messages (``2 / (producers * rate)`` s) and
    so can handle only about half of what arrives.

    ``model="push"``: a :class:`~pushpull_lab.PubSub`; each consumer subscribes with a buffer of
    ``buffer`` messages (``drop_oldest`` when full), so the bus sends each message once per consumer.
    ``model="pull"``: a :class:`~pushpull_lab.Log`; each consumer reads it in its own group with
    long polling, at its own pace, so the producers write each message once.
    ``run.value``: ``messages`` (sent in all), ``producer_side`` (exchanges the producers and the
    broker started: publishes + deliveries, or appends), ``consumer_requests`` (polls the consumers
    made), ``handled``, ``lost`` (dropped), ``latency`` (send → a consumer starts handling it).
    """
    where = "fan_out"
    _validate.choice(where, "model", model, WHEN_MODELS)
    _validate.integer(where, "producers", producers, minimum=1)
    _validate.integer(where, "consumers", consumers, minimum=1)
    _validate.integer(where, "messages", messages, minimum=1)
    _validate.number(where, "rate", rate, positive=True)
    _validate.number(where, "handling", handling, minimum=0)
    _validate.integer(where, "slow", slow, minimum=0)
    if slow > consumers:
        raise ValueError(f"{where}(slow={slow!r}): slow must be between 0 and consumers ({consumers})")
    _validate.integer(where, "buffer", buffer, minimum=1)
    total = producers * messages
    seconds = [handling] * (consumers - slow) + [2 / (producers * rate)] * slow  # per message, per consumer

    async def main(lab):
        handled = [0] * consumers

        def handler(k: int):
            async def handle(item):
                lab.trace.record("handle", f"consumer-{k + 1}", None, item.id)
                handled[k] += 1
                if seconds[k]:
                    await sleep(seconds[k])

            return handle

        gaps = [[lab.rng.expovariate(rate) for _ in range(messages)] for _ in range(producers)]
        if model == "push":
            bus = PubSub("bus")
            subs = [
                bus.subscribe(
                    "m.*", handler(k), buffer=buffer, overflow="drop_oldest", name=f"consumer-{k + 1}"
                )
                for k in range(consumers)
            ]

            async def produce(p: int):
                for gap in gaps[p]:
                    await sleep(gap)
                    await bus.publish(f"m.{p}", None, sender=f"producer-{p + 1}")

            await asyncio.gather(*(produce(p) for p in range(producers)))
            await bus.join()
            lost = sum(s.dropped for s in subs)
            start, producer_kinds = "publish", {"publish", "deliver"}
        else:
            log = Log("log")
            readers = [
                Consumer(log, group=f"consumer-{k + 1}", name=f"consumer-{k + 1}") for k in range(consumers)
            ]
            polls = [
                asyncio.ensure_future(long_poll(c, handler(k), hold=30.0)) for k, c in enumerate(readers)
            ]

            async def produce(p: int):
                for gap in gaps[p]:
                    await sleep(gap)
                    await log.append(None, sender=f"producer-{p + 1}")

            await asyncio.gather(*(produce(p) for p in range(producers)))
            while sum(handled) < total * consumers:
                await sleep(0.05)
            for poll in polls:
                poll.cancel()
            lost = 0
            start, producer_kinds = "append", {"append"}
        counts = lab.trace.counts()
        return {
            "model": model,
            "messages": total,
            "producer_side": sum(counts.get(k, 0) for k in producer_kinds),
            "consumer_requests": counts.get("poll", 0) + counts.get("empty_poll", 0),
            "handled": sum(handled),
            "lost": lost,
            "latency": lab.trace.latency(start, "handle"),
        }

    return simulate(main, seed=seed)


def task_burst(
    model: str = "queue",
    *,
    jobs: int = 40,
    within: float = 1.0,
    work: float = 1.0,
    consumers: int = 2,
    buffer: int = 5,
    seed: int = 0,
) -> Run:
    """``jobs`` tasks of ``work`` s each arrive at random within ``within`` s: who controls the load?

    ``model="emitter"``: an :class:`~pushpull_lab.EventEmitter` with an async listener (a webhook
    handler): every task starts the moment it is pushed. ``model="pubsub"``: pushed round-robin to
    ``consumers`` subscribers that handle one at a time with a buffer of ``buffer`` (``drop_oldest``).
    ``model="queue"``: added to a :class:`~pushpull_lab.Queue` and pulled by ``consumers`` workers of
    concurrency 1. ``run.value``: ``peak`` (most tasks in progress at once), ``done``, ``lost``,
    ``makespan`` (when the last task finished) and ``in_flight`` (``[(t, n), ...]``).
    """
    where = "task_burst"
    _validate.choice(where, "model", model, TASK_BURST_MODELS)
    _validate.integer(where, "jobs", jobs, minimum=1)
    _validate.number(where, "within", within, minimum=0)
    _validate.number(where, "work", work, minimum=0)
    _validate.integer(where, "consumers", consumers, minimum=1)
    _validate.integer(where, "buffer", buffer, minimum=1)

    async def main(lab):
        arrivals = sorted(lab.rng.uniform(0, within) for _ in range(jobs))

        async def task(n: int, by: str):
            lab.trace.record("active", by, None, n)
            await sleep(work)
            lab.trace.record("completed", by, None, n)

        now = 0.0
        if model == "emitter":
            from .push.emitter import EventEmitter

            em = EventEmitter("webhook")

            async def handler(n):
                await task(n, "handler")

            em.on("task", handler)
            for n, at in enumerate(arrivals):
                await sleep(at - now)
                now = at
                em.emit("task", n)
            while len(lab.trace.filter(kind="completed", actor="handler")) < jobs:
                await sleep(work / 4 or 0.01)
            lost = 0
        elif model == "pubsub":
            bus = PubSub("balancer")

            def handler_of(name: str):
                return lambda message: task(message.data, name)

            subs = [
                bus.subscribe(
                    f"task.{k}",
                    handler_of(f"consumer-{k + 1}"),
                    buffer=buffer,
                    overflow="drop_oldest",
                    name=f"consumer-{k + 1}",
                )
                for k in range(consumers)
            ]
            for n, at in enumerate(arrivals):
                await sleep(at - now)
                now = at
                await bus.publish(f"task.{n % consumers}", n, sender="producer")
            await bus.join()
            lost = sum(s.dropped for s in subs)
        else:
            queue = Queue("tasks")
            pool = [
                Worker("tasks", lambda job, k=k: task(job.data, f"worker-{k + 1}"), name=f"worker-{k + 1}")
                for k in range(consumers)
            ]
            for n, at in enumerate(arrivals):
                await sleep(at - now)
                now = at
                await queue.add("task", n, sender="producer")
            while (await queue.get_job_counts())["completed"] < jobs:
                await sleep(work / 4 or 0.01)
            for w in pool:
                await w.close()
            lost = 0
        curve = _tasks_in_flight(lab.trace)
        done = len([e for e in lab.trace if e.kind == "completed" and e.peer is None])
        return {
            "model": model,
            "jobs": jobs,
            "peak": max((n for _, n in curve), default=0),
            "done": done,
            "lost": lost,
            "makespan": max(
                (e.time for e in lab.trace if e.kind == "completed" and e.peer is None), default=0.0
            ),
            "in_flight": curve,
        }

    return simulate(main, seed=seed)


def _tasks_in_flight(trace) -> list[tuple[float, int]]:
    """Tasks in progress over time, from the scenario's own ``active``/``completed`` events (peer None)."""
    return _in_flight(e for e in trace if e.peer is None and e.kind in ("active", "completed"))


# -- 08_hybrid ----------------------------------------------------------------------------
HYBRID_DESIGNS = ("hybrid", "all_pull", "all_push")


def hybrid(
    *,
    design: str = "hybrid",
    uploads: int = 12,
    spacing: float = 0.1,
    workers: int = 2,
    steps: int = 4,
    step_time: float = 0.5,
    viewers: int = 2,
    poll_interval: float = 1.0,
    buffer: int = 2,
    seed: int = 0,
) -> Run:
    """Notebook 08: a burst of ``uploads`` video uploads (``spacing`` s apart) transcoded by
    ``workers`` transcoders (``steps`` steps of ``step_time`` s, reporting progress after
    each), watched by ``viewers`` dashboards. Three ways to wire it:

    - ``"hybrid"``: the transcoders are BullMQ-style workers that **pull** jobs from a queue;
      a gateway listens to QueueEvents and **pushes** every progress update to the dashboards
      (a PubSub standing in for WebSockets).
    - ``"all_pull"``: the same workers, but each dashboard **polls** the queue every
      ``poll_interval`` s (one ``get_jobs`` request per poll).
    - ``"all_push"``: the uploader **pushes** each job to a transcoder (round robin, a
      ``buffer`` of jobs per transcoder, ``drop_newest`` when it is full); progress is pushed.

    ``run.value``: ``completed`` and ``lost`` jobs, ``delays`` (seconds from a progress
    report to a dashboard seeing it), ``missed`` (reports a dashboard never saw), the
    dashboards' ``requests``, the transcoders' ``max_in_flight`` and the ``makespan``.
    """
    where = "hybrid"
    _validate.choice(where, "design", design, HYBRID_DESIGNS)
    _validate.integer(where, "uploads", uploads, minimum=1)
    _validate.number(where, "spacing", spacing, minimum=0)
    _validate.integer(where, "workers", workers, minimum=1)
    _validate.integer(where, "steps", steps, minimum=1)
    _validate.number(where, "step_time", step_time, positive=True)
    _validate.integer(where, "viewers", viewers, minimum=1)
    _validate.number(where, "poll_interval", poll_interval, positive=True)
    _validate.integer(where, "buffer", buffer, minimum=1)
    settings = dict(
        design=design, uploads=uploads, spacing=spacing, workers=workers, steps=steps,
        step_time=step_time, viewers=viewers, poll_interval=poll_interval, buffer=buffer,
    )  # fmt: skip
    return simulate(lambda lab: _hybrid(lab, **settings), seed=seed)


async def _hybrid(
    lab, *, design, uploads, spacing, workers, steps, step_time, viewers, poll_interval, buffer
):
    trace = lab.trace
    viewer_names = [f"dashboard-{i + 1}" for i in range(viewers)]
    in_flight: dict[str, int] = {}
    peak = {"in_flight": 0}

    def saw(viewer: str, job_id: str, progress: int) -> None:
        trace.record("seen", viewer, None, job_id, progress=progress)

    async def transcode(job_id: str, transcoder: str, report) -> dict:
        in_flight[transcoder] = in_flight.get(transcoder, 0) + 1
        peak["in_flight"] = max(peak["in_flight"], in_flight[transcoder])
        for step in range(1, steps + 1):
            await sleep(step_time)
            await report(round(100 * step / steps))
        in_flight[transcoder] -= 1
        return {"job": job_id, "seconds": steps * step_time}

    frontend = PubSub("frontend")
    if design != "all_pull":
        for viewer in viewer_names:
            frontend.subscribe(
                "job.*", lambda m, v=viewer: saw(v, m.data["job"], m.data["progress"]), name=viewer
            )

    pool: list = []
    closers: list = []
    if design == "all_push":
        dispatch = PubSub("dispatch")
        for i in range(workers):
            name = f"transcoder-{i + 1}"

            async def handle(message, name=name):
                job_id = message.data["job"]

                async def report(progress):
                    trace.record("progress", name, "dispatch", job_id, progress=progress)
                    await frontend.publish(
                        f"job.{job_id}", {"job": job_id, "progress": progress}, sender=name
                    )

                await transcode(job_id, name, report)
                trace.record("completed", name, "dispatch", job_id)

            dispatch.subscribe(f"to.{name}", handle, buffer=buffer, overflow="drop_newest", name=name)
        for n in range(uploads):
            if n and spacing:
                await sleep(spacing)
            job_id = str(n + 1)
            trace.record("add", "uploader", "dispatch", job_id)
            await dispatch.publish(f"to.transcoder-{n % workers + 1}", {"job": job_id}, sender="uploader")
        await dispatch.join()
        await frontend.join()
        completed = len(trace.filter(kind="completed"))
    else:
        queue = Queue("video")
        if design == "hybrid":
            gateway = QueueEvents("video", name="gateway")
            await gateway.ready()

            async def forward(e):
                await frontend.publish(
                    f"job.{e.job_id}", {"job": e.job_id, "progress": e.progress}, sender="gateway"
                )

            gateway.on("progress", forward, name="gateway")
            closers.append(gateway)

        def transcoder(name: str):
            async def process(job):
                return await transcode(job.id, name, job.update_progress)

            return Worker("video", process, name=name)

        pool = [transcoder(f"transcoder-{i + 1}") for i in range(workers)]
        pollers = []
        if design == "all_pull":

            async def dashboard(viewer: str):
                known: dict[str, int] = {}
                while True:
                    await sleep(poll_interval)
                    jobs = await queue.get_jobs(["active", "completed"])
                    news = [j for j in jobs if j.progress is not None and known.get(j.id) != j.progress]
                    kind = "poll" if news else "empty_poll"
                    trace.record(kind, viewer, "video", None, jobs=len(jobs))
                    for j in news:
                        known[j.id] = j.progress
                        saw(viewer, j.id, j.progress)
                    if len(known) == uploads and all(p == 100 for p in known.values()):
                        return

            pollers = [asyncio.ensure_future(dashboard(v)) for v in viewer_names]
        for n in range(uploads):
            if n and spacing:
                await sleep(spacing)
            await queue.add("transcode", {"upload": n + 1}, sender="uploader")
        while (await queue.get_job_counts())["completed"] < uploads:
            await sleep(step_time)
        for p in pollers:
            await p
        await frontend.join()
        completed = uploads
        for w in pool:
            await w.close()
        for c in closers:
            await c.close()

    reported = {(e.msg, e.fields["progress"]): e.time for e in trace.filter(kind="progress")}
    delays, seen = [], set()
    for e in trace.filter(kind="seen"):
        key = (e.msg, e.fields["progress"])
        seen.add((e.actor, *key))
        delays.append(e.time - reported[key])
    missed = sum((v, *key) not in seen for v in viewer_names for key in reported)
    finished = [e.time for e in trace.filter(kind="completed")]
    return {
        "design": design,
        "completed": completed,
        "lost": len(trace.filter(kind="drop")),
        "delays": delays,
        "missed": missed,
        "requests": sum(e.actor in viewer_names for e in trace.filter(kind={"poll", "empty_poll"})),
        "max_in_flight": peak["in_flight"],
        "makespan": round(max(finished), 9) if finished else None,
    }


# -- 10_scaling ------------------------------------------------------------------------------


def fanout_at_scale(
    *,
    subscribers: int = 10_000,
    messages: int = 20,
    interval: float = 0.1,
    slow: int = 0,
    offline: int = 0,
    handling: float = 0.5,
    buffer: int = 10,
    overflow: str = "drop_oldest",
    until: float | None = None,
    seed: int = 0,
) -> Run:
    """Notebook 10: one producer pushes ``messages`` (one every ``interval`` s) to ``subscribers``
    clients of one topic through a :class:`~pushpull_lab.PubSub` broker.

    The first ``offline`` clients are dead connections the broker has not noticed: the first
    message handed to them never comes back. The next ``slow`` clients take ``handling`` s per
    message. The rest handle each message at once. Every client has a buffer of ``buffer``
    messages with the given ``overflow`` policy. ``until`` stops the run at that virtual time
    (needed when ``overflow="block"`` meets an offline client: the producer then waits forever).

    ``run.value`` is computed from the trace after the run: ``published``, ``deliveries``
    (the broker's work), ``dropped``, ``peak_backlog`` (most messages held for clients at once,
    after each instant's deliveries: the broker's memory), ``backlog_at_end``,
    ``publisher_held`` (seconds the producer waited for room, including a wait still unfinished
    when ``until`` stopped the run), ``publisher_waiting`` (that unfinished part: from the start of
    the wait to the stop; 0 if the producer was not waiting), ``last_publish`` (time of the last
    publish: a message is published before the producer waits to hand it over),
    ``burst`` (most deliveries at one instant) and ``per_kind``: for
    ``"fast"``, ``"slow"`` and ``"offline"`` clients, ``clients``, ``delivered``, ``dropped``,
    ``pending``, ``max_delay`` (publish → deliver, seconds) and ``last_delivery`` (time);
    ``example`` names one client of each kind (the last one), to follow in the trace.
    """
    where = "fanout_at_scale"
    _validate.integer(where, "subscribers", subscribers, minimum=1)
    _validate.integer(where, "messages", messages, minimum=1)
    _validate.number(where, "interval", interval, minimum=0)
    _validate.integer(where, "slow", slow, minimum=0)
    _validate.integer(where, "offline", offline, minimum=0)
    if slow + offline > subscribers:
        raise ValueError(
            f"{where}(slow={slow!r}, offline={offline!r}): slow + offline must be <= subscribers "
            f"({subscribers})"
        )
    _validate.number(where, "handling", handling, minimum=0)
    _validate.integer(where, "buffer", buffer, minimum=1)
    _validate.choice(where, "overflow", overflow, OVERFLOW_POLICIES)
    until = _validate.optional_number(where, "until", until, positive=True)
    kinds: dict[str, str] = {}
    publishing = [False]  # True while the producer is inside publish (waiting for room under "block")

    async def main(lab):
        bus = PubSub("broker")
        never = asyncio.get_running_loop().create_future()  # a dead connection: no reply, ever

        async def dead(message):
            await never

        async def slow_client(message):
            await sleep(handling)

        def fast_client(message):
            return None

        for i in range(subscribers):
            kind, handler = (
                ("offline", dead) if i < offline else ("slow", slow_client) if i < offline + slow
                else ("fast", fast_client)
            )  # fmt: skip
            # Unnamed on purpose: subscribe(name=...) looks for an old subscription of that name,
            # one scan of all subscriptions per call, which is quadratic at 10,000 clients.
            sub = bus.subscribe("ticker", handler, buffer=buffer, overflow=overflow)
            kinds[sub.name] = kind
        for n in range(messages):
            publishing[0] = True
            await bus.publish("ticker", {"tick": n}, sender="producer")
            publishing[0] = False
            if n < messages - 1:
                await sleep(interval)

    run = simulate(main, seed=seed, until=until)
    run.value = _fanout_summary(run.trace, kinds, stopped_at=run.now if publishing[0] else None)
    return run


def _fanout_summary(trace, kinds: dict[str, str], stopped_at: float | None = None) -> dict:
    """One pass over a fan-out trace: work, drops, backlog (memory) and delays per kind of client."""
    per_kind = {
        k: {"clients": 0, "delivered": 0, "dropped": 0, "pending": 0, "max_delay": 0.0, "last_delivery": None}
        for k in ("fast", "slow", "offline")
    }
    example: dict[str, str] = {}
    for name, kind in kinds.items():
        per_kind[kind]["clients"] += 1
        example[kind] = name
    depth: dict[str, int] = {}
    backlog = peak = published = burst = in_burst = 0
    held = 0.0
    last_publish = burst_time = last_msg = None
    wait_from = 0.0  # when the producer's latest wait for room began (its last publish or blocked event)
    published_at: dict[object, float] = {}
    previous_time = None
    for t, kind, _, peer, msg, fields in trace._rows():  # the raw rows: ~400,000 at 10,000 clients
        if t != previous_time:  # an instant is over: its backlog is what stays
            peak = max(peak, backlog)
            previous_time = t
        if kind == "publish":
            published += 1
            last_publish = wait_from = t
            last_msg = msg
            published_at[msg] = t
        elif kind == "blocked":
            held += fields["waited"]
            if msg == last_msg:
                wait_from = t
        elif kind in ("enqueue", "deliver", "drop") and peer in kinds:
            new = fields["depth"]
            backlog += new - depth.get(peer, 0)
            depth[peer] = new
            if kind == "deliver":
                row = per_kind[kinds[peer]]
                row["delivered"] += 1
                row["max_delay"] = max(row["max_delay"], t - published_at[msg])
                row["last_delivery"] = t
                if t == burst_time:
                    in_burst += 1
                else:
                    burst_time, in_burst = t, 1
                burst = max(burst, in_burst)
            elif kind == "drop":
                per_kind[kinds[peer]]["dropped"] += 1
    peak = max(peak, backlog)
    waiting = 0.0 if stopped_at is None else stopped_at - wait_from  # a wait the stop cut short
    for name, d in depth.items():
        per_kind[kinds[name]]["pending"] += d
    return {
        "subscribers": len(kinds),
        "published": published,
        "deliveries": sum(r["delivered"] for r in per_kind.values()),
        "dropped": sum(r["dropped"] for r in per_kind.values()),
        "peak_backlog": peak,
        "backlog_at_end": backlog,
        "publisher_held": round(held + waiting, 9),
        "publisher_waiting": round(waiting, 9),
        "last_publish": last_publish,
        "burst": burst,
        "per_kind": per_kind,
        "example": example,
    }


def competing_consumers(
    *,
    workers: int = 4,
    rate: float = 25.0,
    duration: float = 1.0,
    seconds: float = 20.0,
    speeds: list[float] | None = None,
    seed: int = 0,
) -> Run:
    """Notebook 10: a producer adds ``rate`` jobs per second, evenly spaced, for ``seconds`` s;
    ``workers`` workers (one slot each) pull them from one queue. A job takes ``duration`` s
    times the worker's entry in ``speeds`` (a slowness factor per worker, default all 1).

    ``run.value``: ``throughput`` (jobs completed per second while the producer was adding:
    over the window from ``duration`` to the last whole ``duration`` before it stopped),
    ``offered`` (= ``rate``), ``capacity`` (jobs per second
    the workers could do), ``utilisation`` (busy fraction of the workers over that window),
    ``per_worker`` (jobs each completed), ``backlog`` (jobs waiting when the producer stopped),
    ``max_in_flight`` (most jobs one worker held at once) and ``makespan`` (when the last
    job finished).
    """
    where = "competing_consumers"
    _validate.integer(where, "workers", workers, minimum=1)
    _validate.number(where, "rate", rate, positive=True)
    _validate.number(where, "duration", duration, positive=True)
    _validate.number(where, "seconds", seconds, positive=True)
    if speeds is None:
        speeds = [1.0] * workers
    if not isinstance(speeds, (list, tuple)) or len(speeds) != workers:
        raise ValueError(
            f"{where}(speeds={speeds!r}): speeds must be None or a list of {workers} slowness factors "
            "(one per worker)"
        )
    factors = [_validate.number(where, "speeds[i]", s, positive=True) for s in speeds]
    jobs = max(1, round(rate * seconds))

    async def main(lab):
        queue = Queue("jobs")
        pool = []
        for i, factor in enumerate(factors):

            async def process(job, factor=factor):
                await sleep(duration * factor)

            pool.append(Worker("jobs", process, concurrency=1, name=f"worker-{i + 1}"))
        for n in range(jobs):
            await queue.add("job", None, sender="producer")
            if n < jobs - 1:
                await sleep(1 / rate)
        stopped = lab.now()
        backlog = (await queue.get_job_counts())["waiting"]
        while (await queue.get_job_counts())["completed"] < jobs:
            await sleep(duration)
        finished = max(job.finished_at for job in await queue.get_jobs("completed"))
        for w in pool:
            await w.close()
        return {"stopped": stopped, "backlog": backlog, "makespan": round(finished, 9)}

    run = simulate(main, seed=seed)
    value = run.value
    # The window: from the first possible completion, a whole number of job durations long and
    # within the producer's run, so that busy workers finish exactly duration-many jobs in it.
    start = duration
    rounds = int((value["stopped"] - start) / duration + 1e-9)
    stop = start + rounds * duration if rounds else max(value["stopped"], start + 1e-9)
    done = [e for e in run.trace.filter(kind="completed") if start + 1e-9 < e.time <= stop + 1e-9]
    busy = 0.0
    started: dict[object, float] = {}
    in_flight: dict[str, int] = {}
    max_in_flight = 0
    for t, kind, actor, _, msg, _ in run.trace:
        if kind == "active":
            started[msg] = t
            in_flight[actor] = in_flight.get(actor, 0) + 1
            max_in_flight = max(max_in_flight, in_flight[actor])
        elif kind == "completed":
            in_flight[actor] -= 1
            busy += max(0.0, min(t, stop) - max(started[msg], start))
    per_worker = run.trace.filter(kind="completed").counts(by="actor")
    run.value = {
        "workers": workers,
        "offered": rate,
        "capacity": sum(1 / (duration * f) for f in factors),
        "throughput": len(done) / (stop - start),
        "utilisation": busy / (workers * (stop - start)),
        "per_worker": {f"worker-{i + 1}": per_worker.get(f"worker-{i + 1}", 0) for i in range(workers)},
        "backlog": value["backlog"],
        "max_in_flight": max_in_flight,
        "makespan": value["makespan"],
    }
    return run


LOAD_BALANCE_STYLES = ("pull", "push")


def load_balance(
    style: str = "pull", *, speeds: tuple = (1.0, 2.0, 4.0), jobs: int = 60, duration: float = 1.0
) -> Run:
    """Notebook 10: ``jobs`` jobs, all ready at t=0, shared by workers of different speeds (a job
    takes ``duration`` × the worker's factor in ``speeds``).

    ``style="pull"``: the workers pull from one :class:`~pushpull_lab.Queue` (competing
    consumers). ``style="push"``: a dispatcher pushes job ``n`` to worker ``n mod k`` through a
    :class:`~pushpull_lab.PubSub` (round robin; buffers large enough that nothing is dropped).
    ``run.value``: ``per_worker`` (jobs each handled), ``makespan`` (when the last finished)
    and ``ideal`` (the makespan if the work were shared in proportion to speed).
    """
    where = "load_balance"
    _validate.choice(where, "style", style, LOAD_BALANCE_STYLES)
    if not isinstance(speeds, (list, tuple)) or not speeds:
        raise ValueError(f"{where}(speeds={speeds!r}): speeds must be a non-empty list of slowness factors")
    factors = [_validate.number(where, "speeds[i]", s, positive=True) for s in speeds]
    _validate.integer(where, "jobs", jobs, minimum=1)
    _validate.number(where, "duration", duration, positive=True)
    names = [f"worker-{i + 1}" for i in range(len(factors))]

    async def main(lab):
        if style == "pull":
            queue = Queue("jobs")
            pool = []
            for name, factor in zip(names, factors):

                async def process(job, factor=factor):
                    await sleep(duration * factor)

                pool.append(Worker("jobs", process, name=name))
            await queue.add_bulk([{"name": "job", "data": n} for n in range(jobs)], sender="dispatcher")
            while (await queue.get_job_counts())["completed"] < jobs:
                await sleep(duration)
            for w in pool:
                await w.close()
            return
        bus = PubSub("dispatcher")
        for name, factor in zip(names, factors):

            async def handle(message, factor=factor):
                await sleep(duration * factor)

            bus.subscribe(name, handle, buffer=jobs, overflow="drop_newest", name=name)
        for n in range(jobs):
            await bus.publish(names[n % len(names)], n, sender="dispatcher")
        await bus.join()

    run = simulate(main)
    trace = run.trace
    if style == "pull":
        done = trace.filter(kind="completed")
        per_worker = done.counts(by="actor")
    else:
        # a push handler has finished when its subscriber takes the next message or the run ends
        done = trace.filter(kind="deliver")
        per_worker = done.counts(by="peer")
    finish = {name: 0.0 for name in names}
    if style == "pull":
        for e in done:
            finish[e.actor] = max(finish[e.actor], e.time)
    else:
        for e in done:
            finish[e.peer] = max(finish[e.peer], e.time + duration * factors[names.index(e.peer)])
    rate = sum(1 / (duration * f) for f in factors)
    run.value = {
        "per_worker": {name: per_worker.get(name, 0) for name in names},
        "makespan": round(max(finish.values()), 9),
        "ideal": round(jobs / rate, 9),
    }
    return run


BURST_STYLES = ("pull", "push")


def burst(
    style: str = "pull",
    *,
    workers: int = 4,
    duration: float = 0.4,
    rate: float = 4.0,
    burst_jobs: int = 200,
    burst_at: float = 10.0,
    burst_length: float = 1.0,
    seconds: float = 60.0,
    buffer: int = 50,
) -> Run:
    """Notebook 10: a steady stream (``rate`` per second, evenly spaced, for ``seconds`` s) with a
    burst of ``burst_jobs`` more, spread evenly over ``burst_length`` s from ``burst_at``.

    ``style="pull"``: the jobs go into a :class:`~pushpull_lab.Queue` named ``"jobs"`` pulled by
    ``workers`` workers (one slot each, ``duration`` s per job). ``style="push"``: the same
    messages are pushed through a :class:`~pushpull_lab.PubSub` to one consumer named
    ``"consumer"`` that handles them as fast as the whole pool (``duration / workers`` s
    each), with a buffer of ``buffer`` messages and ``drop_oldest``.

    ``run.value``: ``arrived``, ``processed``, ``lost``, ``peak_backlog``, ``capacity`` (per
    second), ``peak_at``, ``drained_at`` (when the backlog was next empty after its peak; None
    if never), ``drain_rate`` (jobs finished per second between the two) and ``name`` (what to
    pass to ``ppl.viz.depth``).
    """
    where = "burst"
    _validate.choice(where, "style", style, BURST_STYLES)
    _validate.integer(where, "workers", workers, minimum=1)
    _validate.number(where, "duration", duration, positive=True)
    _validate.number(where, "rate", rate, positive=True)
    _validate.integer(where, "burst_jobs", burst_jobs, minimum=0)
    _validate.number(where, "burst_at", burst_at, minimum=0)
    _validate.number(where, "burst_length", burst_length, positive=True)
    _validate.number(where, "seconds", seconds, positive=True)
    _validate.integer(where, "buffer", buffer, minimum=1)
    steady = [i / rate for i in range(int(seconds * rate))]
    extra = [burst_at + i * burst_length / burst_jobs for i in range(burst_jobs)]
    arrivals = sorted(steady + extra)
    name = "jobs" if style == "pull" else "consumer"

    async def main(lab):
        if style == "pull":
            queue = Queue("jobs")

            async def process(job):
                await sleep(duration)

            pool = [Worker("jobs", process, name=f"worker-{i + 1}") for i in range(workers)]
        else:
            bus = PubSub("broker")

            async def handle(message):
                await sleep(duration / workers)

            bus.subscribe("jobs", handle, buffer=buffer, overflow="drop_oldest", name="consumer")
        for n, at in enumerate(arrivals):
            if at > lab.now():
                await sleep(at - lab.now())
            if style == "pull":
                await queue.add("job", n, sender="producer")
            else:
                await bus.publish("jobs", n, sender="producer")
        if style == "pull":
            while (await queue.get_job_counts())["completed"] < len(arrivals):
                await sleep(duration)
            for w in pool:
                await w.close()
        else:
            await bus.join()

    run = simulate(main)
    trace = run.trace
    finished = [e.time for e in trace if e.kind == ("completed" if style == "pull" else "deliver")]
    if style == "push":  # a pushed message is done when its handler returns
        finished = [t + duration / workers for t in finished]
    depth = trace.depth(name)
    peak = max((d for _, d in depth), default=0)
    peak_at = drained_at = None
    for t, d in depth:
        if peak_at is None and d == peak and t >= burst_at:
            peak_at = t
        if peak_at is not None and d == 0:
            drained_at = t
            break
    drain_rate = None
    if drained_at is not None and drained_at > peak_at:
        drain_rate = sum(peak_at < t <= drained_at for t in finished) / (drained_at - peak_at)
    run.value = {
        "arrived": len(arrivals),
        "processed": len(finished),
        "lost": len(arrivals) - len(finished),
        "peak_backlog": peak,
        "capacity": workers / duration,
        "peak_at": peak_at,
        "drain_rate": drain_rate,
        "drained_at": drained_at,
        "name": name,
    }
    return run


def mmc_queue(
    servers: int = 1,
    *,
    utilisation: float = 0.7,
    service_rate: float = 1.0,
    customers: int = 12_000,
    warmup: int = 2_000,
    seed: int = 0,
) -> Run:
    """Notebook 10: an M/M/c queue through the lab: Poisson arrivals at ``utilisation × servers ×
    service_rate`` per second add jobs carrying an exponential service time (both drawn from
    ``lab.rng``); one ``Worker(concurrency=servers)`` pulls them and sleeps that long.

    ``run.value``: ``arrival_rate``, ``measured`` (mean wait, add → start, of the customers after
    the first ``warmup``), ``half_width`` (of its 99 % batch-means interval, 20 batches, see
    :func:`pushpull_lab.theory.batch_means`) and ``erlang_c`` (the formula's mean wait).
    tests/unit/test_theory.py holds the same comparison to a stated bound.
    """
    from . import theory

    where = "mmc_queue"
    _validate.integer(where, "servers", servers, minimum=1)
    _validate.number(where, "utilisation", utilisation, positive=True)
    if utilisation >= 1:
        raise ValueError(f"{where}(utilisation={utilisation!r}): utilisation must be < 1 for a stable queue")
    _validate.number(where, "service_rate", service_rate, positive=True)
    _validate.integer(where, "warmup", warmup, minimum=0)
    _validate.integer(where, "customers", customers, minimum=warmup + 40)
    arrival_rate = utilisation * servers * service_rate

    async def main(lab):
        queue = Queue("mmc")

        async def serve(job):
            await sleep(job.data["service"])

        worker = Worker("mmc", serve, concurrency=servers, name="servers")
        rng = lab.rng
        for _ in range(customers):
            await sleep(rng.expovariate(arrival_rate))
            await queue.add("customer", {"service": rng.expovariate(service_rate)})
        while (await queue.get_job_counts())["completed"] < customers:
            await sleep(10 / service_rate)
        jobs = sorted(await queue.get_jobs("completed"), key=lambda job: job.seq)
        await worker.close()
        return [job.started_at - job.added_at for job in jobs]

    run = simulate(main, seed=seed)
    mean, half = theory.batch_means(run.value[warmup:], batches=20)
    run.value = {
        "servers": servers,
        "arrival_rate": arrival_rate,
        "measured": mean,
        "half_width": half,
        "erlang_c": theory.mmc_wait(arrival_rate, service_rate, servers),
    }
    return run


# -- 11_latency_vs_resources -------------------------------------------------------------------

FEED_DESIGNS = ("short", "long", "push")
PAGE = 10_000  # records one poll may return in notebook 11: enough that no poll leaves any behind
PRICES = {"request": 1.0, "message": 0.1, "connection_second": 0.01}
"""Notebook 11's cost model, in *request-equivalents*: a request (a full exchange: headers,
authentication, a look-up, an answer) costs 1; a message pushed on an already open connection
costs 0.1; holding one connection open for one second (memory, keep-alive) costs 0.01."""


class _Endpoint:
    """A client's view of the server in notebook 11: every poll is one request (an ``http`` event).

    Without ``keepalive`` every request opens its own connection: it opens when the request is
    sent and stays open while the server holds it (a long poll) plus ``service`` seconds: the
    server's work of accepting, parsing, authenticating and answering. The answer itself reaches
    the client at once (the lab has no network delay), so ``service`` costs connection time, not
    latency. With ``keepalive`` (what HTTP clients do by default, and what notebook 09 measured)
    the first request opens one connection and every later request reuses it; it stays open
    until the run ends. ``connect`` / ``disconnect`` events (the connection id as ``msg``) put
    every connection in the trace.
    """

    def __init__(self, consumer: Consumer, service: float, ids, keepalive: bool = False) -> None:
        self.consumer, self.service, self.ids, self.keepalive = consumer, service, ids, keepalive
        self.conn = None  # the kept-alive connection, once opened

    async def poll(self, max_records: int = 100, timeout: float = 0.0) -> list:
        lab = self.consumer.lab
        name = self.consumer.name
        if self.keepalive:
            if self.conn is None:
                self.conn = next(self.ids)
                lab.trace.record("connect", name, "server", self.conn)
            lab.trace.record("http", name, "server", self.conn)
            return await self.consumer.poll(max_records=max_records, timeout=timeout)
        conn = next(self.ids)
        lab.trace.record("connect", name, "server", conn)
        lab.trace.record("http", name, "server", conn)
        try:
            return await self.consumer.poll(max_records=max_records, timeout=timeout)
        finally:
            disconnect = ("disconnect", name, "server", conn)
            asyncio.get_running_loop().call_later(self.service, lab.trace.record, *disconnect)


def feed(
    design: str = "short",
    *,
    clients: int = 100,
    interval: float = 1.0,
    rate: float = 0.5,
    seconds: float = 30.0,
    hold: float = 30.0,
    service: float = 0.05,
    keepalive: bool = False,
    seed: int = 11,
) -> Run:
    """Notebook 11: ``clients`` clients follow one feed; events arrive at random (Poisson, ``rate``
    per second) for ``seconds`` s, and every client must get every event.

    ``design="short"``: each client short-polls every ``interval`` s (first poll at a random
    moment of the first interval, so the clients are not in step). ``"long"``: each long-polls,
    the server holding a request up to ``hold`` s. ``"push"``: each holds one connection and the
    server pushes every event on it (a :class:`~pushpull_lab.PubSub` subscription per client).
    Without ``keepalive`` a poll is a request on its own connection, open while the server holds
    it plus ``service`` s; with ``keepalive`` each polling client opens one connection at its
    first poll and reuses it for every request until the run ends (see ``_Endpoint``). A push
    connection is open for the whole run. A poll takes everything
    new, up to ``PAGE`` (10,000) records. The same seed gives the same events in every design.

    ``run.value``, all counted from the trace over the window [0, ``seconds``): ``events``,
    ``requests`` (polls sent: ``http`` events), ``empty`` (answers with nothing), ``messages`` (pushed
    deliveries), ``connection_seconds`` (the time integral of open connections),
    ``mean_open`` and ``peak_open`` connections; ``latency`` (:class:`Stats`, event stored
    → client has it, over every event, including those picked up after the window) and
    ``delivered``. Use :func:`feed_cost` to price it.
    """
    where = "feed"
    _validate.choice(where, "design", design, FEED_DESIGNS)
    _validate.integer(where, "clients", clients, minimum=1)
    _validate.number(where, "interval", interval, positive=True)
    _validate.number(where, "rate", rate, positive=True)
    _validate.number(where, "seconds", seconds, positive=True)
    _validate.number(where, "hold", hold, positive=True)
    _validate.number(where, "service", service, minimum=0)
    if not isinstance(keepalive, bool):
        raise ValueError(f"{where}(keepalive={keepalive!r}): keepalive must be True or False")
    names = [f"client-{i + 1}" for i in range(clients)]

    async def main(lab):
        import itertools

        rng = lab.rng
        times = []  # drawn first, so every design sees the same events for a seed
        t = rng.expovariate(rate)
        while t < seconds:
            times.append(t)
            t += rng.expovariate(rate)
        ids = itertools.count(1)
        tasks = []
        if design == "push":
            bus = PubSub("server")
            for name in names:
                bus.subscribe("feed", lambda message: None, name=name)
                lab.trace.record("connect", name, "server", next(ids))
        else:
            log = Log("feed")

            async def start_later(delay, poller):
                await sleep(delay)
                await poller

            endpoints = []
            for name in names:
                endpoint = _Endpoint(Consumer(log, group=name, name=name), service, ids, keepalive)
                endpoints.append(endpoint)
                if design == "short":
                    poller = short_poll(endpoint, lambda record: None, interval=interval, max_records=PAGE)
                    tasks.append(asyncio.ensure_future(start_later(rng.uniform(0, interval), poller)))
                else:
                    poller = long_poll(endpoint, lambda record: None, hold=hold, max_records=PAGE)
                    tasks.append(asyncio.ensure_future(poller))
        for t in times:
            await sleep(t - lab.now())
            if design == "push":
                await bus.publish("feed", None, sender="producer")
            else:
                await log.append(None, sender="producer")
        await sleep(seconds - lab.now())
        if design == "push":
            for conn, name in enumerate(names, start=1):
                lab.trace.record("disconnect", name, "server", conn)
            await bus.join()
        else:
            await sleep(interval if design == "short" else 0)  # every client asks once more
            for task in tasks:
                task.cancel()
            for endpoint in endpoints:  # kept-alive connections close when the run ends
                if endpoint.conn is not None:
                    lab.trace.record("disconnect", endpoint.consumer.name, "server", endpoint.conn)
        return len(times)

    run = simulate(main, seed=seed)
    trace = run.trace
    in_window = trace.filter(until=seconds - 1e-9)
    counts = in_window.counts()
    open_seconds, mean_open, peak = _connections(trace, seconds)
    start, end = ("publish", "deliver") if design == "push" else ("append", "consume")
    run.value = {
        "design": design,
        "clients": clients,
        "interval": interval if design == "short" else None,
        "keepalive": keepalive if design != "push" else True,
        "rate": rate,
        "seconds": seconds,
        "events": run.value,
        "requests": counts.get("http", 0),
        "empty": counts.get("empty_poll", 0),
        "messages": counts.get("deliver", 0),
        "connection_seconds": open_seconds,
        "mean_open": mean_open,
        "peak_open": peak,
        "delivered": len(trace.filter(kind=end)),
        "latency": trace.latency(start, end),
    }
    return run


def _connections(trace, until: float) -> tuple[float, float, int]:
    """Connection-seconds, mean and peak open connections over [0, until), from connect/disconnect."""
    opened: dict[object, float] = {}
    total = 0.0
    now = peak = 0
    for t, kind, _, _, conn, _ in trace._rows():
        if t >= until:
            break
        if kind == "connect":
            opened[conn] = t
            now += 1
            peak = max(peak, now)
        elif kind == "disconnect" and conn in opened:
            total += t - opened.pop(conn)
            now -= 1
    total += sum(until - t for t in opened.values())  # still open at the end of the window
    return total, total / until, peak


def open_connections(trace) -> list[tuple[float, int]]:
    """``[(time, connections open)]`` after each instant's connects and disconnects (notebook 11)."""
    out: list[tuple[float, int]] = []
    n = 0
    for e in trace.filter(kind={"connect", "disconnect"}):
        n += 1 if e.kind == "connect" else -1
        if out and out[-1][0] == e.time:
            out[-1] = (e.time, n)
        else:
            out.append((e.time, n))
    return out


def feed_cost(value: dict, prices: dict | None = None) -> float:
    """The cost per client per second of a :func:`feed` run: ``requests × prices["request"] +
    messages × prices["message"] + connection_seconds × prices["connection_second"]``, divided
    by clients × seconds. ``prices`` defaults to :data:`PRICES`; missing keys take its values.
    """
    where = "feed_cost"
    if not isinstance(value, dict) or not {"requests", "messages", "connection_seconds"} <= set(value):
        raise ValueError(f"{where}(value={value!r}): value must be the run.value of scenarios.feed")
    if prices is None:
        prices = {}
    if not isinstance(prices, dict) or not set(prices) <= set(PRICES):
        raise ValueError(
            f"{where}(prices={prices!r}): prices must be a dict with keys among {', '.join(PRICES)}"
        )
    p = {k: _validate.number(where, f"prices[{k!r}]", prices.get(k, v), minimum=0) for k, v in PRICES.items()}
    total = (
        value["requests"] * p["request"]
        + value["messages"] * p["message"]
        + value["connection_seconds"] * p["connection_second"]
    )
    return total / (value["clients"] * value["seconds"])


def feed_sweep(
    intervals=(0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
    *,
    clients: int = 100,
    rate: float = 0.5,
    seconds: float = 30.0,
    hold: float = 30.0,
    service: float = 0.05,
    keepalive: bool = False,
    seed: int = 11,
) -> dict:
    """:func:`feed` for short polling at each of ``intervals``, then long polling and push, all on
    the same events (``keepalive`` for the polling clients).
    Returns ``{"short 0.5 s": value, ..., "long": value, "push": value}``
    (the ``run.value`` dicts; the traces are not kept).
    """
    if not isinstance(intervals, (list, tuple)) or not intervals:
        raise ValueError(
            f"feed_sweep(intervals={intervals!r}): intervals must be a non-empty list of seconds"
        )
    common = dict(clients=clients, rate=rate, seconds=seconds, hold=hold, service=service, seed=seed)
    out = {
        f"short {i:g} s": feed("short", interval=i, keepalive=keepalive, **common).value for i in intervals
    }
    out["long"] = feed("long", keepalive=keepalive, **common).value
    out["push"] = feed("push", **common).value
    return out


# -- 12_backpressure -------------------------------------------------------------------------
# Flow-control primitives live in pushpull_lab/flow.py; imported in the functions below so that
# this section stays self-contained at the end of the shared file.

BACKPRESSURE_STRATEGIES = ("drop_oldest", "drop_newest", "error", "block", "queue", "prefetch", "credit")
"""Notebook 12's ways to connect a producer to a slower consumer: push with each overflow policy
(``block`` is the producer that blocks), a pull queue with a worker, AMQP prefetch, and credit."""

# For each strategy: the kinds that put a message in the system, take it out to the consumer's
# handler, and (for the loss count) drop it.
_BP_KINDS = {
    "queue": ("add", "active"),
    "prefetch": ("publish", "active"),
    "credit": ("publish", "active"),
}


def backpressure(
    strategy: str = "drop_oldest",
    *,
    ratio: float = 2.0,
    messages: int = 200,
    service: float = 0.1,
    buffer: int = 10,
    seed: int = 0,
) -> Run:
    """Notebook 12: a producer ``ratio`` times as fast as its consumer, connected by ``strategy``.

    The consumer takes on average ``service`` s per message, the producer waits on average
    ``service / ratio`` s between messages (both exponential; the same draws for every strategy
    with the same seed, so strategies differ only in how they connect the two). ``buffer`` is the
    size of the bounded part: the push buffer, the prefetch count or the credit window (the
    pull ``queue`` is unbounded). The producer sends ``messages`` messages one gap after another,
    so a producer that is made to wait falls behind its schedule.

    ``run.value``: ``lost`` (dropped or refused), ``handled``, ``latency`` (Stats from handing
    the message over to the handler starting on it), ``p99``, ``peak_held`` (most messages
    handed over and not yet started or dropped, once each instant settled — the memory the link
    needs, including a message a blocked producer holds while it waits), ``peak_at_consumer``
    (most messages sent on to the consumer and not yet started, for prefetch and credit),
    ``producer_waited`` (seconds the producer was held),
    ``producer_done`` (when it finished sending) against ``schedule`` (when it would have with no
    waiting), and ``refused`` (``BufferFullError`` raised to the producer, ``error`` policy).
    """
    from .flow import CreditChannel, PrefetchQueue
    from .trace import Stats

    where = "backpressure"
    _validate.choice(where, "strategy", strategy, BACKPRESSURE_STRATEGIES)
    _validate.number(where, "ratio", ratio, positive=True)
    _validate.integer(where, "messages", messages, minimum=1)
    _validate.number(where, "service", service, positive=True)
    _validate.integer(where, "buffer", buffer, minimum=1)

    async def main(lab):
        gaps = [lab.rng.expovariate(ratio / service) for _ in range(messages)]
        works = iter([lab.rng.expovariate(1 / service) for _ in range(messages)])

        async def work(_message):
            await sleep(next(works))

        refused = 0
        if strategy == "queue":
            queue = Queue("jobs")
            worker = Worker("jobs", work, concurrency=1, name="consumer")
            send = lambda: queue.add("msg", None, sender="producer")  # noqa: E731
        elif strategy == "prefetch":
            broker = PrefetchQueue("broker")
            broker.consume(work, prefetch=buffer, name="consumer")
            send = lambda: broker.publish(None, sender="producer")  # noqa: E731
        elif strategy == "credit":
            link = CreditChannel(work, name="link", consumer="consumer", initial=buffer, refill=1)
            send = lambda: link.send(None, sender="producer")  # noqa: E731
        else:
            bus = PubSub("bus")
            bus.subscribe("data", work, buffer=buffer, overflow=strategy, name="consumer")
            send = lambda: bus.publish("data", None, sender="producer")  # noqa: E731
        for gap in gaps:
            await sleep(gap)
            try:
                await send()
            except BufferFullError:  # overflow="error": the producer is told, counts it, goes on
                refused += 1
        done = lab.now()
        if strategy == "queue":
            while (await queue.get_job_counts())["completed"] < messages:
                await sleep(service)
            await worker.close()
        elif strategy == "prefetch":
            await broker.join()
            broker.close()
        elif strategy == "credit":
            await link.join()
            link.close()
        else:
            await bus.join()
            bus.close()
        return {"producer_done": done, "schedule": sum(gaps), "refused": refused}

    run = simulate(main, seed=seed)
    arrive, start = _BP_KINDS.get(strategy, ("publish", "deliver"))
    # Counted once all events of an instant are in: a message refused the instant it arrives
    # was never held, but one a blocked producer holds while it waits is.
    held = most = at_consumer = most_at_consumer = 0
    now = 0.0
    for e in run.trace:
        if e.time != now:
            most, most_at_consumer, now = max(most, held), max(most_at_consumer, at_consumer), e.time
        if e.kind == arrive:
            held += 1
        elif e.kind == start:
            held -= 1
            at_consumer -= strategy in ("prefetch", "credit")
        elif e.kind == "drop":
            held -= 1
        elif e.kind == "deliver" and strategy in ("prefetch", "credit"):
            at_consumer += 1
    most, most_at_consumer = max(most, held), max(most_at_consumer, at_consumer)
    latency = Stats.of(run.trace.latencies(arrive, start))
    counts = run.trace.counts()
    run.value = {
        "strategy": strategy,
        "ratio": ratio,
        "buffer": buffer,
        "messages": messages,
        "handled": counts.get(start, 0),
        "lost": counts.get("drop", 0),
        "latency": latency,
        "p99": latency.p99,
        "peak_held": most,
        "peak_at_consumer": most_at_consumer if strategy in ("prefetch", "credit") else None,
        "producer_waited": round(float(sum(e.fields["waited"] for e in run.trace.filter(kind="blocked"))), 9),
        **{k: round(v, 9) if isinstance(v, float) else v for k, v in run.value.items()},
    }
    return run


def backpressure_sweep(
    strategies=BACKPRESSURE_STRATEGIES, ratios=(0.5, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0), **kw
) -> dict[str, list[dict]]:
    """Notebook 12: :func:`backpressure` for every strategy and ratio; ``{strategy: [value, ...]}``
    in the order of ``ratios`` (the traces are not kept)."""
    where = "backpressure_sweep"
    strategies = [_validate.choice(where, "strategies", s, BACKPRESSURE_STRATEGIES) for s in strategies]
    ratios = [_validate.number(where, "ratios", r, positive=True) for r in ratios]
    if not ratios:
        raise ValueError(f"{where}(ratios=()): ratios must list at least one rate ratio > 0")
    return {s: [backpressure(s, ratio=r, **kw).value for r in ratios] for s in strategies}


def prefetch_link(
    prefetch: int = 1, *, delay: float = 0.05, service: float = 0.02, messages: int = 200, seed: int = 0
) -> Run:
    """Notebook 12: ``messages`` messages wait in a :class:`~pushpull_lab.flow.PrefetchQueue`; one
    consumer ``delay`` s away (one way) takes exactly ``service`` s each, with ``prefetch`` slots.

    ``run.value``: ``finished`` (when the last ack reached the broker), ``throughput``
    (messages per second over that time), ``busy`` (fraction of it the consumer was working)
    and ``max_unacked``.
    """
    from .flow import PrefetchQueue

    where = "prefetch_link"
    _validate.integer(where, "prefetch", prefetch, minimum=1)
    _validate.number(where, "delay", delay, minimum=0)
    _validate.number(where, "service", service, positive=True)
    _validate.integer(where, "messages", messages, minimum=1)

    async def main(lab):
        broker = PrefetchQueue("broker", delay=delay)
        consumer = broker.consume(lambda m: sleep(service), prefetch=prefetch, name="consumer")
        for _ in range(messages):
            await broker.publish(None, sender="producer")
        await broker.join()
        broker.close()
        return {"finished": lab.now(), "max_unacked": consumer.max_unacked}

    run = simulate(main, seed=seed)
    finished = run.value["finished"]
    run.value = {
        "prefetch": prefetch,
        "finished": round(finished, 9),
        "throughput": messages / finished,
        "busy": messages * service / finished,
        "max_unacked": run.value["max_unacked"],
    }
    return run


# -- 13_reliability ----------------------------------------------------------------------------
DELIVERY_MODES = ("push", "at-most-once", "at-least-once", "effectively-once")
"""How :func:`delivery_under_crashes` delivers: a PubSub, or a Queue + Worker acking before or after."""


def delivery_under_crashes(
    mode: str,
    *,
    messages: int = 16,
    interval: float = 0.25,
    work: float = 0.2,
    effect_at: float = 0.5,
    crashes: tuple[float, ...] = (1.05, 3.15),
    downtime: float = 0.5,
    lock_duration: float = 1.0,
    seed: int = 0,
) -> Run:
    """One consumer that crashes at each time in ``crashes`` and restarts ``downtime`` s later.

    A producer sends messages 0, 1, 2 ... one every ``interval`` s. The consumer spends ``work``
    s on each and applies the message's *effect* (a ledger entry, traced ``effect`` with the
    message number) ``effect_at`` of the way through. Crash *k* kills ``consumer-k`` at once;
    ``consumer-(k+1)`` starts ``downtime`` s later. ``mode`` (one of :data:`DELIVERY_MODES`):

    - ``"push"``: a ``PubSub``; the consumer is a subscriber (a crash unsubscribes it);
    - ``"at-most-once"``: a ``Queue`` and ``Worker(ack="before")``;
    - ``"at-least-once"``: ``Worker(ack="after")``, the default;
    - ``"effectively-once"``: ``ack="after"`` and the effect applied through
      ``Idempotent("ledger")`` keyed by the message number (a repeat is traced ``dedupe``).

    ``run.value`` is :func:`delivery_counts` of the trace.
    """
    from .pull.idempotency import Idempotent

    where = "delivery_under_crashes"
    _validate.choice(where, "mode", mode, DELIVERY_MODES)
    _validate.integer(where, "messages", messages, minimum=1)
    interval = _validate.number(where, "interval", interval, positive=True)
    work = _validate.number(where, "work", work, positive=True)
    effect_at = _validate.number(where, "effect_at", effect_at, minimum=0)
    if effect_at > 1:
        raise ValueError(f"{where}(effect_at={effect_at!r}): effect_at must be between 0 and 1")
    downtime = _validate.number(where, "downtime", downtime, positive=True)
    lock_duration = _validate.number(where, "lock_duration", lock_duration, positive=True)
    crashes = tuple(crashes) if isinstance(crashes, (list, tuple)) else crashes
    if not isinstance(crashes, tuple):
        raise TypeError(f"{where}(crashes={crashes!r}): crashes must be a tuple of times (seconds)")
    restart = 0.0
    for t in crashes:
        _validate.number(where, "crashes", t, minimum=0)
        if t <= restart:
            raise ValueError(
                f"{where}(crashes={crashes!r}): crashes must be increasing times, each after the "
                f"previous restart (crash time + downtime {downtime:g} s)"
            )
        restart = t + downtime
    starts = [0.0, *(t + downtime for t in crashes)]
    horizon = max(messages * interval, starts[-1]) + work + 4 * lock_duration + 1.0

    async def main(lab):
        record = lab.trace.record

        async def until(t: float) -> None:
            await sleep(max(0.0, t - lab.now()))

        def consume_for(name: str, ledger):
            async def consume(n: int) -> None:
                await sleep(work * effect_at)
                if ledger is None:
                    record("effect", name, "ledger", n)
                else:
                    await ledger.apply(str(n), n, by=name)
                await sleep(work * (1 - effect_at))

            return consume

        if mode == "push":
            bus = PubSub("orders")

            def start(name):
                consume = consume_for(name, None)
                return bus.subscribe("orders", lambda m: consume(m.data), buffer=messages, name=name)

            def crash(sub):
                record("crash", sub.name, "orders", held=sub.pending + sub.busy)
                sub.close()  # what it had buffered is dropped (traced); the message in hand too

            async def send(n):
                await bus.publish("orders", n, sender="producer")
        else:
            queue = Queue("orders")
            ledger = Idempotent("ledger") if mode == "effectively-once" else None
            ack = "before" if mode == "at-most-once" else "after"

            def start(name):
                consume = consume_for(name, ledger)
                return Worker(
                    "orders", lambda job: consume(job.data), ack=ack, lock_duration=lock_duration, name=name
                )

            def crash(worker):
                worker.crash()

            async def send(n):
                await queue.add("order", n)

        async def produce():
            for n in range(messages):
                await until(n * interval)
                await send(n)

        producer = asyncio.get_running_loop().create_task(produce())
        consumer = None
        for k, t in enumerate(starts, 1):
            await until(t)
            consumer = start(f"consumer-{k}")
            if k <= len(crashes):
                await until(crashes[k - 1])
                crash(consumer)
        await producer
        await until(horizon)
        if mode == "push":
            consumer.close()
        else:
            await consumer.close()

    run = simulate(main, seed=seed)
    run.value = delivery_counts(run.trace)
    return run


def delivery_counts(trace) -> dict[str, int]:
    """Lost, duplicated and reordered messages, read from a trace's ``effect`` events.

    ``sent``: messages published or added; ``deliveries``: times a consumer was handed one
    (``deliver`` or ``active``); ``lost``: sent but never applied; ``duplicated``: effects
    beyond the first per message; ``reordered``: messages first applied after a later-sent
    one (message numbers give the send order); ``absorbed``: repeats an idempotency store
    refused (``dedupe``).
    """
    counts = trace.counts()
    sent = counts.get("publish", 0) + sum(
        1 for e in trace if e.kind == "add" and not e.fields.get("duplicate")
    )
    applied: dict[int, int] = {}
    reordered = 0
    highest = -1
    for e in trace:
        if e.kind != "effect":
            continue
        n = int(e.msg)
        if n not in applied:
            if n < highest:
                reordered += 1
            highest = max(highest, n)
        applied[n] = applied.get(n, 0) + 1
    return {
        "sent": sent,
        "deliveries": counts.get("deliver", 0) + counts.get("active", 0),
        "lost": sent - len(applied),
        "duplicated": sum(c - 1 for c in applied.values()),
        "reordered": reordered,
        "absorbed": counts.get("dedupe", 0),
    }


ORDERING_KINDS = ("queue", "log")
ACCOUNTS = ("anna", "ben", "cleo", "dev", "eli", "fay")
"""The keys of :func:`ordering` (the first three hash to partitions 0, 2 and 1 of a 3-partition Log)."""


def ordering(
    kind: str,
    *,
    consumers: int = 1,
    messages: int = 30,
    keys: int = 3,
    interval: float = 0.1,
    seed: int = 1,
) -> Run:
    """Who applies what in which order: a FIFO queue, or a keyed :class:`Log`, with ``consumers`` consumers.

    Messages 0, 1, 2 ... (one every ``interval`` s) belong to the first ``keys`` of
    :data:`ACCOUNTS` in turn (``anna``, ``ben``, ``cleo`` ...); each takes a random 0.05–0.45 s to apply (drawn from the lab
    rng when it is sent, so both kinds get the same times for a seed). ``kind="queue"``:
    ``consumers`` workers of concurrency 1 pull one queue. ``kind="log"``: a Log with one
    partition per consumer, records keyed by account, one group member per partition.
    Effects are traced ``effect`` (msg = message number, with ``key`` and ``seq`` in the key).
    ``run.value`` is :func:`ordering_counts` of the trace.
    """
    where = "ordering"
    _validate.choice(where, "kind", kind, ORDERING_KINDS)
    _validate.integer(where, "consumers", consumers, minimum=1)
    _validate.integer(where, "messages", messages, minimum=1)
    _validate.integer(where, "keys", keys, minimum=1)
    if keys > len(ACCOUNTS):
        raise ValueError(f"{where}(keys={keys!r}): keys must be an integer from 1 to {len(ACCOUNTS)}")
    interval = _validate.number(where, "interval", interval, positive=True)

    async def main(lab):
        record = lab.trace.record

        async def apply(name: str, data: dict) -> None:
            await sleep(data["work"])
            record("effect", name, "ledger", data["n"], key=data["key"], seq=data["seq"])

        seqs = [0] * keys
        outbox = []
        for n in range(messages):
            k = n % keys
            outbox.append({"n": n, "key": ACCOUNTS[k], "seq": seqs[k], "work": lab.rng.uniform(0.05, 0.45)})
            seqs[k] += 1
        if kind == "queue":
            queue = Queue("payments")
            workers = [
                Worker(
                    "payments", lambda job, name=f"consumer-{i}": apply(name, job.data), name=f"consumer-{i}"
                )
                for i in range(1, consumers + 1)
            ]
            for data in outbox:
                await queue.add("payment", data)
                await sleep(interval)
            while (await queue.get_job_counts())["completed"] < messages:
                await sleep(0.5)
            for w in workers:
                await w.close()
            return
        log = Log("payments", partitions=consumers)
        members = [Consumer(log, group="billing", name=f"consumer-{i}") for i in range(1, consumers + 1)]
        done = []

        async def member(c):
            while len(done) < messages:
                for rec in await c.poll(max_records=10, timeout=0.5):
                    await apply(c.name, rec.value)
                    done.append(rec.value["n"])
                await c.commit()

        tasks = [asyncio.get_running_loop().create_task(member(c)) for c in members]
        for data in outbox:
            await log.append(data, key=data["key"])
            await sleep(interval)
        await asyncio.gather(*tasks)

    run = simulate(main, seed=seed)
    run.value = ordering_counts(run.trace)
    return run


def ordering_counts(trace) -> dict[str, int]:
    """From ``effect`` events: ``reordered`` (messages applied after a later-sent one) and
    ``per_key_reordered`` (the same, counted within each key's own sequence)."""
    applied = 0
    reordered = per_key = 0
    highest = -1
    highest_of: dict[str, int] = {}
    for e in trace:
        if e.kind != "effect":
            continue
        applied += 1
        n, key, seq = int(e.msg), e.fields["key"], e.fields["seq"]
        if n < highest:
            reordered += 1
        highest = max(highest, n)
        if seq < highest_of.get(key, -1):
            per_key += 1
        highest_of[key] = max(highest_of.get(key, -1), seq)
    return {"applied": applied, "reordered": reordered, "per_key_reordered": per_key}


def poison_message(
    *, orders: int = 6, poison: int = 3, attempts: int = 3, backoff: float = 0.5, seed: int = 0
) -> Run:
    """``orders`` orders, one of which (number ``poison``) always makes the processor raise.

    Every order is added with ``attempts`` and a fixed ``backoff``; the worker has
    ``dead_letter="orders-dlq"``. ``run.value``: ``{"counts": the queue's job counts,
    "dlq": [the DLQ's jobs as dicts], "tries": how often the poison order ran}``.
    """
    where = "poison_message"
    _validate.integer(where, "orders", orders, minimum=1)
    _validate.integer(where, "poison", poison, minimum=0)
    if poison >= orders:
        raise ValueError(f"{where}(poison={poison!r}): poison must be an order number from 0 to {orders - 1}")
    _validate.integer(where, "attempts", attempts, minimum=1)
    backoff = _validate.number(where, "backoff", backoff, minimum=0)

    async def main(lab):
        queue = Queue("orders")

        async def process(job):
            await sleep(0.1)
            if job.data["n"] == poison:
                raise ValueError(f"order {poison} has a malformed address")
            return "shipped"

        worker = Worker("orders", process, dead_letter="orders-dlq", name="shipper")
        for n in range(orders):
            await queue.add("order", {"n": n}, attempts=attempts, backoff=("fixed", backoff))
        while True:
            counts = await queue.get_job_counts()
            if counts["waiting"] + counts["active"] + counts["delayed"] == 0:
                break
            await sleep(0.5)
        await worker.close()
        dlq = await Queue("orders-dlq").get_jobs()
        return {"counts": await queue.get_job_counts(), "dlq": [job.as_dict() for job in dlq]}

    run = simulate(main, seed=seed)
    poison_id = next(e.msg for e in run.trace if e.kind == "dead_letter") if run.value["dlq"] else None
    run.value["tries"] = sum(1 for e in run.trace if e.kind == "active" and e.msg == poison_id)
    return run


# -- 14_security -------------------------------------------------------------------------------
# A webhook receiver's rules (push.webhook.WebhookVerifier: the code the HTTP WebhookReceiver runs)
# over twenty minutes of traffic in virtual time: partners whose clocks are off, an attacker who
# replays every captured delivery.

WEBHOOK_EPOCH = 1_700_000_000
"""The Unix time (s) at which :func:`webhook_window`'s virtual clock reads 0."""
PARTNER_SKEWS = {
    "partner-a": 0.0,
    "partner-b": 25.0,
    "partner-c": -50.0,
    "partner-d": 100.0,
    "partner-e": -220.0,
}
"""How far each partner's clock is off (s; + ahead, - behind) in :func:`webhook_window`."""


def webhook_window(
    *,
    tolerance: float = 300.0,
    replay_cache: int = 220,
    rate: float = 0.5,
    minutes: float = 20.0,
    replay_after: tuple[float, float] = (1.0, 900.0),
    skews: dict | None = None,
    seed: int = 14,
) -> Run:
    """Signed webhooks from partners with skewed clocks, and every one replayed by an attacker.

    For ``minutes`` minutes, deliveries leave at random (``rate`` per second in all, Poisson),
    each from a partner drawn at random from ``skews`` (default :data:`PARTNER_SKEWS`), signed
    with that partner's clock (true time + skew) and arriving 0.05-0.5 s later. Like
    :class:`~pushpull_lab.WebhookSender`, a partner retries a 5xx (up to 5 attempts, waiting
    1, 2, 4, 8 s, re-signed with a fresh timestamp) and gives up on a 4xx. An attacker
    captured every first attempt and replays it once, byte for byte, a uniform
    ``replay_after`` seconds after it was sent. The receiver — a
    :class:`~pushpull_lab.push.webhook.WebhookVerifier` with ``tolerance`` and
    ``replay_cache``, its clock right — judges each arrival.

    Trace: ``publish`` per delivery (actor: the partner; ``skew``), then per arrival a
    ``deliver`` or a ``reject`` (``status``, ``reason``), its actor the partner or
    ``"attacker"``, with ``remembered`` = delivery ids the receiver holds after deciding;
    a partner's wait before a retry is a ``retry``. ``run.value`` is
    :func:`webhook_window_counts` of the trace.
    """
    from .push.webhook import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookVerifier, sign

    where = "webhook_window"
    _validate.number(where, "tolerance", tolerance, positive=True)
    _validate.integer(where, "replay_cache", replay_cache, minimum=1)
    _validate.number(where, "rate", rate, positive=True)
    _validate.number(where, "minutes", minutes, positive=True)
    if not (
        isinstance(replay_after, tuple)
        and len(replay_after) == 2
        and all(isinstance(x, (int, float)) and x >= 0 for x in replay_after)
        and replay_after[0] <= replay_after[1]
    ):
        raise ValueError(
            f"{where}(replay_after={replay_after!r}): replay_after must be (low, high) seconds, 0 <= low <= high"
        )
    skews = dict(PARTNER_SKEWS if skews is None else skews)
    if not skews or not all(isinstance(v, (int, float)) for v in skews.values()):
        raise ValueError(
            f"{where}(skews={skews!r}): skews must map partner names to clock offsets in seconds"
        )
    secret = "whsec-window"

    async def main(lab):
        verifier = WebhookVerifier(secret, tolerance=tolerance, replay_cache=replay_cache)
        record = lab.trace.record

        def signed(delivery_id, seq, skew):
            timestamp = str(int(WEBHOOK_EPOCH + lab.now() + skew))
            body = f'{{"id":"{delivery_id}","seq":{seq},"event":"order.paid","data":null}}'.encode()
            return {
                ID_HEADER: delivery_id,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            }, body

        async def arrive(who, headers, body, seq, delay):
            await sleep(delay)
            verdict = verifier.verify(headers, body, WEBHOOK_EPOCH + lab.now())
            if verdict.ok:
                verifier.begin(verdict)
                verifier.finish(verdict, accepted=True)
                record("deliver", who, "receiver", seq, remembered=verifier.remembered)
            else:
                record(
                    "reject", who, "receiver", seq, status=verdict.status, reason=verdict.reason,
                    remembered=verifier.remembered,
                )  # fmt: skip
            return verdict.status

        async def send(partner, headers, body, seq, delay):  # every attempt takes `delay` to arrive
            status = await arrive(partner, headers, body, seq, delay)
            for attempt in range(2, 6):
                if status < 500:
                    return
                record("retry", partner, "receiver", seq, attempt=attempt, delay=2.0 ** (attempt - 2))
                await sleep(2.0 ** (attempt - 2))
                headers, body = signed(headers[ID_HEADER], seq, skews[partner])
                status = await arrive(partner, headers, body, seq, delay)

        partners, arrivals, seq = sorted(skews), [], 0
        while True:
            await sleep(lab.rng.expovariate(rate))
            if lab.now() > minutes * 60:
                break
            seq += 1  # every draw happens here, so every setting sees the same traffic
            partner = lab.rng.choice(partners)
            delay, replay_delay = lab.rng.uniform(0.05, 0.5), lab.rng.uniform(*replay_after)
            headers, body = signed(f"whd_{seq:05d}", seq, skews[partner])
            record("publish", partner, "receiver", seq, skew=skews[partner])
            arrivals.append(asyncio.ensure_future(send(partner, headers, body, seq, delay)))
            arrivals.append(asyncio.ensure_future(arrive("attacker", headers, body, seq, replay_delay)))
        await asyncio.gather(*arrivals)

    run = simulate(main, seed=seed)
    run.value = webhook_window_counts(run.trace)
    return run


def webhook_window_counts(trace) -> dict:
    """Outcomes of a :func:`webhook_window` run, from its trace.

    ``{"deliveries": {outcome: n}, "replays": {outcome: n}, "refused_for_clock": [partners],
    "peak_remembered": n, "published": n, "never_accepted": n, "accepted_twice": n}``: an outcome
    is ``"accepted"`` or ``"<status> <reason>"`` and counts arrivals (a partner's retries
    included); ``never_accepted`` and ``accepted_twice`` count published deliveries accepted
    by the receiver 0 times and more than once (from anyone); ``refused_for_clock`` lists the
    partners that got at least one 401 for their timestamp.
    """
    out: dict = {"deliveries": {}, "replays": {}, "refused_for_clock": set(), "peak_remembered": 0}
    accepted = {e.msg: 0 for e in trace.filter(kind="publish")}
    for e in trace.filter(kind={"deliver", "reject"}):
        side = out["replays"] if e.actor == "attacker" else out["deliveries"]
        outcome = "accepted" if e.kind == "deliver" else f"{e.fields['status']} {e.fields['reason']}"
        side[outcome] = side.get(outcome, 0) + 1
        if e.kind == "deliver":
            accepted[e.msg] += 1
        if e.kind == "reject" and e.actor != "attacker" and e.fields["status"] == 401:
            out["refused_for_clock"].add(e.actor)
        out["peak_remembered"] = max(out["peak_remembered"], e.fields["remembered"])
    out["refused_for_clock"] = sorted(out["refused_for_clock"])
    out["published"] = len(accepted)
    out["never_accepted"] = sum(1 for n in accepted.values() if n == 0)
    out["accepted_twice"] = sum(1 for n in accepted.values() if n > 1)
    for side in ("deliveries", "replays"):
        out[side] = dict(sorted(out[side].items()))
    return out


def webhook_window_lessons(run: Run) -> dict:
    """What the attacker's accepted replays and the partners' refusals in a :func:`webhook_window` run were.

    ``{"replays_accepted": n, "replays_accepted_from": {partner: n}, "after_refusal": {"401": n,
    "503": n}, "answers_503": n, "genuine_409": n, "genuine_409_after_replay": n}``:
    ``replays_accepted_from`` names the partner whose delivery the attacker's accepted copy was;
    ``after_refusal`` counts those by what the partner's own attempts had been answered (a 401
    for its clock, a 503 for a full cache); ``genuine_409`` counts a partner's attempts answered
    409, and ``genuine_409_after_replay`` those whose id the attacker's copy had been accepted
    under first (the partner retried a 503, the replay landed in between).
    """
    if not isinstance(run, Run) or not isinstance(run.value, dict) or "replays" not in run.value:
        raise ValueError(f"webhook_window_lessons(run={run!r}): run must be what webhook_window() returns")
    trace = run.trace
    partner_of = {e.msg: e.actor for e in trace.filter(kind="publish")}
    answers = trace.filter(kind={"deliver", "reject"}).events
    first_accepted: dict = {}  # seq -> who was accepted for it first
    partner_statuses: dict = {}  # seq -> statuses the partner's attempts got
    from_partner: dict = {}
    genuine_409 = after_replay = answers_503 = 0
    for e in answers:
        status = 204 if e.kind == "deliver" else e.fields["status"]
        answers_503 += status == 503
        if e.actor != "attacker":
            partner_statuses.setdefault(e.msg, []).append(status)
            if status == 409:
                genuine_409 += 1
                after_replay += first_accepted.get(e.msg) == "attacker"
        if e.kind == "deliver":
            first_accepted.setdefault(e.msg, e.actor)
            if e.actor == "attacker":
                partner = partner_of[e.msg]
                from_partner[partner] = from_partner.get(partner, 0) + 1
    after_refusal = {"401": 0, "503": 0}
    for e in answers:
        if e.actor == "attacker" and e.kind == "deliver":
            got = partner_statuses.get(e.msg, [])
            key = "401" if 401 in got else "503" if 503 in got else None
            if key:
                after_refusal[key] += 1
    return {
        "replays_accepted": sum(from_partner.values()),
        "replays_accepted_from": dict(sorted(from_partner.items())),
        "after_refusal": after_refusal,
        "answers_503": answers_503,
        "genuine_409": genuine_409,
        "genuine_409_after_replay": after_replay,
    }


def signed_delivery(secret: str, *, delivery_id: str, age: int = 0, data=None, body_id=None) -> tuple:
    """(headers, body) of one webhook delivery signed by hand with ``secret`` (as WebhookSender signs).

    Its timestamp is the wall clock minus ``age`` seconds; ``body_id`` puts another id in the
    body than in the ``Webhook-Id`` header. For attacks made by hand (notebook 14).
    """
    import json
    import time

    from .push.webhook import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    payload = {"id": body_id or delivery_id, "seq": 1, "event": "order.paid", "data": data}
    body = json.dumps(payload, separators=(",", ":")).encode()
    ts = str(int(time.time()) - age)
    return {ID_HEADER: delivery_id, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}, body


def webhook_attacks(secret: str, tolerance: int = 300) -> list[tuple]:
    """A genuine delivery and ten attacks on it: ``[(name, sender, (headers, body), why it must fail)]``.

    The first entry is the partner's genuine delivery (signed with ``secret`` now), which an
    attacker on the path captured; the attacker replays it, forges, tampers, guesses the
    secret, moves the timestamp ``2 * tolerance`` out of the window either way, swaps the id
    header, and drops each of the three headers in turn.
    """
    from .push.webhook import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

    def drop(header, request):
        headers, body = request
        return {k: v for k, v in headers.items() if k != header}, body

    out = 2 * int(tolerance)
    captured = signed_delivery(secret, delivery_id="whd_order_1", data={"order": 1, "amount": 10})
    headers, body = captured
    return [
        ("genuine delivery", "partner", captured, "signed with the secret, just now, never seen"),
        ("replay of it, byte for byte", "attacker", captured, "its id is in the replay cache"),
        ("forged signature", "attacker", ({**headers, SIGNATURE_HEADER: "v1=" + "0" * 64}, body),
         "only the secret's holder can compute the HMAC"),
        ("tampered body (amount 10 → 99)", "attacker", (headers, body.replace(b'"amount":10', b'"amount":99')),
         "the signature covers every byte of the body"),
        ("signed with a guessed secret", "attacker", signed_delivery("whsec-guess", delivery_id="whd_guess"),
         "a different key gives a different HMAC"),
        (f"captured {out // 60} minutes ago", "attacker", signed_delivery(secret, delivery_id="whd_old", age=out),
         "outside the window: too old to trust"),
        (f"timestamp {out // 60} minutes ahead", "attacker",
         signed_delivery(secret, delivery_id="whd_future", age=-out), "a future stamp would stay 'fresh' for longer"),
        ("captured body under a fresh Webhook-Id", "attacker", ({**headers, ID_HEADER: "whd_fresh"}, body),
         "the id inside the signed body must match the header"),
        (f"no {ID_HEADER} header", "attacker", drop(ID_HEADER, signed_delivery(secret, delivery_id="whd_a")),
         "nothing to check for replays"),
        (f"no {TIMESTAMP_HEADER} header", "attacker",
         drop(TIMESTAMP_HEADER, signed_delivery(secret, delivery_id="whd_b")), "nothing to check for freshness"),
        (f"no {SIGNATURE_HEADER} header", "attacker",
         drop(SIGNATURE_HEADER, signed_delivery(secret, delivery_id="whd_c")), "nothing proves who sent it"),
    ]  # fmt: skip


async def send_attacks(url: str, attacks: list) -> list[int]:
    """POST each of ``attacks`` (see :func:`webhook_attacks`) to ``url`` with a plain aiohttp session,
    named by its sender (``X-PPL-Client``); returns the HTTP statuses. Nothing of the lab's
    sender is involved, so nothing in it helps or hinders the attacker."""
    import aiohttp

    statuses = []
    for _name, sender, (headers, body), _why in attacks:
        async with (
            aiohttp.ClientSession(headers={"X-PPL-Client": sender}) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            await response.read()
            statuses.append(response.status)
    return statuses


def unvalidated_receiver(*, name: str = "unvalidated-receiver", lab=None):
    """A webhook endpoint WITHOUT validation: it hands every POST to its handler and answers 204.

    What a receiver looks like before anyone adds the checks of :class:`WebhookReceiver`; each
    request is a ``deliver`` event (actor: the client), and :attr:`received` keeps the bodies.
    Use ``async with``; real loopback HTTP.
    """
    from ._http import HttpServer, client_name

    class UnvalidatedReceiver(HttpServer):
        path = "/webhook"

        def __init__(self) -> None:
            super().__init__("unvalidated_receiver", name, lab)
            self.received: list[bytes] = []

        def _add_routes(self, app, web) -> None:
            app.router.add_post(self.path, self._receive)

        async def _receive(self, request):
            from aiohttp import web

            self.received.append(await request.read())
            self.lab.trace.record("deliver", client_name(request), self.name, None)
            return web.Response(status=204)

    return UnvalidatedReceiver()


def on_path_proxy(target: str, *, name: str = "on-path", lab=None):
    """A plain-HTTP hop between a client and ``target`` that forwards GETs and **keeps a copy** of
    every ``Authorization`` header it carried, in :attr:`captured`: what anyone on an unencrypted
    path (a compromised router, a shared Wi-Fi, a logging proxy) can read. Real loopback HTTP.
    """
    from ._http import HttpServer

    class OnPathProxy(HttpServer):
        path = ""

        def __init__(self) -> None:
            super().__init__("on_path_proxy", name, lab)
            self.captured: list[str] = []
            self._session = None

        def _add_routes(self, app, web) -> None:
            app.router.add_get("/{tail:.*}", self._forward)

        async def _forward(self, request):
            import aiohttp
            from aiohttp import web

            if "Authorization" in request.headers:
                self.captured.append(request.headers["Authorization"])
            headers = {
                k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
            }
            async with (
                aiohttp.ClientSession() as session,
                session.get(target, params=request.query, headers=headers) as answer,
            ):
                return web.Response(
                    status=answer.status, body=await answer.read(), content_type=answer.content_type
                )

    return OnPathProxy()


# -- 15_patterns -----------------------------------------------------------------------------
# Four small systems from seed Advanced 7 (chat, ticker, IoT, ETL); the hybrid is hybrid() above.

CHAT_SCHEDULE = {"ana": [(0.0, None)], "ben": [(0.0, 4.2), (8.2, None)], "chloe": [(6.2, None)]}


def chat_room(
    *,
    messages: int = 12,
    interval: float = 1.0,
    history: bool = True,
    schedule: dict | None = None,
    seed: int = 0,
) -> Run:
    """A chat room: messages are **pushed** to the members online; presence is pushed too.

    ``schedule`` maps each member to the ``(join, leave)`` times of their sessions (``leave``
    None: stays to the end); default :data:`CHAT_SCHEDULE` (ana all along, ben leaves at 4.2 s
    and comes back at 8.2 s, chloe joins late at 6.2 s). Every ``interval`` s from t = 0.5 s an
    online member (in turn) sends one of ``messages`` messages: the server appends it to the
    room's history (a :class:`Log`) and publishes it on the room's :class:`PubSub`. A member
    offline at that moment does not get it. With ``history=True`` a member who (re)joins first
    subscribes, then **pulls** what it missed from the history: from its *cursor* (the log offset
    after the last message it has, carried by each pushed message), skipping anything pushed
    meanwhile.

    Every member records a ``seen`` event per message (``via="push"`` or ``"history"``).
    ``run.value``: per member ``{"live", "history", "missed", "sessions"}`` (missed: never seen
    at all), ``"sent"``, and ``"online"``: the presence timeline ``[(time, member, online)]``
    as the presence events published it.
    """
    where = "chat_room"
    _validate.integer(where, "messages", messages, minimum=1)
    interval = _validate.number(where, "interval", interval, positive=True)
    if not isinstance(history, bool):
        raise TypeError(f"{where}(history={history!r}): history must be True or False")
    schedule = CHAT_SCHEDULE if schedule is None else schedule
    if not isinstance(schedule, dict) or not schedule:
        raise ValueError(
            f"{where}(schedule={schedule!r}): schedule must be a dict {{member: [(join, leave), ...]}}"
        )
    for member, sessions in schedule.items():
        _validate.name(where, "schedule member", member)
        last = -1.0
        for session in sessions:
            ok = isinstance(session, tuple) and len(session) == 2
            join, leave = session if ok else (None, None)
            ok = ok and isinstance(join, (int, float)) and join >= max(last, 0)
            ok = ok and (leave is None or (isinstance(leave, (int, float)) and leave > join))
            if not ok:
                raise ValueError(
                    f"{where}(schedule={{{member!r}: {sessions!r}}}): each member needs (join, leave) "
                    "sessions in time order with leave > join (leave None: stays)"
                )
            last = float("inf") if leave is None else leave
    return simulate(lambda lab: _chat_room(lab, messages, interval, history, schedule), seed=seed)


async def _chat_room(lab, messages, interval, history, schedule):
    trace = lab.trace
    room = PubSub("room")
    log = Log("room-history")
    seen: dict[str, set] = {m: set() for m in schedule}
    online: dict[str, bool] = dict.fromkeys(schedule, False)
    roster: dict[str, set] = {m: set() for m in schedule}  # who each member believes is online
    cursor: dict[str, int] = dict.fromkeys(schedule, 0)  # next history offset each member lacks

    def heard(message, member: str) -> None:  # presence pushed to everyone online
        who, is_online = message.data["member"], message.data["online"]
        (roster[member].add if is_online else roster[member].discard)(who)

    async def join(member: str) -> None:
        online[member] = True
        trace.record("presence", member, "room", None, online=True)

        def got(message, member=member):
            n = message.data["n"]
            cursor[member] = max(cursor[member], message.data["offset"] + 1)
            if n not in seen[member]:
                seen[member].add(n)
                trace.record("seen", member, None, n, via="push")

        # Subscribe first, then read the history: nothing can slip in between the two.
        room.subscribe("chat", got, name=member)
        room.subscribe("presence", lambda m, member=member: heard(m, member), name=f"{member}:presence")
        roster[member] = {m for m, on in online.items() if on}  # the server's roster on joining
        await room.publish("presence", {"member": member, "online": True}, sender=member)
        if history:  # pull from the member's cursor: the offset after the last message it has
            reader = Consumer(log, group=member, name=member)
            reader.seek(0, cursor[member])
            while records := await reader.poll(max_records=50, timeout=0):
                for rec in records:
                    cursor[member] = max(cursor[member], rec.offset + 1)
                    n = rec.value["n"]
                    if n not in seen[member]:  # pushed meanwhile: already on screen
                        seen[member].add(n)
                        trace.record("seen", member, None, n, via="history")
            await reader.close()

    async def leave(member: str) -> None:
        online[member] = False
        trace.record("presence", member, "room", None, online=False)
        for sub in room.subscriptions:
            if sub.name in (member, f"{member}:presence"):
                sub.close()
        await room.publish("presence", {"member": member, "online": False}, sender=member)

    async def member_life(member: str, sessions) -> None:
        for start, end in sessions:
            await sleep(max(0.0, start - lab.now()))
            await join(member)
            if end is None:
                return
            await sleep(end - lab.now())
            await leave(member)

    lives = [asyncio.ensure_future(member_life(m, s)) for m, s in schedule.items()]
    await sleep(0.5)
    sent = []
    for n in range(messages):
        speakers = [m for m in schedule if online[m]]
        if speakers:
            speaker = speakers[n % len(speakers)]
            record = await log.append({"n": n, "from": speaker}, sender=speaker)
            await room.publish("chat", {"n": n, "from": speaker, "offset": record.offset}, sender=speaker)
            trace.record("said", speaker, "room", n)
            sent.append(n)
        if n < messages - 1:
            await sleep(interval)
    for life in lives:
        await life
    await room.join()
    value = {
        "sent": len(sent),
        "online": presence_timeline(trace),
        "roster": {m: sorted(r) for m, r in roster.items()},
    }
    for member, sessions in schedule.items():
        mine = trace.filter(kind="seen", actor=member)
        live = {e.msg for e in mine if e.fields["via"] == "push"}
        late = {e.msg for e in mine if e.fields["via"] == "history"}
        value[member] = {
            "live": len(live),
            "history": len(late),
            "missed": len(set(sent) - live - late),
            "sessions": len(sessions),
        }
    return value


def presence_timeline(trace) -> list[tuple[float, str, bool]]:
    """``[(time, member, online)]``: every ``presence`` event of a chat room run, in order."""
    return [(round(e.time, 9), e.actor, e.fields["online"]) for e in trace.filter(kind="presence")]


TICKER_MODES = ("fifo", "latest", "conflate")
TICKER_SYMBOLS = ("ACME", "BOLT", "CORE", "DYNA", "EPIC", "FLUX", "GRID", "HALO")


def ticker(
    *,
    mode: str = "conflate",
    handling: float = 0.2,
    ticks: int = 200,
    interval: float = 0.05,
    symbols: int = 4,
    seed: int = 0,
) -> Run:
    """A stock ticker: ``ticks`` price changes, one every ``interval`` s, **pushed** to two screens.

    Symbol ``i`` (of ``symbols``) changes with weight ``2**-i`` (a busy symbol and quiet ones);
    prices are random walks drawn from ``lab.rng``. The ``desk`` screen draws each update at once
    (a plain subscription). The ``phone`` takes ``handling`` s to draw one, fed by ``mode``:

    - ``"fifo"``: every update queued in order (a buffer big enough never to drop);
    - ``"latest"``: ``PubSub.subscribe(..., buffer=1, overflow="drop_oldest")``, the newest
      update *of any symbol* waits, every older one is dropped;
    - ``"conflate"``: a :class:`~pushpull_lab.push.conflate.ConflatingSubscriber`, the newest
      update *per symbol* waits.

    Each screen records a ``shown`` event when an update is on screen. ``run.value`` per
    screen: ``received`` (updates pushed to it), ``delivered``, ``saved`` (received −
    delivered), ``ages`` (seconds from publish to delivery of each delivered update),
    ``wrong`` (symbols whose final price on screen is not the last published one) and
    ``lag`` (seconds from the last publish until the screen shows its last update).
    """
    from .push.conflate import ConflatingSubscriber

    where = "ticker"
    _validate.choice(where, "mode", mode, TICKER_MODES)
    handling = _validate.number(where, "handling", handling, minimum=0)
    _validate.integer(where, "ticks", ticks, minimum=1)
    interval = _validate.number(where, "interval", interval, positive=True)
    _validate.integer(where, "symbols", symbols, minimum=1)
    if symbols > len(TICKER_SYMBOLS):
        raise ValueError(
            f"{where}(symbols={symbols!r}): symbols must be an integer from 1 to {len(TICKER_SYMBOLS)}"
        )

    async def main(lab):
        trace = lab.trace
        names = TICKER_SYMBOLS[:symbols]
        bus = PubSub("ticker")

        def screen(name: str, seconds: float):
            async def draw(message):
                if seconds:
                    await sleep(seconds)
                trace.record(
                    "shown",
                    name,
                    None,
                    message.id,
                    symbol=message.data["symbol"],
                    price=message.data["price"],
                )

            return draw

        bus.subscribe("price.*", screen("desk", 0.0), buffer=ticks, overflow="drop_newest", name="desk")
        phone = screen("phone", handling)
        if mode == "fifo":
            bus.subscribe("price.*", phone, buffer=ticks, overflow="drop_newest", name="phone")
        elif mode == "latest":
            bus.subscribe("price.*", phone, buffer=1, overflow="drop_oldest", name="phone")
        else:
            ConflatingSubscriber(bus, "price.*", phone, name="phone")
        prices = dict.fromkeys(names, 100.0)
        weights = [2.0**-i for i in range(symbols)]
        for n in range(ticks):
            symbol = lab.rng.choices(names, weights)[0]
            prices[symbol] = round(prices[symbol] + lab.rng.choice((-0.05, 0.05)), 2)
            trace.record("price", "exchange", None, None, symbol=symbol, price=prices[symbol])
            await bus.publish(
                f"price.{symbol}", {"symbol": symbol, "price": prices[symbol]}, sender="exchange"
            )
            if n < ticks - 1:
                await sleep(interval)
        await bus.join()
        for sub in lab.live:
            if getattr(sub, "name", None) == "phone":
                await sub.join()

    run = simulate(main, seed=seed)
    run.value = ticker_summary(run.trace)
    return run


def ticker_summary(trace) -> dict:
    """Per screen of a :func:`ticker` run: received, delivered, saved, ages, wrong, lag (from the trace)."""
    published = trace.filter(kind="publish")
    last_price = {}
    for e in trace.filter(kind="price"):
        last_price[e.fields["symbol"]] = e.fields["price"]
    out = {}
    for name in ("desk", "phone"):
        shown = trace.filter(kind="shown", actor=name)
        final = {}
        for e in shown:
            final[e.fields["symbol"]] = e.fields["price"]
        delivered = len(trace.filter(kind="deliver", peer=name))
        out[name] = {
            "received": len(published),
            "delivered": delivered,
            "saved": len(published) - delivered,
            "ages": [round(a, 9) for a in trace.latencies("publish", "deliver", peer=name)],
            "staleness": _staleness(trace, name),
            "wrong": sum(final.get(s) != p for s, p in last_price.items()),
            "lag": round(shown.end - published.end, 9) if len(shown) else None,
        }
    return out


def _staleness(trace, name: str) -> dict[str, float]:
    """How out of date ``name``'s screen was while the market moved (first to last publish).

    The price of a symbol on screen is *stale* once a newer price of that symbol has been
    published; its staleness at time t is t minus that moment (0 while it is the newest).
    Before a symbol's first price is on screen, it is stale from its first publish. ``mean``
    averages staleness over time and symbols; ``max`` is the largest staleness reached.
    """
    published = trace.filter(kind="publish")
    if not len(published):
        return {"mean": 0.0, "max": 0.0}
    start, end = published.events[0].time, published.end
    superseded: dict = {}  # message id (or ("none", symbol)) -> when a newer price of its symbol was published
    newest: dict = {}
    shown: dict[str, list] = {}
    for e in published:
        symbol = e.fields["topic"].split(".", 1)[1]
        superseded[newest.get(symbol, ("none", symbol))] = e.time
        newest[symbol] = e.msg
        shown.setdefault(symbol, [(start, ("none", symbol))])
    for e in trace.filter(kind="shown", actor=name, until=end):
        shown[e.fields["symbol"]].append((e.time, e.msg))
    area = worst = 0.0
    for spells in shown.values():
        for (a, value), (b, _) in zip(spells, [*spells[1:], (end, None)]):
            s = superseded.get(value, float("inf"))
            if s < b:
                lo = max(a, s)
                area += ((b - s) ** 2 - (lo - s) ** 2) / 2
                worst = max(worst, b - s)
    window = len(shown) * (end - start)
    return {"mean": round(area / window, 9) if window else 0.0, "max": round(worst, 9)}


IOT_SUBSCRIBERS = {"dashboard": "site/+/+/temperature", "archive": "site/#", "floor-1-alarm": "site/f1/#"}


def iot_telemetry(
    *,
    qos: int = 1,
    loss: float = 0.2,
    readings: int = 30,
    interval: float = 1.0,
    floors: int = 2,
    rooms: int = 2,
    retry_after: float = 0.5,
    max_retries: int = 10,
    seed: int = 0,
) -> Run:
    """IoT telemetry over an MQTT-style :class:`~pushpull_lab.push.mqtt.Broker`.

    One sensor per room (``floors`` x ``rooms``) publishes ``readings`` temperature and
    humidity readings, one pair every ``interval`` s (each sensor starting at a random
    moment), to ``site/f<floor>/r<room>/temperature`` and ``.../humidity`` at ``qos``, over a
    radio link that loses each packet with probability ``loss`` (both ways). Three backend
    subscribers on lossless links use the filters of :data:`IOT_SUBSCRIBERS` at the same QoS.

    ``run.value``: per subscriber ``{"expected", "unique", "lost", "duplicates"}`` where
    *expected* counts published messages whose topic matches its filter (from the trace's
    ``publish`` and ``subscribe`` events), and, for the sensors' links, ``sent`` (PUBLISH
    transmissions), ``resent`` (with the dup flag), ``lost_packets`` and ``gave_up``.
    """
    from .push.mqtt import QOS_LEVELS, Broker

    where = "iot_telemetry"
    _validate.choice(where, "qos", qos, QOS_LEVELS)
    loss = _validate.number(where, "loss", loss, minimum=0)
    if loss > 1:
        raise ValueError(f"{where}(loss={loss!r}): loss must be a probability from 0 to 1")
    _validate.integer(where, "readings", readings, minimum=1)
    interval = _validate.number(where, "interval", interval, positive=True)
    _validate.integer(where, "floors", floors, minimum=1)
    _validate.integer(where, "rooms", rooms, minimum=1)
    retry_after = _validate.number(where, "retry_after", retry_after, positive=True)
    _validate.integer(where, "max_retries", max_retries, minimum=0)

    async def main(lab):
        broker = Broker("broker")
        for name, topic_filter in IOT_SUBSCRIBERS.items():
            broker.connect(name, lambda message: None).subscribe(topic_filter, qos=qos)

        async def sensor(floor: int, room: int):
            client = broker.connect(
                f"sensor-f{floor}-r{room}", loss=loss, retry_after=retry_after, max_retries=max_retries
            )
            await sleep(lab.rng.uniform(0, interval))
            for n in range(readings):
                base = f"site/f{floor}/r{room}"
                await client.publish(f"{base}/temperature", round(lab.rng.gauss(21, 1), 1), qos=qos)
                await client.publish(f"{base}/humidity", round(lab.rng.gauss(45, 5)), qos=qos)
                if n < readings - 1:
                    await sleep(interval)

        sensors = [
            asyncio.ensure_future(sensor(f, r)) for f in range(1, floors + 1) for r in range(1, rooms + 1)
        ]
        for task in sensors:
            await task
        await broker.join()

    run = simulate(main, seed=seed)
    run.value = iot_summary(run.trace)
    return run


def iot_summary(trace) -> dict:
    """Per subscriber of an :func:`iot_telemetry` run: expected, unique, lost, duplicates; link counts."""
    from .push.mqtt import topic_matches

    published = [(e.msg, e.fields["topic"]) for e in trace.filter(kind="publish")]
    sensors = {e.actor for e in trace.filter(kind="publish")}
    out: dict = {}
    for e in trace.filter(kind="subscribe"):
        name, topic_filter = e.actor, e.fields["filter"]
        expected = {m for m, topic in published if topic_matches(topic_filter, topic)}
        copies = [d.msg for d in trace.filter(kind="deliver", peer=name)]
        unique = set(copies)
        out[name] = {
            "expected": len(expected),
            "unique": len(unique & expected),
            "lost": len(expected - unique),
            "duplicates": len(copies) - len(unique),
        }
    sends = [e for e in trace.filter(kind="send") if e.actor in sensors]
    out["sent"] = len(sends)
    out["resent"] = sum(1 for e in sends if e.fields["dup"])
    out["lost_packets"] = sum(1 for e in trace.filter(kind="lost") if sensors & {e.actor, e.peer})
    out["gave_up"] = len(trace.filter(kind="give_up"))
    return out


def etl_job(
    *,
    records: int = 100,
    batch: int = 10,
    crash_after: int | None = None,
    per_record: float = 0.01,
    checkpoint_time: float = 0.05,
    restart_after: float = 1.0,
    seed: int = 0,
) -> Run:
    """A nightly ETL job **pulls** ``records`` orders from a :class:`Log` in batches, with checkpoints.

    The job is a :class:`Consumer` of group ``warehouse``: ``poll(max_records=batch)``, load
    each record (``per_record`` s, a ``load`` event), then ``commit()`` — the checkpoint,
    which costs ``checkpoint_time`` s. With ``crash_after=k`` the first run (``etl-1``) dies
    right after loading its k-th record, before the next checkpoint; ``restart_after`` s later
    ``etl-2`` joins the same group and resumes from the last committed offset.

    ``run.value``: ``loaded`` (load events), ``unique``, ``reprocessed`` (loaded − unique),
    ``checkpoints`` (commits), ``resumed_from`` (the offset etl-2 started at, or None) and
    ``finished`` (virtual seconds when the last record was loaded and committed).
    """
    where = "etl_job"
    _validate.integer(where, "records", records, minimum=1)
    _validate.integer(where, "batch", batch, minimum=1)
    if crash_after is not None:
        _validate.integer(where, "crash_after", crash_after, minimum=1)
        if crash_after > records:
            raise ValueError(
                f"{where}(crash_after={crash_after!r}): crash_after must be None or an integer from 1 to "
                f"records={records}"
            )
    per_record = _validate.number(where, "per_record", per_record, minimum=0)
    checkpoint_time = _validate.number(where, "checkpoint_time", checkpoint_time, minimum=0)
    restart_after = _validate.number(where, "restart_after", restart_after, minimum=0)

    async def main(lab):
        trace = lab.trace
        log = Log("orders")
        for n in range(records):
            await log.append({"order": n}, sender="shop")

        async def run_job(name: str, crash_at: int | None) -> bool:
            """Returns True when the log is done, False when this run crashed."""
            consumer = Consumer(log, group="warehouse", name=name)
            loaded = 0
            while records_ := await consumer.poll(max_records=batch, timeout=0):
                for rec in records_:
                    await sleep(per_record)
                    trace.record("load", name, "warehouse", rec.id, offset=rec.offset)
                    loaded += 1
                    if loaded == crash_at:
                        trace.record("crash", name, None, None, loaded=loaded)
                        await consumer.close()  # gone without committing
                        return False
                await sleep(checkpoint_time)
                await consumer.commit()
            await consumer.close()
            return True

        if not await run_job("etl-1", crash_after):
            await sleep(restart_after)
            await run_job("etl-2", None)

    run = simulate(main, seed=seed)
    run.value = etl_summary(run.trace)
    return run


def etl_summary(trace) -> dict:
    """What an :func:`etl_job` run did, from its trace."""
    loads = trace.filter(kind="load")
    second = loads.filter(actor="etl-2")
    commits = trace.filter(kind="commit")
    return {
        "loaded": len(loads),
        "unique": len({e.msg for e in loads}),
        "reprocessed": len(loads) - len({e.msg for e in loads}),
        "checkpoints": len(commits),
        "resumed_from": second.events[0].fields["offset"] if len(second) else None,
        "finished": round(commits.end, 9),
    }
