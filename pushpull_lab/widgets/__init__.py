"""ipywidgets panels. ipywidgets is imported only when a panel is made.

::

    ppl.widgets.experiment(run_fn, draw_fn, subscribers=(1, 10), policy=["block", "drop_oldest"])
"""

from .panel import ExperimentPanel, experiment

__all__ = ["ExperimentPanel", "experiment"]
