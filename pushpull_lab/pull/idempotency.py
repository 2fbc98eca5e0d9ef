"""Idempotent: a de-duplication store, the piece that turns at-least-once into effectively-once.

A pull queue with ``ack="after"`` delivers every job *at least* once: a worker that crashes
after doing the work but before acknowledging it leaves the job to run again. Nothing in
the queue can prevent that second run. What can be made to happen once is the job's
*effect*, if each effect carries an **idempotency key** and is recorded under that key in
one atomic step::

    ledger = ppl.Idempotent("payments")           # lives in the lab's backend

    async def charge(job):
        await ppl.sleep(0.5)                      # the work
        first = await ledger.apply(job.data["payment_id"], job.data["amount"], by="billing")
        return "charged" if first else "already charged"

:meth:`Idempotent.apply` stores ``value`` under ``key`` only if the key is new (``HSETNX`` on
Redis, a dict on the memory backend) and says whether it did. Storing the value *is* the
effect here, like an ``INSERT`` into a table with a unique key: the check and the effect
cannot be separated by a crash. That is the whole trick, and its limit: an effect outside
the store (an e-mail, a call to another service) has a gap between "send" and "remember
that I sent", and a crash in that gap either repeats it (remember after: at least once) or
loses it (remember before: at most once). So "exactly once" in practice means *effectively
once*: delivered at least once, applied once.

Every call is traced: ``effect`` when the key was new (the effect happened), ``dedupe``
when it was already there (the duplicate delivery was absorbed).
"""

from __future__ import annotations

import json
from typing import Any

from .. import _validate
from ..backends import open_backend
from ..lab import Lab, resolve
from .queue import check_queue_name, to_json


class Idempotent:
    """A named set of idempotency keys, each with the value its effect stored.

    Args:
        name: the store's name (letters, digits, ``_``, ``-``, ``.``); stores with the same
            name in the same lab (or on the same Redis server) share their keys. On Redis the
            keys live in the hash ``ppl:idem:<name>``.
        lab: the lab (its backend and trace); default :func:`~pushpull_lab.current_lab`.
    """

    def __init__(self, name: str, *, lab: Lab | None = None):
        self.lab = resolve(lab, "Idempotent")
        self.name = check_queue_name("Idempotent", "name", name)
        self.key = f"ppl:idem:{name}"
        """The Redis hash holding the keys (Redis backends)."""

    def _memory(self) -> dict[str, str]:
        stores = getattr(self.lab, "_idempotency", None)  # the memory backend: one dict per lab
        if stores is None:
            stores = self.lab._idempotency = {}
        return stores.setdefault(self.name, {})

    def _redis(self) -> Any:
        return None if self.lab.backend == "memory" else open_backend(self.lab).redis

    async def apply(self, key: str, value: Any = True, *, by: str = "consumer") -> bool:
        """Store ``value`` under ``key`` unless the key is already there; True if it was new.

        Args:
            key: the idempotency key (a non-empty string), e.g. a payment id or the job id.
            value: what the effect records (JSON-serialisable), e.g. the amount charged.
            by: who applies it, as the trace shows it.
        """
        where = "Idempotent.apply"
        _validate.name(where, "key", key)
        text = to_json(where, "value", value)
        _validate.name(where, "by", by)
        r = self._redis()
        if r is None:
            store = self._memory()
            new = key not in store
            if new:
                store[key] = text
        else:
            new = bool(await r.hsetnx(self.key, key, text))
        self.lab.trace.record("effect" if new else "dedupe", by, self.name, key)
        return new

    async def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` if the key is new."""
        _validate.name("Idempotent.get", "key", key)
        r = self._redis()
        text = self._memory().get(key) if r is None else await r.hget(self.key, key)
        return default if text is None else json.loads(text)

    async def items(self) -> dict[str, Any]:
        """Every key with its value."""
        r = self._redis()
        stored = dict(self._memory()) if r is None else await r.hgetall(self.key)
        return {k: json.loads(v) for k, v in sorted(stored.items())}

    async def count(self) -> int:
        """How many keys have been applied."""
        r = self._redis()
        return len(self._memory()) if r is None else int(await r.hlen(self.key))

    async def clear(self) -> None:
        """Forget every key (a fresh start in a notebook)."""
        r = self._redis()
        if r is None:
            self._memory().clear()
        else:
            await r.delete(self.key)

    def __repr__(self) -> str:
        return f"Idempotent({self.name!r}, backend={self.lab.backend!r})"
