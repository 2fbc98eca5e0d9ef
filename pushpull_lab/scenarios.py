"""Small ready-made experiments shared by notebooks, panels and exercise checks.

Each returns a :class:`~pushpull_lab.Run` from virtual time, so its numbers are exact and
the same on every machine::

    run = scenarios.slow_subscriber(buffer=5, overflow="drop_newest")
    run.value        # {'published': 30, 'fast': {...}, 'slow': {...}, 'publisher_waited': 0.0}
"""

from __future__ import annotations

from . import _validate
from .clock import Run, simulate, sleep
from .errors import BufferFullError
from .push.pubsub import OVERFLOW_POLICIES, PubSub


def slow_subscriber(
    *,
    messages: int = 30,
    interval: float = 0.1,
    handling: float = 0.25,
    buffer: int = 5,
    overflow: str = "drop_newest",
    seed: int = 0,
) -> Run:
    """A publisher sends ``messages`` every ``interval`` s to a fast and a slow subscriber.

    The fast one handles each message instantly; the slow one takes ``handling`` s each,
    with a buffer of ``buffer`` messages and the given ``overflow`` policy. ``run.value``
    counts, per subscriber, what was delivered, dropped and still pending at the end of
    publishing, how long the publisher was held up in total, and how many times it was told
    a buffer was full (``overflow="error"``).
    """
    where = "slow_subscriber"
    _validate.integer(where, "messages", messages, minimum=1)
    _validate.number(where, "interval", interval, minimum=0)
    _validate.number(where, "handling", handling, minimum=0)
    _validate.integer(where, "buffer", buffer, minimum=1)
    _validate.choice(where, "overflow", overflow, OVERFLOW_POLICIES)

    async def main(lab):
        bus = PubSub("scores")

        async def slow_handler(message):
            await sleep(handling)

        fast = bus.subscribe("match.*", lambda m: None, name="scoreboard")
        slow = bus.subscribe("match.*", slow_handler, buffer=buffer, overflow=overflow, name="slow-phone")
        refused = 0
        for i in range(messages):
            try:
                await bus.publish(f"match.{i % 3}", {"goal": i}, sender="stadium")
            except BufferFullError:  # overflow="error": the publisher is told, counts it, goes on
                refused += 1
            await sleep(interval)
        at_end = {"fast": _counts(fast), "slow": _counts(slow)}
        await bus.join()
        waited = sum(row["waited"] for row in lab.trace.filter(kind="blocked").to_rows())
        return {
            "published": messages,
            "buffer": buffer,
            **at_end,
            "publisher_waited": round(waited, 9),
            "publisher_errors": refused,
        }

    return simulate(main, seed=seed)


def _counts(sub) -> dict[str, int]:
    return {"delivered": sub.delivered, "dropped": sub.dropped, "pending": sub.pending}
