"""Tenant isolation for queues: a namespace per tenant in code, and an ACL user per tenant in Redis.

Many customers ("tenants") share one queue system. Two layers keep them apart::

    from pushpull_lab import tenants

    acme, globex = tenants.Tenant("acme"), tenants.Tenant("globex")
    emails = acme.queue("emails")                  # the Queue 'acme.emails'
    await emails.add("welcome", {"to": "ada@acme.example"})
    acme.worker("emails", send)                    # pulls from 'acme.emails' only
    acme.check(globex.queue("emails"))             # TenantAccessError: it belongs to 'globex'

    # On a real Redis server (the admin connection creates one ACL user per tenant):
    creds = tenants.create_redis_user("redis://127.0.0.1:6379/0", "acme")
    lab = ppl.Lab(backend=creds.url)               # connects *as* tenant-acme
    # ... its Queue('globex.emails') gets NOPERM from Redis itself
    tenants.remove_redis_user("redis://127.0.0.1:6379/0", "acme")

**Layer 1, in code** (:class:`Tenant`): every queue a tenant uses is named
``<tenant>.<queue>`` — so its Redis keys are ``ppl:<tenant>.<queue>:*`` (see
:mod:`pushpull_lab.backends.redis`). A tenant's own queue names may not contain ``.``, so a
full name always splits one way, and :meth:`Tenant.check` refuses a queue, worker or name of
another tenant *at the call* (:class:`TenantAccessError`). This catches mistakes in the
application; it cannot stop code that builds ``ppl.Queue("globex.emails")`` by hand.

**Layer 2, in the store** (:func:`create_redis_user`): on a real Redis server each tenant
connects as its own ACL user, created by :func:`acl_rules`::

    ACL SETUSER tenant-acme reset on >PASSWORD ~ppl:acme.* resetchannels
                            +@all -@dangerous -script|flush -script|kill -function

It may touch only keys matching ``ppl:acme.*`` (Redis checks this for every command, and for
every key a Lua script touches), no Pub/Sub channel, and no dangerous or server-wide command
(``FLUSHALL``, ``KEYS``, ``CONFIG``, ``CLIENT KILL``, ``SCRIPT FLUSH`` …). Whatever the code
does, a command on ``ppl:globex.*`` from acme's connection fails with ``NOPERM``. What it
still allows: ``SCAN`` lists key *names* of every tenant (``Queue.obliterate`` needs it; the
values stay out of reach) and it shares the server's memory and CPU — noisy neighbours need
limits elsewhere (``maxmemory``, separate servers).

Tenant names: lower-case letters, digits, ``_`` and ``-`` (they appear in key patterns and
user names, where ``.``, ``*``, ``?`` or ``[`` would widen the pattern).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from .errors import LabError
from .lab import Lab, resolve

SEPARATOR = "."
"""Between the tenant and its own queue name: ``acme.emails``."""
_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_LOCAL = re.compile(r"[A-Za-z0-9_-]+")
USER_PREFIX = "tenant-"
"""Redis ACL user names are ``tenant-<tenant>``."""


class TenantAccessError(LabError, PermissionError):
    """A tenant reached for a queue (or a name) that belongs to another tenant, or to nobody."""


def check_tenant(where: str, param: str, tenant: Any) -> str:
    """``tenant`` if it is a valid tenant name, else a ValueError naming ``param``."""
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
        raise ValueError(
            f"{where}({param}={tenant!r}): {param} must be 1-63 lower-case letters, digits, '_' or '-', "
            "starting with a letter or digit (it becomes part of Redis key patterns and ACL user names)"
        )
    return tenant


def tenant_of(queue_name: str) -> str | None:
    """The tenant a full queue name belongs to (``'acme.emails'`` -> ``'acme'``), or None."""
    tenant, sep, local = queue_name.partition(SEPARATOR)
    if sep and local and _TENANT.fullmatch(tenant):
        return tenant
    return None


def key_pattern(tenant: str) -> str:
    """The Redis key pattern of every key of ``tenant``'s queues: ``ppl:<tenant>.*``."""
    return f"ppl:{check_tenant('key_pattern', 'tenant', tenant)}{SEPARATOR}*"


class Tenant:
    """One tenant's view of the queue system: its queues and workers, and nobody else's.

    Args:
        name: the tenant (lower-case letters, digits, ``_``, ``-``).
        lab: the lab its queues and workers use; default :func:`~pushpull_lab.current_lab`.
    """

    def __init__(self, name: str, *, lab: Lab | None = None):
        self.name = check_tenant("Tenant", "name", name)
        self.lab = resolve(lab, "Tenant")

    def queue_name(self, local: str) -> str:
        """The full name of this tenant's queue ``local``: ``'<tenant>.<local>'``."""
        where = f"Tenant({self.name!r}).queue_name"
        if not isinstance(local, str) or not local:
            raise ValueError(f"{where}(local={local!r}): give the tenant's own queue name, such as 'emails'")
        if SEPARATOR in local:
            owner = tenant_of(local)
            whose = f"; it looks like the queue of tenant {owner!r}" if owner and owner != self.name else ""
            raise TenantAccessError(
                f"{where}(local={local!r}): a tenant names only its own queues, without '{SEPARATOR}' "
                f"(the tenant separator){whose}. Tenant {self.name!r} reaches '{self.name}{SEPARATOR}<queue>' only."
            )
        if not _LOCAL.fullmatch(local):
            raise ValueError(f"{where}(local={local!r}): a queue name is letters, digits, '_' or '-'")
        return f"{self.name}{SEPARATOR}{local}"

    def owns(self, target: Any) -> bool:
        """True if ``target`` (a full queue name, a Queue, a Worker or QueueEvents) is this tenant's."""
        name = _queue_name_of(target)
        return name is not None and tenant_of(name) == self.name

    def check(self, target: Any) -> Any:
        """Return ``target`` if this tenant owns it; else raise :class:`TenantAccessError` saying whose it is."""
        if self.owns(target):
            return target
        name = _queue_name_of(target)
        owner = None if name is None else tenant_of(name)
        whose = f"it belongs to tenant {owner!r}" if owner else "it belongs to no tenant"
        raise TenantAccessError(
            f"Tenant({self.name!r}).check({name or target!r}): refused, {whose}; "
            f"tenant {self.name!r} may use only queues named '{self.name}{SEPARATOR}<queue>'"
        )

    def queue(self, local: str) -> Any:
        """This tenant's :class:`~pushpull_lab.Queue` ``local`` (named ``<tenant>.<local>``)."""
        from .pull.queue import Queue

        return Queue(self.queue_name(local), lab=self.lab)

    def worker(self, local: str, processor: Any, **options: Any) -> Any:
        """A :class:`~pushpull_lab.Worker` on this tenant's queue ``local``.

        ``options`` are the Worker's; a ``dead_letter`` queue is namespaced too, and the
        worker's default name is ``<tenant>-worker``.
        """
        from .pull.worker import Worker

        if options.get("dead_letter") is not None:
            options["dead_letter"] = self.queue_name(options["dead_letter"])
        options.setdefault("name", f"{self.name}-worker")
        return Worker(self.queue_name(local), processor, lab=self.lab, **options)

    def queue_events(self, local: str, **options: Any) -> Any:
        """A :class:`~pushpull_lab.QueueEvents` on this tenant's queue ``local``."""
        from .pull.events import QueueEvents

        return QueueEvents(self.queue_name(local), lab=self.lab, **options)

    def __repr__(self) -> str:
        return f"Tenant({self.name!r}, queues '{self.name}{SEPARATOR}*')"


def _queue_name_of(target: Any) -> str | None:
    if isinstance(target, str):
        return target
    for attribute in ("queue_name", "name"):  # Worker/QueueEvents have queue_name; Queue has name
        value = getattr(target, attribute, None)
        if isinstance(value, str):
            return value
    return None


# -- Redis ACL users ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RedisTenantUser:
    """A tenant's Redis user: ``username``, ``password`` and ``url`` (the server URL logged in as it)."""

    tenant: str
    username: str
    password: str
    url: str

    def __repr__(self) -> str:  # never print the password
        return f"RedisTenantUser(tenant={self.tenant!r}, username={self.username!r}, password='***')"


def acl_rules(tenant: str, password: str) -> list[str]:
    """The ``ACL SETUSER`` rules for ``tenant``: its own keys only, no channels, nothing dangerous."""
    check_tenant("acl_rules", "tenant", tenant)
    if not isinstance(password, str) or len(password) < 16 or any(c.isspace() for c in password):
        raise ValueError(
            "acl_rules(password=...): password must be a string of >= 16 characters without spaces"
        )
    return [
        "reset",  # start from nothing: re-creating a user never keeps old rights
        "on",
        f">{password}",
        f"~{key_pattern(tenant)}",
        "resetchannels",  # no Pub/Sub channel of anyone
        "+@all",
        "-@dangerous",  # FLUSHALL, FLUSHDB, KEYS, CONFIG, CLIENT KILL, DEBUG, ACL ...
        "-script|flush",  # server-wide: would drop every tenant's cached scripts
        "-script|kill",
        "-function",  # functions are server-wide too (the lab does not use them)
    ]


def _admin(where: str, url: Any) -> Any:
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://")):
        raise ValueError(f"{where}(url={url!r}): url must be a redis:// URL of a real Redis server (>= 6)")
    import redis

    return redis.Redis.from_url(url, decode_responses=True)


def tenant_url(url: str, username: str, password: str) -> str:
    """``url`` with ``username:password@`` in it (any credentials already there are replaced)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    return parts._replace(netloc=netloc).geturl()


def create_redis_user(url: str, tenant: str, password: str | None = None) -> RedisTenantUser:
    """Create (or reset) the ACL user ``tenant-<tenant>`` on the Redis server at ``url``.

    ``url`` is an admin connection (it may run ``ACL SETUSER``). Returns the user with a
    :attr:`~RedisTenantUser.url` to give the tenant, e.g. ``ppl.Lab(backend=user.url)``.
    ``password``: default a random 32-character token.
    """
    where = "create_redis_user"
    check_tenant(where, "tenant", tenant)
    password = secrets.token_urlsafe(24) if password is None else password
    rules = acl_rules(tenant, password)
    username = USER_PREFIX + tenant
    client = _admin(where, url)
    try:
        client.execute_command("ACL", "SETUSER", username, *rules)
    finally:
        client.close()
    return RedisTenantUser(tenant, username, password, tenant_url(url, username, password))


def remove_redis_user(url: str, tenant: str) -> bool:
    """Delete the ACL user of ``tenant`` (and its live connections); True if it existed."""
    where = "remove_redis_user"
    check_tenant(where, "tenant", tenant)
    client = _admin(where, url)
    try:
        return bool(client.execute_command("ACL", "DELUSER", USER_PREFIX + tenant))
    finally:
        client.close()
