"""Worker: pulls jobs from a queue, one at a time or several at once, and processes them.

::

    async def process(job):                  # your code: return a result, or raise
        await ppl.sleep(1.0)
        return {"pages": 12}

    w = ppl.Worker("video", process, concurrency=4)
    ...
    await w.close()                          # finish the jobs in hand, then stop

How it works, in four parts (each a method below):

1. **The fetch loop** (:meth:`Worker._run`). The worker asks the queue for a job only when
   it has a free slot (``concurrency``), and no faster than its ``limiter`` allows. That is
   pull: the consumer sets the pace, so it can never be overwhelmed. When the queue is
   empty it either *blocks* (``fetch="blocking"``: waits on the queue until a job arrives,
   so a new job starts at once) or *polls* (``fetch=ppl.Poll(interval)``: asks again
   after ``interval``; every empty answer is traced as ``empty_poll`` — the cost of polling).
2. **Processing** (:meth:`Worker._process`). The processor's return value completes the
   job; an exception fails it. A failed job with attempts left goes back to the queue
   after its backoff.
3. **Locks and stalled jobs** (:meth:`Worker._housekeeping`). A fetched job is locked for
   ``lock_duration`` seconds; every ``lock_duration / 2`` the worker extends the locks of
   the jobs it holds (a heartbeat) and moves jobs whose lock ran out — their worker died
   or hung — back to the waiting jobs (``stalled``). So a job is never lost, but it may be
   processed twice: delivery is *at least once*.
4. **Stopping** (:meth:`Worker.close` and :meth:`Worker.crash`). ``close`` stops pulling,
   lets the jobs in hand finish and then stops. ``crash`` stops dead, like a killed
   process: the jobs it held stay locked until their lock runs out and another worker
   recovers them.

Two reliability options change *when* a job counts as done and where a hopeless one goes:

- ``ack="after"`` (the default) acknowledges a job when the processor has finished with
  it — *at least once*: a crash before that means the job runs again. ``ack="before"``
  acknowledges it the moment it is fetched (the store marks it completed, result None)
  and only then runs the processor — *at most once*: a crash, or an error, loses it, and it
  is never retried. For *effectively once*, keep ``ack="after"`` and make the side effect
  idempotent (:class:`~pushpull_lab.pull.idempotency.Idempotent`).
- ``dead_letter="video-dlq"``: a job that fails for good (no attempts left) is also copied
  to that queue (a *dead-letter queue*), as job ``<queue>:<id>`` whose data says where it
  came from and why it failed, so poison messages wait there for a person instead of
  vanishing into the failed list. The copy is made after the failure is stored (a crash
  between the two leaves the job in ``failed`` but not in the DLQ; never lost).

All times are on the lab clock, so the same code runs in real time and in
:func:`~pushpull_lab.simulate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from .. import _validate
from ..backends import open_backend
from ..backends.base import LockLostError, Storage
from ..lab import Lab, resolve
from .queue import Job, check_queue_name, to_json

ACK_MODES = ("after", "before")
"""``Worker(ack=...)``: acknowledge a job after the processor ran (at least once) or before (at most once)."""

MAX_BLOCK = 5.0
"""A worker blocked on an empty queue looks again at least this often (seconds)."""

_EPSILON = 1e-9  # float rounding margin when comparing lab-clock times


class Poll:
    """Short polling: ask the queue every ``interval`` seconds instead of blocking.

    ``ppl.Worker("q", process, fetch=ppl.Poll(interval=0.5))``: a job added right after a
    poll waits up to ``interval`` seconds, and every poll that finds nothing is recorded as
    an ``empty_poll`` event — the latency and the wasted requests are both measurable.
    """

    def __init__(self, interval: float):
        self.interval = _validate.number("Poll", "interval", interval, positive=True)

    def __repr__(self) -> str:
        return f"Poll(interval={self.interval:g})"


def backoff_delay(backoff: tuple | None, attempts_made: int, rng: Any) -> float:
    """Seconds to wait before the next attempt, after ``attempts_made`` failed ones.

    ``("fixed", s)`` → s every time; ``("exponential", s)`` → s, 2s, 4s, ...; a jitter
    ``j`` shortens the wait by a random fraction up to ``j`` (drawn from the lab's rng).
    """
    if backoff is None:
        return 0.0
    kind, seconds, jitter = backoff
    delay = seconds if kind == "fixed" else seconds * 2 ** (attempts_made - 1)
    if jitter:
        delay -= delay * jitter * rng.random()
    return delay


def _check_limiter(where: str, limiter: Any) -> tuple[int, float] | None:
    if limiter is None:
        return None
    allowed = "None or a dict like {'max': 10, 'duration': 1.0} (at most max jobs per duration seconds)"
    if not isinstance(limiter, dict) or set(limiter) != {"max", "duration"}:
        raise TypeError(f"{where}(limiter={limiter!r}): limiter must be {allowed}")
    most = limiter["max"]
    duration = limiter["duration"]
    if isinstance(most, bool) or not isinstance(most, int) or most < 1:
        raise ValueError(f"{where}(limiter={limiter!r}): limiter['max'] must be an integer >= 1")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not 0 < duration < float("inf")
    ):
        raise ValueError(
            f"{where}(limiter={limiter!r}): limiter['duration'] must be a finite number > 0 (seconds)"
        )
    return most, float(duration)


class Worker:
    """Pulls jobs from the queue ``queue_name`` and runs ``processor`` on each.

    Args:
        queue_name: the queue to pull from.
        processor: ``async def process(job)`` (a plain function works too). What it returns
            (JSON-serialisable) becomes ``job.result``; if it raises, the job fails with the
            exception's text and is retried while it has attempts left.
        concurrency: how many jobs it processes at once (>= 1).
        fetch: ``"blocking"`` (wait on the queue until a job arrives) or
            ``ppl.Poll(interval=...)`` (ask every ``interval`` seconds).
        limiter: ``{"max": n, "duration": s}`` starts at most ``n`` jobs in any ``s``
            seconds (per worker); None for no limit.
        lock_duration: seconds a fetched job stays locked without a heartbeat; a job whose
            lock runs out is *stalled* and handed to another worker.
        ack: ``"after"`` (default: a job is acknowledged — completed or failed in the store —
            once the processor has finished: at least once) or ``"before"`` (acknowledged as
            soon as it is fetched, before the processor runs: at most once; the stored
            result is None and a failing job is never retried). Traced as ``ack``.
        dead_letter: the name of a queue that receives a copy of every job that fails for
            good (a dead-letter queue), traced as ``dead_letter``; None (default) for none.
        name: how the worker appears in the trace (default ``worker-1``, ``worker-2`` ...).
            Creating a worker with the name of a live one closes the old one, so re-running
            a notebook cell does not leave two workers running.
        lab: the lab; default :func:`~pushpull_lab.current_lab`.

    The worker starts at once; create it inside async code (a notebook cell, or the
    ``main`` of :func:`~pushpull_lab.simulate`)::

        w = ppl.Worker("emails", send, concurrency=2, limiter={"max": 10, "duration": 1.0})
    """

    def __init__(
        self,
        queue_name: str,
        processor: Callable[[Job], Any],
        *,
        concurrency: int = 1,
        fetch: str | Poll = "blocking",
        limiter: dict | None = None,
        lock_duration: float = 30.0,
        ack: str = "after",
        dead_letter: str | None = None,
        name: str | None = None,
        lab: Lab | None = None,
    ):
        where = "Worker"
        self.lab = resolve(lab, where)
        self.queue_name = check_queue_name(where, "queue_name", queue_name)
        self.processor = _validate.function(where, "processor", processor)
        self.concurrency = _validate.integer(where, "concurrency", concurrency, minimum=1)
        if not (fetch == "blocking" or isinstance(fetch, Poll)):
            raise ValueError(f"{where}(fetch={fetch!r}): fetch must be 'blocking' or ppl.Poll(interval=...)")
        self.fetch = fetch
        self.limiter = _check_limiter(where, limiter)
        self.lock_duration = _validate.number(where, "lock_duration", lock_duration, positive=True)
        self.ack = _validate.choice(where, "ack", ack, ACK_MODES)
        if dead_letter is not None:
            check_queue_name(where, "dead_letter", dead_letter)
            if dead_letter == queue_name:
                raise ValueError(
                    f"{where}(dead_letter={dead_letter!r}): dead_letter must name another queue than "
                    f"the one the worker pulls from ({queue_name!r}), or be None"
                )
        self.dead_letter = dead_letter
        self.name = self.lab.next_id("worker") if name is None else _validate.name(where, "name", name)
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"{where}({queue_name!r}): a worker runs on an event loop; create it inside async "
                "code — a notebook cell (top-level await works there) or the main() passed to "
                "ppl.simulate()"
            ) from None

        self.token = f"{self.name}:{uuid.uuid4().hex[:12]}"
        """Identifies this worker's locks (unique even across processes)."""
        self.running: dict[str, Job] = {}
        """The jobs being processed right now, by id."""
        self.completed = 0
        self.failed = 0
        self.closed = False
        self._closing = False  # stop pulling (close or crash)
        self._crashed = False  # crash(): never talk to the queue again
        self._stop_housekeeping = False
        self._storage: Storage | None = None
        self._tasks: dict[asyncio.Task, Job] = {}
        self._starts: deque[float] = deque()  # when recent jobs started (for the limiter)
        self._wakeup: asyncio.Future | None = None  # set while napping (limiter, poll interval)
        self._room: asyncio.Future | None = None  # set while waiting for a free slot
        self._tick: asyncio.Future | None = None  # set while housekeeping sleeps
        self._lost: set[str] = set()
        # Jobs whose outcome is on its way to the store: a heartbeat that races with it finds
        # them no longer active under our lock, but that is a finish, not a lost lock.
        self._finishing: set[str] = set()
        self._acked: set[str] = set()  # ack="before": jobs already completed in the store
        self._housekeeper: asyncio.Task | None = None
        self._close_task: asyncio.Task | None = None

        self.lab.register("worker", self.name, self)
        self._main = self._loop.create_task(self._run(), name=f"worker:{self.name}")

    # -- 1. the fetch loop ------------------------------------------------------------------
    async def _run(self) -> None:
        """Pull a job whenever there is a free slot; hand each to its own task."""
        lab, queue = self.lab, self.queue_name
        try:
            self._storage = open_backend(lab)
        except Exception as exc:  # e.g. the redis package is missing: say so, loudly
            self._report(exc, "opening the backend")
            self._closing = True
            return
        fetch = "blocking" if self.fetch == "blocking" else repr(self.fetch)
        lab.trace.record("start", self.name, queue, concurrency=self.concurrency, fetch=fetch)
        self._housekeeper = self._loop.create_task(self._housekeeping(), name=f"locks:{self.name}")
        while not self._closing:
            await self._wait_for_room()
            try:
                job = await self._next_job()
            except Exception as exc:  # the backend failed (a lost connection): report, retry
                self._report(exc, "fetching a job")
                await self._nap(1.0)
                continue
            if self._crashed:  # a crashed worker drops whatever it just got (it stays locked)
                return
            if job is not None:
                task = self._loop.create_task(self._process(job), name=f"job:{job.id}@{self.name}")
                self._tasks[task] = job
                task.add_done_callback(self._job_done)

    async def _wait_for_room(self) -> None:
        while len(self._tasks) >= self.concurrency and not self._closing:
            self._room = self._loop.create_future()
            try:
                await self._room
            finally:
                self._room = None

    def _job_done(self, task: asyncio.Task) -> None:
        self._tasks.pop(task, None)
        if self._room is not None:  # a slot is free: wake the fetch loop if it waits for one
            _resolve(self._room)

    async def _next_job(self) -> Job | None:
        """Pull one job: ask, and if there is none, block or poll and ask again.

        Returns None only when the worker is closing.
        """
        lab, queue, storage = self.lab, self.queue_name, self._storage
        record = lab.trace.record
        while not self._closing:
            await self._respect_limiter()
            if self._closing:
                break
            now = lab.now()
            got = await storage.fetch(queue, self.token, now, now + self.lock_duration)
            if self._crashed:
                return None
            for job_id, depth in got.promoted:  # delayed jobs that just became due
                record("promote", self.name, queue, job_id, depth=depth)
            if got.job is not None:
                job = Job(got.job, queue)
                job._storage, job._token, job._worker = storage, self.token, self
                record("fetch", self.name, queue, job.id, depth=got.waiting)
                if self.limiter is not None:
                    # The start counts from when the job arrived (the trace's fetch time), not from
                    # when it was asked for: on Redis the two differ by a round trip.
                    self._starts.append(lab.now())
                return job
            if isinstance(self.fetch, Poll):  # short polling: the empty answer is the cost
                record("empty_poll", self.name, queue, depth=got.waiting)
                await self._nap(self.fetch.interval)
                continue
            # Blocking: wait until a job may be there, or the next delayed job is due.
            timeout = MAX_BLOCK if got.next_due is None else min(MAX_BLOCK, got.next_due - lab.now())
            if timeout < 0.001:
                await asyncio.sleep(max(timeout, 0.0))
            else:
                await storage.wait_for_work(queue, self.token, timeout)
        return None

    async def _respect_limiter(self) -> None:
        """With a limiter, wait until starting one more job keeps within ``max`` per ``duration``."""
        if self.limiter is None:
            return
        most, duration = self.limiter
        starts = self._starts
        while not self._closing:
            now = self.lab.now()
            while starts and starts[0] + duration <= now + _EPSILON:
                starts.popleft()
            if len(starts) < most:
                return
            wait = starts[0] + duration - now
            self.lab.trace.record("rate_limited", self.name, self.queue_name, wait=wait)
            await self._nap(wait)

    async def _nap(self, seconds: float, slot: str = "_wakeup") -> None:
        """Sleep on the lab clock; closing the worker cuts the nap short."""
        if self._stop_housekeeping if slot == "_tick" else self._closing:
            return
        fut = self._loop.create_future()
        setattr(self, slot, fut)
        handle = self._loop.call_later(seconds, _resolve, fut)
        try:
            await fut
        finally:
            handle.cancel()
            setattr(self, slot, None)

    def _interrupt(self) -> None:
        for fut in (self._wakeup, self._room, self._tick):
            if fut is not None:
                _resolve(fut)

    # -- 2. processing --------------------------------------------------------------------
    async def _process(self, job: Job) -> None:
        """Run the processor on one job and record how it ended."""
        lab, queue = self.lab, self.queue_name
        self.running[job.id] = job
        lab.trace.record("active", self.name, queue, job.id, attempt=job.attempts_made + 1)
        try:
            if self.ack == "before":
                await self._storage.complete(queue, job.id, self.token, "null", lab.now())
                self._acked.add(job.id)
                lab.trace.record("ack", self.name, queue, job.id)
                if self._crashed:
                    return
            try:
                result = self.processor(job)
                if inspect.isawaitable(result):
                    result = await result
                result_json = to_json("processor", "result", result)
            except Exception as exc:
                if not self._crashed:
                    self._finishing.add(job.id)
                    await self._failed(job, exc)
            else:
                if self._crashed:
                    return
                self._finishing.add(job.id)
                if job.id not in self._acked:
                    await self._storage.complete(queue, job.id, self.token, result_json, lab.now())
                self.completed += 1
                lab.trace.record("completed", self.name, queue, job.id)
        except LockLostError:
            self._lock_lost(job.id)
        except Exception as exc:  # the backend failed while recording the outcome
            self._report(exc, f"finishing job {job.id!r}")
        finally:
            self.running.pop(job.id, None)
            self._finishing.discard(job.id)
            self._lost.discard(job.id)
            self._acked.discard(job.id)

    async def _failed(self, job: Job, exc: Exception) -> None:
        lab, queue = self.lab, self.queue_name
        reason = f"{type(exc).__name__}: {exc}"
        made = job.attempts_made + 1
        now = lab.now()
        if job.id in self._acked:  # at most once: already acknowledged, so no retry
            self.failed += 1
            lab.trace.record("failed", self.name, queue, job.id, error=reason, attempts_made=made, acked=True)
            await self._dead_letter(job, reason, made)
            return
        retry_at = None
        if made < job.attempts:
            retry_at = now + backoff_delay(job.backoff, made, lab.rng)
        state, waiting = await self._storage.fail(queue, job.id, self.token, reason, now, retry_at)
        if state == "failed":
            self.failed += 1
            lab.trace.record("failed", self.name, queue, job.id, error=reason, attempts_made=made)
            await self._dead_letter(job, reason, made)
        elif state == "waiting":
            lab.trace.record(
                "retry", self.name, queue, job.id, error=reason, attempts_made=made, depth=waiting
            )
        else:
            lab.trace.record(
                "retry", self.name, queue, job.id, error=reason, attempts_made=made, retry_at=retry_at
            )

    async def _dead_letter(self, job: Job, reason: str, attempts_made: int) -> None:
        """Copy a job that failed for good to the dead-letter queue (if the worker has one).

        The copy's id is ``<queue>:<id>``, so copying the same job twice stores it once.
        """
        if self.dead_letter is None or self._crashed:
            return
        data = {
            "queue": self.queue_name,
            "job_id": job.id,
            "data": job.data,
            "failed_reason": reason,
            "attempts_made": attempts_made,
        }
        spec = {
            "job_id": f"{self.queue_name}:{job.id}",
            "name": job.name,
            "data": to_json("Worker", "dead_letter", data),
            "priority": 0,
            "attempts": 1,
            "backoff": None,
            "delay": 0,
            "due": None,
        }
        record, _, waiting = await self._storage.add(self.dead_letter, spec, self.lab.now())
        self.lab.trace.record(
            "dead_letter",
            self.name,
            self.dead_letter,
            job.id,
            queue=self.queue_name,
            dlq_id=record["id"],
            error=reason,
            depth=waiting,
        )

    # -- 3. locks and stalled jobs ----------------------------------------------------------
    async def _housekeeping(self) -> None:
        """Every ``lock_duration / 2``: extend our locks, then recover stalled jobs."""
        lab, queue, storage = self.lab, self.queue_name, self._storage
        while not self._stop_housekeeping:
            try:
                held = [job_id for job_id in self.running if job_id not in self._acked]
                if held:
                    until = lab.now() + self.lock_duration
                    for job_id in await storage.extend_locks(queue, self.token, held, until):
                        if job_id in self.running and job_id not in self._finishing:
                            self._lock_lost(job_id)
                recovered = await storage.recover_stalled(queue, lab.now())
                if self._crashed:
                    return
                for job_id, depth in recovered:
                    lab.trace.record("stalled", self.name, queue, job_id, depth=depth)
                if recovered and not self._closing:
                    await storage.wake(queue, self.token)  # look at them now
            except Exception as exc:
                self._report(exc, "checking locks")
            await self._nap(self.lock_duration / 2, "_tick")

    def _lock_lost(self, job_id: str) -> None:
        """Our lock on a job ran out: another worker may have it now; our outcome won't count."""
        if job_id not in self._lost:
            self._lost.add(job_id)
            self.lab.trace.record("lock_lost", self.name, self.queue_name, job_id)

    # -- 4. stopping ------------------------------------------------------------------------
    async def close(self, *, timeout: float | None = None) -> None:
        """Stop pulling, let the jobs in hand finish, then stop.

        Args:
            timeout: seconds to wait for the jobs in hand; those still running then are
                cancelled and given back to the queue (to the front), for another worker.
                None waits as long as they take.
        """
        timeout = _validate.optional_number("Worker.close", "timeout", timeout, minimum=0)
        if self._close_task is None:
            self._close_task = self._loop.create_task(self._shutdown(timeout))
        await asyncio.shield(self._close_task)

    async def _shutdown(self, timeout: float | None) -> None:
        lab, queue = self.lab, self.queue_name
        self._closing = True
        lab.trace.record("closing", self.name, queue, in_flight=len(self.running))
        self._interrupt()
        storage = self._storage
        if storage is not None:
            await storage.wake(queue, self.token)  # end a blocking wait on the queue
        await self._main  # returns once its current request is answered
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
            for task in pending:
                job = self._tasks[task]
                acked = job.id in self._acked
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                if acked:  # at most once: acknowledged already, so it is lost
                    lab.trace.record("abandoned", self.name, queue, job.id)
                    continue
                try:
                    waiting = await storage.release(queue, job.id, self.token, lab.now())
                    lab.trace.record("returned", self.name, queue, job.id, depth=waiting)
                except LockLostError:
                    self._lock_lost(job.id)
        self._stop_housekeeping = True  # only now: the jobs in hand needed their locks
        if self._tick is not None:
            _resolve(self._tick)
        if self._housekeeper is not None:
            await self._housekeeper
        if storage is not None:
            await storage.forget(queue, self.token)
        self.closed = True
        lab.trace.record("closed", self.name, queue)
        lab.unregister("worker", self.name, self)

    def crash(self) -> None:
        """Stop at once, like a killed process: nothing is finished, released or cleaned up.

        The jobs it was processing stay active and locked until their lock runs out; then a
        live worker moves them back to waiting (``stalled``) and they run again.
        """
        if self.closed:
            return
        held = sorted(self.running)
        self._crashed = self._closing = self._stop_housekeeping = True
        for task in [self._main, self._housekeeper, self._close_task, *self._tasks]:
            if task is not None:
                task.cancel()
        self._interrupt()
        self.closed = True
        self.lab.trace.record("crash", self.name, self.queue_name, holding=held)
        self.lab.unregister("worker", self.name, self)

    def _close_now(self) -> None:
        """Called when a worker with the same name replaces this one: close in the background."""
        if self.closed or self._close_task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not self._loop:  # no loop to finish on: stop dead
            self.crash()
            return
        self._close_task = loop.create_task(self._shutdown(None))
        self._close_task.add_done_callback(self._check_closed)

    def _check_closed(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._report(task.exception(), "closing")

    # -- reporting ------------------------------------------------------------------------
    def _report(self, exc: BaseException, doing: str) -> None:
        """A failure of the machinery (not of a job): trace it and tell the event loop."""
        self.lab.trace.record(
            "error", self.name, self.queue_name, error=f"{type(exc).__name__}: {exc}", doing=doing
        )
        self._loop.call_exception_handler(
            {"message": f"Worker {self.name!r} on queue {self.queue_name!r} failed {doing}", "exception": exc}
        )

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("closing" if self._closing else "running")
        return (
            f"Worker({self.name!r}, queue={self.queue_name!r}, concurrency={self.concurrency}, "
            f"{state}, running={len(self.running)}, completed={self.completed}, failed={self.failed})"
        )


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
