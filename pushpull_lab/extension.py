"""The IPython extension: ``%load_ext pushpull_lab``.

It adds two magics, rich displays and cleanup::

    %pushpull status            # the current lab and its live primitives
    %pushpull backend fakeredis # a new real-time lab on another backend
    %pushpull stop              # close every live primitive of the current lab
    %pushpull trace 5           # the first and last 5 events of the lab's trace, with counts
    %pushpull reset             # close all, then start a fresh real-time lab (same backend)

    %%simulate --seed 1 --until 60
    bus = ppl.PubSub("scores")
    ...
    await ppl.sleep(5)
    lab.trace.counts()          # the last expression (or a ``return``) becomes run.value

``%%simulate`` runs the cell as the body of ``async def main(lab)`` in virtual time
(:func:`~pushpull_lab.simulate`), stores the :class:`~pushpull_lab.Run` as ``_run``, shows the
timeline of the run and returns the run (its summary and first events are the cell's output).
Names the cell assigns are local to the simulation, like a function's; read from the
notebook freely, write back with ``global name`` or return what you need.

Cleanup. IPython has no event for kernel shutdown (its events are ``pre_execute``,
``pre_run_cell``, ``post_execute``, ``post_run_cell`` and ``shell_initialized``), so:

* ``atexit``: when the kernel process exits normally (shutdown, restart), every live
  primitive of every lab the notebook used is closed (a worker stops pulling, a
  subscription stops delivering). IPython's own end-of-session work runs from ``atexit`` too.
* ``post_run_cell``: after each cell the extension notes the default lab (weakly), so a lab
  replaced with ``ppl.use_lab`` or ``%pushpull backend`` is still closed at exit.
* ``%unload_ext pushpull_lab`` does the same cleanup at once and removes the magics, the
  display formatters and both hooks.

Usage errors. A mistyped subcommand or option raises :class:`MagicUsageError` (a
``UsageError``) shown as ``UsageError: ...`` plus the usage text. IPython prints a plain
UsageError to stderr only, which nbval's lax mode lets pass (nbval issue 147); this one is
sent as an error output, so the cell fails. While loaded, the extension also installs an
IPython custom exception handler (only if no other is installed) that does the same for
IPython's own UsageErrors, such as ``%pushpul`` not found.

A kernel killed with SIGKILL runs nothing: in-memory primitives die with the process, and
jobs a worker held on a real Redis become stalled and are retried once their lock runs out.
"""

from __future__ import annotations

import argparse
import ast
import atexit
import contextlib
import difflib
import hashlib
import html
import linecache
import math
import sys
import types
import weakref
from typing import Any
from urllib.parse import urlsplit

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

import pushpull_lab as ppl

from . import lab as lab_module
from .pull.events import QueueEvents
from .pull.queue import Queue
from .pull.worker import Worker
from .push.pubsub import PubSub, Subscription
from .trace import Trace, format_seconds

PUSHPULL_USAGE = """\
usage: %pushpull status | backend [URL] | stop | trace [N] | reset | help
  status       the current lab (backend, clock, seed, events) and its live primitives
  backend URL  use a new real-time lab on 'memory', 'fakeredis' or a Redis URL (redis://host:port/db)
  stop         close every live primitive of the current lab
  trace [N]    the first and last N events of the current lab's trace (default 10), with counts
  reset        close every live primitive and start a fresh real-time lab on the same backend"""

SIMULATE_USAGE = (
    "usage: %%simulate [--seed N] [--until T] [--backend memory|fakeredis] [--no-timeline]\n"
    "  then the cell: the body of `async def main(lab)` (await allowed; the last expression "
    "or a `return` becomes run.value)"
)

SUBCOMMANDS = ("status", "backend", "stop", "trace", "reset", "help")


class MagicUsageError(UsageError):
    """A UsageError shown as IPython shows one ("UsageError: ..."), but as an error output.

    IPython prints a plain UsageError to stderr only, so a notebook test (nbval, lax
    mode) sees a mistyped magic or option pass. This one goes through the traceback path:
    the kernel sends an ``error`` output and the cell fails.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"UsageError: {self}"]


def _usage_errors_fail_the_cell(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset=None):
    """Custom exception handler: IPython's own UsageErrors (``%pushpul`` not found...) as errors."""
    error = value if isinstance(value, MagicUsageError) else MagicUsageError(str(value))
    shell.showtraceback((MagicUsageError, error, tb))


# -- what a primitive looks like in a table ---------------------------------------------------
def _state(p: Any) -> str:
    if isinstance(p, Worker):
        return "closed" if p.closed else ("closing" if p._closing else "running")
    return "closed" if getattr(p, "closed", False) else "open"


def _queue_counts(queue: Queue) -> dict[str, int] | None:
    """The queue's job counts when they can be read without an event loop (memory backend)."""
    if queue.closed or queue.lab.backend != "memory":
        return None
    from .backends import open_backend

    coro = open_backend(queue.lab).counts(queue.name)
    try:
        coro.send(None)  # the memory store never awaits: the first step returns the answer
    except StopIteration as done:
        return done.value
    except Exception:
        return None
    coro.close()
    return None


def _details(p: Any) -> str:
    if isinstance(p, Worker):
        fetch = p.fetch if isinstance(p.fetch, str) else repr(p.fetch)
        return (
            f"queue={p.queue_name}, concurrency={p.concurrency}, fetch={fetch}, in hand={len(p.running)}, "
            f"completed={p.completed}, failed={p.failed}"
        )
    if isinstance(p, Queue):
        counts = _queue_counts(p)
        if counts is None:
            return f"backend={p.lab.backend} (counts: await q.get_job_counts())"
        return ", ".join(f"{k}={v}" for k, v in counts.items())
    if isinstance(p, PubSub):
        subs = ", ".join(s.name for s in p.subscriptions) or "none"
        return f"published={p.published}, subscriptions: {subs}"
    if isinstance(p, Subscription):
        return (
            f"pattern={p.pattern}, pending={p.pending}/{p.capacity}, delivered={p.delivered}, "
            f"dropped={p.dropped}"
        )
    if isinstance(p, QueueEvents):
        return (
            f"queue={p.queue_name}, received={p.received}, listeners={sum(map(len, p._listeners.values()))}"
        )
    return repr(p)


def _rows(primitives: list[Any]) -> list[tuple[str, str, str, str]]:
    return [(type(p).__name__, str(getattr(p, "name", "")), _state(p), _details(p)) for p in primitives]


def _text_lines(header: tuple[str, ...], rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(r, widths)]
        lines.append(indent + "  ".join(cells).rstrip())
    return lines


def _text_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    return "\n".join(_text_lines(header, rows))


def _html_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class Report:
    """Text for ``text/plain`` and, optionally, HTML for ``text/html``: what a magic shows."""

    def __init__(self, text: str, html_text: str | None = None):
        self.text = text
        self.html = html_text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str | None:
        return self.html


# -- rich displays for the primitives that have no _repr_html_ of their own -------------------
def queue_html(q: Queue) -> str:
    counts = _queue_counts(q)
    workers = [w for w in q.lab.live if isinstance(w, Worker) and w.queue_name == q.name]
    if counts is not None:
        rows = [(k, str(v)) for k, v in counts.items()]
    elif q.closed:
        rows = [("counts", "the Queue object is closed (its jobs stay in the backend)")]
    else:
        rows = [("counts", "await q.get_job_counts() (the backend is not in this process)")]
    rows.append(("workers", ", ".join(f"{w.name} ({_state(w)})" for w in workers) or "none live"))
    return (
        f"<div><b>Queue</b> {html.escape(q.name)}: backend {html.escape(q.lab.backend)}, "
        f"{_state(q)}</div>" + _html_table(("", ""), rows)
    )


def pubsub_html(bus: PubSub) -> str:
    rows = [
        (
            s.name,
            s.pattern,
            f"{s.pending}/{s.capacity}",
            s.overflow,
            str(s.delivered),
            str(s.dropped),
            _state(s),
        )
        for s in bus.subscriptions
    ]
    table = (
        _html_table(("subscriber", "pattern", "buffer", "overflow", "delivered", "dropped", "state"), rows)
        if rows
        else "<div>no subscriptions</div>"
    )
    return (
        f"<div><b>PubSub</b> {html.escape(bus.name)}: {_state(bus)}, {bus.published} published, "
        f"{len(rows)} subscription(s)</div>" + table
    )


def subscription_html(sub: Subscription) -> str:
    return (
        f"<div><b>Subscription</b> {html.escape(sub.name)} on {html.escape(sub.bus.name)}: "
        f"{html.escape(_details(sub))}, overflow={html.escape(sub.overflow)}, {_state(sub)}</div>"
    )


def worker_html(w: Worker) -> str:
    return f"<div><b>Worker</b> {html.escape(w.name)}: {_state(w)} — {html.escape(_details(w))}</div>"


def queue_events_html(ev: QueueEvents) -> str:
    return f"<div><b>QueueEvents</b> {html.escape(ev.name)}: {_state(ev)} — {html.escape(_details(ev))}</div>"


HTML_FORMATTERS = {
    Queue: queue_html,
    PubSub: pubsub_html,
    Subscription: subscription_html,
    Worker: worker_html,
    QueueEvents: queue_events_html,
}


# -- reports ----------------------------------------------------------------------------------
def status_report(lab: lab_module.Lab) -> Report:
    clock = "virtual" if lab.virtual else "real-time"
    kept = f" ({len(lab.trace):,} kept)" if lab.trace.recorded != len(lab.trace) else ""
    head = (
        f"pushpull lab: backend {lab.backend!r}, {clock} clock at {format_seconds(lab.now())}, "
        f"seed {lab.seed}, {lab.trace.recorded:,} events recorded{kept}"
    )
    rows = _rows(lab.live)
    header = ("kind", "name", "state", "details")
    if rows:
        text = f"{head}\nlive primitives ({len(rows)}):\n{_text_table(header, rows)}"
        table = _html_table(header, rows)
    else:
        text = f"{head}\nno live primitives"
        table = "<div>no live primitives</div>"
    return Report(text, f"<div>{html.escape(head)}</div>{table}")


def _event_cells(e: Any) -> tuple[str, ...]:
    t, k, a, p, m, f = e
    extra = ", ".join(f"{key}={val!r}" for key, val in f.items())
    return (f"{t:.4f}", k, a, p or "", "" if m is None else str(m), extra)


def trace_report(trace: Trace, n: int) -> Report:
    rows = list(trace._rows())
    counts = trace.counts()
    total = len(rows)
    dropped = trace.recorded - total
    head = f"Trace: {total:,} events until t={trace.end:.4g} s"
    if dropped:
        head += f" ({dropped:,} older events dropped by the trace limit)"
    count_text = " · ".join(f"{k}: {v}" for k, v in counts.items()) or "no events"
    header = ("time (s)", "kind", "actor", "peer", "msg", "fields")
    if total > 2 * n:
        first, last = rows[:n], rows[-n:]
        gap = f"… {total - 2 * n:,} events not shown …"
    else:
        first, last, gap = rows, [], None
    first_cells = [_event_cells(e) for e in first]
    last_cells = [_event_cells(e) for e in last]
    text = f"{head}\ncounts: {count_text}"
    if total:
        lines = _text_lines(header, first_cells + last_cells)
        if gap:
            lines.insert(1 + len(first_cells), f"  {gap}")
        text += "\n" + "\n".join(lines)
    html_rows = _html_table(header, first_cells)
    if gap:
        html_rows += f"<div>{html.escape(gap)}</div>" + _html_table(header, last_cells)
    return Report(
        text,
        f"<div><b>{html.escape(head)}</b></div><div>counts: {html.escape(count_text)}</div>"
        + (html_rows if total else ""),
    )


# -- %%simulate: the cell as the body of async def main(lab) -----------------------------------
def compile_cell(cell: str, filename: str) -> types.CodeType:
    """Compile ``cell`` as the body of ``async def main(lab, ppl)``; return main's code object.

    The cell is parsed after one empty line so that its line numbers are the notebook's
    (line 1 is the ``%%simulate`` line). A trailing expression becomes ``return <expr>``.
    """
    tree = ast.parse("\n" + cell, filename=filename)
    body = tree.body
    if body and isinstance(body[-1], ast.Expr):
        body[-1] = ast.copy_location(ast.Return(value=body[-1].value), body[-1])
    if not body:
        body = [ast.Pass(lineno=1, col_offset=0, end_lineno=1, end_col_offset=0)]
    func = ast.parse("async def main(lab, ppl): pass").body[0]
    func.body = body
    for node in (func, func.args, *func.args.args):
        node.lineno = node.end_lineno = 1
        node.col_offset = node.end_col_offset = 0
    func.end_lineno = max(getattr(node, "end_lineno", 1) or 1 for node in body)  # the whole cell
    module = ast.Module(body=[func], type_ignores=[])
    code = compile(module, filename, "exec", dont_inherit=True)
    return next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == "main")


def _has_cell_frame(exc: BaseException, filename: str) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            return True
        tb = tb.tb_next
    return False


def _trim_to_cell(exc: BaseException, filename: str, seen: set[int] | None = None) -> None:
    """Show the cell, not the simulator: drop the frames above the cell's first frame.

    An exception the simulator was handling when the cell's error happened (its
    ``__context__``, with no frame in the cell) is hidden too; one the cell itself was
    handling stays.
    """
    seen = set() if seen is None else seen
    if id(exc) in seen:
        return
    seen.add(id(exc))
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is not None:
        exc.__traceback__ = tb
    context = exc.__context__
    if context is not None and exc.__cause__ is None and not _has_cell_frame(context, filename):
        exc.__suppress_context__ = True
    for linked in (exc.__cause__, context):
        if linked is not None:
            _trim_to_cell(linked, filename, seen)


def _cache_cell(shell: Any, source: str) -> str:
    """Put the cell's text in linecache under a name of its own; return the name.

    The name is numbered like the running cell (tracebacks say "Cell In[n], line k", line 1
    being the ``%%simulate`` line). It does not end in ``.py``, unlike a kernel's cell names:
    IPython shows a frame of a ``.py`` file that is not on disk at the frame's *current*
    line, which for a finished coroutine such as main() is its first line, not the failing one.
    """
    number = _cell_number(shell)
    name = f"<simulate-cell-{number}-{hashlib.sha1(source.encode()).hexdigest()[:12]}>"
    linecache.cache[name] = (len(source), None, [line + "\n" for line in source.splitlines()], name)
    numbers = getattr(shell.compile, "_filename_map", None)
    if isinstance(numbers, dict):
        numbers[name] = number  # IPython labels frames of this file "Cell In[number]"
    return name


def _cell_number(shell: Any) -> int:
    """The execution count of the cell running now: the one its code was cached under."""
    numbers = getattr(shell.compile, "_filename_map", {})
    frame = sys._getframe(1)
    while frame is not None:
        number = numbers.get(frame.f_code.co_filename)
        if number is not None:
            return number
        frame = frame.f_back
    return shell.execution_count


def _check_until(value: str) -> float:
    try:
        until = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--until must be a number of virtual seconds, got {value!r}"
        ) from None
    if not math.isfinite(until) or until < 0:
        raise argparse.ArgumentTypeError(f"--until must be a finite number >= 0, got {value!r}")
    return until


def _check_seed(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be an integer, got {value!r}") from None


@magics_class
class PushPullMagics(Magics):
    """``%pushpull`` and ``%%simulate``."""

    @line_magic
    def pushpull(self, line: str) -> None:
        """Look at and control the current lab: status | backend URL | stop | trace [N] | reset."""
        words = line.split()
        if not words or words[0] == "help":
            print(PUSHPULL_USAGE)
            return
        command, args = words[0], words[1:]
        if command not in SUBCOMMANDS:
            close = difflib.get_close_matches(command, SUBCOMMANDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise MagicUsageError(f"%pushpull: unknown subcommand {command!r}{hint}\n{PUSHPULL_USAGE}")
        takes = {"backend": 1, "trace": 1}.get(command, 0)
        if len(args) > takes:
            raise MagicUsageError(
                f"%pushpull {command}: unexpected {' '.join(args[takes:])!r}\n{PUSHPULL_USAGE}"
            )
        lab = lab_module.current_lab()
        if command == "status":
            display(status_report(lab))
        elif command == "backend":
            self._backend(lab, args[0] if args else None)
        elif command == "stop":
            names = [f"{type(p).__name__} {getattr(p, 'name', '?')!r}" for p in lab.live]
            n = lab.close_all()
            listed = f": {', '.join(names)}" if names else ""
            print(f"closed {n} live primitive(s) of the lab{listed}")
        elif command == "trace":
            n = 10
            if args:
                try:
                    n = int(args[0])
                except ValueError:
                    n = 0
                if n < 1:
                    raise MagicUsageError(
                        f"%pushpull trace N: N must be a whole number >= 1, got {args[0]!r}"
                    )
            display(trace_report(lab.trace, n))
        elif command == "reset":
            n = lab.close_all()
            fresh = ppl.use_lab(ppl.Lab(backend=lab.backend, seed=lab.seed))
            kept = (
                " Jobs stored on the Redis server stay there (await q.obliterate() removes a queue's)."
                if lab.backend not in ("memory", "fakeredis")
                else ""
            )
            print(
                f"closed {n} live primitive(s); started a fresh real-time lab "
                f"(backend {fresh.backend!r}, seed {fresh.seed}, empty trace).{kept}"
            )

    def _backend(self, lab: lab_module.Lab, url: str | None) -> None:
        if url is None:
            print(
                f"backend: {lab.backend!r} (change it with %pushpull backend memory|fakeredis|redis://host:port/db)"
            )
            return
        try:
            if url.startswith(("redis://", "rediss://")):
                parts = urlsplit(url)
                parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
                if not parts.hostname:
                    raise ValueError(
                        f"Lab(backend={url!r}): a Redis URL needs a host, e.g. 'redis://127.0.0.1:6379/0'"
                    )
            new = ppl.Lab(backend=url, seed=lab.seed)
        except ValueError as exc:
            raise MagicUsageError(f"%pushpull backend: {exc}") from None
        if url == lab.backend:
            print(f"backend is already {url!r}; nothing changed (%pushpull reset starts a fresh lab)")
            return
        ppl.use_lab(new)
        note = ""
        if url not in ("memory", "fakeredis"):
            note = " The server is not contacted yet: the first Queue or Worker connects."
        left = len(lab.live)
        if left:
            note += (
                f" The previous lab still has {left} live primitive(s); they keep running there "
                "(they are closed when the kernel exits)."
            )
        print(
            f"backend: {lab.backend!r} -> {url!r}. Primitives created from now on use a new real-time "
            f"lab (seed {new.seed}, empty trace).{note}"
        )

    @magic_arguments()
    @argument(
        "--seed", type=_check_seed, default=0, help="seed of lab.rng (same seed, same trace); default 0"
    )
    @argument(
        "--until",
        type=_check_until,
        default=None,
        help="stop at this virtual time (seconds), background tasks included; default: when the cell returns",
    )
    @argument("--backend", choices=("memory", "fakeredis"), default="memory", help="default memory")
    @argument("--no-timeline", action="store_true", help="do not draw the timeline figure")
    @cell_magic
    def simulate(self, line: str, cell: str) -> Any:
        """Run the cell in virtual time as the body of ``async def main(lab)``; shows and returns the Run.

        ``await`` works at the top of the cell; ``lab`` is the simulation's lab and ``ppl``
        the pushpull_lab package. The last expression (or a ``return``) becomes
        ``run.value``. The run is stored as ``_run``.
        """
        __tracebackhide__ = True
        try:
            args = parse_argstring(self.simulate, line)
        except UsageError as exc:
            raise MagicUsageError(f"%%simulate: {exc}\n{SIMULATE_USAGE}") from None
        shell = self.shell
        filename = _cache_cell(shell, f"%%simulate {line}".rstrip() + "\n" + cell)
        try:
            code = compile_cell(cell, filename)
        except SyntaxError as exc:
            raise exc.with_traceback(None) from None
        main = types.FunctionType(code, shell.user_ns, "main", (ppl,))
        try:
            run = ppl.simulate(main, seed=args.seed, until=args.until, backend=args.backend)
        except BaseException as exc:
            _trim_to_cell(exc, filename)
            raise
        shell.user_ns["_run"] = run
        if not args.no_timeline and len(run.trace):
            display(ppl.viz.timeline(run.trace, title="Who initiates each exchange (virtual time)"))
        return run


# -- loading, unloading, cleanup --------------------------------------------------------------
class _Loaded:
    def __init__(self, shell: Any):
        self.shell = shell
        self.labs: weakref.WeakSet = weakref.WeakSet()
        self.old_formatters: dict[type, Any] = {}
        self.custom_exc = False

    def remember_lab(self, *_: Any) -> None:
        lab = lab_module._default_lab
        if lab is not None:
            self.labs.add(lab)

    def close_everything(self) -> int:
        """Close every live primitive of the default lab and of the labs seen; never raises."""
        self.remember_lab()
        closed = 0
        for lab in list(self.labs):
            for primitive in lab.live:
                # At exit the event loop may already be closed: close what can be closed.
                with contextlib.suppress(Exception):
                    primitive._close_now()
                    closed += 1
        return closed


_loaded: _Loaded | None = None


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics, the HTML formatters and the cleanup hooks (once per shell)."""
    global _loaded
    if _loaded is not None:
        if _loaded.shell is ipython:
            return
        unload_ipython_extension(_loaded.shell)
    state = _Loaded(ipython)
    ipython.register_magics(PushPullMagics)
    html_formatter = ipython.display_formatter.formatters["text/html"]
    for cls, fn in HTML_FORMATTERS.items():
        state.old_formatters[cls] = html_formatter.for_type(cls, fn)
    if not ipython.custom_exceptions:  # never replace a handler someone else installed
        ipython.set_custom_exc((UsageError,), _usage_errors_fail_the_cell)
        state.custom_exc = True
    state.remember_lab()
    ipython.events.register("post_run_cell", state.remember_lab)
    atexit.register(state.close_everything)
    _loaded = state


def unload_ipython_extension(ipython: Any) -> None:
    """Close every live primitive, then remove the magics, formatters and hooks."""
    global _loaded
    state = _loaded
    if state is None:
        return
    _loaded = None
    state.close_everything()
    atexit.unregister(state.close_everything)
    with contextlib.suppress(ValueError):
        ipython.events.unregister("post_run_cell", state.remember_lab)
    html_formatter = ipython.display_formatter.formatters["text/html"]
    for cls, old in state.old_formatters.items():
        if old is None:
            html_formatter.pop(cls, None)
        else:
            html_formatter.for_type(cls, old)
    if state.custom_exc and ipython.custom_exceptions == (UsageError,):
        ipython.set_custom_exc((), None)
    manager = ipython.magics_manager
    manager.magics["line"].pop("pushpull", None)
    manager.magics["cell"].pop("simulate", None)
    manager.registry.pop(PushPullMagics.__name__, None)
