"""Two clocks for one implementation: the kernel's real loop, or virtual time.

:func:`simulate` runs an ``async def main(lab)`` on :class:`VirtualTimeLoop`, an asyncio
event loop whose clock does not tick by itself: whenever every task is waiting, the clock
jumps straight to the next timer. Ten simulated minutes cost only the work done in them,
and the same seed gives the same trace on every run::

    import pushpull_lab as ppl

    async def main(lab):
        await ppl.sleep(600)          # ten virtual minutes, instantly
        return lab.now()

    run = ppl.simulate(main, seed=1)
    run.value, run.now                # (600.0, 600.0)

The primitives are plain asyncio code; they never know which clock they are on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import heapq
import itertools
import threading
from asyncio import format_helpers
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import _validate
from .errors import BackgroundTaskError, DeadlockError, VirtualTimeError

# Rebuild the timer heap when more than half of it is cancelled timers (long-poll timeouts
# and wait_for() cancel many timers; letting them pile up makes every heap operation slower).
_MIN_TIMERS_FOR_PURGE = 100

_Future = asyncio.Future
_Handle = asyncio.Handle
_TimerHandle = asyncio.TimerHandle
_get_running_loop = asyncio._get_running_loop  # in asyncio.__all__; None outside a loop, no raise
_heappush = heapq.heappush
_heappop = heapq.heappop

# call_soon() below fills a Handle's slots itself. It does so only if the slots are the
# ones it knows (Python 3.10-3.13); another asyncio gets asyncio's own call_soon.
_HANDLE_SLOTS = ("_callback", "_args", "_cancelled", "_loop", "_source_traceback", "_repr", "_context")
_FAST_HANDLES = set(_Handle.__slots__) == {*_HANDLE_SLOTS, "__weakref__"}


def _refuse(what: str):
    raise VirtualTimeError(
        f"{what} is not possible in virtual time: the virtual clock jumps ahead whenever every "
        "task waits, so nothing outside the simulation (a server, a thread, a process) could "
        "keep up with it. Inside simulate() use the in-process parts (PubSub, a Queue on the "
        "'memory' or 'fakeredis' backend, short_poll/long_poll on a Log); run real HTTP, sockets "
        "and Redis servers in real time, outside simulate()."
    )


class VirtualTimeLoop(asyncio.BaseEventLoop):
    """An asyncio loop whose ``time()`` is a counter that jumps to the next timer.

    It has no selector: with no real I/O there is nothing to wait for, so each step runs
    what is ready and, when nothing is, moves the clock to the earliest timer. Opening a
    socket, a subprocess or a thread raises :class:`~pushpull_lab.errors.VirtualTimeError`.
    """

    def __init__(self, *, until: float | None = None):
        super().__init__()
        self._now = 0.0
        self._until = until
        self._on_idle: Callable[[], None] | None = None
        self._seq = itertools.count()  # tie-breaker for timers due at the same time

    def time(self) -> float:
        return self._now

    # Speed: a simulation is nothing but this loop's bookkeeping, so the hot paths below
    # avoid Python calls asyncio makes on every step. Each trick keeps asyncio's behaviour;
    # tests/unit/test_clock.py checks the cancellation and error paths.

    if _FAST_HANDLES:
        # Every task step and every future callback comes through call_soon (the C Task
        # and Future call it by name). asyncio's version costs three Python calls
        # (call_soon, _call_soon, Handle.__init__ asking get_debug()); this builds the
        # same Handle in place. Debug mode and a closed loop take asyncio's path.
        def call_soon(self, callback, *args, context=None):
            if self._debug or self._closed:
                return super().call_soon(callback, *args, context=context)
            handle = _Handle.__new__(_Handle)
            handle._callback = callback
            handle._args = args
            handle._loop = self
            handle._context = contextvars.copy_context() if context is None else context
            handle._cancelled = False
            handle._repr = None
            handle._source_traceback = None
            self._ready.append(handle)
            return handle

    # The heap holds tuples, which compare in C; asyncio's TimerHandle.__lt__ is Python
    # code run on every heap step. A timer is (when, seq, TimerHandle); a sleep() is
    # (when, seq, future, result). ``seq`` fires ties in the order they were scheduled
    # and keeps comparisons from ever reaching the third item.
    def call_at(self, when, callback, *args, context=None):
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = _TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        _heappush(self._scheduled, (when, next(self._seq), timer))
        timer._scheduled = True  # so that timer.cancel() counts it in _timer_cancelled_count
        return timer

    # What asyncio.sleep() does, without its TimerHandle and its Handle: the future itself
    # goes into the heap and _run_once sets its result when the time comes. Cancelling
    # the sleeping task cancels the future, and a done future's entry is dead.
    async def _sleep(self, delay: float, result: Any) -> Any:
        future = _Future(loop=self)
        _heappush(self._scheduled, (self._now + delay, next(self._seq), future, result))
        try:
            return await future
        except BaseException:  # cancelled, or the coroutine closed: the timer dies with it
            future.cancel()
            raise

    def _purge_dead_timers(self) -> None:
        live = []
        for entry in self._scheduled:
            if len(entry) == 4:  # a sleep: dead once its future is done (cancelled)
                if not entry[2].done():
                    live.append(entry)
            elif entry[2]._cancelled:
                entry[2]._scheduled = False
            else:
                live.append(entry)
        heapq.heapify(live)
        self._scheduled = live
        self._timer_cancelled_count = 0

    # The whole engine: run what is ready; if nothing is, jump to the next timer. Unlike
    # asyncio's _run_once it loops here until stop(), saving a call per step; stop() keeps
    # its meaning (the batch that is running finishes first).
    def _run_once(self) -> None:
        ready = self._ready
        popleft = ready.popleft
        while True:
            scheduled = self._scheduled
            if len(scheduled) > _MIN_TIMERS_FOR_PURGE and self._timer_cancelled_count * 2 > len(scheduled):
                self._purge_dead_timers()
                scheduled = self._scheduled
            if not ready:
                # Drop dead timers first: the clock must not jump to a time at which
                # nothing happens.
                while scheduled:
                    top = scheduled[0]
                    if len(top) == 4:
                        if not top[2].done():
                            break
                    elif top[2]._cancelled:
                        top[2]._scheduled = False
                        self._timer_cancelled_count -= 1
                    else:
                        break
                    _heappop(scheduled)
                if not scheduled:
                    if not self._stopping:
                        self._idle()
                    return
                when = scheduled[0][0]
                if self._until is not None and when > self._until:
                    self._now = max(self._now, self._until)
                    self.stop()
                    return
                if when > self._now:
                    self._now = when
            now = self._now
            while scheduled and scheduled[0][0] <= now:
                entry = _heappop(scheduled)
                if len(entry) == 4:  # a sleep: it ends in its turn among the ready callbacks
                    ready.append(entry)
                else:
                    entry[2]._scheduled = False
                    ready.append(entry[2])
            for _ in range(len(ready)):
                handle = popleft()
                if handle.__class__ is tuple:  # a sleep is over: (when, seq, future, result)
                    if not handle[2].done():
                        handle[2].set_result(handle[3])
                    continue
                if handle._cancelled:
                    continue
                # Handle._run(), inlined to save a call per callback; errors are reported
                # exactly as it reports them.
                try:
                    handle._context.run(handle._callback, *handle._args)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    self._report_callback_error(handle, exc)
            handle = None  # as asyncio does: a traceback through this frame keeps no task alive
            if self._stopping:
                return

    def _report_callback_error(self, handle: asyncio.Handle, exc: BaseException) -> None:
        cb = format_helpers._format_callback_source(handle._callback, handle._args)
        context = {"message": f"Exception in callback {cb}", "exception": exc, "handle": handle}
        if handle._source_traceback:
            context["source_traceback"] = handle._source_traceback
        self.call_exception_handler(context)

    def _idle(self) -> None:
        if self._until is not None:
            self._now = max(self._now, self._until)
            self.stop()
        elif self._on_idle is not None:
            self._on_idle()
        else:
            self.stop()

    # Nothing can wake a selector-less loop from outside, and nothing needs to.
    def _write_to_self(self) -> None:
        pass

    def _process_events(self, event_list) -> None:
        pass

    # The real world is refused with a message that says why.
    async def create_connection(self, *args: Any, **kwargs: Any):
        _refuse("Opening a network connection")

    async def create_server(self, *args: Any, **kwargs: Any):
        _refuse("Starting a server")

    async def create_datagram_endpoint(self, *args: Any, **kwargs: Any):
        _refuse("Opening a UDP socket")

    async def create_unix_connection(self, *args: Any, **kwargs: Any):
        _refuse("Opening a Unix socket")

    async def create_unix_server(self, *args: Any, **kwargs: Any):
        _refuse("Starting a Unix-socket server")

    async def getaddrinfo(self, *args: Any, **kwargs: Any):
        _refuse("Resolving a host name")

    async def sock_connect(self, *args: Any, **kwargs: Any):
        _refuse("Connecting a socket")

    async def subprocess_exec(self, *args: Any, **kwargs: Any):
        _refuse("Starting a subprocess")

    async def subprocess_shell(self, *args: Any, **kwargs: Any):
        _refuse("Starting a subprocess")

    def run_in_executor(self, *args: Any, **kwargs: Any):
        _refuse("Running a function in a thread (run_in_executor, asyncio.to_thread)")

    def add_reader(self, *args: Any, **kwargs: Any):
        _refuse("Watching a file descriptor")

    add_writer = add_reader


@dataclass
class Run:
    """What :func:`simulate` returns: the result of ``main``, its trace and the end time."""

    value: Any
    trace: Any
    now: float
    lab: Any = field(repr=False)
    completed: bool = True
    """False when ``until`` was reached before ``main`` returned (``value`` is then None)."""

    def __repr__(self) -> str:
        # The end time as a person reads it: 3.66, not 3.6599999999999993.
        return (
            f"Run(value={self.value!r}, trace={self.trace!r}, now={self.now:.6g}, completed={self.completed})"
        )

    def _repr_html_(self) -> str:
        status = "completed" if self.completed else f"stopped at until={self.now:g}"
        return (
            f"<div><b>simulation run</b>: {status}, virtual time {self.now:.6g} s, "
            f"{len(self.trace)} events, value={self.value!r}</div>" + self.trace._repr_html_()
        )


def simulate(
    main: Callable[[Any], Awaitable[Any]],
    *,
    seed: int = 0,
    until: float | None = None,
    backend: str = "memory",
    errors: str = "raise",
) -> Run:
    """Run ``await main(lab)`` in deterministic virtual time and return a :class:`Run`.

    Args:
        main: an ``async def main(lab)``; primitives it creates use ``lab`` automatically.
        seed: seeds ``lab.rng``; the same seed gives identical trace rows.
        until: ``None`` runs until ``main`` returns (leftover background tasks are then
            cancelled). A number of virtual seconds runs the whole system, background
            tasks included, until that time, like SimPy's ``env.run(until=...)``; if
            ``main`` has not returned by then it is cancelled and ``run.completed`` is False.
        backend: ``"memory"`` or ``"fakeredis"``; a real Redis server cannot follow a
            virtual clock.
        errors: ``"raise"`` (default) raises :class:`BackgroundTaskError` at the end if a
            background task or listener raised and nobody handled it; ``"record"`` only
            keeps them as ``error`` events in the trace.

    Called from inside a running event loop (a Jupyter cell), the simulation runs on a
    helper thread and the call blocks until it ends.
    """
    from .lab import Lab, _current_lab

    _validate.function("simulate", "main", main)
    _validate.integer("simulate", "seed", seed)
    until = _validate.optional_number("simulate", "until", until, minimum=0)
    _validate.choice("simulate", "errors", errors, ("raise", "record"))
    if isinstance(backend, str) and backend.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"simulate(backend={backend!r}): backend must be 'memory' or 'fakeredis'; a real Redis "
            "server keeps its own time, so it cannot take part in virtual time"
        )
    lab = Lab(backend=backend, seed=seed, _virtual=True)

    def run_here() -> Run:
        loop = VirtualTimeLoop(until=until)
        lab._bind_clock(loop.time)
        unhandled: list[BaseException] = []

        def on_exception(loop, context):
            exc = context.get("exception")
            if exc is None:  # a plain message from asyncio, not an error of the simulation
                return
            unhandled.append(exc)
            lab.trace.record("error", "loop", error=f"{type(exc).__name__}: {exc}")

        loop.set_exception_handler(on_exception)
        token = _current_lab.set(lab)
        finished = False
        try:
            main_task = loop.create_task(main(lab))

            def deadlock():
                waiting = asyncio.all_tasks(loop)
                raise DeadlockError(
                    f"simulate(): at virtual time {loop.time():.6g} s nothing is scheduled, but "
                    f"main() has not returned; {len(waiting)} task(s) wait for something that "
                    "can no longer happen (a queue nobody fills, an event nobody sets, a lock "
                    "nobody releases). Pass until=... to stop at a fixed time instead."
                )

            if until is None:
                main_task.add_done_callback(lambda _: loop.stop())
                loop._on_idle = deadlock
            loop.run_forever()
            completed = main_task.done() and not main_task.cancelled()
            value = main_task.result() if completed else None
            end = loop.time()
            _finish(loop, unhandled)
            finished = True
            if errors == "raise" and unhandled:
                first = unhandled[0]
                raise BackgroundTaskError(
                    f"{len(unhandled)} error(s) in background tasks or listeners during the "
                    f"simulation; the first: {type(first).__name__}: {first}. Handle them (an "
                    "'error' listener, try/except in the task) or pass errors='record'.",
                    unhandled,
                ) from first
            return Run(value=value, trace=lab.trace, now=end, lab=lab, completed=completed)
        finally:
            try:
                if not finished:
                    _finish(loop, unhandled)
            finally:
                _current_lab.reset(token)
                loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_here()
    return _run_in_thread(run_here)


def _finish(loop: VirtualTimeLoop, unhandled: list[BaseException]) -> None:
    """Cancel leftover tasks, let them unwind, and collect exceptions nobody retrieved.

    asyncio reports a task whose exception was never retrieved to the loop's exception
    handler when the task is freed; collecting garbage here makes that happen now, before
    the run is judged, instead of at some later, unrelated moment.
    """
    loop._on_idle = None
    loop._until = None
    pending = asyncio.all_tasks(loop)
    for t in pending:
        t.cancel()
    if pending:
        # RuntimeError: a task that ignores cancellation; nothing more can run it.
        with contextlib.suppress(RuntimeError):
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    del pending
    loop.run_until_complete(loop.shutdown_asyncgens())
    gc.collect()


def _run_in_thread(fn: Callable[[], Run]) -> Run:
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # re-raised on the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=contextvars.copy_context().run, args=(target,), name="pushpull-simulate")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def sleep(seconds: float, result: Any = None) -> Awaitable[Any]:
    """Sleep on the lab clock: real seconds in real time, virtual seconds in :func:`simulate`.

    ``await ppl.sleep(0.5)``
    """
    kind = seconds.__class__
    if (kind is float or kind is int) and seconds > 0:  # the common case, checked cheaply
        loop = _get_running_loop()
        if isinstance(loop, VirtualTimeLoop):
            return loop._sleep(seconds, result)
    elif isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        _validate.number("sleep", "seconds", seconds, minimum=0)
    return asyncio.sleep(seconds, result)
