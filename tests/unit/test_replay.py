"""widgets/replay.py: Play + slider scrubbing through a recorded run, one PNG per frame."""

import pytest

import pushpull_lab as ppl
from pushpull_lab import scenarios


@pytest.fixture(scope="module")
def run():
    return scenarios.slow_subscriber()


def test_first_and_last_frames_differ_and_scrubbing_replaces_the_image(run):
    """Frame 0 and the last frame are different pictures; moving the slider swaps the PNG."""
    replay = ppl.widgets.replay(run, frames=20)
    last = bytes(replay.image.value)
    assert last.startswith(b"\x89PNG") and replay.slider.value == 19
    replay.slider.value = 0
    first = bytes(replay.image.value)
    assert first.startswith(b"\x89PNG") and first != last
    replay.slider.value = 19
    assert bytes(replay.image.value) == last  # from the cache: the same picture
    assert replay.last_render_seconds == 0.0


def test_the_summary_line_gives_the_frame_time_and_the_events_so_far(run):
    """At frame k the line says t = end*k/(frames-1) and counts exactly the events up to then."""
    replay = ppl.widgets.replay(run, frames=5)
    replay.slider.value = 2
    t = run.trace.end * 2 / 4
    upto = run.trace.filter(until=t)
    counts = upto.counts()
    assert replay.summary.value.startswith(f"t = {t:.3f} s: {len(upto)} events (")
    assert f"{counts['publish']} publish" in replay.summary.value
    assert f"{counts['drop']} drop" in replay.summary.value
    slow = run.trace.depth("slow-phone")
    waiting = [d for time, d in slow if time <= t][-1]
    assert f"slow-phone {waiting}" in replay.summary.value and "frame 2/4" in replay.summary.value
    replay.slider.value = 4
    assert replay.summary.value.startswith(f"t = {run.trace.end:.3f} s: {len(run.trace)} events")


def test_play_is_linked_to_the_slider_and_lanes_pick_the_actors(run):
    """The Play button drives the slider through a jslink; lanes limits the drawn actors."""
    replay = ppl.widgets.replay(run, frames=10, lanes=["stadium", "scores", "slow-phone"])
    assert replay.link.source == (replay.play, "value") and replay.link.target == (replay.slider, "value")
    assert (replay.play.min, replay.play.max) == (0, 9) == (replay.slider.min, replay.slider.max)
    assert replay.lanes == ["stadium", "scores", "slow-phone"]
    assert list(replay._depth) == ["slow-phone"]


def test_a_trace_works_as_well_as_a_run(run):
    """A bare Trace (e.g. lab.trace) can be replayed like a Run."""
    replay = ppl.widgets.replay(run.trace, frames=3)
    assert replay.times == [0.0, run.trace.end / 2, run.trace.end]


def test_bad_arguments_are_refused_naming_the_parameter(run):
    """Wrong run_or_trace, frames, lanes or frame number each give an error naming the parameter."""
    with pytest.raises(TypeError, match=r"replay\(run_or_trace=42\): run_or_trace must be a Run"):
        ppl.widgets.replay(42)
    with pytest.raises(ValueError, match=r"replay\(frames=1\): frames must be an integer >= 2"):
        ppl.widgets.replay(run, frames=1)
    with pytest.raises(TypeError, match=r"replay\(frames=2\.5\)"):
        ppl.widgets.replay(run, frames=2.5)
    with pytest.raises(ValueError, match=r"replay\(lanes=\['nobody'\]\): \['nobody'\] never appear"):
        ppl.widgets.replay(run, lanes=["nobody"])
    with pytest.raises(TypeError, match=r"replay\(lanes='stadium'\): lanes must be a non-empty list"):
        ppl.widgets.replay(run, lanes="stadium")
    with pytest.raises(ValueError, match="the trace has no events"):
        ppl.widgets.replay(ppl.Lab().trace)
    replay = ppl.widgets.replay(run, frames=3)
    with pytest.raises(ValueError, match=r"TraceReplay.show\(frame=3\): frame must be an integer 0 … 2"):
        replay.show(3)
