"""Log and Consumer: a Kafka-like partitioned log with consumer groups, in memory.

::

    log = ppl.Log("orders", partitions=3)
    await log.append({"item": "book"}, key="alice")        # Record(partition=.., offset=0, ..)

    c = ppl.Consumer(log, group="billing")
    records = await c.poll(max_records=100, timeout=1.0)    # waits up to 1 s for new records
    await c.commit()                                        # "billing has read up to here"

How a log differs from a queue: reading does not remove anything. Each record stays in the
log, and each *consumer group* only remembers, per partition, how far it has read (its
committed offset). Any number of groups therefore read the same records independently.

- A log has ``partitions``. Each is an append-only list whose records are numbered by
  *offset* 0, 1, 2, ... Records with the same key always go to the same partition (a
  stable hash of the key), so they stay in order; records without a key take turns.
- In a group, each partition is read by exactly one member. The members share the
  partitions by *range assignment* (members sorted by name, each takes a run of
  consecutive partitions), and the group *rebalances* whenever a member joins or leaves.
- A member that takes over a partition starts at the group's committed offset, so what
  the previous owner read but did not commit is read again: delivery is *at least once*.
  Commit after processing, never before.

Everything is in the trace with the initiator as actor: ``append`` (producer → log),
``poll``, ``consume`` and ``empty_poll`` (consumer → log: the consumer pulls), ``commit``,
``seek``, ``join``, ``leave`` and ``rebalance``. ``trace.latency("append", "consume")`` is
the end-to-end latency.

The group bookkeeping lives in the :class:`Log` object, as a Kafka broker keeps it; this
log is memory-only and belongs to one process.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any

from .. import _validate
from ..lab import Lab, resolve

# -- helpers ----------------------------------------------------------------------------------


def partition_for_key(key: str | bytes | int, partitions: int) -> int:
    """The partition a key goes to: CRC-32 of the key's bytes, modulo ``partitions``.

    Python's own ``hash()`` of a string is salted differently in every process
    (``PYTHONHASHSEED``), so producers in two processes would disagree; CRC-32 does not.
    (Kafka uses murmur2 for the same reason.)
    """
    data = key if isinstance(key, bytes) else str(key).encode()
    return zlib.crc32(data) % partitions


def range_assignment(members: list[str], partitions: int) -> dict[str, list[int]]:
    """Share partitions 0..partitions-1 among members, like Kafka's range assignor.

    Members are sorted by name; each gets a run of consecutive partitions, and the first
    ``partitions % len(members)`` members get one extra. Members beyond the number of
    partitions get none (they stand by until someone leaves)::

        range_assignment(["b", "a", "c"], 5)   # {'a': [0, 1], 'b': [2, 3], 'c': [4]}
    """
    names = sorted(members)
    if not names:
        return {}
    each, extra = divmod(partitions, len(names))
    plan, start = {}, 0
    for i, name in enumerate(names):
        count = each + (1 if i < extra else 0)
        plan[name] = list(range(start, start + count))
        start += count
    return plan


def _check_key(where: str, key: Any) -> None:
    if key is None or isinstance(key, (str, bytes)) or (isinstance(key, int) and not isinstance(key, bool)):
        return
    raise TypeError(f"{where}(key={key!r}): key must be None, a string, bytes or an integer")


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


# -- records and partitions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One record in a log, as appended and as consumers receive it.

    ``id`` is the lab-wide message id (the ``msg`` of its trace events); ``topic`` is the
    log's name; ``(partition, offset)`` is its place in the log.
    """

    id: int
    topic: str
    partition: int
    offset: int
    key: str | bytes | int | None
    value: Any
    appended_at: float


class _Partition:
    """An append-only list of records; ``start`` is the offset of ``records[0]``.

    ``start`` stays 0 unless retention deletes old records. Offsets are never reused.
    """

    __slots__ = ("records", "start")

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.start = 0

    @property
    def end(self) -> int:
        """The offset the next record will get (the "log end offset")."""
        return self.start + len(self.records)

    def read(self, offset: int, count: int) -> list[Record]:
        i = offset - self.start
        return self.records[i : i + count]


class _Group:
    """A consumer group as the log sees it: members, who owns which partition, commits."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[str, Consumer] = {}
        self.owner: dict[int, Consumer] = {}
        self.committed: dict[int, int] = {}
        self.generation = 0


# -- the log ------------------------------------------------------------------------------------


class Log:
    """A named, partitioned, append-only log (a Kafka topic, in memory).

    Args:
        name: the log's name (its ``topic``); a new Log with the same name in the same lab
            replaces (closes) the old one, so re-running a notebook cell is safe.
        partitions: how many partitions (>= 1); the unit of parallelism of a group.
        retention: keep at most this many records per partition, deleting the oldest;
            ``None`` (default) keeps everything. Kafka usually retains by time or size; a
            count is easier to watch in a small demo. A consumer that falls behind the
            oldest kept record skips to it (an ``offset_reset`` event says how many it lost).
        lab: the lab to record into; default :func:`~pushpull_lab.current_lab`.

    ::

        log = ppl.Log("orders", partitions=3)
        rec = await log.append({"total": 12}, key="customer-7")
        rec.partition == log.partition_for("customer-7")     # True, in every process
        log.end_offsets()                                    # {0: 0, 1: 1, 2: 0}
    """

    def __init__(
        self, name: str, *, partitions: int = 1, retention: int | None = None, lab: Lab | None = None
    ):
        self.name = _validate.name("Log", "name", name)
        self.partitions = _validate.integer("Log", "partitions", partitions, minimum=1)
        if retention is not None and (
            isinstance(retention, bool) or not isinstance(retention, int) or retention < 1
        ):
            kind = ValueError if isinstance(retention, int) and not isinstance(retention, bool) else TypeError
            raise kind(
                f"Log(retention={retention!r}): retention must be None or an integer >= 1 "
                "(records kept per partition)"
            )
        self.retention = retention
        self.lab = resolve(lab, "Log")
        self.closed = False
        self._partitions = [_Partition() for _ in range(partitions)]
        self._groups: dict[str, _Group] = {}
        self._round_robin = 0
        self.lab.register("log", self.name, self)

    # -- producing --------------------------------------------------------------------------
    def partition_for(self, key: str | bytes | int) -> int:
        """The partition records with this key go to (stable across processes)."""
        if key is None:
            raise TypeError("Log.partition_for(key=None): key must be a string, bytes or an integer")
        _check_key("Log.partition_for", key)
        return partition_for_key(key, self.partitions)

    async def append(
        self, value: Any, *, key: str | bytes | int | None = None, sender: str = "producer"
    ) -> Record:
        """Append ``value`` and return its :class:`Record`.

        A keyed record goes to :meth:`partition_for` ``(key)``; an unkeyed one to the next
        partition in turn. Consumers waiting in :meth:`Consumer.poll` on that partition
        wake up at once. ``sender`` names the producer in the trace.
        """
        where = "Log.append"
        _check_key(where, key)
        _validate.name(where, "sender", sender)
        if self.closed:
            raise RuntimeError(f"{where}: the log {self.name!r} is closed")
        if key is None:
            p = self._round_robin % self.partitions
            self._round_robin += 1
        else:
            p = partition_for_key(key, self.partitions)
        lab = self.lab
        part = self._partitions[p]
        rec = Record(next(lab.message_ids), self.name, p, part.end, key, value, lab.now())
        part.records.append(rec)
        lab.trace.record("append", sender, self.name, rec.id, partition=p, offset=rec.offset, depth=part.end)
        if self.retention is not None:
            while len(part.records) > self.retention:
                old = part.records.pop(0)
                part.start += 1
                lab.trace.record("expire", self.name, None, old.id, partition=p, offset=old.offset)
        for group in self._groups.values():  # wake whoever reads this partition
            owner = group.owner.get(p)
            if owner is not None:
                owner._wake()
        return rec

    # -- reading the state ------------------------------------------------------------------
    def end_offsets(self) -> dict[int, int]:
        """``{partition: offset the next record will get}``."""
        return {p: part.end for p, part in enumerate(self._partitions)}

    def start_offsets(self) -> dict[int, int]:
        """``{partition: offset of the oldest record kept}`` (0 unless retention deleted some)."""
        return {p: part.start for p, part in enumerate(self._partitions)}

    def records(self, partition: int) -> list[Record]:
        """The records kept in one partition, oldest first."""
        return list(self._partitions[self._check_partition("Log.records", partition)].records)

    @property
    def groups(self) -> list[str]:
        """Names of the consumer groups that have joined this log."""
        return list(self._groups)

    def committed(self, group: str) -> dict[int, int]:
        """``{partition: committed offset}`` of a group (partitions it never committed are absent)."""
        return dict(self._group("Log.committed", group).committed)

    def lag(self, group: str) -> dict[int, int]:
        """``{partition: end offset - committed offset}``: how far behind the group is.

        A partition the group never committed counts from its oldest record.
        """
        g = self._group("Log.lag", group)
        return {p: part.end - g.committed.get(p, part.start) for p, part in enumerate(self._partitions)}

    def assignment(self, group: str) -> dict[str, list[int]]:
        """``{member name: [partitions]}`` of a group right now."""
        g = self._group("Log.assignment", group)
        return {name: member.assignment for name, member in sorted(g.members.items())}

    def _group(self, where: str, group: Any) -> _Group:
        _validate.name(where, "group", group)
        if group not in self._groups:
            known = ", ".join(repr(g) for g in self._groups) or "none yet"
            raise ValueError(
                f"{where}(group={group!r}): group must be a consumer group of log {self.name!r} "
                f"(groups: {known})"
            )
        return self._groups[group]

    def _check_partition(self, where: str, partition: Any) -> int:
        _validate.integer(where, "partition", partition)
        if not 0 <= partition < self.partitions:
            raise ValueError(
                f"{where}(partition={partition!r}): partition must be an integer from 0 to "
                f"{self.partitions - 1} (log {self.name!r} has {self.partitions} partitions)"
            )
        return partition

    # -- the group coordinator --------------------------------------------------------------
    def _join(self, consumer: Consumer) -> _Group:
        group = self._groups.get(consumer.group)
        if group is None:
            group = self._groups[consumer.group] = _Group(consumer.group)
        old = group.members.get(consumer.name)
        if old is not None:  # same name in the same group: the new one replaces the old
            old._close_now()
        group.members[consumer.name] = consumer
        self.lab.trace.record("join", consumer.name, self.name, None, group=group.name)
        self._rebalance(group, consumer, "join")
        return group

    def _leave(self, consumer: Consumer) -> None:
        group = self._groups[consumer.group]
        if group.members.get(consumer.name) is not consumer:
            return
        del group.members[consumer.name]
        self.lab.trace.record("leave", consumer.name, self.name, None, group=group.name)
        if not self.closed:
            self._rebalance(group, consumer, "leave")

    def _rebalance(self, group: _Group, trigger: Consumer, reason: str) -> None:
        """Share the partitions out again and tell every member (Kafka's "eager" protocol)."""
        group.generation += 1
        plan = range_assignment(list(group.members), self.partitions)
        group.owner = {}
        for name, partitions in plan.items():
            member = group.members[name]
            member._assign(partitions, group.generation)
            for p in partitions:
                group.owner[p] = member
        self.lab.trace.record(
            "rebalance",
            trigger.name,
            self.name,
            None,
            group=group.name,
            generation=group.generation,
            reason=reason,
            assignment=plan,
        )
        for member in group.members.values():  # a waiting poll may now have new partitions
            member._wake()

    # -- closing ----------------------------------------------------------------------------
    async def close(self) -> None:
        """Close the log and every consumer of it; waiting polls return ``[]`` at once."""
        self._close_now()

    def _close_now(self) -> None:
        if self.closed:
            return
        self.closed = True
        for group in self._groups.values():
            for member in list(group.members.values()):
                member._close_now()
        self.lab.unregister("log", self.name, self)

    def __repr__(self) -> str:
        sizes = [len(part.records) for part in self._partitions]
        state = ", closed" if self.closed else ""
        return (
            f"Log({self.name!r}, partitions={self.partitions}, records={sizes}, groups={self.groups}{state})"
        )


# -- the consumer -------------------------------------------------------------------------------


class Consumer:
    """A member of a consumer group that pulls records from a :class:`Log`.

    Args:
        log: the log to read.
        group: the consumer group; members of one group share the partitions, different
            groups each read every record.
        name: the member's name in the trace and in the assignment order; default
            ``"<group>-1"``, ``"<group>-2"``, ... A new consumer with the same name in the same
            group of the same log replaces (closes) the old one.
        lab: must be the log's lab (the default).

    Creating a consumer joins the group, which rebalances at once; ``assignment`` lists
    this member's partitions. Its position in a newly assigned partition is the group's
    committed offset, or the oldest record if the group never committed there::

        c = ppl.Consumer(log, group="billing", name="billing-a")
        while True:
            for rec in await c.poll(max_records=100, timeout=1.0):
                handle(rec.value)
            await c.commit()          # only now are these records done for the group
    """

    def __init__(self, log: Log, *, group: str, name: str | None = None, lab: Lab | None = None):
        where = "Consumer"
        if not isinstance(log, Log):
            raise TypeError(f"{where}(log={log!r}): log must be a pushpull_lab.Log")
        self.group = _validate.name(where, "group", group)
        self.name = log.lab.next_id(group) if name is None else _validate.name(where, "name", name)
        if lab is not None and resolve(lab, where) is not log.lab:
            raise ValueError(f"{where}(lab={lab!r}): lab must be the lab of log {log.name!r} (or None)")
        if log.closed:
            raise RuntimeError(f"{where}: the log {log.name!r} is closed")
        self.log = log
        self.lab = log.lab
        self.closed = False
        self.generation = 0
        self._positions: dict[int, int] = {}  # assigned partition -> next offset to read
        self._wakeup: asyncio.Future | None = None
        self._polling = False
        self._turn = 0  # which assigned partition a poll reads first (so none starves)
        # The registry key includes log and group: "c1" in two groups are two consumers.
        self._key = f"{log.name}/{group}/{self.name}"
        self.lab.register("consumer", self._key, self)
        self._group = log._join(self)

    # -- assignment and positions -------------------------------------------------------------
    @property
    def assignment(self) -> list[int]:
        """This member's partitions, in order."""
        return list(self._positions)

    def position(self, partition: int) -> int:
        """The offset of the next record this consumer will read from ``partition``."""
        return self._positions[self._check_assigned("Consumer.position", partition)]

    def seek(self, partition: int, offset: int) -> None:
        """Make the next poll read ``partition`` from ``offset`` (back to replay, ahead to skip)."""
        where = "Consumer.seek"
        self._check_open(where)
        self._check_assigned(where, partition)
        end = self.log._partitions[partition].end
        _validate.integer(where, "offset", offset)
        if not 0 <= offset <= end:
            raise ValueError(
                f"{where}(offset={offset!r}): offset must be an integer from 0 to {end} "
                f"(the end offset of partition {partition})"
            )
        self._positions[partition] = offset
        self.lab.trace.record(
            "seek", self.name, self.log.name, None, group=self.group, partition=partition, offset=offset
        )
        self._wake()

    def _check_assigned(self, where: str, partition: Any) -> int:
        self.log._check_partition(where, partition)
        if partition not in self._positions:
            raise ValueError(
                f"{where}(partition={partition!r}): partition must be one of this consumer's "
                f"assigned partitions {self.assignment} (the group {self.group!r} gave "
                f"partition {partition} to another member or to nobody)"
            )
        return partition

    def _assign(self, partitions: list[int], generation: int) -> None:
        """Called by the log at a rebalance.

        A partition this member keeps keeps its position; a new one starts at the group's
        committed offset (what an earlier owner read without committing is read again).
        """
        group = self.log._groups[self.group]
        positions = {}
        for p in partitions:
            if p in self._positions:
                positions[p] = self._positions[p]
            else:
                positions[p] = group.committed.get(p, self.log._partitions[p].start)
        self._positions = positions
        self.generation = generation

    # -- pulling ------------------------------------------------------------------------------
    async def poll(self, max_records: int = 100, timeout: float = 1.0) -> list[Record]:
        """Return up to ``max_records`` new records from this member's partitions.

        If there are none yet, wait up to ``timeout`` seconds on the lab clock (a *long
        poll*): the poll returns as soon as a record is appended to one of its partitions,
        or ``[]`` when the time is up, the group gives it nothing, or it is closed.
        ``timeout=0`` never waits. Per partition, records come in offset order.
        """
        where = "Consumer.poll"
        _validate.integer(where, "max_records", max_records, minimum=1)
        timeout = _validate.number(where, "timeout", timeout, minimum=0)
        self._check_open(where)
        if self._polling:
            raise RuntimeError(
                f"{where}: consumer {self.name!r} is already polling; use one task per consumer "
                "(or one Consumer per task)"
            )
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + timeout
        self._polling = True
        try:
            records = self._take(max_records)
            while not records and not self.closed and loop.time() < deadline:
                await self._wait(deadline)
                records = self._take(max_records)
        finally:
            self._polling = False
        record = self.lab.trace.record
        waited = loop.time() - started
        if not records:
            record("empty_poll", self.name, self.log.name, None, group=self.group, waited=waited)
            return records
        record("poll", self.name, self.log.name, None, group=self.group, count=len(records), waited=waited)
        for rec in records:
            record(
                "consume",
                self.name,
                self.log.name,
                rec.id,
                group=self.group,
                partition=rec.partition,
                offset=rec.offset,
            )
        return records

    def _take(self, max_records: int) -> list[Record]:
        """Read from the assigned partitions, starting with a different one each time."""
        partitions = list(self._positions)
        if not partitions:
            return []
        first = self._turn % len(partitions)
        self._turn += 1
        out: list[Record] = []
        for p in partitions[first:] + partitions[:first]:
            room = max_records - len(out)
            if room == 0:
                break
            part = self.log._partitions[p]
            position = self._positions[p]
            if position < part.start:  # retention deleted records this group never read
                self.lab.trace.record(
                    "offset_reset",
                    self.name,
                    self.log.name,
                    None,
                    group=self.group,
                    partition=p,
                    offset=position,
                    reset_to=part.start,
                    skipped=part.start - position,
                )
                position = part.start
            batch = part.read(position, room)
            out.extend(batch)
            self._positions[p] = position + len(batch)
        return out

    async def _wait(self, deadline: float) -> None:
        """Sleep until :meth:`_wake` (an append, a rebalance, a seek, close) or the deadline."""
        loop = asyncio.get_running_loop()
        self._wakeup = loop.create_future()
        timer = loop.call_at(deadline, _resolve, self._wakeup)
        try:
            await self._wakeup
        finally:
            timer.cancel()
            self._wakeup = None

    def _wake(self) -> None:
        if self._wakeup is not None:
            _resolve(self._wakeup)

    # -- committing ---------------------------------------------------------------------------
    async def commit(self) -> dict[int, int]:
        """Commit this member's positions for the group and return them.

        The committed offset of a partition is where the group resumes when the partition
        moves to another member (or this consumer is replaced). Records read but not
        committed are read again after a rebalance.
        """
        self._check_open("Consumer.commit")
        offsets = dict(self._positions)
        self._group.committed.update(offsets)
        self.lab.trace.record("commit", self.name, self.log.name, None, group=self.group, offsets=offsets)
        return offsets

    # -- closing ------------------------------------------------------------------------------
    def _check_open(self, where: str) -> None:
        if self.closed:
            raise RuntimeError(f"{where}: consumer {self.name!r} is closed")

    async def close(self) -> None:
        """Leave the group (which rebalances). Does not commit: call :meth:`commit` first."""
        self._close_now()

    def _close_now(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.log._leave(self)
        self._positions = {}
        self.lab.unregister("consumer", self._key, self)
        self._wake()  # a waiting poll returns [] now

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"assignment={self.assignment}"
        return f"Consumer({self.name!r}, log={self.log.name!r}, group={self.group!r}, {state})"
