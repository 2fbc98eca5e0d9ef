"""Every argument of Queue, Worker, Poll, QueueEvents and Job is checked at the call.

Each case names the call, the exception and the start of the message, which always reads
``Where(param=value): param must be ...``.
"""

from __future__ import annotations

import re

import pytest

import pushpull_lab as ppl


def raises_in_sim(make, exc, message):
    """Run ``await make(lab)`` in a simulation and check it raises ``exc`` matching ``message``."""

    async def main(lab):
        with pytest.raises(exc, match=message) as info:
            await make(lab)
        return str(info.value)

    return ppl.simulate(main).value


def test_worker_message_format_is_exact():
    """The message quoted in the design reads exactly as documented."""

    async def make(lab):
        ppl.Worker("q", lambda job: None, concurrency=0)

    text = raises_in_sim(make, ValueError, "concurrency")
    assert text == "Worker(concurrency=0): concurrency must be an integer >= 1"


# -- Queue ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"name": 5}, TypeError, r"Queue\(name=5\): name must be a non-empty string"),
        ({"name": ""}, ValueError, r"Queue\(name=''\): name must be"),
        ({"name": "two words"}, ValueError, r"Queue\(name='two words'\): name must be letters, digits"),
        ({"name": "a:b"}, ValueError, r"Queue\(name='a:b'\): name must be letters"),
        ({"name": "q", "lab": "memory"}, TypeError, r"Queue\(lab='memory'\): lab must be a pushpull_lab.Lab"),
    ],
)
def test_queue_constructor(kwargs, exc, message):
    """Queue() rejects a bad name or lab."""
    with pytest.raises(exc, match=message):
        ppl.Queue(**kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "message"),
    [
        ((5,), {}, TypeError, r"Queue.add\(name=5\): name must be a non-empty string"),
        (("",), {}, ValueError, r"Queue.add\(name=''\)"),
        (("j", object()), {}, TypeError, r"Queue.add\(data=<object.*\): data must be JSON-serialisable"),
        (("j", float("nan")), {}, TypeError, r"Queue.add\(data=nan\): data must be JSON-serialisable"),
        (("j",), {"delay": -1}, ValueError, r"Queue.add\(delay=-1.0\): delay must be a finite number >= 0"),
        (("j",), {"delay": "1"}, TypeError, r"Queue.add\(delay='1'\): delay must be a finite number"),
        (("j",), {"delay": float("inf")}, ValueError, r"Queue.add\(delay=inf\)"),
        (("j",), {"priority": -1}, ValueError, r"Queue.add\(priority=-1\): priority must be an integer >= 0"),
        (("j",), {"priority": 1.5}, TypeError, r"Queue.add\(priority=1.5\): priority must be an integer"),
        (("j",), {"priority": True}, TypeError, r"Queue.add\(priority=True\)"),
        (
            ("j",),
            {"priority": 2_097_153},
            ValueError,
            r"Queue.add\(priority=2097153\): priority must be an integer from 0",
        ),
        (("j",), {"attempts": 0}, ValueError, r"Queue.add\(attempts=0\): attempts must be an integer >= 1"),
        (("j",), {"attempts": 2.0}, TypeError, r"Queue.add\(attempts=2.0\)"),
        (
            ("j",),
            {"backoff": "fixed"},
            TypeError,
            r"Queue.add\(backoff='fixed'\): backoff must be None or a tuple",
        ),
        (("j",), {"backoff": ("fixed",)}, TypeError, r"Queue.add\(backoff=\('fixed',\)\)"),
        (
            ("j",),
            {"backoff": ("linear", 1)},
            ValueError,
            r"Queue.add\(backoff=\('linear', 1\)\): backoff must be",
        ),
        (("j",), {"backoff": ("fixed", -1)}, ValueError, r"Queue.add\(backoff=\('fixed', -1\)\)"),
        (("j",), {"backoff": ("fixed", 1, 2)}, ValueError, r"jitter between 0 and 1"),
        (("j",), {"backoff": ("fixed", True)}, ValueError, r"Queue.add\(backoff=\('fixed', True\)\)"),
        (("j",), {"job_id": ""}, ValueError, r"Queue.add\(job_id=''\)"),
        (("j",), {"job_id": 7}, TypeError, r"Queue.add\(job_id=7\): job_id must be a non-empty string"),
        (
            ("j",),
            {"job_id": "42"},
            ValueError,
            r"Queue.add\(job_id='42'\): job_id must not be a plain number",
        ),
        (("j",), {"sender": ""}, ValueError, r"Queue.add\(sender=''\)"),
    ],
)
def test_queue_add(args, kwargs, exc, message):
    """Queue.add() checks every argument and adds nothing when one is wrong."""

    async def make(lab):
        q = ppl.Queue("q")
        try:
            await q.add(*args, **kwargs)
        finally:
            assert sum((await q.get_job_counts()).values()) == 0

    raises_in_sim(make, exc, message)


@pytest.mark.parametrize(
    ("jobs", "exc", "message"),
    [
        ({"name": "j"}, TypeError, r"Queue.add_bulk\(jobs=\{'name': 'j'\}\): jobs must be a list"),
        ([{"name": "j"}, "k"], TypeError, r"Queue.add_bulk\(jobs\[1\]\): each job must be a dict"),
        (
            [{"data": 1}],
            TypeError,
            r"Queue.add_bulk\(jobs\[0\]\): each job must be a dict with at least a 'name'",
        ),
        ([{"name": "j", "dely": 1}], ValueError, r"Queue.add_bulk\(jobs\[0\]\): unknown key\(s\) \['dely'\]"),
        (
            [{"name": "j"}, {"name": "j", "attempts": 0}],
            ValueError,
            r"Queue.add_bulk\(jobs\[1\]\)\(attempts=0\)",
        ),
    ],
)
def test_queue_add_bulk(jobs, exc, message):
    """add_bulk() checks every entry before adding any."""

    async def make(lab):
        q = ppl.Queue("q")
        try:
            await q.add_bulk(jobs)
        finally:
            assert sum((await q.get_job_counts()).values()) == 0

    raises_in_sim(make, exc, message)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda q: q.get_job(5), TypeError, r"Queue.get_job\(job_id=5\)"),
        (lambda q: q.get_job(""), ValueError, r"Queue.get_job\(job_id=''\)"),
        (
            lambda q: q.get_jobs("done"),
            ValueError,
            r"Queue.get_jobs\(states=\['done'\]\): 'done' is not a state",
        ),
        (lambda q: q.get_jobs(["waiting", "paused"]), ValueError, r"'paused' is not a state"),
        (lambda q: q.get_jobs(5), TypeError, r"Queue.get_jobs\(states=5\): states must be a state or a list"),
        (
            lambda q: q.drain(delayed="yes"),
            TypeError,
            r"Queue.drain\(delayed='yes'\): delayed must be True or False",
        ),
        (lambda q: q.remove(None), TypeError, r"Queue.remove\(job_id=None\)"),
    ],
)
def test_queue_methods(call, exc, message):
    """get_job, get_jobs, drain and remove check their arguments."""

    async def make(lab):
        await call(ppl.Queue("q"))

    raises_in_sim(make, exc, message)


def test_closed_queue_refuses_work():
    """A closed Queue object says so instead of silently working."""

    async def make(lab):
        q = ppl.Queue("q")
        await q.close()
        await q.add("j")

    raises_in_sim(make, RuntimeError, r"Queue.add: the Queue 'q' is closed")


# -- Worker and Poll --------------------------------------------------------------------------
def nothing(job):
    return None


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "message"),
    [
        ((5, nothing), {}, TypeError, r"Worker\(queue_name=5\): queue_name must be a non-empty string"),
        (("a b", nothing), {}, ValueError, r"Worker\(queue_name='a b'\): queue_name must be letters"),
        (("q", "process"), {}, TypeError, r"Worker\(processor='process'\): processor must be a function"),
        (("q", nothing), {"concurrency": 0}, ValueError, r"Worker\(concurrency=0\)"),
        (
            ("q", nothing),
            {"concurrency": 2.5},
            TypeError,
            r"Worker\(concurrency=2.5\): concurrency must be an integer",
        ),
        (("q", nothing), {"concurrency": True}, TypeError, r"Worker\(concurrency=True\)"),
        (
            ("q", nothing),
            {"fetch": "poll"},
            ValueError,
            r"Worker\(fetch='poll'\): fetch must be 'blocking' or ppl.Poll",
        ),
        (("q", nothing), {"fetch": 0.5}, ValueError, r"Worker\(fetch=0.5\)"),
        (("q", nothing), {"limiter": 10}, TypeError, r"Worker\(limiter=10\): limiter must be None or a dict"),
        (("q", nothing), {"limiter": {"max": 1}}, TypeError, r"Worker\(limiter=\{'max': 1\}\)"),
        (
            ("q", nothing),
            {"limiter": {"max": 0, "duration": 1}},
            ValueError,
            r"limiter\['max'\] must be an integer >= 1",
        ),
        (
            ("q", nothing),
            {"limiter": {"max": 1, "duration": 0}},
            ValueError,
            r"limiter\['duration'\] must be a finite number > 0",
        ),
        (
            ("q", nothing),
            {"lock_duration": 0},
            ValueError,
            r"Worker\(lock_duration=0.0\): lock_duration must be a finite number > 0",
        ),
        (("q", nothing), {"lock_duration": "30"}, TypeError, r"Worker\(lock_duration='30'\)"),
        (("q", nothing), {"name": ""}, ValueError, r"Worker\(name=''\)"),
        (("q", nothing), {"lab": 1}, TypeError, r"Worker\(lab=1\): lab must be a pushpull_lab.Lab"),
    ],
)
def test_worker_constructor(args, kwargs, exc, message):
    """Worker() checks every argument before starting anything."""

    async def make(lab):
        try:
            ppl.Worker(*args, **kwargs)
        finally:
            assert lab.live == []  # nothing was registered or started

    raises_in_sim(make, exc, message)


def test_worker_needs_a_running_loop():
    """A Worker made outside async code explains where to create it."""
    with pytest.raises(RuntimeError, match=r"Worker\('q'\): a worker runs on an event loop"):
        ppl.Worker("q", nothing, lab=ppl.Lab())


@pytest.mark.parametrize(
    ("interval", "exc", "message"),
    [
        (0, ValueError, r"Poll\(interval=0.0\): interval must be a finite number > 0"),
        (-1, ValueError, r"Poll\(interval=-1.0\)"),
        ("1", TypeError, r"Poll\(interval='1'\)"),
        (float("inf"), ValueError, r"Poll\(interval=inf\)"),
    ],
)
def test_poll(interval, exc, message):
    """Poll(interval) needs a positive number of seconds."""
    with pytest.raises(exc, match=message):
        ppl.Poll(interval=interval)


def test_worker_close_timeout():
    """Worker.close(timeout=...) must be None or a number >= 0."""

    async def make(lab):
        w = ppl.Worker("q", nothing)
        try:
            await w.close(timeout=-1)
        finally:
            await w.close()

    raises_in_sim(make, ValueError, r"Worker.close\(timeout=-1.0\): timeout must be a finite number >= 0")


# -- QueueEvents ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "message"),
    [
        ((None,), {}, TypeError, r"QueueEvents\(queue_name=None\)"),
        (
            ("q",),
            {"last_event_id": "latest"},
            ValueError,
            r"QueueEvents\(last_event_id='latest'\): last_event_id must be None",
        ),
        (("q",), {"last_event_id": 0}, ValueError, r"QueueEvents\(last_event_id=0\)"),
        (("q",), {"name": " x"}, ValueError, r"QueueEvents\(name=' x'\)"),
        (
            ("q",),
            {"on_error": "log"},
            TypeError,
            r"QueueEvents\(on_error='log'\): on_error must be a function",
        ),
    ],
)
def test_queue_events_constructor(args, kwargs, exc, message):
    """QueueEvents() checks its queue name, starting point, name and error handler."""

    async def make(lab):
        ppl.QueueEvents(*args, **kwargs)

    raises_in_sim(make, exc, message)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda ev: ev.on("done", nothing),
            ValueError,
            r"QueueEvents.on\(event='done'\): event must be one of 'waiting'",
        ),
        (lambda ev: ev.on("completed", 3), TypeError, r"QueueEvents.on\(fn=3\): fn must be a function"),
        (lambda ev: ev.on("completed", nothing, name=""), ValueError, r"QueueEvents.on\(name=''\)"),
        (lambda ev: ev.off("finished", nothing), ValueError, r"QueueEvents.off\(event='finished'\)"),
    ],
)
def test_queue_events_on_and_off(call, exc, message):
    """on() and off() accept only known events, functions and names."""

    async def make(lab):
        ev = ppl.QueueEvents("q")
        try:
            call(ev)
        finally:
            await ev.close()

    raises_in_sim(make, exc, message)


def test_queue_events_needs_a_running_loop():
    """QueueEvents made outside async code explains where to create it."""
    with pytest.raises(RuntimeError, match=re.escape("QueueEvents('q'): create it inside async code")):
        ppl.QueueEvents("q", lab=ppl.Lab())


# -- Job --------------------------------------------------------------------------------------
def test_update_progress_outside_a_processor():
    """A job read from the queue cannot report progress: only its processor can."""

    async def make(lab):
        q = ppl.Queue("q")
        job = await q.add("j")
        await job.update_progress(10)

    raises_in_sim(make, RuntimeError, r"Job.update_progress: job '1' is not being processed here")


def test_update_progress_must_be_json():
    """Progress must be JSON-serialisable; the processor sees the error at the call."""

    async def main(lab):
        q = ppl.Queue("q")
        await q.add("j")
        seen = []

        async def process(job):
            try:
                await job.update_progress({1, 2})
            except TypeError as exc:
                seen.append(str(exc))

        w = ppl.Worker("q", process)
        await ppl.sleep(1)
        await w.close()
        return seen

    [message] = ppl.simulate(main).value
    assert message.startswith("Job.update_progress(progress={1, 2}): progress must be JSON-serialisable")
