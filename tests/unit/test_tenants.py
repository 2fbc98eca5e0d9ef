"""tenants.py: per-tenant queue namespaces refused across tenants at the call, and (on a real
Redis server) per-tenant ACL users that get NOPERM on another tenant's keys."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import pushpull_lab as ppl
from pushpull_lab import tenants
from pushpull_lab.tenants import Tenant, TenantAccessError


def test_each_tenant_gets_its_own_namespace_and_its_worker_sees_only_its_jobs():
    """Two tenants with a queue 'emails' each, in virtual time: acme's worker processes acme's
    two jobs and none of globex's three; the trace names the namespaced queues."""

    async def main(lab):
        acme, globex = Tenant("acme"), Tenant("globex")
        done = []
        acme.worker("emails", lambda job: done.append(job.data["to"]))
        for who in ("a1", "a2"):
            await acme.queue("emails").add("mail", {"to": who})
        for who in ("g1", "g2", "g3"):
            await globex.queue("emails").add("mail", {"to": who})
        await ppl.sleep(1)
        return done, await globex.queue("emails").get_job_counts()

    run = ppl.simulate(main)
    done, globex_counts = run.value
    assert done == ["a1", "a2"]
    assert globex_counts["waiting"] == 3
    assert {e.peer for e in run.trace.filter(kind="add")} == {"acme.emails", "globex.emails"}


@pytest.mark.parametrize(
    ("target", "owner"),
    [("globex.emails", "'globex'"), ("emails", "no tenant"), ("acme-eu.emails", "'acme-eu'")],
)
def test_check_refuses_a_name_of_another_tenant_or_of_nobody(target, owner):
    """check() returns its own queue names and refuses others, saying whose they are."""
    acme = Tenant("acme", lab=ppl.Lab())
    assert acme.check("acme.emails") == "acme.emails"
    with pytest.raises(TenantAccessError, match=owner):
        acme.check(target)


def test_check_refuses_another_tenants_queue_and_worker_objects():
    """A Queue or Worker object of globex handed to acme is refused; acme's own pass."""

    async def main(lab):
        acme, globex = Tenant("acme"), Tenant("globex")
        mine, theirs = acme.queue("jobs"), globex.queue("jobs")
        worker = globex.worker("jobs", lambda job: None)
        assert acme.check(mine) is mine and acme.owns(acme.worker("jobs", lambda job: None))
        refused = []
        for target in (theirs, worker):
            with pytest.raises(TenantAccessError, match="belongs to tenant 'globex'"):
                acme.check(target)
            refused.append(target)
        return len(refused)

    assert ppl.simulate(main).value == 2


@pytest.mark.parametrize("local", ["globex.emails", "acme.emails", "..", "a.b"])
def test_a_tenant_cannot_name_its_way_into_another_namespace(local):
    """A local name with the separator is refused at the call (it would read as another tenant's)."""
    acme = Tenant("acme", lab=ppl.Lab())
    with pytest.raises(TenantAccessError, match=r"without '\.'"):
        acme.queue_name(local)


@pytest.mark.parametrize("name", ["", "Acme", "a.b", "a*", "-x", "a b", None, "x" * 64])
def test_bad_tenant_names_fail_naming_the_parameter(name):
    """Tenant names are 1-63 lower-case letters/digits/_/-: anything else is a ValueError naming name."""
    with pytest.raises(ValueError, match=r"Tenant\(name="):
        Tenant(name, lab=ppl.Lab())


def test_acl_rules_confine_a_tenant_to_its_key_pattern():
    """The rules: reset first, the tenant's ppl:<tenant>.* keys only, no channels, no dangerous commands."""
    rules = tenants.acl_rules("acme", "p" * 20)
    assert rules[0] == "reset" and "on" in rules and ">" + "p" * 20 in rules
    assert [r for r in rules if r.startswith("~")] == ["~ppl:acme.*"]
    assert "resetchannels" in rules and "-@dangerous" in rules
    assert rules.index("+@all") < rules.index("-@dangerous")
    with pytest.raises(ValueError, match="password must be"):
        tenants.acl_rules("acme", "short")


def test_tenant_url_puts_quoted_credentials_in_the_url():
    """The tenant's URL carries its user and a quoted password, replacing the admin's credentials."""
    url = tenants.tenant_url("redis://admin:x@127.0.0.1:6379/0", "tenant-acme", "p/w@1")
    assert url == "redis://tenant-acme:p%2Fw%401@127.0.0.1:6379/0"


@pytest.mark.redis
def test_redis_acl_users_get_noperm_on_another_tenants_keys(redis_url):
    """On real Redis: acme's connection runs its own queue (add, a worker completes it) but gets
    NOPERM adding to or reading globex's queue, even through a raw ppl.Queue; after
    remove_redis_user its login is refused."""
    import redis
    import redis.asyncio

    suffix = uuid.uuid4().hex[:8]
    a_name, b_name = f"acme-{suffix}", f"globex-{suffix}"
    a_user = tenants.create_redis_user(redis_url, a_name)
    b_user = tenants.create_redis_user(redis_url, b_name)
    try:

        async def main():
            a_lab, b_lab = ppl.Lab(backend=a_user.url), ppl.Lab(backend=b_user.url)
            theirs = Tenant(b_name, lab=b_lab).queue("emails")
            await theirs.add("secret", {"card": "4111"})
            acme = Tenant(a_name, lab=a_lab)
            mine = acme.queue("emails")
            finished = asyncio.Event()
            worker = acme.worker("emails", lambda job: finished.set() or "sent")
            await mine.add("welcome", {"to": "ada"})
            await asyncio.wait_for(finished.wait(), 10)
            await worker.close()
            own_counts = await mine.get_job_counts()
            raw = ppl.Queue(f"{b_name}.emails", lab=a_lab)  # bypasses the Tenant helper on purpose
            errors = []
            for attempt in (raw.add("steal", {}), raw.get_jobs(["waiting"])):
                try:
                    await attempt
                except redis.exceptions.NoPermissionError as exc:
                    errors.append(str(exc))
            client = redis.asyncio.from_url(a_user.url, decode_responses=True)
            try:
                await client.get(f"ppl:{b_name}.emails:id")
            except redis.exceptions.NoPermissionError as exc:
                errors.append(str(exc))
            finally:
                await client.aclose()
            theirs_counts = await theirs.get_job_counts()
            for q in (mine, theirs):
                await q.obliterate()
                await q.close()
            await raw.close()
            return own_counts, errors, theirs_counts

        own_counts, errors, theirs_counts = asyncio.run(main())
        assert own_counts["completed"] >= 1
        assert len(errors) == 3 and all("no permissions" in e for e in errors)
        assert theirs_counts["waiting"] == 1  # globex's job untouched
    finally:
        assert tenants.remove_redis_user(redis_url, a_name)
        tenants.remove_redis_user(redis_url, b_name)
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(a_user.url).ping()
