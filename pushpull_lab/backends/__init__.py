"""Storage backends: one interface (:class:`Storage`), three implementations.

``lab.backend`` names one: ``"memory"`` (:class:`MemoryStorage`, the default),
``"fakeredis"`` or a Redis URL (both :class:`~pushpull_lab.backends.redis.RedisStorage`).
:func:`open_backend` makes the lab's storage the first time a queue, worker or event reader
needs it, and keeps it on the lab::

    storage = open_backend(lab)                 # inside async code
    await storage.counts("video")               # {'waiting': 3, ...}
    storage.redis                               # the redis.asyncio client (Redis backends)

``redis`` and ``fakeredis`` are imported only here, on first use: ``import pushpull_lab``
stays light.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .base import STATES, Fetched, LockLostError, Storage
from .memory import MemoryStorage
from .shared_time import SharedTimeStorage

__all__ = ["STATES", "Fetched", "LockLostError", "MemoryStorage", "Storage", "open_backend"]


def open_backend(lab: Any) -> Storage:
    """The storage of ``lab``'s backend, made on first use; call it inside async code.

    The memory store lives as long as the lab. A Redis client belongs to the event loop
    that made it, so a new loop (a new :func:`~pushpull_lab.simulate` run, another
    ``asyncio.run``) gets a new client; the data stays where it is (on the server, or in the
    lab's fake server for ``"fakeredis"``).
    """
    if lab.backend == "memory":
        storage = getattr(lab, "_pull_storage", None)
        if storage is None:
            storage = lab._pull_storage = MemoryStorage()
        return storage
    loop = asyncio.get_running_loop()
    cached = getattr(lab, "_pull_storage", None)
    if cached is not None and cached[0] is loop:
        return cached[1]
    from .redis import RedisStorage

    if lab.backend == "fakeredis":
        import fakeredis

        server = getattr(lab, "_fake_redis_server", None)
        if server is None:
            server = lab._fake_redis_server = fakeredis.FakeServer()
            _serve_blocked_clients_in_order(server)
        client = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
        storage = RedisStorage(client, kind="fakeredis")
    else:
        import redis.asyncio

        client = redis.asyncio.from_url(lab.backend, decode_responses=True)
        storage = RedisStorage(client, kind="redis")
    if not lab.virtual:  # other processes may share this store: put its times on one timeline
        storage = SharedTimeStorage(storage, lab.epoch_at_start)
    lab._pull_storage = (loop, storage)
    return storage


class _FirstComeFirstServed(dict):
    """An insertion-ordered stand-in for the set fakeredis keeps blocked clients in."""

    def add(self, callback: Any) -> None:
        self[callback] = None

    def remove(self, callback: Any) -> None:
        del self[callback]

    def __iter__(self):
        return iter(list(self.keys()))


def _serve_blocked_clients_in_order(server: Any) -> None:
    """Wake blocked clients in the order they blocked, as Redis does.

    fakeredis keeps the callbacks of blocked clients in a ``set``, so which of several
    workers blocked on the same key wakes first would depend on memory addresses, and two
    virtual-time runs with the same seed could differ. If a fakeredis version stores them
    differently, this does nothing (runs stay correct, only the tie order may vary).
    """
    db = server.dbs[0]
    if type(getattr(db, "_change_callbacks", None)) is set and not db._change_callbacks:
        db._change_callbacks = _FirstComeFirstServed()
