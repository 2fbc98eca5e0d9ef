"""Run a :class:`~pushpull_lab.Worker` as its own operating-system process.

``pushpull-lab worker`` (or ``python -m pushpull_lab worker``) is what a deployment runs on
every machine that should pull jobs from a shared Redis queue::

    pushpull-lab worker --redis redis://127.0.0.1:6379/0 --queue video \\
        --concurrency 4 --processor mypkg.tasks:transcode

Start it as many times as you like, on one machine or many: the workers share the queue
because its jobs live in Redis, and each pulls only when it has a free slot. Stop one with
Ctrl+C or ``kill`` (SIGINT/SIGTERM): it stops pulling, finishes the jobs in hand and exits
with status 0. A second signal stops it at once (the jobs in hand stay locked until their
lock runs out, then another worker takes them). ``kill -9`` gives no chance to finish:
the jobs the process held stall, their locks run out, and a live worker hands them out
again — nothing is lost, but some jobs run twice (delivery is *at least once*).

The checks here run before anything connects, so a typo fails at once with a message
naming the option, the value and what is allowed. :mod:`pushpull_lab.cli` turns them into
usage errors (exit status 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from .pull.queue import check_queue_name

DEFAULT_PROCESSOR = "pushpull_lab.process:echo"
CONNECT_TIMEOUT = 5.0
"""Seconds to wait for the Redis server's first answer before giving up."""

TRACE_LIMIT = 50_000
"""A worker process keeps only this many recent trace events: it may run for days. The
summary counts what it needs from the trace every second, long before events are dropped
(unless it handles more than ~10,000 jobs a second)."""


class OptionError(ValueError):
    """A bad command-line value; the message says what is allowed."""


# -- checks, one per option -------------------------------------------------------------------
def check_redis_url(value: str) -> str:
    """A ``redis://`` or ``rediss://`` URL with a host, a valid port and a numeric database."""
    allowed = "a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0"
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port that is not a number in 0..65535
    except ValueError as exc:
        raise OptionError(f"{value!r} is not a valid URL ({exc}); it must be {allowed}") from None
    if parts.scheme not in ("redis", "rediss"):
        scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise OptionError(f"{value!r} has {scheme}; it must be {allowed}")
    if not parts.hostname:
        raise OptionError(f"{value!r} names no host; it must be {allowed}")
    if port == 0:
        raise OptionError(f"{value!r}: the port must be 1..65535")
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise OptionError(f"{value!r}: the database (after the last '/') must be a number such as 0")
    return value


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for printing)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def check_queue(value: str) -> str:
    """A queue name the pull layer accepts (it becomes part of Redis key names)."""
    try:
        return check_queue_name("worker", "queue", value)
    except (TypeError, ValueError) as exc:
        reason = str(exc).partition("): ")[2] or str(exc)
        raise OptionError(f"{value!r}: {reason}") from None


def check_worker_name(value: str) -> str:
    if not value or value != value.strip():
        raise OptionError(f"{value!r}: the name must be non-empty, without leading or trailing spaces")
    return value


def check_concurrency(text: str) -> int:
    """An integer >= 1: how many jobs the process works on at once."""
    try:
        value = int(text)
    except ValueError:
        raise OptionError(f"{text!r} is not an integer; it must be an integer >= 1") from None
    if value < 1:
        raise OptionError(f"{value}: it must be an integer >= 1 (jobs processed at once)")
    return value


def check_seconds(text: str, *, allow_zero: bool = False) -> float:
    """A finite number of seconds, > 0 (or >= 0 with ``allow_zero``)."""
    allowed = "a finite number of seconds " + (">= 0" if allow_zero else "> 0")
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{text!r} is not a number; it must be {allowed}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise OptionError(f"{text!r}: it must be {allowed}")
    return value


def load_processor(spec: str) -> Callable[[Any], Any]:
    """``"package.module:function"`` → the function, imported; says which part failed.

    The current directory is searched too (as ``python -m`` does), so a ``tasks.py`` next
    to where the worker starts can be named ``tasks:process``. ``function`` may be a dotted
    path inside the module (``tasks:Handlers.resize``).
    """
    form = "module:function, e.g. mypkg.tasks:process"
    module_name, colon, attr_path = spec.partition(":")
    module_name, attr_path = module_name.strip(), attr_path.strip()
    if not colon or not module_name or not attr_path:
        raise OptionError(f"{spec!r} is not of the form {form}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):  # the module itself
            raise OptionError(
                f"{spec!r}: module {module_name!r} was not found (No module named {missing!r}); "
                "is it installed, or on PYTHONPATH, or in the current directory?"
            ) from None
        raise OptionError(
            f"{spec!r}: module {module_name!r} was found but importing it failed: {exc}"
        ) from None
    except Exception as exc:  # the module's own code raised
        raise OptionError(
            f"{spec!r}: module {module_name!r} was found but importing it failed: {type(exc).__name__}: {exc}"
        ) from None
    target: Any = module
    for i, part in enumerate(attr_path.split(".")):
        try:
            target = getattr(target, part)
        except AttributeError:
            owner = module_name if i == 0 else f"{module_name}:{'.'.join(attr_path.split('.')[:i])}"
            raise OptionError(f"{spec!r}: {owner!r} has no attribute {part!r}") from None
    if not callable(target):
        raise OptionError(
            f"{spec!r}: {attr_path!r} in module {module_name!r} is a {type(target).__name__}, "
            "not a function; it must be a function taking the job, sync or async"
        )
    try:
        inspect.signature(target).bind(object())
    except TypeError:
        raise OptionError(
            f"{spec!r}: {attr_path}{inspect.signature(target)} cannot be called with one "
            "argument; a processor is called as processor(job)"
        ) from None
    except ValueError:  # no signature available (some builtins): trust it
        pass
    return target


def echo(job: Any) -> Any:
    """The default processor: completes every job with its own data as the result."""
    return job.data


# -- running ----------------------------------------------------------------------------------
@dataclass
class WorkerOptions:
    redis: str
    queue: str
    processor: Callable[[Any], Any]
    processor_spec: str = DEFAULT_PROCESSOR
    concurrency: int = 1
    lock_duration: float = 30.0
    name: str | None = None
    report_every: float = 5.0
    shutdown_timeout: float | None = None


class _Tally:
    """Wraps the processor to remember the latest failure (for the summary lines)."""

    def __init__(self, processor: Callable[[Any], Any]):
        self.processor = processor
        self.last_error: str | None = None

    async def __call__(self, job: Any) -> Any:
        try:
            result = self.processor(job)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as exc:
            self.last_error = f"job {job.id}: {type(exc).__name__}: {exc}"
            raise


class _Report:
    """The numbers of the summary lines: the worker's counters plus, from its trace, the
    stalled jobs it recovered and the locks it lost (a job it held was handed to another
    worker: that job runs twice)."""

    def __init__(self, worker: Any, lab: Any, tally: _Tally):
        self.worker, self.lab, self.tally = worker, lab, tally
        self.started = time.monotonic()
        self.stalled = 0
        self.lock_lost = 0
        self._seen_until = -math.inf
        self._shown_error: str | None = None

    def scan(self) -> None:
        """Count the new ``stalled`` and ``lock_lost`` events (call more often than the trace
        limit fills up)."""
        now = self.lab.now()
        for event in self.lab.trace.filter(kind={"stalled", "lock_lost"}, since=self._seen_until):
            if event.time >= now:
                continue  # counted on the next scan
            if event.kind == "stalled":
                self.stalled += 1
            else:
                self.lock_lost += 1
        self._seen_until = now

    def state(self) -> tuple:
        w = self.worker
        return (w.completed, w.failed, self.stalled, self.lock_lost, self.tally.last_error)

    def line(self, final: bool = False) -> str:
        w = self.worker
        elapsed = max(time.monotonic() - self.started, 1e-9)
        text = (
            f"completed {w.completed} | failed {w.failed} | in hand {len(w.running)} | "
            f"recovered stalled {self.stalled} | lock lost {self.lock_lost} | "
            f"{(w.completed + w.failed) / elapsed:.1f} jobs/s over {elapsed:.1f}s"
        )
        error = self.tally.last_error
        if error is not None and (final or error != self._shown_error):
            text += f" | last error: {error}"
            self._shown_error = error
        return text


def run_worker(options: WorkerOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run a worker until SIGINT/SIGTERM; returns the exit status (0 after a graceful stop)."""
    return asyncio.run(serve(options, out or sys.stdout, err or sys.stderr))


async def serve(options: WorkerOptions, out: TextIO, err: TextIO) -> int:
    import pushpull_lab as ppl
    from pushpull_lab.backends import open_backend

    name = options.name or f"worker-{os.getpid()}"
    prefix = f"pushpull-lab worker {name}:"

    def say(text: str, stream: TextIO = out) -> None:
        print(f"{prefix} {text}", file=stream, flush=True)

    loop = asyncio.get_running_loop()

    def on_loop_error(_loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        say(f"{context.get('message', 'error')}{detail}", err)

    loop.set_exception_handler(on_loop_error)

    stop = asyncio.Event()
    signals: list[str] = []
    worker: Any = None

    def on_signal(signame: str) -> None:
        signals.append(signame)
        if len(signals) == 1:
            running = 0 if worker is None else len(worker.running)
            say(f"{signame}: stopping; finishing the {running} job(s) in hand (signal again to stop now)")
            stop.set()
        elif worker is not None and not worker.closed:
            say(
                f"{signame} again: stopping now; the {len(worker.running)} job(s) in hand go to "
                "another worker once their locks run out"
            )
            worker.crash()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main thread
            loop.add_signal_handler(sig, on_signal, sig.name)

    lab = ppl.Lab(backend=options.redis, trace_limit=TRACE_LIMIT)
    where = redact(options.redis)
    queue = ppl.Queue(options.queue, lab=lab)
    try:
        counts = await asyncio.wait_for(queue.get_job_counts(), CONNECT_TIMEOUT)
    except Exception as exc:
        reason = "no answer" if isinstance(exc, asyncio.TimeoutError) else f"{type(exc).__name__}: {exc}"
        say(f"cannot reach Redis at {where}: {reason}", err)
        with contextlib.suppress(Exception):
            await open_backend(lab).aclose()
        return 1
    finally:
        await queue.close()

    tally = _Tally(options.processor)
    worker = ppl.Worker(
        options.queue,
        tally,
        concurrency=options.concurrency,
        lock_duration=options.lock_duration,
        name=name,
        lab=lab,
    )
    say(
        f"pulling from queue {options.queue!r} on {where} | concurrency {options.concurrency} | "
        f"lock {options.lock_duration:g}s | processor {options.processor_spec} | pid {os.getpid()} | "
        f"waiting {counts.get('waiting', 0)}"
    )

    report = _Report(worker, lab, tally)
    tick = min(options.report_every, 1.0) if options.report_every > 0 else 1.0
    last_line = time.monotonic()
    shown = report.state()
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), tick)
        report.scan()
        due = options.report_every > 0 and time.monotonic() - last_line >= options.report_every - 1e-3
        if due and not stop.is_set() and report.state() != shown:
            say(report.line())
            shown, last_line = report.state(), time.monotonic()

    crashed = False
    try:
        await worker.close(timeout=options.shutdown_timeout)
    except asyncio.CancelledError:  # a second signal crashed it while it closed
        if not worker.closed:
            raise
        crashed = True
    crashed = crashed or len(signals) > 1
    with contextlib.suppress(Exception):
        await open_backend(lab).aclose()
    report.scan()
    if crashed:
        say(f"stopped at once | {report.line(final=True)}")
        return 1
    say(f"stopped | {report.line(final=True)}")
    return 0
