"""Redraw the figures the README shows, from the lab itself: python docs/make_figures.py"""

import pathlib

from pushpull_lab import scenarios, viz

OUT = pathlib.Path(__file__).parent / "figures"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    run = scenarios.slow_subscriber(overflow="drop_newest")
    fig = viz.timeline(
        run.trace,
        until=1.5,
        title="Push: every arrow starts at the producer side; the slow phone's buffer overflows (×)",
    )
    fig.savefig(OUT / "push-timeline.png", dpi=90)


if __name__ == "__main__":
    main()
