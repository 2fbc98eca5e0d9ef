"""widgets/panel.py: controls re-run the experiment and replace the figure's PNG."""

import pytest

import pushpull_lab as ppl
from pushpull_lab import scenarios


def make_panel():
    return ppl.widgets.experiment(
        lambda buffer, overflow: scenarios.slow_subscriber(buffer=buffer, overflow=overflow),
        draw=lambda run: ppl.viz.depth(run.trace, ["slow-phone"], capacity=run.value["buffer"]),
        summary=lambda run: f"dropped {run.value['slow']['dropped']}",
        buffer=(1, 40, 1, 5),
        overflow=["drop_newest", "block"],
    )


def test_controls_are_built_from_the_specs():
    """A numeric tuple becomes a slider starting at its value; a list of strings a dropdown."""
    panel = make_panel()
    assert type(panel.controls["buffer"]).__name__ == "IntSlider" and panel.controls["buffer"].value == 5
    assert type(panel.controls["overflow"]).__name__ == "Dropdown"
    assert panel.summary.value == "dropped 13" and bytes(panel.image.value).startswith(b"\x89PNG")


def test_moving_a_control_reruns_and_redraws():
    """Changing a control re-runs the experiment: a new result, a new PNG, a new summary."""
    panel = make_panel()
    before = panel.image.value
    panel.controls["buffer"].value = 30
    assert panel.summary.value == "dropped 0"
    assert panel.image.value != before and panel.result.value["buffer"] == 30
    assert panel.last_update_seconds > 0


def test_an_error_in_the_experiment_is_shown_in_the_panel():
    """An exception while re-running appears in the summary, named, instead of vanishing."""

    def run(x):
        if x > 1:
            raise ValueError("x too large")
        return x

    panel = ppl.widgets.experiment(run, draw=lambda r: ppl.viz.latency({"x": [r]}), x=(1, 3))
    panel.controls["x"].value = 2
    assert "ValueError: x too large" in panel.summary.value


def test_bad_control_spec_is_refused():
    """A control that is neither a range, a list of strings nor a bool gets a clear error."""
    with pytest.raises(ValueError, match=r"experiment\(rate=\{\}\): a control must be"):
        ppl.widgets.experiment(lambda rate: rate, draw=print, rate={})
    with pytest.raises(ValueError, match="at least one control"):
        ppl.widgets.experiment(lambda: 1, draw=print)
