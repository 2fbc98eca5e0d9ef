"""Short polling and long polling: the consumer keeps asking.

Both work over any *source* with ``async poll(max_records, timeout) -> list`` — a
:class:`~pushpull_lab.Consumer` of a :class:`~pushpull_lab.Log`, or your own class::

    consumer = ppl.Consumer(log, group="app")
    task = asyncio.create_task(ppl.short_poll(consumer, show, interval=1.0))
    ...
    task.cancel()

**Short polling** asks every ``interval`` seconds and gets whatever has arrived since — or
nothing, an *empty poll*: a request that cost a round trip and brought no data. A record
waits on average half an interval before anyone asks for it.

**Long polling** asks once and the source *holds* the request until a record arrives (or
``hold`` seconds pass): the answer comes the moment there is data, and an idle consumer
costs one request per ``hold`` seconds. The consumer still initiates every exchange — it is
pull — but its latency is close to push.

The source traces what happens (``poll``, ``consume``, ``empty_poll``); a handler that
raises ends the polling task with that exception, so it is never lost.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .. import _validate
from ..clock import sleep


def _check(where: str, source: Any, handle: Callable, max_records: int) -> None:
    if not callable(getattr(source, "poll", None)):
        raise TypeError(
            f"{where}(source={source!r}): source must have an async poll(max_records, timeout) "
            "method, like a pushpull_lab.Consumer"
        )
    _validate.function(where, "handle", handle)
    _validate.integer(where, "max_records", max_records, minimum=1)


async def _handle_all(records: list, handle: Callable) -> None:
    for record in records:
        result = handle(record)
        if inspect.isawaitable(result):
            await result


async def short_poll(source: Any, handle: Callable, *, interval: float, max_records: int = 100) -> None:
    """Ask ``source`` every ``interval`` seconds and ``handle`` each record; runs until cancelled."""
    _check("short_poll", source, handle, max_records)
    _validate.number("short_poll", "interval", interval, positive=True)
    while True:
        await _handle_all(await source.poll(max_records=max_records, timeout=0), handle)
        await sleep(interval)


async def long_poll(source: Any, handle: Callable, *, hold: float = 30.0, max_records: int = 100) -> None:
    """Ask ``source`` and let it hold each request up to ``hold`` seconds; runs until cancelled."""
    _check("long_poll", source, handle, max_records)
    _validate.number("long_poll", "hold", hold, positive=True)
    while True:
        await _handle_all(await source.poll(max_records=max_records, timeout=hold), handle)
