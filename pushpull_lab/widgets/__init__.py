"""ipywidgets panels. ipywidgets is imported only when a panel is made.

::

    ppl.widgets.experiment(run_fn, draw_fn, subscribers=(1, 10), policy=["block", "drop_oldest"])
    ppl.widgets.monitor()          # live: depths, in flight, rates, drops of a real-time lab
    ppl.widgets.replay(run)        # Play + slider scrubbing through a recorded run
    ppl.widgets.job_progress("video")  # live: job rows filled by pushed QueueEvents
"""

from .monitor import LiveMonitor, monitor
from .panel import ExperimentPanel, experiment
from .progress import JobProgress, job_progress
from .replay import TraceReplay, replay

__all__ = [
    "ExperimentPanel",
    "JobProgress",
    "LiveMonitor",
    "TraceReplay",
    "experiment",
    "job_progress",
    "monitor",
    "replay",
]
