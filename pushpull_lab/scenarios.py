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
