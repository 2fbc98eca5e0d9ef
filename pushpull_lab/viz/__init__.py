"""Figures drawn from a trace. matplotlib is imported only when a figure is drawn.

::

    fig = ppl.viz.timeline(run.trace)        # who initiated each exchange
    fig = ppl.viz.depth(run.trace, ["slow"])  # how a buffer filled up
    fig = ppl.viz.latency({"push": run1.trace, "poll 1 s": run2.trace})

Each function returns a ``matplotlib.figure.Figure`` (not pyplot), so figures never pile up
in pyplot's global state when a widget redraws them; :func:`to_png` turns one into bytes.
"""

from .depth import depth
from .latency import latency
from .style import PALETTE, to_png
from .timeline import timeline

__all__ = ["PALETTE", "depth", "latency", "timeline", "to_png"]
