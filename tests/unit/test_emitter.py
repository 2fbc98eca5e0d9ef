"""push/emitter.py: on/once/off/emit, async listeners, the 'error' event, tracing."""

import asyncio

import pytest

import pushpull_lab as ppl


def em():
    return ppl.EventEmitter("e", lab=ppl.Lab())


def test_emit_calls_listeners_in_order_and_reports_whether_any():
    """Listeners run during emit, in registration order; emit returns whether there were any."""
    e, calls = em(), []
    e.on("x", lambda v: calls.append(("a", v)))
    e.on("x", lambda v: calls.append(("b", v)))
    assert e.emit("x", 1) is True
    assert e.emit("nobody", 1) is False
    assert calls == [("a", 1), ("b", 1)]


def test_decorator_once_and_off():
    """on works as a decorator; once fires a single time; off removes a listener."""
    e, calls = em(), []

    @e.on("x")
    def keep(v):
        calls.append(("keep", v))

    e.once("x", lambda v: calls.append(("once", v)))
    e.emit("x", 1)
    e.emit("x", 2)
    e.off("x", keep)
    e.emit("x", 3)
    assert calls == [("keep", 1), ("once", 1), ("keep", 2)]
    with pytest.raises(ValueError, match=r"fn is not listening to 'x'"):
        e.off("x", keep)


def test_emit_records_one_emit_and_a_delivery_per_listener():
    """The trace shows emit plus a deliver from the emitter to each named listener."""
    e = em()

    def audit(v):
        pass

    e.on("x", audit)
    e.on("x", audit)
    e.emit("x", 1)
    rows = e.lab.trace.to_rows()
    assert [(r["kind"], r["actor"], r["peer"]) for r in rows] == [
        ("emit", "e", None),
        ("deliver", "e", "audit"),
        ("deliver", "e", "audit"),
    ]
    assert rows[0]["listeners"] == 2 and len({r["msg"] for r in rows}) == 1


def test_listener_error_becomes_an_error_event():
    """A raising listener is turned into an 'error' event when someone listens for it."""
    e, errors = em(), []
    e.on("error", errors.append)
    e.on("x", lambda: 1 / 0)
    e.emit("x")
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)
    assert e.lab.trace.counts()["error"] == 1


def test_listener_error_without_error_listener_is_raised():
    """With no 'error' listener, the listener's exception comes out of emit."""
    e = em()
    e.on("x", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        e.emit("x")


def test_emitting_error_with_nobody_listening_raises_it():
    """emit('error', exc) with no listener raises exc, like Node."""
    with pytest.raises(KeyError):
        em().emit("error", KeyError("k"))
    with pytest.raises(RuntimeError, match="unhandled 'error' event"):
        em().emit("error", "just text")


def test_async_listeners_run_as_tasks():
    """An async listener starts during emit and finishes later on the loop."""

    async def main(lab):
        e = ppl.EventEmitter("e")
        done = []

        async def slow(v):
            await ppl.sleep(2)
            done.append((v, lab.now()))

        e.on("x", slow)
        e.emit("x", 7)
        assert done == []
        await ppl.sleep(3)
        return done

    assert ppl.simulate(main).value == [(7, 2.0)]


def test_async_listener_error_is_surfaced():
    """An async listener's exception with no 'error' listener makes the simulation raise."""

    async def main(lab):
        e = ppl.EventEmitter("e")

        async def bad():
            raise ValueError("async boom")

        e.on("x", bad)
        e.emit("x")
        await ppl.sleep(1)

    with pytest.raises(ppl.BackgroundTaskError, match="async boom"):
        ppl.simulate(main)


def test_async_listener_error_reaches_error_listener():
    """An async listener's exception goes to the 'error' listeners when there are some."""

    async def main(lab):
        e = ppl.EventEmitter("e")
        seen = []
        e.on("error", seen.append)

        async def bad():
            raise ValueError("async boom")

        e.on("x", bad)
        e.emit("x")
        await ppl.sleep(1)
        return seen

    assert [str(x) for x in ppl.simulate(main).value] == ["async boom"]


def test_wait_for_returns_the_next_emission():
    """wait_for resolves with the arguments of the next emit and cleans up its listener."""

    async def main(lab):
        e = ppl.EventEmitter("e")

        async def later():
            await ppl.sleep(5)
            e.emit("ready", "db", 3)

        asyncio.ensure_future(later())
        got = await e.wait_for("ready")
        return got, lab.now(), e.listeners("ready")

    assert ppl.simulate(main).value == (("db", 3), 5.0, [])


def test_bad_arguments_are_refused():
    """Non-string events and non-callable listeners fail at the call."""
    e = em()
    with pytest.raises(ValueError, match=r"EventEmitter.on\(event=''\): event must be a non-empty string"):
        e.on("", print)
    with pytest.raises(TypeError, match=r"EventEmitter.once\(fn=42\): fn must be a function"):
        e.once("x", 42)
    with pytest.raises(TypeError, match=r"EventEmitter\(lab=3\): lab must be a pushpull_lab.Lab"):
        ppl.EventEmitter(lab=3)
