"""One look for every figure: the Okabe–Ito colour-blind-safe palette, titles, units."""

from __future__ import annotations

import io
from typing import Any

# Okabe & Ito (2008): distinguishable with every common form of colour blindness.
PALETTE = {
    "push": "#0072B2",  # blue
    "pull": "#D55E00",  # vermillion
    "other": "#999999",  # grey
    "drop": "#CC79A7",  # reddish purple
    "error": "#000000",
    "series": ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"],
}


def new_figure(width: float = 8.0, height: float = 3.6, **kwargs: Any):
    """A pyplot-free Figure with one Axes, sized in inches."""
    from matplotlib.figure import Figure

    _show_figures_in_ipython(Figure)
    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    return fig, fig.add_subplot()


def _show_figures_in_ipython(figure_class: type) -> None:
    # The inline backend registers its PNG formatter only once pyplot is imported; these
    # figures avoid pyplot (no global state to leak when a panel redraws), so register it.
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    if figure_class not in png.type_printers:
        png.for_type(figure_class, lambda fig: to_png(fig, dpi=100))


def series_colour(i: int) -> str:
    return PALETTE["series"][i % len(PALETTE["series"])]


def to_png(fig, dpi: int = 90) -> bytes:
    """Render a Figure to PNG bytes (for an ``ipywidgets.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
