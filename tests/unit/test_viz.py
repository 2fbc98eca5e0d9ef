"""viz/: every figure has a title, labelled axes with units, and is drawn from the trace."""

import matplotlib.colors as mcolors
import pytest

import pushpull_lab as ppl
from pushpull_lab import scenarios
from pushpull_lab.trace import Trace
from pushpull_lab.viz.style import PALETTE


@pytest.fixture(scope="module")
def run():
    return scenarios.slow_subscriber(overflow="drop_newest")


def arrows(fig):
    return [a for a in fig.axes[0].texts if getattr(a, "arrow_patch", None) is not None]


def test_timeline_draws_one_push_arrow_per_exchange_from_the_initiator(run):
    """Each publish/deliver becomes a blue arrow starting at its actor's lane; drops are marked."""
    fig = ppl.viz.timeline(run.trace)
    ax = fig.axes[0]
    lanes = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    exchanges = run.trace.filter(kind={"publish", "deliver"}).events
    drawn = arrows(fig)
    assert len(drawn) == len(exchanges)
    for a, e in zip(drawn, exchanges):
        assert a.xyann[1] == lanes[e.actor] and a.xy[1] == lanes[e.peer]
        assert mcolors.to_hex(a.arrow_patch.get_edgecolor()) == PALETTE["push"].lower()
    assert ax.get_title() and ax.get_xlabel() == "time (s)"


def test_timeline_sets_simultaneous_exchanges_side_by_side():
    """Three fetches at one instant get three distinct x positions, each close to that instant."""
    t = Trace(lambda: 1.0)
    for w in ("w1", "w2", "w3"):
        t.record("fetch", w, "queue", 1)
    xs = [a.xy[0] for a in arrows(ppl.viz.timeline(t, until=2.0))]
    assert len(set(xs)) == 3 and all(abs(x - 1.0) < 0.05 for x in xs)
    assert sum(xs) / 3 == pytest.approx(1.0)


def test_timeline_colours_pull_arrows_differently():
    """A consumer-initiated fetch is drawn from the consumer, in the pull colour."""
    t = Trace(lambda: 1.0)
    t.record("fetch", "worker", "queue", 1)
    (a,) = arrows(ppl.viz.timeline(t))
    assert mcolors.to_hex(a.arrow_patch.get_edgecolor()) == PALETTE["pull"].lower()


def test_timeline_marks_empty_polls_dashed():
    """An empty poll is drawn dashed and named in the legend, unlike a poll that brought data."""
    t = Trace(lambda: 1.0)
    t.record("poll", "app", "news")
    t.record("empty_poll", "app", "news")
    fig = ppl.viz.timeline(t)
    full, empty = arrows(fig)
    assert full.arrow_patch.get_linestyle() == "-" and empty.arrow_patch.get_linestyle() != "-"
    assert "pull that found nothing" in [x.get_text() for x in fig.axes[0].get_legend().get_texts()]


def test_timeline_window_and_limit(run):
    """since/until restrict the window; max_events caps the arrows."""
    assert len(arrows(ppl.viz.timeline(run.trace, until=1.0))) == len(
        run.trace.filter(kind={"publish", "deliver"}, until=1.0)
    )
    assert len(arrows(ppl.viz.timeline(run.trace, max_events=5))) == 5


def test_depth_plot_follows_the_trace(run):
    """The depth line ends at the last recorded depth, with the limit drawn when given."""
    fig = ppl.viz.depth(run.trace, ["slow-phone"], capacity=5)
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    assert list(line.get_ydata())[-1] == run.trace.depth("slow-phone")[-1][1]
    assert max(line.get_ydata()) == 5
    times = list(line.get_xdata())[1:-1]
    assert len(times) == len(set(times)), "one step per instant: no zero-width spikes"
    assert ax.get_ylabel() == "messages waiting" and ax.get_xlabel() == "time (s)" and ax.get_title()


def test_depth_plot_of_an_empty_queue_has_whole_number_ticks():
    """A queue that never backs up still gets an axis from 0 to at least 1, in whole numbers."""
    t = Trace(lambda: 1.0)
    t.record("fetch", "w", "q", 1, depth=0)
    ax = ppl.viz.depth(t, ["q"]).axes[0]
    assert ax.get_ylim()[1] >= 1
    assert all(float(tick).is_integer() for tick in ax.get_yticks())


def test_latency_plot_accepts_traces_and_lists(run):
    """One CDF per series, reaching 1.0, with p50/p99 in the legend."""
    fig = ppl.viz.latency({"all": run.trace, "phone": run.trace.latencies(peer="slow-phone")})
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 and all(line.get_ydata()[-1] == 1.0 for line in ax.get_lines())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1].startswith("phone: p50") and "(s)" in ax.get_xlabel()


def test_latency_plot_says_what_was_measured():
    """xlabel names what a list of latencies measured; the default names start and end."""
    assert ppl.viz.latency({"x": [0.1]}, xlabel="seconds to know").axes[0].get_xlabel() == "seconds to know"
    assert ppl.viz.latency({"x": [0.1]}, "append", "consume").axes[0].get_xlabel() == (
        "latency from append to consume (s)"
    )


def test_latency_plot_without_data_says_so():
    """An empty series list draws a note instead of an empty legend."""
    fig = ppl.viz.latency({"none": []})
    assert fig.axes[0].get_legend() is None and fig.axes[0].texts[0].get_text() == "no latencies to show"


def test_to_png_makes_png_bytes(run):
    """to_png renders a figure to PNG bytes."""
    assert ppl.viz.to_png(ppl.viz.depth(run.trace)).startswith(b"\x89PNG")
