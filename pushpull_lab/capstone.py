"""The capstone: a scenario brief, your design, and a grade with reasons.

::

    from pushpull_lab import capstone

    brief = capstone.BRIEFS["invoices"]            # 1,500 PDFs at once, none may be lost
    design = capstone.Design("pull", workers=4, concurrency=3)
    grade = capstone.evaluate(brief, design)       # runs it in virtual time (exact, repeatable)
    design.show(brief)                             # Design('pull', workers=4, concurrency=3, fetch='blocking')
    bool(grade)                                    # True only if every requirement passes
    grade.reasons                                  # one sentence per requirement, with the numbers
    grade.figure()                                 # measured vs limit, per requirement

A :class:`Brief` describes a system to build: how messages arrive, how long handling one
takes, who consumes them and what the system must achieve (its requirements). A
:class:`Design` says how you wire it: **push** (the producer sends through a ``PubSub``
buffer per consumer), **pull** (consumers poll a ``Log`` or workers fetch from a ``Queue``)
or **hybrid** (pull the data or the jobs, push a notification). :func:`evaluate` builds the
system from the lab's own primitives, runs the brief's arrivals through it in virtual time,
measures everything from the trace and grades each requirement with a reason that names the
number, the limit and what in the design caused it.

Two kinds of brief:

- ``kind="notify"``: every consumer needs every message (live scores to phones). Push sends a
  copy per consumer; pull lets each consumer read one shared log at its own pace (long
  polling or short polling), showing every record it reads in order (``read="every"``, as
  a Kafka consumer does) or only the newest of them (``read="latest"``, notebook 08's
  latest-value polling); hybrid pushes a small "something new" ping and the pinged
  consumer pulls what is new from the log.
- ``kind="work"``: each message is a job to be done once, by any worker (invoice PDFs). Push
  hands jobs round-robin to handlers, and the producer sends a failed job again if the
  design gives it ``attempts`` (as notebook 09's webhook sender does); pull lets workers
  fetch from a queue, which retries. If the brief has ``watchers``, a client waits for each
  job and must hear when it is done: pushed, or asked for (polling, or long polling).

What is measured (all from the run's trace, in seconds of virtual time):

- ``p99``: 99th percentile of *message due → handled*, where *due* is when the brief's
  arrivals say it appears (a producer held back sends it later); for notify briefs the
  p99 of the worst consumer (each consumer's own p99, then the largest);
- ``stale``: notify briefs: *update due → this consumer shows it or a newer one*, the p99
  of the worst consumer (a skipped update counts until a newer one is shown; never shown:
  infinite);
- ``status_p99``: job finished → its waiting client knows (briefs with watchers);
- ``lost``: copies dropped by a full buffer plus jobs that failed and were never retried;
- ``buffered``: the most messages stored and not yet taken, at any moment (push keeps one
  copy per consumer; a log or a queue keeps one per message);
- ``in_flight``: the most messages being handled at once (what a downstream service saw);
- ``slots``: work briefs: how many jobs the design *can* handle at once (``workers ×
  concurrency``), the capacity a limit such as "at most 8 GPU slots" caps;
- ``requests``: consumer-initiated requests per second: polls, empty polls, job fetches,
  status checks and the push gateway's reads of the queue's event stream;
- ``finish``: when the last message was settled: handled, skipped or given up on ("never"
  if any was still waiting when the run stopped; a lost message is graded by ``lost``).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import math
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from . import _validate
from .push.pubsub import OVERFLOW_POLICIES

KINDS = ("notify", "work")
MODELS = ("push", "pull", "hybrid")
FETCHES = ("blocking", "poll")
READS = ("every", "latest")
WATCHES = ("poll", "long_poll")
ATTEMPTS = 3
"""Pull and hybrid designs give every job this many attempts (exponential backoff from 1 s)."""
MAX_ATTEMPTS = 5
"""The most attempts a design may give a job (which attempts fail is drawn for this many)."""
LONG_POLL_HOLD = 30.0
"""seconds a long poll (``fetch="blocking"`` on a log, ``watch="long_poll"`` on a job) may be held open."""

PASS_COLOUR = "#009E73"
"""bluish green (Okabe–Ito): a requirement met."""
FAIL_COLOUR = "#CC79A7"
"""reddish purple (Okabe–Ito): a requirement missed (vermillion is pull's colour in the lab's figures)."""

REQUIREMENTS = {
    "p99": ("p99 latency", "s"),
    "stale": ("p99 staleness", "s"),
    "status_p99": ("p99 status delay", "s"),
    "lost": ("lost messages", ""),
    "buffered": ("peak buffered", "messages"),
    "in_flight": ("peak in flight", "at once"),
    "slots": ("slots", "at once"),
    "requests": ("requests", "per s"),
    "finish": ("finish", "s"),
}
"""Each requirement a brief can set: its label and unit. A brief sets a limit (an upper bound)."""


@dataclass(frozen=True)
class Brief:
    """A system to build and what it must achieve. See :data:`BRIEFS` for examples.

    Args:
        name: short key (``"scores"``); title: a headline; story: the situation in words.
        kind: ``"notify"`` (every consumer needs every message) or ``"work"`` (each message
            is a job, done once by any worker).
        messages: how many messages arrive in all; ``burst`` of them arrive at t=0, the rest
            at random (Poisson, ``rate`` per second), drawn from the lab's seeded rng.
        handling: seconds a consumer or worker spends on one message.
        consumers, slow, slow_handling: notify briefs: how many consumers, how many of them
            are slow, and how long a slow one takes per message.
        fail_rate: work briefs: the chance that one attempt at a job fails (drawn per attempt).
        watchers: work briefs: a client waits for each job and must learn when it is done.
        limits: the requirements, ``{key: upper bound}`` with keys from :data:`REQUIREMENTS`.
        horizon: seconds after which a run is stopped (what is not done by then is unfinished).
    """

    name: str
    title: str
    story: str
    kind: str
    messages: int
    rate: float
    handling: float
    _: KW_ONLY
    burst: int = 0
    consumers: int = 1
    slow: int = 0
    slow_handling: float = 0.0
    fail_rate: float = 0.0
    watchers: bool = False
    limits: dict = field(default_factory=dict)
    horizon: float = 600.0

    def __post_init__(self) -> None:
        where = "Brief"
        _validate.name(where, "name", self.name)
        _validate.choice(where, "kind", self.kind, KINDS)
        _validate.integer(where, "messages", self.messages, minimum=1)
        _validate.integer(where, "burst", self.burst, minimum=0)
        if self.burst > self.messages:
            raise ValueError(
                f"{where}(burst={self.burst!r}): burst must be at most messages ({self.messages})"
            )
        if self.burst < self.messages:
            _validate.number(where, "rate", self.rate, positive=True)
        _validate.number(where, "handling", self.handling, minimum=0)
        _validate.integer(where, "consumers", self.consumers, minimum=1)
        _validate.integer(where, "slow", self.slow, minimum=0)
        if self.slow > self.consumers:
            raise ValueError(
                f"{where}(slow={self.slow!r}): slow must be at most consumers ({self.consumers})"
            )
        _validate.number(where, "slow_handling", self.slow_handling, minimum=0)
        _validate.number(where, "fail_rate", self.fail_rate, minimum=0)
        if self.fail_rate >= 1:
            raise ValueError(f"{where}(fail_rate={self.fail_rate!r}): fail_rate must be in [0, 1)")
        if self.kind == "notify" and (self.fail_rate or self.watchers):
            raise ValueError(f"{where}(kind='notify'): fail_rate and watchers are for kind='work' briefs")
        if not isinstance(self.limits, dict) or not self.limits:
            raise ValueError(f"{where}(limits={self.limits!r}): limits must be a non-empty dict")
        for key, limit in self.limits.items():
            if key not in REQUIREMENTS:
                raise ValueError(
                    f"{where}(limits={self.limits!r}): {key!r} is not a requirement; limits keys must be "
                    "one of " + ", ".join(repr(k) for k in REQUIREMENTS)
                )
            _validate.number(where, f"limits[{key!r}]", limit, minimum=0)
        for key, kind in (("stale", "notify"), ("slots", "work")):
            if key in self.limits and self.kind != kind:
                raise ValueError(f"{where}(limits): {key!r} is for kind={kind!r} briefs")
        if "status_p99" in self.limits and not self.watchers:
            raise ValueError(f"{where}(limits): 'status_p99' needs watchers=True")
        _validate.number(where, "horizon", self.horizon, positive=True)

    @property
    def expected(self) -> int:
        """Deliveries that must happen: messages × consumers (notify) or messages (work)."""
        return self.messages * (self.consumers if self.kind == "notify" else 1)

    def requirements(self) -> list[str]:
        """The requirements as sentences."""
        return [
            f"{REQUIREMENTS[k][0]} ≤ {_num(v)} {REQUIREMENTS[k][1]}".rstrip() for k, v in self.limits.items()
        ]

    def situation(self):
        """The brief as notebook 07's :class:`~pushpull_lab.advisor.Situation` (for the table's answer)."""
        from .advisor import Situation

        deadline = min((self.limits[k] for k in ("p99", "status_p99") if k in self.limits), default=60.0)
        return Situation(
            max_delay=max(deadline, 1e-3),
            needs_retries=self.fail_rate > 0 and self.limits.get("lost", 1) == 0,
            producers=1,
            consumers=self.consumers if self.kind == "notify" else 1,
            needs_load_control="in_flight" in self.limits or "slots" in self.limits,
            slow_consumers=self.slow > 0,
        )

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(r)}</li>" for r in self.requirements())
        return (
            f"<div><b>{html.escape(self.title)}</b> <code>{html.escape(self.name)}</code> ({self.kind})"
            f"<br>{html.escape(self.story)}<br>Requirements:<ul>{items}</ul></div>"
        )


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _num(x: float) -> str:
    return f"{x:,.3g}" if isinstance(x, float) and not float(x).is_integer() else f"{x:,.0f}"


@dataclass(frozen=True)
class Design:
    """How you wire a brief. ``model`` is ``"push"``, ``"pull"`` or ``"hybrid"``; the rest are
    keyword-only settings (a model ignores the ones it does not use; :meth:`settings` names them)::

        Design("push", buffer=1, overflow="drop_oldest")
        Design("pull", read="latest", fetch="poll", interval=0.5)
        Design("pull", workers=4, concurrency=2, watch="long_poll")
        Design("hybrid", workers=2, concurrency=4)

    Args:
        buffer, overflow: push: each consumer's buffer (messages) and what happens when it is
            full (``"block"``, ``"drop_oldest"``, ``"drop_newest"``, ``"error"``).
        workers, concurrency: work briefs: how many workers and how many jobs each handles at
            once (push: ``workers × concurrency`` handlers, each taking one job at a time).
        attempts: work briefs, push only: how many times the producer sends a job whose handler
            failed (exponential backoff from 1 s, like notebook 09's webhook sender); pull and
            hybrid always give a job :data:`ATTEMPTS` attempts (the queue retries it).
        fetch: pull: ``"blocking"`` (a log is long-polled, a queue blocked on: answered the
            moment there is data) or ``"poll"`` (ask every ``interval`` seconds).
        interval: seconds between polls (``fetch="poll"``) and between a waiting client's
            status checks (``watch="poll"``).
        read: notify briefs, pull and hybrid: ``"every"`` (a consumer handles every record it
            reads, in order, as a Kafka consumer does) or ``"latest"`` (it reads what is new
            and shows only the newest, as notebook 08's latest-value polling does).
        watch: work briefs with watchers, pull only: the waiting client asks for its job's
            status every ``interval`` (``"poll"``) or long-polls it (``"long_poll"``: the server
            holds the request until the job ends, up to :data:`LONG_POLL_HOLD` s).
    """

    model: str
    _: KW_ONLY
    buffer: int = 100
    overflow: str = "drop_oldest"
    workers: int = 2
    concurrency: int = 1
    attempts: int = 1
    fetch: str = "blocking"
    interval: float = 1.0
    read: str = "every"
    watch: str = "poll"

    def __post_init__(self) -> None:
        where = "Design"
        _validate.choice(where, "model", self.model, MODELS)
        _validate.integer(where, "buffer", self.buffer, minimum=1)
        _validate.choice(where, "overflow", self.overflow, OVERFLOW_POLICIES)
        _validate.integer(where, "workers", self.workers, minimum=1)
        _validate.integer(where, "concurrency", self.concurrency, minimum=1)
        _validate.integer(where, "attempts", self.attempts, minimum=1)
        if self.attempts > MAX_ATTEMPTS:
            raise ValueError(f"{where}(attempts={self.attempts!r}): attempts must be at most {MAX_ATTEMPTS}")
        _validate.choice(where, "fetch", self.fetch, FETCHES)
        object.__setattr__(
            self, "interval", _validate.number(where, "interval", self.interval, positive=True)
        )
        _validate.choice(where, "read", self.read, READS)
        _validate.choice(where, "watch", self.watch, WATCHES)

    def settings(self, brief: Brief) -> tuple[str, ...]:
        """The settings this model uses for ``brief`` (the others are ignored)."""
        if self.model == "push":
            return ("buffer", "overflow") + (
                ("workers", "concurrency", "attempts") if brief.kind == "work" else ()
            )
        if brief.kind == "notify":
            if self.model == "hybrid":
                return ("read",)
            return ("fetch",) + (("interval",) if self.fetch == "poll" else ()) + ("read",)
        used = ("workers", "concurrency", "fetch")
        polls = self.fetch == "poll"
        if self.model == "pull" and brief.watchers:
            used += ("watch",)
            polls = polls or self.watch == "poll"
        return used + (("interval",) if polls else ())

    def show(self, brief: Brief) -> str:
        """``Design(...)`` with only the settings this model uses for ``brief``."""
        used = self.settings(brief)
        return f"Design({self.model!r}" + "".join(f", {k}={getattr(self, k)!r}" for k in used) + ")"

    @property
    def slots(self) -> int:
        """Jobs that can be handled at once: ``workers × concurrency``."""
        return self.workers * self.concurrency

    def tries(self) -> int:
        """Attempts a job gets: ``attempts`` for push, :data:`ATTEMPTS` for pull and hybrid."""
        return self.attempts if self.model == "push" else ATTEMPTS

    def describe(self, brief: Brief) -> str:
        """What this design builds for ``brief``, in one sentence."""
        how = "long-poll" if self.fetch == "blocking" else f"poll every {self.interval:g} s"
        shows = (
            "show every update in order" if self.read == "every" else "show only the newest of what they read"
        )
        if brief.kind == "notify":
            if self.model == "push":
                return (
                    f"push: the producer publishes each message to {brief.consumers} consumers, "
                    f"each with a buffer of {self.buffer} ({self.overflow} when full)"
                )
            if self.model == "pull":
                return (
                    f"pull: the producer appends to a log; {brief.consumers} consumers {how} it and {shows}"
                )
            return (
                f"hybrid: the producer appends to a log and pushes a ping; each of {brief.consumers} "
                f"consumers reads what is new when pinged and they {shows}"
            )
        slots = f"{self.workers} workers × {self.concurrency} = {self.slots} at once"
        if self.model == "push":
            status = "; each handler pushes the outcome to the waiting client" if brief.watchers else ""
            retry = (
                "no retries"
                if self.attempts == 1
                else f"the producer resends a failed job, {self.attempts} attempts in all"
            )
            return (
                f"push: jobs handed round-robin to {self.slots} handlers, each with a buffer of "
                f"{self.buffer} ({self.overflow} when full), {retry}{status}"
            )
        fetch = "block on the queue" if self.fetch == "blocking" else f"poll it every {self.interval:g} s"
        if self.model == "pull":
            status = ""
            if brief.watchers:
                status = (
                    f"; clients check status every {self.interval:g} s"
                    if self.watch == "poll"
                    else "; clients long-poll their job's status"
                )
            return f"pull: a queue; {slots} {fetch}, {ATTEMPTS} attempts per job{status}"
        return f"hybrid: a queue; {slots} {fetch}; QueueEvents pushes each outcome to the waiting client"

    def __str__(self) -> str:
        changed = [
            f"{k}={getattr(self, k)!r}"
            for k, default in _DESIGN_DEFAULTS.items()
            if getattr(self, k) != default
        ]
        return f"Design({self.model!r}" + "".join(f", {c}" for c in changed) + ")"


_DESIGN_DEFAULTS = {
    "buffer": 100,
    "overflow": "drop_oldest",
    "workers": 2,
    "concurrency": 1,
    "attempts": 1,
    "fetch": "blocking",
    "interval": 1.0,
    "read": "every",
    "watch": "poll",
}


@dataclass(frozen=True)
class Check:
    """One requirement, graded: ``measured`` against ``limit``, ``ok``, and the ``reason``."""

    key: str
    label: str
    measured: float
    limit: float
    ok: bool
    reason: str

    def __str__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.label}: {self.reason}"


@dataclass(frozen=True)
class Grade:
    """The result of :func:`evaluate`: one :class:`Check` per requirement of the brief.

    Truthy only when every requirement passes. ``metrics`` has every measured number (also
    those the brief does not limit); ``run`` is the virtual-time :class:`~pushpull_lab.Run`.
    """

    brief: Brief
    design: Design
    checks: tuple[Check, ...]
    metrics: dict
    run: Any = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def passed(self) -> bool:
        return bool(self)

    @property
    def reasons(self) -> list[str]:
        """One line per requirement: ✓ or ✗, then why."""
        return [str(c) for c in self.checks]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def __repr__(self) -> str:
        head = f"{'PASS' if self else 'FAIL'} — {self.brief.title}: {self.design.show(self.brief)}"
        return "\n".join([head, *(f"  {r}" for r in self.reasons), *(f"  note: {n}" for n in self.notes)])

    def _repr_html_(self) -> str:
        colour = PASS_COLOUR if self else FAIL_COLOUR
        rows = "".join(
            f"<tr><td style='text-align:left'>{html.escape(c.label)}</td>"
            f"<td style='white-space:nowrap'>≤ {html.escape(_fmt(c.key, c.limit))}</td>"
            f"<td style='white-space:nowrap'>{html.escape(_fmt(c.key, c.measured))}</td>"
            f"<td style='color:{PASS_COLOUR if c.ok else FAIL_COLOUR}'><b>{'✓' if c.ok else '✗'}</b></td>"
            f"<td style='text-align:left'>{html.escape(c.reason)}</td></tr>"
            for c in self.checks
        )
        return (
            f"<div><b style='color:{colour}'>{'PASS' if self else 'FAIL'}</b> — "
            f"<b>{html.escape(self.brief.title)}</b>: {html.escape(self.design.describe(self.brief))}</div>"
            f"<div><small>{html.escape(self._used())}</small></div>"
            "<table><tr><th style='text-align:left'>requirement</th><th>limit</th><th>measured</th><th></th>"
            "<th style='text-align:left'>why</th></tr>"
            f"{rows}</table>" + "".join(f"<div><i>Note:</i> {html.escape(n)}</div>" for n in self.notes)
        )

    def _used(self) -> str:
        used = self.design.settings(self.brief)
        ignored = [k for k in _DESIGN_DEFAULTS if k not in used]
        text = "uses " + (", ".join(f"{k}={getattr(self.design, k)!r}" for k in used) or "no settings")
        return text + (f"; ignores {', '.join(ignored)}" if ignored else "")

    def figure(self, width: float = 8.0):
        """Each requirement's measured value as a share of its limit (100% = the limit)."""
        from matplotlib.patches import Patch

        from .viz.style import new_figure

        fig, ax = new_figure(width, 0.55 * len(self.checks) + 1.6)
        top = 3.0
        y = list(range(len(self.checks)))[::-1]
        for yi, c in zip(y, self.checks):
            share = c.measured / c.limit if c.limit > 0 else (0.0 if c.measured <= 0 else math.inf)
            capped = share > top
            width_ = min(share, top)
            colour = PASS_COLOUR if c.ok else FAIL_COLOUR
            ax.barh(
                yi, width_, color=colour, height=0.6, hatch="" if c.ok else "//", edgecolor="black", lw=0.5
            )
            if width_ == 0:  # nothing measured (0 requests, 0 lost): a marker, so the row is not empty
                ax.plot([0], [yi], marker="|", markersize=14, mew=3, color=colour, clip_on=False)
            text = f"{_fmt(c.key, c.measured)} (limit {_fmt(c.key, c.limit)}) {'✓' if c.ok else '✗'}"
            if capped:
                text = "≥300% · " + text
            ax.text(
                min(width_, top) + 0.04, yi, text, va="center", fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5},
            )  # fmt: skip
        ax.axvline(1.0, color="#555555", ls="--", lw=1)
        ax.set_yticks(y, [c.label for c in self.checks])
        ax.set_ylim(-0.6, len(self.checks) - 0.4 + 0.5)
        ax.set_xlim(0, top + 1.25)
        ax.set_xticks([0, 0.5, 1, 2, 3], ["0", "50%", "100%\n(limit)", "200%", "300%"])
        ax.set_xlabel("measured, as a share of the limit (bars over 300% are cut at 300%)")
        ax.legend(
            handles=[
                Patch(facecolor=PASS_COLOUR, edgecolor="black", label="✓ at or under the limit"),
                Patch(facecolor=FAIL_COLOUR, edgecolor="black", hatch="//", label="✗ over the limit"),
            ],
            loc="upper right", fontsize=8, ncol=2, frameon=False,
        )  # fmt: skip
        verdict = "PASS" if self else f"FAIL ({len(self.failed)} of {len(self.checks)})"
        ax.set_title(f"{self.brief.title} · {self.design.model} → {verdict}")
        return fig


def format_value(key: str, value: float) -> str:
    """A measured value of requirement ``key`` as the grades show it ("1.98 s", "21.6/s", "never")."""
    _validate.choice("format_value", "key", key, tuple(REQUIREMENTS))
    return _fmt(key, value)


def _fmt(key: str, value: float) -> str:
    from .trace import format_seconds

    if value != value:
        return "–"
    if math.isinf(value):
        return "never"
    if key in ("p99", "stale", "status_p99", "finish"):
        return format_seconds(value)
    if key == "requests":
        return f"{value:.3g}/s"
    return f"{value:,.0f}"


# -- running a design ---------------------------------------------------------------------------


def evaluate(brief: Brief, design: Design, *, seed: int = 0) -> Grade:
    """Run ``brief`` wired as ``design`` in virtual time, measure it and grade every requirement.

    The arrivals (and which attempts fail) are drawn first from the lab's rng, so every design
    meets the same messages at the same moments for a given ``seed``.
    """
    from .clock import simulate

    if not isinstance(brief, Brief):
        raise TypeError(
            f"evaluate(brief={brief!r}): brief must be a capstone.Brief, e.g. capstone.BRIEFS['scores']"
        )
    if not isinstance(design, Design):
        raise TypeError(f"evaluate(design={design!r}): design must be a capstone.Design, e.g. Design('pull')")
    _validate.integer("evaluate", "seed", seed)
    run = simulate(lambda lab: _main(lab, brief, design), seed=seed, until=brief.horizon)
    metrics = measure(run.trace, brief, design)
    checks = tuple(_grade(key, limit, metrics, brief, design) for key, limit in brief.limits.items())
    return Grade(brief, design, checks, metrics, run, _notes(brief, design, metrics))


def _notes(brief: Brief, design: Design, m: dict) -> tuple[str, ...]:
    """Remarks that no requirement grades: complexity nothing needs, a producer held back."""
    notes = []
    if design.model == "hybrid" and brief.kind == "work" and not brief.watchers:
        notes.append(
            "nobody waits for the pushed outcomes in this brief: the push half is operational "
            "complexity that no requirement needs"
        )
    if m["producer_held"] > 0:
        notes.append(
            f"overflow='block' held the producer back for {m['producer_held']:,.1f} s in all; messages "
            "waiting behind it count that wait in their latency (measured from when each was due)"
        )
    return tuple(notes)


def _draw(lab, brief: Brief) -> tuple[list[float], list[list[bool]], list[float]]:
    """Arrival times; per message, which of its attempts fail and when (as a fraction of the
    interval) its waiting client first checks. Drawn first, so the same for every design."""
    times, t = [], 0.0
    for i in range(brief.messages):
        if i >= brief.burst:
            t += lab.rng.expovariate(brief.rate)
        times.append(t)
    fails = [[lab.rng.random() < brief.fail_rate for _ in range(MAX_ATTEMPTS)] for _ in range(brief.messages)]
    phases = [lab.rng.random() for _ in range(brief.messages)]
    return times, fails, phases


async def _main(lab, brief: Brief, design: Design) -> None:
    times, fails, phases = _draw(lab, brief)
    if brief.kind == "notify":
        await _notify(lab, brief, design, times)
    else:
        await _work(lab, brief, design, times, fails, phases)
    lab.trace.record("settled", "lab")


async def _arrivals(lab, times: list[float], send) -> None:
    """Create message ``n{i}`` at ``times[i]`` and hand it to ``send``."""
    from .clock import sleep

    for i, at in enumerate(times):
        if at > lab.now():
            await sleep(at - lab.now())
        key = f"n{i}"
        # ``due``: when it should have been sent. A producer held back by overflow="block" sends
        # it later, and latency is measured from ``due``, so that wait counts.
        lab.trace.record("created", "producer", None, key, due=at)
        await send(i, key)


async def _notify(lab, brief: Brief, design: Design, times) -> None:
    from .clock import sleep
    from .errors import BufferFullError
    from .pull.log import Consumer, Log
    from .pull.poller import long_poll, short_poll
    from .push.pubsub import PubSub

    record = lab.trace.record
    names = [f"{'slow' if c < brief.slow else 'phone'}-{c + 1}" for c in range(brief.consumers)]
    left = {"n": brief.expected}
    settled = asyncio.Event()

    def handler(name: str, seconds: float):
        async def handle(key: str) -> None:
            record("begin", name, None, key)
            await sleep(seconds)
            record("done", name, None, key)
            left["n"] -= 1
            if left["n"] <= 0:
                settled.set()

        return handle

    handlers = {
        n: handler(n, brief.slow_handling if c < brief.slow else brief.handling) for c, n in enumerate(names)
    }
    if design.model != "push" and design.read == "latest":  # a skipped record also settles its delivery
        base = record

        def record(kind, actor, peer=None, msg=None, **fields):
            base(kind, actor, peer, msg, **fields)
            if kind == "skip":
                left["n"] -= 1
                if left["n"] <= 0:
                    settled.set()

    if design.model == "push":
        bus = PubSub("data")
        for n in names:
            bus.subscribe(
                "msg",
                lambda m, h=handlers[n]: h(m.data),
                buffer=design.buffer,
                overflow=design.overflow,
                name=n,
            )

        async def send(i, key):
            with contextlib.suppress(BufferFullError):  # overflow="error": told; the copy is lost
                await bus.publish("msg", key, sender="producer")

        await _arrivals(lab, times, send)
        await bus.join()
        return

    log = Log("data")
    tasks = []

    async def show_latest(records, handle, name) -> None:
        """Latest-value reading: skip all but the newest record read (each skip is recorded)."""
        for rec in records[:-1]:
            record("skip", name, None, rec.value)
        if records:
            await handle(records[-1].value)

    async def latest_value(consumer, handle, name) -> None:
        hold = LONG_POLL_HOLD if design.fetch == "blocking" else 0
        while True:
            await show_latest(await consumer.poll(max_records=1000, timeout=hold), handle, name)
            if design.fetch == "poll":
                await sleep(design.interval)

    if design.model == "pull":
        for n in names:
            consumer = Consumer(log, group=n, name=n)
            if design.read == "every":
                handle = lambda rec, h=handlers[n]: h(rec.value)  # noqa: E731
                poll = (
                    long_poll(consumer, handle, hold=LONG_POLL_HOLD)
                    if design.fetch == "blocking"
                    else short_poll(consumer, handle, interval=design.interval)
                )
            else:
                poll = latest_value(consumer, handlers[n], n)
            tasks.append(asyncio.ensure_future(poll))

        async def send(i, key):
            await log.append(key, sender="producer")

    else:  # hybrid: the data stays in the log; a ping is pushed; a pinged consumer pulls what is new
        pings = PubSub("pings")
        for n in names:
            consumer = Consumer(log, group=n, name=n)

            async def on_ping(message, consumer=consumer, h=handlers[n], n=n):
                records = await consumer.poll(max_records=1000, timeout=0)
                if design.read == "latest":
                    await show_latest(records, h, n)
                else:
                    for rec in records:
                        await h(rec.value)

            pings.subscribe("new", on_ping, buffer=1, overflow="drop_oldest", name=n)

        async def send(i, key):
            await log.append(key, sender="producer")
            await pings.publish("new", sender="producer")

    await _arrivals(lab, times, send)
    await settled.wait()
    for task in tasks:
        task.cancel()


async def _work(lab, brief: Brief, design: Design, times, fails, phases) -> None:
    from .clock import sleep
    from .errors import BufferFullError
    from .pull.events import QueueEvents
    from .pull.queue import Queue
    from .pull.worker import Poll, Worker
    from .push.pubsub import PubSub

    record = lab.trace.record
    left = {"jobs": brief.messages, "told": brief.messages if brief.watchers else 0}
    settled = asyncio.Event()

    def check_settled() -> None:
        if left["jobs"] <= 0 and left["told"] <= 0:
            settled.set()

    def finished() -> None:
        left["jobs"] -= 1
        check_settled()

    def told(key: str, outcome: str) -> None:
        record("knows", f"client-{key}", None, key, outcome=outcome)
        left["told"] -= 1
        check_settled()

    status = PubSub("status")
    if brief.watchers and design.model != "pull":
        status.subscribe(
            "job.*", lambda m: told(m.data["key"], m.data["outcome"]), buffer=10_000, name="clients"
        )

    if design.model == "push":
        bus = PubSub("jobs")
        handlers = [f"handler-{k + 1}" for k in range(design.slots)]

        for name in handlers:

            async def handle(message, name=name):
                i, key, attempt = message.data
                record("begin", name, None, key)
                await sleep(brief.handling)
                if fails[i][attempt] and attempt + 1 < design.attempts:
                    # the handler answers "failed"; the producer sends it again after a backoff
                    record("attempt_failed", name, None, key, attempt=attempt + 1)
                    pending.append(asyncio.ensure_future(resend(i, key, attempt + 1)))
                    return
                outcome = "failed" if fails[i][attempt] else "completed"
                record("gave_up" if fails[i][attempt] else "done", name, None, key, attempt=attempt + 1)
                finished()
                if brief.watchers:
                    await status.publish(f"job.{key}", {"key": key, "outcome": outcome}, sender=name)

            bus.subscribe(f"to.{name}", handle, buffer=design.buffer, overflow=design.overflow, name=name)

        pending: list[asyncio.Future] = []

        async def send(i, key, attempt=0):
            with contextlib.suppress(BufferFullError):
                await bus.publish(f"to.{handlers[i % len(handlers)]}", [i, key, attempt], sender="producer")

        async def resend(i, key, attempt):
            await sleep(2.0 ** (attempt - 1))  # exponential backoff from 1 s
            await send(i, key, attempt)

        await _arrivals(lab, times, send)
        while True:  # every job handled or dropped (a dropped job's client is never told)
            await bus.join()
            if all(p.done() for p in pending):
                break
            await asyncio.gather(*pending)
        await status.join()
        return

    queue = Queue("jobs")
    keys: dict[str, str] = {}  # job id -> message key
    if design.model == "hybrid":
        gateway = QueueEvents("jobs", name="gateway")
        await gateway.ready()

        async def forward(e):
            await status.publish(
                f"job.{e.job_id}", {"key": keys[e.job_id], "outcome": e.event}, sender="gateway"
            )

        gateway.on("completed", forward, name="gateway")
        gateway.on("failed", forward, name="gateway")

    def processor(name: str):
        async def process(job):
            i, key = job.data
            record("begin", name, None, key)
            await sleep(brief.handling)
            attempt = job.attempts_made  # attempts that ended before this one
            if fails[i][attempt]:
                last = attempt + 1 >= ATTEMPTS
                record("gave_up" if last else "attempt_failed", name, None, key, attempt=attempt + 1)
                if last:
                    finished()
                    ended[key].set()
                raise RuntimeError(f"attempt {attempt + 1} failed")  # the worker retries it, or fails it
            record("done", name, None, key, attempt=attempt + 1)
            finished()
            ended[key].set()

        return process

    fetch = "blocking" if design.fetch == "blocking" else Poll(design.interval)
    for w in range(design.workers):
        name = f"worker-{w + 1}"
        Worker("jobs", processor(name), concurrency=design.concurrency, fetch=fetch, name=name)

    ended: dict[str, asyncio.Event] = {}  # the server knows when a job has ended (for long polls)

    async def watch(job_id: str, key: str, phase: float) -> None:
        """A browser checking its job's status every interval (its first check at a random moment),
        or long-polling it (the server answers when the job ends, or after LONG_POLL_HOLD s)."""
        client = f"client-{key}"
        if design.watch == "long_poll":
            while True:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ended[key].wait(), LONG_POLL_HOLD)
                job = await queue.get_job(job_id)
                if ended[key].is_set():
                    record("poll", client, "jobs", key)
                    told(key, job.state if job.state in ("completed", "failed") else "ended")
                    return
                record("empty_poll", client, "jobs", key)
        await sleep(phase * design.interval)
        while True:
            job = await queue.get_job(job_id)
            if job.state in ("completed", "failed"):
                record("poll", client, "jobs", key)
                told(key, job.state)
                return
            record("empty_poll", client, "jobs", key)
            await sleep(design.interval)

    watchers: list[asyncio.Future] = []

    async def send(i, key):
        ended[key] = asyncio.Event()
        job = await queue.add(
            "job", [i, key], attempts=ATTEMPTS, backoff=("exponential", 1.0), sender="producer"
        )
        keys[job.id] = key
        if brief.watchers and design.model == "pull":
            watchers.append(asyncio.ensure_future(watch(job.id, key, phases[i])))

    await _arrivals(lab, times, send)
    await settled.wait()


# -- measuring ----------------------------------------------------------------------------------

REQUEST_KINDS = frozenset({"poll", "empty_poll", "fetch"})


def measure(trace, brief: Brief, design: Design) -> dict[str, Any]:
    """Every number the grade uses, computed from ``trace`` (see the module docstring)."""
    from .trace import Stats

    created: dict[str, float] = {}
    ended: dict[str, float] = {}  # job finished (done or gave up): start of the status delay
    latencies: list[float] = []
    slow_latencies: list[float] = []
    per_consumer: dict[str, list[float]] = {}
    shows: dict[str, list[tuple[float, int]]] = {}  # consumer -> (when it showed, message number)
    skipped = 0
    last_end = None
    waits: list[float] = []  # created -> begin (waiting to be picked up)
    status: list[float] = []
    done = gave_up = dropped = attempts_failed = 0
    requests = empty = 0
    held = 0.0
    in_flight = peak_in_flight = 0
    finish = settled = None
    depth: dict[str, int] = {}
    stored = peak_buffered = 0
    read: dict[str, int] = {}
    appended = 0
    slow_names = {f"slow-{c + 1}" for c in range(brief.slow)}
    for t, kind, actor, peer, msg, fields in trace:
        if kind == "created":
            created[msg] = fields["due"]
        elif kind == "begin":
            in_flight += 1
            peak_in_flight = max(peak_in_flight, in_flight)
            waits.append(t - created[msg])
        elif kind == "done":
            in_flight -= 1
            done += 1
            ended[msg] = finish = last_end = t
            latency = t - created[msg]
            (slow_latencies if actor in slow_names else latencies).append(latency)
            per_consumer.setdefault(actor, []).append(latency)
            shows.setdefault(actor, []).append((t, int(msg[1:])))
        elif kind in ("gave_up", "attempt_failed"):
            in_flight -= 1
            if kind == "gave_up":
                gave_up += 1
                ended[msg] = last_end = t
            else:
                attempts_failed += 1
        elif kind == "knows":
            status.append(t - ended[msg])
        elif kind == "drop" and actor in ("data", "jobs"):
            dropped += 1
        elif kind == "skip":
            skipped += 1
        elif kind == "settled":
            settled = t
        elif kind == "blocked" and actor == "producer":
            held += fields["waited"]
        if kind in REQUEST_KINDS or (kind == "consume" and actor == "gateway"):
            requests += 1
            empty += kind == "empty_poll"
        # what is stored and not yet taken: push buffers (a copy per consumer), the queue, the log
        if "depth" in fields and (actor in ("data", "jobs") or peer == "jobs") and kind != "append":
            depth[peer if actor in ("data", "jobs") else "queue"] = fields["depth"]
            stored = sum(depth.values())
        elif kind == "append" or (kind == "consume" and actor != "gateway"):
            if kind == "append":
                appended += 1
            else:
                read[actor] = read.get(actor, 0) + 1
            slowest = min(read.values()) if len(read) == brief.consumers else 0  # someone has read none
            stored = appended - slowest
        peak_buffered = max(peak_buffered, stored)
    span = settled if settled is not None else brief.horizon
    every = latencies + slow_latencies
    lost = dropped + gave_up
    unfinished = brief.expected - done - lost - skipped
    worst, p99 = None, (Stats.of(every).p99 if every else math.inf)
    stale, stale_worst = math.nan, None
    if brief.kind == "notify":
        # the worst consumer's p99 (a consumer that showed nothing has an infinite one)
        p99s = {n: Stats.of(v).p99 for n, v in per_consumer.items()}
        if len(p99s) < brief.consumers:
            worst, p99 = "a consumer that showed nothing", math.inf
        else:
            worst = max(p99s, key=p99s.get)
            p99 = p99s[worst]
        # staleness: update due -> this consumer shows it or a newer one (never: infinite)
        dues = [created[f"n{i}"] for i in range(brief.messages) if f"n{i}" in created]
        stale = -math.inf
        for name in [f"{'slow' if c < brief.slow else 'phone'}-{c + 1}" for c in range(brief.consumers)]:
            seen = shows.get(name, [])
            ages = []
            for i, due in enumerate(dues):
                when = min((t for t, j in seen if j >= i), default=math.inf)
                ages.append(when - due)
            value = Stats.of(ages).p99 if all(a < math.inf for a in ages) else math.inf
            if value > stale:
                stale, stale_worst = value, name
    return {
        "p99": p99,
        "p99_worst": worst,
        "stale": stale,
        "stale_worst": stale_worst,
        "skipped": skipped,
        "p99_slow": Stats.of(slow_latencies).p99 if slow_latencies else math.nan,
        "p99_others": Stats.of(latencies).p99 if latencies else math.nan,
        "wait_p99": Stats.of(waits).p99 if waits else math.nan,
        "status_p99": Stats.of(status).p99 if status else math.inf,
        "lost": lost,
        "dropped": dropped,
        "gave_up": gave_up,
        "attempts_failed": attempts_failed,
        "done": done,
        "unfinished": unfinished,
        "buffered": peak_buffered,
        "in_flight": peak_in_flight,
        "slots": design.slots if brief.kind == "work" else math.nan,
        "requests": requests / span if span > 0 else 0.0,
        "request_count": requests,
        "empty_polls": empty,
        # when the last message was settled (handled, skipped or given up on); never if one is left
        "finish": last_end if last_end is not None and unfinished == 0 else math.inf,
        "last_done": finish if finish is not None else math.nan,
        "span": span,
        "producer_held": held,
    }


# -- grading ------------------------------------------------------------------------------------


def _grade(key: str, limit: float, m: dict, brief: Brief, design: Design) -> Check:
    label = REQUIREMENTS[key][0]
    value = m[key]
    ok = value <= limit + 1e-9
    head = f"{_fmt(key, value)} {'≤' if ok else '>'} {_fmt(key, limit)}"
    why = _WHY[key](m, brief, design, ok)
    return Check(key, label, value, limit, ok, f"{head}: {why}")


def _why_p99(m, brief, design, ok) -> str:
    if brief.kind == "notify":
        worst = f"the worst consumer ({m['p99_worst']})"
        if design.model == "push" and m["producer_held"] > 0:
            return (
                f"{worst}; overflow='block' held the producer back {_fmt('p99', m['producer_held'])} in all, "
                "waiting for the slowest consumer, so updates reach everyone late"
            )
        if brief.slow and m["p99_worst"].startswith("slow") and m["p99"] > 2 * brief.slow_handling:
            if design.model == "push":
                return f"{worst}: a buffer of {design.buffer} ({design.overflow}) holds a backlog it shows in order"
            return f"{worst} shows every update it reads, in order, so in a burst it falls behind"
        if design.model == "pull" and design.fetch == "poll":
            return f"{worst}; polling every {design.interval:g} s adds up to one interval before a message is read"
        slowest = brief.slow_handling if brief.slow else brief.handling
        return (
            f"{worst}; messages are read as soon as they exist, then take it {_fmt('p99', slowest)} to show"
        )
    if m["unfinished"]:
        return f"{m['unfinished']} jobs were still unfinished when the run stopped at {brief.horizon:g} s"
    capacity = design.slots
    wait = m["wait_p99"]
    if not ok and wait > brief.handling:
        poll = (
            f"; polling every {design.interval:g} s adds up to one interval"
            if design.fetch == "poll" and design.model != "push"
            else ""
        )
        return f"jobs wait up to {_fmt('p99', wait)} (p99) for one of {_n(capacity, 'slot')}{poll}"
    return f"a job waits {_fmt('p99', wait)} (p99) for a slot, then takes {_fmt('p99', brief.handling)}"


def _why_stale(m, brief, design, ok) -> str:
    worst = f"the worst consumer ({m['stale_worst']})"
    if m["stale"] == math.inf:
        return (
            f"{worst} never showed the last update or a newer one (overflow='{design.overflow}' dropped it)"
        )
    skip = f"; {m['skipped']:,} stale records were skipped" if m["skipped"] else ""
    drop = f"; {m['dropped']:,} copies were dropped by full buffers" if m["dropped"] else ""
    if design.model == "push":
        how = {
            "block": "overflow='block' makes the producer wait for the slowest consumer",
            "drop_newest": f"a full buffer of {design.buffer} keeps the oldest updates and drops the newer ones",
            "error": f"a full buffer of {design.buffer} refuses the newer updates",
        }.get(design.overflow)
        if how is None:  # drop_oldest
            how = (
                f"a buffer of {design.buffer} (drop_oldest) drops the oldest waiting update when full, so what "
                "comes next is recent"
                if ok
                else f"a buffer of {design.buffer} holds a backlog of up to {design.buffer} updates, shown oldest first"
            )
    elif design.read == "every":
        how = "it shows every record it reads, in order"
    elif design.model == "pull" and design.fetch == "poll":
        how = f"it polls every {design.interval:g} s and shows only the newest"
    else:
        how = "it reads what is new at once and shows only the newest"
    return f"{worst}: {how}{skip}{drop}"


def _why_slots(m, brief, design, ok) -> str:
    what = "handlers" if design.model == "push" else "slots"
    return (
        f"{_n(design.workers, 'worker')} × concurrency {design.concurrency} = {_n(design.slots, what[:-1])} "
        f"(at most {m['in_flight']} ran at once in this run)"
    )


def _why_status(m, brief, design, ok) -> str:
    if design.model == "pull" and design.watch == "long_poll":
        return (
            f"each client long-polls its job: the server answers when the job ends "
            f"({m['empty_polls']:,} of {m['request_count']:,} requests timed out after {LONG_POLL_HOLD:g} s)"
        )
    if design.model == "pull":
        return (
            f"each client asks every {design.interval:g} s, so it learns up to one interval late "
            f"({m['empty_polls']:,} of {m['request_count']:,} requests came back empty)"
        )
    who = "the handler pushes" if design.model == "push" else "QueueEvents pushes"
    return f"{who} each outcome to the waiting client the moment the job ends"


def _why_lost(m, brief, design, ok) -> str:
    parts = []
    if m["dropped"]:
        parts.append(
            f"{m['dropped']:,} dropped by full buffers (buffer={design.buffer}, overflow='{design.overflow}')"
        )
    if m["gave_up"]:
        if design.model == "push" and design.attempts == 1:
            parts.append(f"{m['gave_up']} jobs failed once and nobody sends them again (attempts=1)")
        else:
            parts.append(f"{m['gave_up']} jobs failed all {design.tries()} attempts")
    if parts:
        return "; ".join(parts)
    if design.model == "push":
        if brief.kind == "work" and brief.fail_rate:
            if m["attempts_failed"]:
                return f"no buffer overflowed; the producer resent {m['attempts_failed']} failed attempts"
            return "no buffer overflowed and, by luck, no job failed"
        return "no buffer overflowed" + (
            " (the producer was held back instead)" if design.overflow == "block" else ""
        )
    retried = f"; {m['attempts_failed']} failed attempts were retried" if m["attempts_failed"] else ""
    return (
        f"the {'log' if brief.kind == 'notify' else 'queue'} keeps every message until it is taken{retried}"
    )


def _why_buffered(m, brief, design, ok) -> str:
    if design.model == "push":
        per = brief.consumers if brief.kind == "notify" else design.slots
        return f"push keeps a copy per consumer: {per} buffers of up to {_n(design.buffer, 'message')}"
    store = "log" if brief.kind == "notify" else "queue"
    return f"one copy per message in the {store}, kept until the slowest reader has it"


def _why_in_flight(m, brief, design, ok) -> str:
    if design.model == "push":
        return f"{_n(design.slots, 'handler')}, each taking one job at a time"
    return f"{_n(design.workers, 'worker')} × concurrency {design.concurrency} = {_n(design.slots, 'slot')}"


def _why_requests(m, brief, design, ok) -> str:
    n = m["request_count"]
    if n == 0:
        return "consumers never ask: the producer pushes everything"
    if design.model == "pull" and design.fetch == "poll":
        what = f"polling every {design.interval:g} s"
    elif design.model == "pull" and brief.watchers:
        what = "workers fetching jobs and " + (
            f"clients checking status every {design.interval:g} s"
            if design.watch == "poll"
            else "clients long-polling their job's status (about one request per job)"
        )
    elif brief.kind == "notify" and design.model == "hybrid":
        what = "each ping makes the consumer ask the log once"
    elif brief.kind == "notify":
        what = (
            "a long poll is answered as soon as a message arrives, then asked again: "
            "about one per message (or per batch read at once)"
        )
    else:
        what = "workers fetching jobs" + (
            " and the gateway reading the event stream" if design.model == "hybrid" else ""
        )
    return f"{n:,} requests in {_fmt('p99', m['span'])} ({m['empty_polls']:,} empty): {what}"


def _why_finish(m, brief, design, ok) -> str:
    if m["finish"] == math.inf:
        return f"{m['unfinished']:,} were still waiting when the run stopped at {brief.horizon:g} s"
    if brief.kind == "work":
        work = (m["done"] + m["gave_up"] + m["attempts_failed"]) * brief.handling
        return (
            f"{_fmt('finish', work)} of handling over {_n(design.slots, 'slot')} needs at least "
            f"{_fmt('finish', work / design.slots)}"
        )
    return f"the last delivery was handled at {_fmt('finish', m['finish'])}"


_WHY = {
    "p99": _why_p99,
    "stale": _why_stale,
    "status_p99": _why_status,
    "lost": _why_lost,
    "buffered": _why_buffered,
    "in_flight": _why_in_flight,
    "slots": _why_slots,
    "requests": _why_requests,
    "finish": _why_finish,
}


# -- exploring ----------------------------------------------------------------------------------


def candidates(brief: Brief) -> dict[str, list[Design]]:
    """A small grid of designs per model for :func:`explore`: the usual settings, not every one."""
    if brief.kind == "notify":
        return {
            "push": [Design("push", buffer=b) for b in (1, 2, 5, 20, 100)]
            + [Design("push", buffer=1, overflow="drop_newest"), Design("push", buffer=1, overflow="block")],
            "pull": [
                Design("pull", fetch=f, interval=i, read=r)
                for r in READS
                for f, i in (("blocking", 1.0), ("poll", 0.5), ("poll", 1.0), ("poll", 2.0), ("poll", 5.0))
            ],
            "hybrid": [Design("hybrid", read=r) for r in READS],
        }
    cap = brief.limits.get("slots", 16)
    pools = [(1, 1), (2, 2), (2, 4), (4, 4)] if cap < 12 else [(2, 2), (3, 3), (4, 3), (4, 4), (6, 4)]
    watches = [("long_poll", 1.0), ("poll", 0.5), ("poll", 1.0)] if brief.watchers else [("poll", 1.0)]
    return {
        "push": [
            Design("push", workers=w, concurrency=c, overflow="block", attempts=a)
            for w, c in pools
            for a in (1, ATTEMPTS)
        ],
        "pull": [
            Design("pull", workers=w, concurrency=c, watch=h, interval=i)
            for w, c in pools
            for h, i in watches
        ],
        "hybrid": [Design("hybrid", workers=w, concurrency=c) for w, c in pools],
    }


def explore(
    brief: Brief, designs: dict[str, list[Design]] | None = None, *, seed: int = 0
) -> dict[str, list[Grade]]:
    """Evaluate every design of :func:`candidates` (or ``designs``): ``{model: [Grade, ...]}``.

    What the measurement says about a brief: which models have a design that passes, and
    what the others fail on.
    """
    if not isinstance(brief, Brief):
        raise TypeError(f"explore(brief={brief!r}): brief must be a capstone.Brief")
    grid = candidates(brief) if designs is None else designs
    return {model: [evaluate(brief, d, seed=seed) for d in ds] for model, ds in grid.items()}


# -- the briefs ----------------------------------------------------------------------------------

BRIEFS: dict[str, Brief] = {
    b.name: b
    for b in (
        Brief(
            "alerts",
            "On-call alerts",
            "A monitoring system raises alerts, about 2 a second at busy times, for the 3 consoles in "
            "the operations room. Every console must show every alert (none may be lost), within 0.5 s "
            "of it being raised; showing one takes 0.05 s.",
            "notify",
            messages=120,
            rate=2.0,
            handling=0.05,
            consumers=3,
            limits={"p99": 0.5, "lost": 0},
        ),
        Brief(
            "scores",
            "Live match scores",
            "A club app shows the score and match events to 50 phones in the fan zone. At kick-off "
            "8 updates (the line-ups) go out at once, then about one every 2 s. Five phones are on a bad "
            "network: showing an update takes them 1 s. A phone may skip an update that a newer one "
            "replaces, but what it shows must be fresh: within 2.5 s of any update, every phone (the slow "
            "ones too) shows it or a newer one. The small server holds at most 2 updates per phone (100 "
            "in all) and answers at most one request per phone per second (50 a second).",
            "notify",
            messages=60,
            rate=0.5,
            handling=0.05,
            burst=8,
            consumers=50,
            slow=5,
            slow_handling=1.0,
            limits={"stale": 2.5, "buffered": 100, "requests": 50},
        ),
        Brief(
            "invoices",
            "Nightly invoices",
            "At 02:00 the billing system releases 1,500 invoices at once. Rendering a PDF takes 0.4 s "
            "and 3% of attempts fail (the renderer times out; each attempt fails or not independently, "
            "so a second try almost always works). Each invoice must be made; the PDF service allows at "
            "most 16 renders at once; all must be done within 60 s.",
            "work",
            messages=1500,
            rate=1.0,
            handling=0.4,
            burst=1500,
            fail_rate=0.03,
            limits={"lost": 0, "slots": 16, "finish": 60},
        ),
        Brief(
            "uploads",
            "Video uploads with progress bars",
            "People upload videos, about one every 2 s; transcoding one takes 4 s, on at most 8 GPU "
            "slots, and 10% of attempts crash and must be retried. Each video must be ready within a "
            "minute of its upload, and the uploader's browser, which waits for it, must learn the outcome "
            "within 0.5 s. No video may be lost, and the API may spend at most 3 requests per second on "
            "all of this.",
            "work",
            messages=40,
            rate=0.5,
            handling=4.0,
            fail_rate=0.1,
            watchers=True,
            limits={"lost": 0, "p99": 60, "status_p99": 0.5, "slots": 8, "requests": 3},
        ),
    )
}
"""The capstone's scenario briefs, by name."""


# -- the table's answer against the measurement -----------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """What notebook 07's table recommends for a brief, and which explored designs pass."""

    brief: Brief
    recommendation: Any
    explored: dict

    @property
    def passing(self) -> dict[str, list[Grade]]:
        """``{model: [passing grades]}``, only for models with at least one."""
        return {m: [g for g in gs if g] for m, gs in self.explored.items() if any(gs)}

    @property
    def verdict(self) -> str:
        """confirmed: the table's model passes; contradicted: none of its designs does."""
        return "confirmed" if self.recommendation.model in self.passing else "contradicted"

    def best_failing(self, model: str) -> Grade:
        """The explored design of ``model`` that fails the fewest requirements."""
        return min(self.explored[model], key=lambda g: len(g.failed))

    def cheapest(self, model: str) -> Grade | None:
        """``model``'s passing design that asks for the fewest requests, then buffers the least."""
        grades = self.passing.get(model)
        if not grades:
            return None
        return min(grades, key=lambda g: (g.metrics["requests"], g.metrics["buffered"], g.design.slots))

    def claim(self, claimed: str, rival: str) -> str:
        """A claim "``claimed`` is the model to use here (rather than ``rival``)", judged by what passes:

        - **confirmed**: ``claimed`` has a design that meets every requirement and ``rival`` has none;
        - **contradicted**: ``rival`` has one and ``claimed`` has none;
        - **nuanced**: both have one (or neither does): the claim does not decide, the costs do.
        """
        _validate.choice("Comparison.claim", "claimed", claimed, MODELS)
        _validate.choice("Comparison.claim", "rival", rival, MODELS)
        ok, other = claimed in self.passing, rival in self.passing
        if ok and not other:
            return "confirmed"
        if other and not ok:
            return "contradicted"
        return "nuanced"


def compare(brief: Brief, designs: dict[str, list[Design]] | None = None, *, seed: int = 0) -> Comparison:
    """Ask the table (:func:`~pushpull_lab.advisor.recommend`) and the lab (:func:`explore`)."""
    from .advisor import recommend

    return Comparison(brief, recommend(brief.situation()), explore(brief, designs, seed=seed))


def grid_table(comparisons: list[Comparison]):
    """One row per brief: what the table says, which models have a passing design, what the others fail on."""
    from IPython.display import HTML

    colours = {"confirmed": PASS_COLOUR, "contradicted": FAIL_COLOUR}
    rows = []
    for c in comparisons:
        brief, rec = c.brief, c.recommendation
        said = "<br>".join(f"{html.escape(r.points)} ← “{html.escape(r.row)}”" for r in rec.reasons)
        ok = "<br>".join(
            f"<b>{m}</b>: {len(gs)} of {len(c.explored[m])}, e.g. <code>{html.escape(gs[0].design.show(brief))}</code>"
            for m, gs in c.passing.items()
        )
        bad = "<br>".join(
            f"<b>{m}</b>: even the best fails "
            + "; ".join(html.escape(k.label) for k in c.best_failing(m).failed)
            for m in c.explored
            if m not in c.passing
        )
        rows.append(
            f"<tr><td><b>{html.escape(brief.title)}</b></td><td><b>{rec.model}</b><br><small>{said}</small></td>"
            f"<td style='text-align:left'>{ok or 'none'}</td><td style='text-align:left'>{bad or '–'}</td>"
            f"<td style='color:{colours[c.verdict]}'><b>{c.verdict}</b></td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("brief", "the table says", "measured: passes", "measured: fails", "verdict")
    )
    return HTML(f"<table><tr>{head}</tr>{''.join(rows)}</table>")
