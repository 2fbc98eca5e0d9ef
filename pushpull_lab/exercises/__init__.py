"""Self-checks for the notebooks' exercises.

::

    ppl.exercises.check("01.predict-drops", 12)

A check recomputes the right answer by running the lab (never a stored number) and says
what is right or what to look at next. ``ppl.exercises.available()`` lists every exercise.
Each notebook's checks live in their own module (``nb01_push.py`` for ``01_push.ipynb``);
importing them registers them.
"""

from . import (  # noqa: F401  (imported to register their checks)
    nb00_welcome,
    nb01_push,
    nb02_pull,
    nb03_bullmq_workers,
    nb04_queue_events,
    nb05_comparison,
    nb06_use_cases,
    nb07_when_to_use_what,
    nb08_hybrid,
    nb09_protocols,
    nb10_scaling,
    nb11_latency_vs_resources,
    nb12_backpressure,
    nb13_reliability,
    nb14_security,
    nb15_patterns,
    nb16_choosing,
)
from ._core import Verdict, available, check

__all__ = ["Verdict", "available", "check"]
