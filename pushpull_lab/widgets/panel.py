"""An experiment panel: controls → re-run a virtual-time experiment → redraw its figure.

::

    def run(rate, policy):
        return ppl.simulate(make_main(rate, policy))

    ppl.widgets.experiment(
        run,
        draw=lambda r: ppl.viz.depth(r.trace),
        summary=lambda r: f"dropped {r.trace.counts().get('drop', 0)}",
        rate=(1, 20, 1),                 # (min, max, step) -> slider
        policy=["block", "drop_oldest"],  # list -> dropdown
    )

The figure is an ``ipywidgets.Image`` whose PNG is replaced on every change (never an
``Output`` that is cleared and refilled), so a notebook with a panel still passes strict
nbval and shows a still image when rendered without a kernel.
"""

from __future__ import annotations

import html
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..viz.style import to_png


def _control(name: str, spec: Any):
    import ipywidgets as w

    label = name.replace("_", " ")
    style = {"description_width": "initial"}
    layout = w.Layout(width="420px")
    if isinstance(spec, w.ValueWidget):
        return spec
    if isinstance(spec, bool):
        return w.Checkbox(value=spec, description=label, style=style)
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(v, str) for v in spec):
        return w.Dropdown(options=list(spec), value=spec[0], description=label, style=style, layout=layout)
    if isinstance(spec, tuple) and len(spec) in (2, 3, 4) and all(isinstance(v, (int, float)) for v in spec):
        lo, hi = spec[0], spec[1]
        step = spec[2] if len(spec) >= 3 else None
        value = spec[3] if len(spec) == 4 else lo
        if all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            return w.IntSlider(
                min=lo, max=hi, step=step or 1, value=value, description=label,
                continuous_update=False, style=style, layout=layout,
            )  # fmt: skip
        return w.FloatSlider(
            min=lo, max=hi, step=step or (hi - lo) / 20, value=value, description=label,
            continuous_update=False, style=style, layout=layout,
        )  # fmt: skip
    raise ValueError(
        f"experiment({name}={spec!r}): a control must be (min, max[, step[, value]]) for a slider, "
        "a list of strings for a dropdown, a bool for a checkbox, or an ipywidgets control"
    )


class ExperimentPanel:
    """Controls, a figure and a summary, kept in sync. Display it (it is the last expression).

    Attributes:
        controls: ``{name: widget}``; set ``panel.controls["rate"].value = 5`` to drive it.
        result: what the experiment returned last.
        last_update_seconds: wall time of the last re-run + redraw (for the benchmark).
    """

    def __init__(
        self,
        run: Callable[..., Any],
        draw: Callable[[Any], Any],
        summary: Callable[[Any], str] | None = None,
        *,
        dpi: int = 80,
        **controls: Any,
    ):
        import ipywidgets as w

        if not callable(run):
            raise TypeError(f"experiment(run={run!r}): run must be a function of the controls' values")
        if not callable(draw):
            raise TypeError(f"experiment(draw={draw!r}): draw must be a function(result) -> Figure")
        if not controls:
            raise ValueError(
                "experiment(): give at least one control, e.g. rate=(1, 20) or policy=['a', 'b']"
            )
        self._run, self._draw, self._summary, self._dpi = run, draw, summary, dpi
        self.controls = {name: _control(name, spec) for name, spec in controls.items()}
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.summary = w.HTML()
        self.result: Any = None
        self.last_update_seconds = 0.0
        self.widget = w.VBox(
            [
                w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap")),
                self.image,
                self.summary,
            ]
        )
        self.widget.add_class("pushpull-experiment")
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.update()

    @property
    def values(self) -> dict[str, Any]:
        return {name: c.value for name, c in self.controls.items()}

    def _changed(self, _change: dict) -> None:
        self.update()

    def update(self) -> None:
        """Re-run the experiment with the current values and redraw."""
        started = time.perf_counter()
        try:
            self.result = self._run(**self.values)
            fig = self._draw(self.result)
            self.image.value = to_png(fig, dpi=self._dpi)
            text = self._summary(self.result) if self._summary else ""
            self.summary.value = text
        except Exception as exc:  # shown in the panel, where the learner is looking
            self.summary.value = (
                f"<pre style='color:#b00'>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}\n\n"
                f"{html.escape(traceback.format_exc(limit=4))}</pre>"
            )
        self.last_update_seconds = time.perf_counter() - started

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def experiment(
    run: Callable[..., Any],
    draw: Callable[[Any], Any],
    summary: Callable[[Any], str] | None = None,
    **controls: Any,
) -> ExperimentPanel:
    """Build an :class:`ExperimentPanel`; see the module docstring for an example."""
    return ExperimentPanel(run, draw, summary, **controls)
