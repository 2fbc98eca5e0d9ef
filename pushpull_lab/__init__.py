"""pushpull-lab: learn push vs pull messaging by running it.

::

    import pushpull_lab as ppl

    async def main(lab):
        bus = ppl.PubSub("scores")
        bus.subscribe("match.*", lambda m: None, name="scoreboard")
        await bus.publish("match.1", {"home": 1})
        await bus.join()

    run = ppl.simulate(main, seed=1)       # deterministic virtual time
    run.trace.counts()

Importing this package is light: matplotlib, ipywidgets and redis load only when a figure,
a widget or a Redis backend is first used.
"""

from .clock import Run, VirtualTimeLoop, simulate, sleep
from .errors import BackgroundTaskError, BufferFullError, DeadlockError, LabError, VirtualTimeError
from .flow import CreditChannel, PrefetchConsumer, PrefetchQueue
from .lab import Lab, current_lab, use_lab
from .pull import Idempotent, Job, Poll, PollingClient, PollingServer, Queue, QueueEvents, Worker
from .pull.log import Consumer, Log, Record
from .pull.poller import long_poll, short_poll
from .push import (
    Broker,
    ConflatingSubscriber,
    DestinationPolicy,
    EventEmitter,
    Message,
    MqttClient,
    PubSub,
    SSEClient,
    SSEServer,
    Subscription,
    WebhookReceiver,
    WebhookSender,
    WebhookVerifier,
    WebSocketClient,
    WebSocketServer,
)
from .trace import Event, Stats, Trace

__version__ = "0.1.0"

__all__ = [
    "BackgroundTaskError",
    "Broker",
    "BufferFullError",
    "ConflatingSubscriber",
    "Consumer",
    "CreditChannel",
    "DeadlockError",
    "DestinationPolicy",
    "Event",
    "EventEmitter",
    "Idempotent",
    "Job",
    "Lab",
    "LabError",
    "Log",
    "Message",
    "MqttClient",
    "Poll",
    "PollingClient",
    "PollingServer",
    "PrefetchConsumer",
    "PrefetchQueue",
    "PubSub",
    "Queue",
    "QueueEvents",
    "Record",
    "Run",
    "SSEClient",
    "SSEServer",
    "Stats",
    "Subscription",
    "Trace",
    "VirtualTimeError",
    "VirtualTimeLoop",
    "WebSocketClient",
    "WebSocketServer",
    "WebhookReceiver",
    "WebhookSender",
    "WebhookVerifier",
    "Worker",
    "__version__",
    "current_lab",
    "long_poll",
    "short_poll",
    "simulate",
    "sleep",
    "use_lab",
]


_LAZY_SUBMODULES = (
    "viz",
    "widgets",
    "exercises",
    "redis_server",
    "advisor",
    "capstone",
    "doctor",
    "tenants",
    "theory",
)


def __getattr__(name):
    # ppl.viz, ppl.widgets and ppl.exercises import matplotlib / ipywidgets: load on first use.
    if name in _LAZY_SUBMODULES:
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'pushpull_lab' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """``%load_ext pushpull_lab``: the ``%pushpull`` and ``%%simulate`` magics, rich displays, cleanup."""
    from .extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext pushpull_lab``: close every live primitive, remove the magics and hooks."""
    from .extension import unload_ipython_extension as unload

    unload(ipython)
