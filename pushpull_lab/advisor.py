"""Push, pull or hybrid? The source text's "When to Use What?" table, as a function you can read.

::

    from pushpull_lab import advisor

    situation = advisor.Situation(max_delay=0.5, needs_retries=True, producers=20, consumers=3)
    rec = advisor.recommend(situation)
    rec.model         # 'hybrid': a row says push, another says pull
    rec.reasons       # each quotes its row of the table and says which way it points
    rec.experiment    # 'hybrid': the small experiment that shows why
    demo = advisor.demonstrate(rec)   # runs it in virtual time (exact, the same on every machine)
    demo.figure()

The rule (:func:`recommend`) reads in two minutes: every row of the table whose situation
applies adds a :class:`Reason` pointing to push or to pull. Only push reasons → push; only pull
reasons → pull; both → **hybrid** (push what must be pushed, pull the rest — the source text's
"Hybrid Model"); none → pull, with the reason said. The thresholds are the constants below.

Notebook 07 measures every row; where the lab disagrees with the table, the reason says so in
``lab_shows`` (in words — the numbers are always computed by running the experiment).

Importing this module is light: the experiments and matplotlib load when :func:`demonstrate`
runs one.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from . import _validate

REAL_TIME = 1.0
"""seconds: a situation whose updates must arrive within this is "Need real-time updates"."""
MANY = 10
"""this many producers (or consumers) or more count as "many"."""
FEW = 3
"""this many or fewer count as "few"."""
MODELS = ("push", "pull", "hybrid")


@dataclass(frozen=True)
class Row:
    """One row of the decision table: the situation as the source text words it, and its answer."""

    key: str
    text: str
    points: str  # "push" or "pull"
    source: str
    experiment: str
    lab_shows: str


ROWS: dict[str, Row] = {
    row.key: row
    for row in (
        Row(
            "real-time",
            "Need real-time updates",
            "push",
            "When to Use What?",
            "latency",
            "push delivers at once and the consumer never asks; but long polling and a blocking worker "
            "are just as fast — only short polling must ask at least once per max_delay, and most of "
            "its requests come back empty",
        ),
        Row(
            "retries",
            "Need reliable, retryable job handling",
            "pull",
            "When to Use What?",
            "retries",
            "a pushed task whose handler fails is gone; a queued job is retried until its attempts run out",
        ),
        Row(
            "many-producers",
            "You have many producers, few consumers",
            "push",
            "When to Use What?",
            "fan",
            "debatable: pushing to a few consumers is cheap and instant only while they keep up with "
            "all the producers together; past that, push drops messages where a queue or log just "
            "builds a backlog. The number of producers changes nothing per message",
        ),
        Row(
            "many-consumers",
            "You have few producers, many consumers",
            "pull",
            "When to Use What?",
            "fan",
            "push sends every message once per consumer and keeps a buffer for each, and a slow one "
            "loses messages; pull writes each message once and each consumer reads at its own pace. "
            "Pull needs no more exchanges in all: it moves them from the producer side to the consumers",
        ),
        Row(
            "load-control",
            "Load control and concurrency required",
            "pull",
            "When to Use What?",
            "load",
            "a pushed burst starts every task at once, or — with bounded buffers — drops; pulling "
            "workers never run more than their concurrency and lose nothing, at the price of waiting",
        ),
        Row(
            "slow-consumers",
            "dropped messages if consumers are slow or offline",
            "pull",
            "Advanced 2, Scaling and Load Distribution",
            "fan",
            "a slow consumer's push buffer overflows and it loses messages; with pull it falls "
            "behind and catches up, losing none",
        ),
    )
}
"""The five rows of "When to Use What?" (verbatim), plus the source text's own warning about slow
or offline consumers (Advanced 2), which the table leaves out."""

DEFAULT = Row(
    "default",
    "For reliability, scalability, and control ... pull is preferred",
    "pull",
    "Advanced 8, Choosing the Right Model",
    "latency",
    "with no real-time need, polling once per max_delay meets the deadline",
)
"""What the rule says when no row applies."""

EXPERIMENTS = {
    "latency": "the same 50 stories pushed, short-polled once per max_delay, and long-polled",
    "retries": "30 tasks that fail 30% of attempts: pushed to a handler vs queued with 3 attempts",
    "fan": "the situation's producers and consumers, every consumer wanting every message: push vs pull",
    "load": "a burst of 40 one-second tasks: pushed to a webhook handler, pushed round-robin to "
    "buffered consumers, or pulled by the situation's workers",
    "hybrid": "workers pull the jobs; QueueEvents pushes each completion to the front end — vs the "
    "front end polling once per max_delay",
}
"""The small experiment behind each row (``Row.experiment``), run by :func:`demonstrate`."""

DEMO_LIMIT = 30
"""The experiments cap producers and consumers at this, to stay quick."""


@dataclass(frozen=True, kw_only=True)
class Situation:
    """What you know about your system. Every field is keyword-only and checked.

    Args:
        max_delay: seconds within which a consumer must have new data (> 0).
        needs_retries: work that fails must be retried, not lost.
        producers: how many parties produce data or jobs (>= 1).
        consumers: how many parties consume them (>= 1).
        needs_load_control: consumers must not take more than they can handle at once.
        slow_consumers: some consumers can be slow or offline for a while.
    """

    max_delay: float = 60.0
    needs_retries: bool = False
    producers: int = 1
    consumers: int = 1
    needs_load_control: bool = False
    slow_consumers: bool = False

    def __post_init__(self) -> None:
        where = "Situation"
        object.__setattr__(
            self, "max_delay", _validate.number(where, "max_delay", self.max_delay, positive=True)
        )
        _validate.integer(where, "producers", self.producers, minimum=1)
        _validate.integer(where, "consumers", self.consumers, minimum=1)
        for name in ("needs_retries", "needs_load_control", "slow_consumers"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"{where}({name}={value!r}): {name} must be True or False")


@dataclass(frozen=True)
class Reason:
    """A row that applies: ``row`` (the source text's words), ``points`` ("push"/"pull"), why it
    applies to this situation (``because``) and what the lab measured about it (``lab_shows``);
    ``key`` is its key in :data:`ROWS`."""

    key: str
    row: str
    points: str
    because: str
    lab_shows: str
    source: str
    experiment: str

    def __str__(self) -> str:
        return f'{self.points} ← "{self.row}" ({self.source}): {self.because}'


@dataclass(frozen=True)
class Recommendation:
    """``model`` ("push", "pull" or "hybrid"), the ``reasons`` behind it and the ``experiment``
    (a key of :data:`EXPERIMENTS`) that shows why. Displays itself in a notebook."""

    model: str
    reasons: tuple[Reason, ...]
    experiment: str
    situation: Situation
    summary: str = field(default="")

    def __repr__(self) -> str:
        lines = [f"Recommendation: {self.model.upper()} — {self.summary}"]
        lines += [f"  {r}" for r in self.reasons]
        lines.append(f"  experiment: {self.experiment} — {EXPERIMENTS[self.experiment]}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colours = {"push": "#0072B2", "pull": "#D55E00", "hybrid": "#009E73"}
        rows = "".join(
            f"<tr><td style='color:{colours[r.points]};text-align:left'><b>{r.points}</b></td>"
            f"<td style='text-align:left'>“{html.escape(r.row)}”<br><small>{html.escape(r.source)}</small></td>"
            f"<td style='text-align:left'>{html.escape(r.because)}</td>"
            f"<td style='text-align:left'><small>{html.escape(r.lab_shows)}</small></td></tr>"
            for r in self.reasons
        )
        return (
            f"<div><b style='color:{colours[self.model]};font-size:1.15em'>{self.model.upper()}</b> — "
            f"{html.escape(self.summary)}</div>"
            "<table><tr><th>points to</th><th>row of the table</th><th>because</th><th>what the lab shows</th></tr>"
            f"{rows}</table>"
            f"<div>Experiment: <b>{self.experiment}</b> — {html.escape(EXPERIMENTS[self.experiment])}</div>"
        )


def _reason(key: str, because: str) -> Reason:
    row = ROWS.get(key, DEFAULT)
    return Reason(row.key, row.text, row.points, because, row.lab_shows, row.source, row.experiment)


def recommend(situation: Situation) -> Recommendation:
    """Push, pull or hybrid for ``situation``, with a reason for every row of the table that applies."""
    if not isinstance(situation, Situation):
        raise TypeError(f"recommend(situation={situation!r}): situation must be an advisor.Situation(...)")
    s = situation
    reasons = []
    if s.max_delay <= REAL_TIME:
        reasons.append(
            _reason("real-time", f"updates must arrive within {s.max_delay:g} s (≤ {REAL_TIME:g} s)")
        )
    if s.needs_retries:
        reasons.append(_reason("retries", "failed work must be retried (needs_retries)"))
    crowd = f"{_n(s.producers, 'producer')}, {_n(s.consumers, 'consumer')} (few: ≤ {FEW}, many: ≥ {MANY})"
    if s.producers >= MANY and s.consumers <= FEW:
        reasons.append(_reason("many-producers", crowd))
    if s.producers <= FEW and s.consumers >= MANY:
        reasons.append(_reason("many-consumers", crowd))
    if s.needs_load_control:
        reasons.append(_reason("load-control", "consumers must not be overloaded (needs_load_control)"))
    if s.slow_consumers:
        reasons.append(_reason("slow-consumers", "some consumers can be slow or offline (slow_consumers)"))

    push = [r for r in reasons if r.points == "push"]
    pull = [r for r in reasons if r.points == "pull"]
    if push and pull:  # the rows conflict: push what must be pushed, pull the rest
        model = "hybrid"
        jobs = any(r.key in ("retries", "load-control") for r in pull)
        if jobs and push[0].key == "real-time":  # the source text's "Hybrid Model"
            experiment, how = "hybrid", "workers pull the jobs; their progress is pushed to whoever waits"
        elif jobs:
            experiment, how = pull[0].experiment, "producers push jobs into a queue; workers pull when free"
        else:
            experiment, how = "fan", "producers push into a log; each consumer pulls from it at its own pace"
        summary = f"push for {_rows(push)}, pull for {_rows(pull)}: {how}"
    elif push or pull:
        model = "push" if push else "pull"
        experiment = (push or pull)[0].experiment  # the first row that applies decides the demo
        summary = f"every row that applies points to {model}: {_rows(push or pull)}"
    else:
        model, experiment = "pull", DEFAULT.experiment
        reasons.append(
            _reason("default", f"no row of the table applies (max_delay {s.max_delay:g} s > {REAL_TIME:g} s)")
        )
        summary = "no row of the table applies; pull keeps the consumers in control"
    return Recommendation(model, tuple(reasons), experiment, s, summary)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _rows(reasons: list[Reason]) -> str:
    return ", ".join(f"“{r.row}”" for r in reasons)


# -- the experiments ----------------------------------------------------------------------------------


@dataclass
class Demo:
    """A run of one of :data:`EXPERIMENTS` for a situation: ``runs`` (name → Run), ``numbers``
    (what the figure shows, computed from the traces), :meth:`figure` and :meth:`text`."""

    experiment: str
    situation: Situation
    runs: dict[str, Any]
    numbers: dict[str, dict[str, Any]]

    def text(self) -> str:
        """One line per series: its numbers."""
        return "\n".join(
            f"{name}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in row.items())
            for name, row in self.numbers.items()
        )

    def figure(self, width: float = 8.0):
        """The experiment's figure (a matplotlib Figure)."""
        return _DRAW[self.experiment](self, width)


def _fmt(value: Any) -> str:
    from .trace import format_seconds

    if isinstance(value, float):
        return format_seconds(value)
    return str(value)


def demonstrate(recommendation: Recommendation | str, situation: Situation | None = None) -> Demo:
    """Run the experiment behind ``recommendation`` (or the one named, for ``situation``) in virtual time."""
    if isinstance(recommendation, Recommendation):
        name, situation = recommendation.experiment, recommendation.situation
    else:
        name = _validate.choice("demonstrate", "recommendation", recommendation, tuple(EXPERIMENTS))
        situation = Situation() if situation is None else situation
        if not isinstance(situation, Situation):
            raise TypeError(
                f"demonstrate(situation={situation!r}): situation must be an advisor.Situation(...)"
            )
    runs, numbers = _RUN[name](situation)
    return Demo(name, situation, runs, numbers)


def _run_latency(s: Situation):
    from . import scenarios

    runs = {
        "push": scenarios.pushed_stream(),
        f"short polling every {s.max_delay:g} s": scenarios.pull_styles("short", interval=s.max_delay),
        "long polling": scenarios.pull_styles("long"),
    }
    numbers = {
        name: {
            "p99": run.value["latency"].p99,
            "max": run.value["latency"].max,
            "requests": run.value["requests"],
            "empty": run.value.get("empty", 0),
        }
        for name, run in runs.items()
    }
    return runs, numbers


def _run_retries(s: Situation):
    from . import scenarios

    runs = {m: scenarios.failing_tasks(m) for m in ("push", "pull")}
    numbers = {m: {k: runs[m].value[k] for k in ("jobs", "done", "lost", "retries")} for m in runs}
    return runs, numbers


def _run_fan(s: Situation):
    from . import scenarios

    producers, consumers = min(s.producers, DEMO_LIMIT), min(s.consumers, DEMO_LIMIT)
    slow = 1 if s.slow_consumers else 0
    runs = {
        m: scenarios.fan_out(m, producers=producers, consumers=consumers, slow=slow) for m in ("push", "pull")
    }
    numbers = {
        m: {
            "messages": r.value["messages"],
            "producer_side": r.value["producer_side"],
            "consumer_requests": r.value["consumer_requests"],
            "lost": r.value["lost"],
            "p99": r.value["latency"].p99,
        }
        for m, r in runs.items()
    }
    return runs, numbers


def _run_load(s: Situation):
    from . import scenarios

    consumers = min(s.consumers, DEMO_LIMIT)
    names = {
        "emitter": "push to a webhook handler",
        "pubsub": "push round-robin, buffered",
        "queue": "pull (workers)",
    }
    runs = {label: scenarios.task_burst(model, consumers=consumers) for model, label in names.items()}
    numbers = {
        label: {k: r.value[k] for k in ("jobs", "peak", "done", "lost", "makespan")}
        for label, r in runs.items()
    }
    return runs, numbers


def _run_hybrid(s: Situation):
    from . import scenarios
    from .trace import Stats

    run = scenarios.watch_jobs(jobs=20, interval=s.max_delay)
    v = run.value
    numbers = {
        "pushed (QueueEvents listener)": {
            "p99": Stats.of(v["listener"]).p99,
            "max": max(v["listener"]),
            "requests": 0,
        },
        f"polled every {s.max_delay:g} s": {
            "p99": Stats.of(v["poller"]).p99,
            "max": max(v["poller"]),
            "requests": v["requests"],
        },
    }
    return {"hybrid": run}, numbers


_RUN = {
    "latency": _run_latency,
    "retries": _run_retries,
    "fan": _run_fan,
    "load": _run_load,
    "hybrid": _run_hybrid,
}


# -- the figures ------------------------------------------------------------------------------------


def _deadline(ax, seconds: float, **legend: Any) -> None:
    ax.axvline(seconds, color="#555555", ls="--", lw=1, label=f"max_delay {seconds:g} s")
    ax.legend(**{"loc": "lower right", "fontsize": "small", "frameon": True, "framealpha": 0.9, **legend})


def _draw_latency(demo: Demo, width: float):
    from .viz import latency

    series = {
        f"{name} ({demo.numbers[name]['requests']} requests)": run.trace.latencies(*_ends(name))
        for name, run in demo.runs.items()
    }
    fig = latency(
        series,
        xlabel="story stored → consumer has it (s)",
        title="Need real-time updates? Who meets max_delay, and at what cost",
        width=width,
    )
    ax = fig.axes[0]
    push, long_poll = ax.lines[0], ax.lines[-1]
    push.set(linewidth=7, alpha=0.4, zorder=1)  # wide and pale, so a curve on top of it leaves it visible
    long_poll.set(linestyle=(0, (4, 3)), linewidth=2, zorder=2)  # dashed: push shows between the dashes
    same = abs(demo.numbers["long polling"]["max"] - demo.numbers["push"]["max"]) < 0.05
    if same:  # say so in the legend: two entries, one line
        long_poll.set_label(f"{long_poll.get_label()} (the same line as push)")
    # the short-polling curve crosses the whole plot: the legend goes below it, where it hides nothing
    fig.set_size_inches(width, 4.4)
    _deadline(ax, demo.situation.max_delay, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    return fig


def _ends(name: str) -> tuple[str, str]:
    return ("publish", "deliver") if name == "push" else ("append", "consume")


def _draw_retries(demo: Demo, width: float):
    from .viz.style import new_figure, series_colour

    fig, ax = new_figure(width, 3.2)
    models = list(demo.runs)
    attempts = max(max(r.value["attempts_needed"], default=1) for r in demo.runs.values())
    bottom = [0] * len(models)
    for a in range(1, attempts + 1):
        heights = [r.value["attempts_needed"].count(a) for r in demo.runs.values()]
        ax.barh(models, heights, left=bottom, color=series_colour(a + 1), label=f"done on attempt {a}")
        bottom = [b + h for b, h in zip(bottom, heights)]
    lost = [r.value["lost"] for r in demo.runs.values()]
    ax.barh(models, lost, left=bottom, color="#CC79A7", hatch="//", label="lost")
    ax.set(
        xlabel="tasks",
        title="Need retries? Tasks that fail 30% of attempts",
        xlim=(0, demo.numbers["push"]["jobs"]),
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return fig


def _draw_fan(demo: Demo, width: float):
    from .viz.style import PALETTE, new_figure

    fig, _ = new_figure(width, 3.4)
    fig.clear()
    left, right = fig.subplots(1, 2)
    models = list(demo.numbers)
    per = {m: demo.numbers[m]["messages"] for m in models}
    producer = [demo.numbers[m]["producer_side"] / per[m] for m in models]
    consumer = [demo.numbers[m]["consumer_requests"] / per[m] for m in models]
    left.bar(models, producer, color=PALETTE["push"], label="started by producers/broker")
    left.bar(models, consumer, bottom=producer, color=PALETTE["pull"], label="started by consumers")
    top = max(p + c for p, c in zip(producer, consumer))
    left.set(ylabel="exchanges per message", title="Who does the work", ylim=(0, top * 1.45))
    left.legend(loc="upper center", fontsize="small", frameon=False, ncol=1)
    handled = [demo.runs[m].value["handled"] for m in models]
    lost = [demo.numbers[m]["lost"] for m in models]
    right.bar(models, handled, color="#009E73", label="handled")
    right.bar(models, lost, bottom=handled, color=PALETTE["drop"], hatch="//", label="lost")
    for x, m in enumerate(models):
        right.annotate(
            f"lost {lost[x]}, p99 {_fmt(demo.numbers[m]['p99'])}",
            (x, handled[x] + lost[x]),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    right.set(
        ylabel="message × consumer pairs",
        title="What arrives, and how late",
        ylim=(0, max(h + x for h, x in zip(handled, lost)) * 1.45),
    )
    right.legend(loc="upper center", fontsize="small", frameon=False, ncol=2)
    s = demo.situation
    slow = " (one slow)" if s.slow_consumers else ""
    fig.suptitle(
        f"{min(s.producers, DEMO_LIMIT)} producers (1 message/s each) → "
        f"{min(s.consumers, DEMO_LIMIT)} consumers{slow}; each consumer gets every message"
    )
    return fig


def _draw_load(demo: Demo, width: float):
    from .viz.style import new_figure, series_colour

    fig, ax = new_figure(width, 3.2)
    styles = [{"lw": 1.8}, {"lw": 1.6, "ls": (0, (4, 2))}, {"lw": 3.5, "alpha": 0.55}]
    order = [2, 0, 1]  # the thick pull line under the dashed push one: both stay visible at the same height
    runs = list(demo.runs.items())
    for i in order:
        label, run = runs[i]
        times = [t for t, _ in run.value["in_flight"]]
        values = [n for _, n in run.value["in_flight"]]
        ax.step(
            times,
            values,
            where="post",
            color=series_colour(i),
            label=f"{label}: peak {run.value['peak']}, lost {run.value['lost']}",
            **styles[i],
        )
    consumers = min(demo.situation.consumers, DEMO_LIMIT)
    ax.axhline(consumers, color="#555555", ls=":", lw=1, label=f"{consumers} consumers")
    ax.set(
        xlabel="time (s)",
        ylabel="tasks in progress",
        title="Need load control? A burst of 40 one-second tasks",
    )
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    return fig


def _draw_hybrid(demo: Demo, width: float):
    from .viz import latency

    v = demo.runs["hybrid"].value
    names = list(demo.numbers)
    fig = latency(
        {
            f"{names[0]} (0 requests)": v["listener"],
            f"{names[1]} ({v['requests']} requests)": v["poller"],
        },
        xlabel="job completed → front end knows (s)",
        title="Hybrid: workers pull jobs, completions pushed vs polled",
        width=width,
    )
    fig.axes[0].set_ylabel("fraction of jobs")
    fig.set_size_inches(width, 4.2)  # the polled curve crosses the plot: the legend goes below it
    _deadline(
        fig.axes[0], demo.situation.max_delay, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False
    )
    return fig


_DRAW = {
    "latency": _draw_latency,
    "retries": _draw_retries,
    "fan": _draw_fan,
    "load": _draw_load,
    "hybrid": _draw_hybrid,
}
