"""Pull primitives: the consumer initiates every transfer.

:class:`Queue` stores jobs, :class:`Worker` pulls and processes them (blocking or
:class:`Poll`), :class:`QueueEvents` turns the queue's event log back into push
notifications.
"""

from .events import EVENTS, QueueEvent, QueueEvents
from .http_polling import PolledEvent, PollingClient, PollingServer
from .idempotency import Idempotent
from .queue import Job, Queue
from .worker import Poll, Worker

__all__ = [
    "EVENTS",
    "Idempotent",
    "Job",
    "Poll",
    "PolledEvent",
    "PollingClient",
    "PollingServer",
    "Queue",
    "QueueEvent",
    "QueueEvents",
    "Worker",
]
