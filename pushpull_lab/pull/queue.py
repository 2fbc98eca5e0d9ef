"""Queue and Job: the producer's side of a BullMQ-shaped job queue.

::

    q = ppl.Queue("video")
    job = await q.add("transcode", {"file": "a.mp4"}, attempts=3, backoff=("exponential", 1.0))
    job.id, job.state                       # ('1', 'waiting')
    await q.get_job_counts()                # {'waiting': 1, 'active': 0, ...}

Adding a job only stores it: nothing is sent to anyone. Workers *pull* jobs when they
have room (:class:`~pushpull_lab.Worker`), which is the whole difference from a push system.
The queue's content lives in the lab's backend (memory, fakeredis or a Redis server), so
any number of Queue objects, workers and processes with the same queue name share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from .. import _validate
from ..backends import STATES, open_backend
from ..backends.base import MAX_PRIORITY, RECORD_KEYS, LockLostError, Storage
from ..lab import Lab, resolve

BACKOFF_KINDS = ("fixed", "exponential")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_ADD_OPTIONS = ("delay", "priority", "attempts", "backoff", "job_id")


# -- argument checks shared by the pull primitives -------------------------------------------
def check_queue_name(where: str, param: str, value: Any) -> str:
    _validate.name(where, param, value)
    if not _QUEUE_NAME.match(value):
        raise ValueError(
            f"{where}({param}={value!r}): {param} must be letters, digits, '_', '-' or '.' "
            "(it becomes part of Redis key names such as ppl:<name>:wait)"
        )
    return value


def to_json(where: str, param: str, value: Any) -> str:
    """``value`` as JSON text; what a job carries must survive a trip through Redis."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{where}({param}={value!r}): {param} must be JSON-serialisable (dict, list, str, "
            f"number, bool or None), because jobs are stored as JSON: {exc}"
        ) from None


def check_backoff(where: str, value: Any) -> tuple[str, float, float] | None:
    """``None`` or ``(kind, seconds)`` / ``(kind, seconds, jitter)`` → a normalised triple."""
    if value is None:
        return None
    allowed = (
        "None or a tuple (kind, seconds) or (kind, seconds, jitter) with kind 'fixed' or "
        "'exponential', seconds >= 0 and jitter between 0 and 1"
    )
    if not isinstance(value, (tuple, list)) or len(value) not in (2, 3):
        raise TypeError(f"{where}(backoff={value!r}): backoff must be {allowed}")
    kind, seconds, *rest = value
    jitter = rest[0] if rest else 0.0
    if (
        kind not in BACKOFF_KINDS
        or isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0 <= seconds < float("inf")
        or isinstance(jitter, bool)
        or not isinstance(jitter, (int, float))
        or not 0 <= jitter <= 1
    ):
        raise ValueError(f"{where}(backoff={value!r}): backoff must be {allowed}")
    return kind, float(seconds), float(jitter)


def check_job_id(where: str, value: Any, *, new: bool = False) -> str | None:
    """A job id; for a new job (``new=True``) None is allowed and plain numbers are not."""
    if value is None and new:
        return None
    _validate.name(where, "job_id", value)
    if new and value.isdigit():
        raise ValueError(
            f"{where}(job_id={value!r}): job_id must not be a plain number: those are the "
            "automatic ids ('1', '2', ...); use a name such as 'order-42'"
        )
    return value


def check_states(where: str, states: Any) -> list[str]:
    if states is None:
        return list(STATES)
    if isinstance(states, str):
        states = [states]
    allowed = "a state or a list of states from " + ", ".join(repr(s) for s in STATES)
    if not isinstance(states, Iterable):
        raise TypeError(f"{where}(states={states!r}): states must be {allowed}")
    out: list[str] = []
    for s in states:
        if s not in STATES:
            raise ValueError(f"{where}(states={states!r}): {s!r} is not a state; states must be {allowed}")
        if s not in out:
            out.append(s)
    return out


def check_bool(where: str, param: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}({param}={value!r}): {param} must be True or False")
    return value


# -- Job --------------------------------------------------------------------------------------
class Job:
    """One job, as read from the queue (a snapshot: read it again with :meth:`Queue.get_job`).

    Attributes:
        id, name, data: what the producer added (``data`` is a fresh copy).
        state: ``"waiting"``, ``"delayed"``, ``"active"``, ``"completed"`` or ``"failed"``.
        added_at, started_at, finished_at: lab-clock seconds (None until it happens);
            ``started_at`` is the start of the latest attempt.
        attempts_made: attempts that ended (failed or completed); 0 during the first one.
        attempts, backoff, priority, delay: the options it was added with.
        progress, result, failed_reason: what the processor reported, returned or raised.
        due: when a delayed job becomes waiting; stalled_count: how often its worker died.

    A processor receives the job and may report progress::

        async def process(job):
            await job.update_progress(50)
            return {"ok": True}
    """

    __slots__ = (
        "_storage",
        "_token",
        "_worker",
        "added_at",
        "attempts",
        "attempts_made",
        "backoff",
        "data",
        "due",
        "failed_reason",
        "finished_at",
        "id",
        "name",
        "priority",
        "progress",
        "queue_name",
        "result",
        "seq",
        "stalled_count",
        "started_at",
        "state",
    )

    def __init__(self, record: dict, queue_name: str):
        self.queue_name = queue_name
        self.id: str = record["id"]
        self.name: str = record["name"]
        self.data = json.loads(record["data"])
        self.state: str = record["state"]
        self.priority: int = record["priority"]
        self.attempts: int = record["attempts"]
        backoff = record["backoff"]
        self.backoff = None if backoff is None else tuple(json.loads(backoff))
        self.added_at: float = record["added_at"]
        self.started_at: float | None = record["started_at"]
        self.finished_at: float | None = record["finished_at"]
        self.due: float | None = record["due"]
        self.attempts_made: int = record["attempts_made"]
        progress, result = record["progress"], record["result"]
        self.progress = None if progress is None else json.loads(progress)
        self.result = None if result is None else json.loads(result)
        self.failed_reason: str | None = record["failed_reason"]
        self.stalled_count: int = record["stalled_count"]
        self.seq: int = record["seq"]
        self._storage: Storage | None = None
        self._token: str | None = None
        self._worker: Any = None

    async def update_progress(self, progress: Any) -> None:
        """Report progress (a number such as 42, or any JSON value) while processing.

        Stored on the job and pushed to :class:`~pushpull_lab.QueueEvents` listeners as a
        ``progress`` event. Only the processor of an active job can call it.
        """
        where = "Job.update_progress"
        text = to_json(where, "progress", progress)
        worker = self._worker
        if worker is None or self._storage is None or self._token is None:
            raise RuntimeError(
                f"{where}: job {self.id!r} is not being processed here; only the processor "
                "that received it from a Worker can report its progress"
            )
        lab = worker.lab
        try:
            await self._storage.progress(self.queue_name, self.id, self._token, text, lab.now())
        except LockLostError:
            worker._lock_lost(self.id)
            return
        self.progress = json.loads(text)
        lab.trace.record("progress", worker.name, self.queue_name, self.id, progress=self.progress)

    def as_dict(self) -> dict[str, Any]:
        """The public fields as a dict (handy for tables)."""
        return {k: getattr(self, k) for k in _PUBLIC_FIELDS}

    def __repr__(self) -> str:
        extra = ""
        if self.state == "completed":
            extra = f", result={self.result!r}"
        elif self.failed_reason is not None:
            extra = f", failed_reason={self.failed_reason!r}"
        return (
            f"Job(id={self.id!r}, name={self.name!r}, state={self.state!r}, data={self.data!r}, "
            f"attempts_made={self.attempts_made}{extra})"
        )


_PUBLIC_FIELDS = tuple(k for k in RECORD_KEYS if k != "seq")


# -- Queue ------------------------------------------------------------------------------------
class Queue:
    """A named job queue: add jobs, look at them, pause, drain.

    Args:
        name: the queue's name; Workers and QueueEvents with the same name share its jobs.
            Letters, digits, ``_``, ``-`` and ``.``.
        lab: the lab to use (its backend and trace); default :func:`~pushpull_lab.current_lab`.

    Creating a Queue with the same name again in the same lab closes the old object (the
    jobs stay: they live in the backend)::

        q = ppl.Queue("emails")
        await q.add("welcome", {"to": "ada@example.org"})
        await q.add("digest", {}, delay=60)           # waits a minute, on the lab clock
    """

    def __init__(self, name: str, *, lab: Lab | None = None):
        self.lab = resolve(lab, "Queue")
        self.name = check_queue_name("Queue", "name", name)
        self.closed = False
        self.lab.register("queue", self.name, self)

    @property
    def storage(self) -> Storage:
        """The lab's backend (call from async code)."""
        self._check_open("Queue")
        return open_backend(self.lab)

    def _check_open(self, where: str) -> None:
        if self.closed:
            raise RuntimeError(
                f"{where}: the Queue {self.name!r} is closed; create a new ppl.Queue({self.name!r})"
            )

    def _spec(
        self,
        where: str,
        name: Any,
        data: Any,
        delay: Any,
        priority: Any,
        attempts: Any,
        backoff: Any,
        job_id: Any,
    ) -> dict:
        _validate.name(where, "name", name)
        data_json = to_json(where, "data", data)
        delay = _validate.number(where, "delay", delay, minimum=0)
        _validate.integer(where, "priority", priority, minimum=0)
        if priority > MAX_PRIORITY:
            raise ValueError(
                f"{where}(priority={priority!r}): priority must be an integer from 0 (no priority, "
                f"taken first) to {MAX_PRIORITY} (taken last)"
            )
        _validate.integer(where, "attempts", attempts, minimum=1)
        backoff = check_backoff(where, backoff)
        job_id = check_job_id(where, job_id, new=True)
        return {
            "job_id": job_id,
            "name": name,
            "data": data_json,
            "priority": priority,
            "attempts": attempts,
            "backoff": None if backoff is None else json.dumps(list(backoff)),
            "delay": delay,
            "due": None,
        }

    async def add(
        self,
        name: str,
        data: Any = None,
        *,
        delay: float = 0,
        priority: int = 0,
        attempts: int = 1,
        backoff: tuple | None = None,
        job_id: str | None = None,
        sender: str = "producer",
    ) -> Job:
        """Store a job for a worker to pull; returns it (state ``waiting`` or ``delayed``).

        Args:
            name: what kind of job (``"transcode"``); the processor can branch on it.
            data: any JSON-serialisable value.
            delay: seconds on the lab clock before the job may be taken.
            priority: 0 (default, no priority: taken first, oldest first) or 1 (high) to
                2,097,152 (low), as in BullMQ.
            attempts: how many times to try in all before the job fails for good.
            backoff: wait between attempts: ``("fixed", s)`` waits ``s`` seconds,
                ``("exponential", s)`` waits ``s``, ``2s``, ``4s`` ...; a third element
                ``jitter`` in [0, 1] shortens each wait by a random fraction up to it
                (drawn from ``lab.rng``). None retries at once.
            job_id: your own id (not a plain number); adding the same id again does
                nothing and returns the existing job — de-duplication.
            sender: who adds it, as the trace shows it (default ``"producer"``).
        """
        where = "Queue.add"
        spec = self._spec(where, name, data, delay, priority, attempts, backoff, job_id)
        _validate.name(where, "sender", sender)
        self._check_open(where)
        return await self._add(spec, sender)

    async def _add(self, spec: dict, sender: str) -> Job:
        return (await self._add_many([spec], sender))[0]

    async def _add_many(self, specs: list[dict], sender: str) -> list[Job]:
        lab = self.lab
        now = lab.now()
        for spec in specs:
            if spec["delay"] > 0:
                spec["due"] = now + spec["delay"]
        if len(specs) == 1:
            added = [await self.storage.add(self.name, specs[0], now)]
        else:
            added = await self.storage.add_many(self.name, specs, now)
        jobs = []
        for spec, (record, created, waiting) in zip(specs, added):
            job = Job(record, self.name)
            if created:
                extra = {"delay": spec["delay"]} if spec["delay"] > 0 else {}
                lab.trace.record("add", sender, self.name, job.id, depth=waiting, **extra)
            else:
                lab.trace.record("add", sender, self.name, job.id, duplicate=True)
            jobs.append(job)
        return jobs

    async def add_bulk(self, jobs: list[dict], *, sender: str = "producer") -> list[Job]:
        """Add several jobs; each is a dict with ``name``, ``data`` and any :meth:`add` option.

        Every entry is checked before any is added::

            await q.add_bulk([{"name": "resize", "data": {"w": 100}},
                              {"name": "resize", "data": {"w": 200}, "priority": 5}])
        """
        where = "Queue.add_bulk"
        if not isinstance(jobs, (list, tuple)):
            raise TypeError(
                f"{where}(jobs={jobs!r}): jobs must be a list of dicts like {{'name': ..., 'data': ...}}"
            )
        _validate.name(where, "sender", sender)
        specs = []
        allowed = ("name", "data", *_ADD_OPTIONS)
        for i, entry in enumerate(jobs):
            item = f"{where}(jobs[{i}])"
            if not isinstance(entry, dict) or "name" not in entry:
                raise TypeError(f"{item}: each job must be a dict with at least a 'name', got {entry!r}")
            unknown = sorted(set(entry) - set(allowed))
            if unknown:
                raise ValueError(f"{item}: unknown key(s) {unknown}; allowed: {', '.join(allowed)}")
            specs.append(
                self._spec(
                    item,
                    entry["name"],
                    entry.get("data"),
                    entry.get("delay", 0),
                    entry.get("priority", 0),
                    entry.get("attempts", 1),
                    entry.get("backoff"),
                    entry.get("job_id"),
                )
            )
        self._check_open(where)
        return await self._add_many(specs, sender)

    async def get_job(self, job_id: str) -> Job | None:
        """The job with this id, or None if there is none (any more)."""
        check_job_id("Queue.get_job", job_id)
        record = await self.storage.get_job(self.name, job_id)
        return None if record is None else Job(record, self.name)

    async def get_jobs(self, states: str | Iterable[str] | None = None) -> list[Job]:
        """Jobs in the given states (default: all), grouped by state in the order given.

        Within a state, in processing order: waiting (next first), delayed (due first),
        active (started first), completed and failed (finished first)::

            await q.get_jobs(["waiting", "active"])
        """
        states = check_states("Queue.get_jobs", states)
        return [Job(r, self.name) for r in await self.storage.get_jobs(self.name, states)]

    async def get_job_counts(self) -> dict[str, int]:
        """How many jobs are in each state: ``{"waiting": 3, "active": 1, ...}``."""
        return await self.storage.counts(self.name)

    async def pause(self) -> None:
        """Stop handing out jobs: workers finish what they hold and then wait."""
        await self.storage.set_paused(self.name, True, self.lab.now())
        self.lab.trace.record("pause", "producer", self.name)

    async def resume(self) -> None:
        """Hand out jobs again after :meth:`pause`."""
        await self.storage.set_paused(self.name, False, self.lab.now())
        self.lab.trace.record("resume", "producer", self.name)

    async def is_paused(self) -> bool:
        return await self.storage.is_paused(self.name)

    async def drain(self, *, delayed: bool = False) -> int:
        """Delete every waiting job (and every delayed one if ``delayed=True``).

        Active, completed and failed jobs are kept. Returns how many were deleted.
        """
        check_bool("Queue.drain", "delayed", delayed)
        n = await self.storage.drain(self.name, delayed, self.lab.now())
        self.lab.trace.record("drain", "producer", self.name, removed=n, depth=0)
        return n

    async def remove(self, job_id: str) -> bool:
        """Delete one job; False if there was none. An active job cannot be removed."""
        where = "Queue.remove"
        check_job_id(where, job_id)
        outcome = await self.storage.remove(self.name, job_id, self.lab.now())
        if outcome == "active":
            raise RuntimeError(
                f"{where}(job_id={job_id!r}): the job is active (a worker is processing it); "
                "remove it once it has completed or failed"
            )
        if outcome == "removed":
            self.lab.trace.record("remove", "producer", self.name, job_id)
        return outcome == "removed"

    async def obliterate(self) -> None:
        """Delete the whole queue: every job in every state, its events and settings.

        Workers still running on it lose their locks. Handy for a fresh start in a notebook.
        """
        await self.storage.obliterate(self.name)
        self.lab.trace.record("obliterate", "producer", self.name, depth=0)

    async def close(self) -> None:
        """Stop using this Queue object (the jobs stay in the backend)."""
        self._close_now()

    def _close_now(self) -> None:
        self.closed = True
        self.lab.unregister("queue", self.name, self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Queue({self.name!r}, backend={self.lab.backend!r}, {state})"
