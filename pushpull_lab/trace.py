"""The trace: what every primitive did, in time order, and the metrics computed from it.

Each :class:`Event` says *when*, *what kind*, *who initiated it* (``actor``), *toward whom*
(``peer``), *which message* and any extra fields. The direction is the lesson: a push is
recorded with the producer side as actor, a pull with the consumer as actor::

    run = ppl.simulate(main)
    run.trace.counts()                                   # {'publish': 10, 'deliver': 30, ...}
    run.trace.latency("publish", "deliver")              # Stats(count=30, mean=..., p99=...)
    run.trace.depth("slow-ui")                           # [(t, buffered), ...]

Recording is two appends; everything else is computed on demand.
"""

from __future__ import annotations

import html
import itertools
import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple


class Event(NamedTuple):
    """One thing that happened. ``actor`` initiated it; ``peer`` is the other side, if any."""

    time: float
    kind: str
    actor: str
    peer: str | None
    msg: Any
    fields: dict


# Who initiates each kind of exchange: the timeline colours arrows by this.
PUSH_KINDS = frozenset({"publish", "deliver", "emit", "notify", "send", "webhook"})
PULL_KINDS = frozenset({"fetch", "poll", "empty_poll", "request", "consume"})


def direction(kind: str) -> str | None:
    """``"push"``, ``"pull"`` or None for an event kind."""
    if kind in PUSH_KINDS:
        return "push"
    if kind in PULL_KINDS:
        return "pull"
    return None


def format_seconds(seconds: float) -> str:
    """``0.0123`` → ``'12.3 ms'``: a duration in the unit a person would say (3 significant digits)."""
    if seconds != seconds:  # NaN
        return "–"
    # Round first, then pick the unit: 0.9999999 is "1 s", not "1e+03 ms".
    rounded = float(f"{seconds:.3g}")
    a = abs(rounded)
    if a == 0:
        return "0 s"
    if a < 1e-3:
        return f"{rounded * 1e6:.3g} µs"
    if a < 1:
        return f"{rounded * 1e3:.3g} ms"
    return f"{rounded:.3g} s"


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (the same rule as numpy's default) of sorted values."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True)
class Stats:
    """Summary of a list of durations in seconds: count, mean, p50, p90, p99, max."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Stats:
        v = sorted(values)
        if not v:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(len(v), sum(v) / len(v), percentile(v, 50), percentile(v, 90), percentile(v, 99), v[-1])

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("count", "mean", "p50", "p90", "p99", "max")}

    def __str__(self) -> str:
        if not self.count:
            return "no samples"
        parts = [f"{k}={format_seconds(getattr(self, k))}" for k in ("mean", "p50", "p90", "p99", "max")]
        return f"n={self.count} " + " ".join(parts)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{k}</th>" for k in ("count", "mean", "p50", "p90", "p99", "max"))
        cells = f"<td>{self.count}</td>" + "".join(
            f"<td>{format_seconds(getattr(self, k))}</td>" for k in ("mean", "p50", "p90", "p99", "max")
        )
        return f"<table><tr>{head}</tr><tr>{cells}</tr></table>"


class Trace:
    """Events in time order, with metrics. Made by a :class:`~pushpull_lab.Lab`."""

    def __init__(self, clock: Callable[[], float], *, limit: int | None = None):
        self._clock = clock
        # Two parallel columns, not one tuple holding the fields dict: CPython keeps any
        # tuple that holds a dict under garbage-collector tracking, and a long trace of
        # tracked tuples made every full collection walk all of them (2x slower recording).
        self._events: deque[tuple] = deque(maxlen=limit)
        self._fields: deque[dict] = deque(maxlen=limit)
        self.recorded = 0
        """Events ever recorded; more than ``len(trace)`` when ``limit`` dropped old ones."""

    # -- recording ------------------------------------------------------------------------
    def record(self, kind: str, actor: str, peer: str | None = None, msg: Any = None, **fields: Any) -> None:
        """Append an event stamped with the lab clock."""
        self._events.append((self._clock(), kind, actor, peer, msg))
        self._fields.append(fields)
        self.recorded += 1

    def clear(self) -> None:
        self._events.clear()
        self._fields.clear()
        self.recorded = 0

    def _rows(self) -> Iterator[tuple]:
        """(time, kind, actor, peer, msg, fields) for every event, in order."""
        return ((*e, f) for e, f in zip(list(self._events), list(self._fields)))

    def _append_row(self, row: tuple) -> None:
        self._events.append(row[:5])
        self._fields.append(row[5])

    # -- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return map(Event._make, self._rows())

    @property
    def events(self) -> list[Event]:
        return list(self)

    def tail(self, n: int) -> list[Event]:
        """The newest ``n`` events, oldest first, read from the end (cheap on a long trace)."""
        n = max(0, min(n, len(self._events)))
        events = list(itertools.islice(reversed(self._events), n))
        fields = list(itertools.islice(reversed(self._fields), n))
        return [Event(*e, f) for e, f in zip(reversed(events), reversed(fields))]

    def filter(
        self,
        kind: str | Iterable[str] | None = None,
        actor: str | None = None,
        peer: str | None = None,
        msg: Any = None,
        since: float | None = None,
        until: float | None = None,
    ) -> Trace:
        """A new trace with only the matching events (``kind`` may be a set of kinds)."""
        kinds = {kind} if isinstance(kind, str) else (set(kind) if kind is not None else None)
        out = Trace(self._clock)
        for e in self._rows():
            t, k, a, p, m, _ = e
            if (
                (kinds is None or k in kinds)
                and (actor is None or a == actor)
                and (peer is None or p == peer)
                and (msg is None or m == msg)
                and (since is None or t >= since)
                and (until is None or t <= until)
            ):
                out._append_row(e)
        out.recorded = len(out._events)
        return out

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per event, in time order: time, kind, actor, peer, msg, then the fields."""
        return [
            {"time": t, "kind": k, "actor": a, "peer": p, "msg": m, **f} for t, k, a, p, m, f in self._rows()
        ]

    @property
    def actors(self) -> list[str]:
        """Everyone who appears in the trace, in order of first appearance."""
        seen: dict[str, None] = {}
        for _, _, a, p, _ in self._events:
            seen.setdefault(a)
            if p is not None:
                seen.setdefault(p)
        return list(seen)

    @property
    def end(self) -> float:
        return self._events[-1][0] if self._events else 0.0

    # -- metrics --------------------------------------------------------------------------
    def counts(self, by: str = "kind") -> dict[str, int]:
        """How many events of each kind (``by="kind"``), or per ``"actor"``/``"peer"``."""
        index = {"kind": 1, "actor": 2, "peer": 3}
        if by not in index:
            raise ValueError(f"Trace.counts(by={by!r}): by must be one of 'kind', 'actor', 'peer'")
        i = index[by]
        return dict(sorted(Counter(e[i] for e in self._events).items(), key=lambda kv: str(kv[0])))

    def latencies(self, start: str = "publish", end: str = "deliver", **where: Any) -> list[float]:
        """For each ``end`` event, its time minus the first ``start`` event of the same message.

        ``where`` filters the end events, e.g. ``peer="slow-ui"``.
        """
        started: dict[Any, float] = {}
        out = []
        ends = self.filter(kind=end, **where)._events if where else None
        if ends is None:
            for t, k, _, _, m in self._events:
                if k == start:
                    started.setdefault(m, t)
                elif k == end and m in started:
                    out.append(t - started[m])
            return out
        for t, k, _, _, m in self._events:
            if k == start:
                started.setdefault(m, t)
        return [t - started[m] for t, _, _, _, m in ends if m in started]

    def latency(self, start: str = "publish", end: str = "deliver", **where: Any) -> Stats:
        """:class:`Stats` of :meth:`latencies` (count, mean, p50, p90, p99, max)."""
        return Stats.of(self.latencies(start, end, **where))

    def throughput(
        self, kind: str = "deliver", window: float = 1.0, **where: Any
    ) -> list[tuple[float, float]]:
        """Events of ``kind`` per second in consecutive windows: ``[(window_start, rate), ...]``."""
        if not (isinstance(window, (int, float)) and window > 0):
            raise ValueError(f"Trace.throughput(window={window!r}): window must be a number > 0 (seconds)")
        times = [e[0] for e in self.filter(kind=kind, **where)._events]
        if not times:
            return []
        n = int(self.end // window) + 1
        buckets = [0] * n
        for t in times:
            buckets[min(int(t // window), n - 1)] += 1
        return [(i * window, c / window) for i, c in enumerate(buckets)]

    def depth(self, name: str) -> list[tuple[float, int]]:
        """How full ``name``'s buffer or queue was over time: ``[(time, depth), ...]``.

        Read from the ``depth`` field that primitives attach to events that change it.
        """
        return [(t, f["depth"]) for t, _, a, p, _, f in self._rows() if "depth" in f and name in (a, p)]

    def summary(self) -> dict[str, Any]:
        """Counts per kind, plus publish→deliver latency when there is any."""
        out: dict[str, Any] = {"events": len(self), "end": self.end, "counts": self.counts()}
        lat = self.latency("publish", "deliver")
        if lat.count:
            out["latency"] = lat
        return out

    # -- display --------------------------------------------------------------------------
    def table(self, limit: int = 20) -> str:
        """The first ``limit`` events as aligned text."""
        rows = list(itertools.islice(self._rows(), limit))
        lines = [f"{'time':>10}  {'kind':<12} {'actor':<14} {'peer':<14} {'msg':<8} fields"]
        for t, k, a, p, m, f in rows:
            extra = " ".join(f"{key}={val!r}" for key, val in f.items())
            lines.append(
                f"{t:>10.4f}  {k:<12} {a:<14} {p or '':<14} {'' if m is None else str(m):<8} {extra}"
            )
        if len(self) > limit:
            lines.append(f"... {len(self) - limit} more events")
        return "\n".join(lines)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        return f"<Trace {len(self)} events until t={self.end:.4g}s: {counts}>"

    def _repr_html_(self, limit: int = 12) -> str:
        counts = " · ".join(f"{html.escape(str(k))}: {v}" for k, v in self.counts().items())
        head = "".join(f"<th>{c}</th>" for c in ("time (s)", "kind", "actor", "peer", "msg", "fields"))
        body = []
        for t, k, a, p, m, f in itertools.islice(self._rows(), limit):
            extra = html.escape(", ".join(f"{key}={val!r}" for key, val in f.items()))
            cells = [f"{t:.4f}", k, a, p or "", "" if m is None else str(m)]
            body.append(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + f"<td>{extra}</td></tr>"
            )
        more = f"<div>… {len(self) - limit} more events</div>" if len(self) > limit else ""
        return (
            f"<div><b>Trace</b>: {len(self)} events until t={self.end:.4g} s — {counts}</div>"
            f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"
        )
