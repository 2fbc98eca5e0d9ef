"""lab.py: backends, ids, the current lab and the registry of live primitives."""

import pytest

import pushpull_lab as ppl


@pytest.mark.parametrize("backend", ["memory", "fakeredis", "redis://127.0.0.1:6379/0", "rediss://h:1/2"])
def test_accepted_backends(backend):
    """The three kinds of backend are accepted as given."""
    assert ppl.Lab(backend=backend).backend == backend


@pytest.mark.parametrize("backend", ["mongo", "", None, "http://x"])
def test_unknown_backend_is_refused(backend):
    """Anything else gets an error listing what is allowed."""
    with pytest.raises(ValueError, match=r"backend must be 'memory', 'fakeredis' or a Redis URL"):
        ppl.Lab(backend=backend)


def test_seed_and_trace_limit_are_validated():
    """A non-integer seed or a zero trace limit is refused at the call."""
    with pytest.raises(TypeError, match=r"Lab\(seed=1.5\): seed must be an integer"):
        ppl.Lab(seed=1.5)
    with pytest.raises(ValueError, match=r"Lab\(trace_limit=0\): trace_limit must be an integer >= 1"):
        ppl.Lab(trace_limit=0)


def test_ids_are_numbered_per_prefix():
    """next_id numbers each prefix from 1, independently."""
    lab = ppl.Lab()
    assert [lab.next_id("sub"), lab.next_id("sub"), lab.next_id("bus")] == ["sub-1", "sub-2", "bus-1"]


def test_real_time_clock_advances():
    """A real-time lab's clock starts near 0 and moves forward."""
    lab = ppl.Lab()
    a = lab.now()
    assert 0 <= a <= lab.now()


def test_use_lab_changes_the_default():
    """use_lab makes a lab current for primitives created outside simulate()."""
    before = ppl.current_lab()
    lab = ppl.use_lab(ppl.Lab(seed=5))
    try:
        assert ppl.current_lab() is lab and ppl.PubSub().lab is lab
    finally:
        ppl.use_lab(before)
    with pytest.raises(TypeError, match="use_lab"):
        ppl.use_lab("memory")


def test_registry_replaces_same_kind_and_name_and_close_all_closes_everything():
    """Creating a named primitive twice closes the first; close_all closes what is left."""
    lab = ppl.Lab()
    first = ppl.PubSub("scores", lab=lab)
    second = ppl.PubSub("scores", lab=lab)
    other = ppl.EventEmitter("audit", lab=lab)
    assert first.closed and not second.closed
    assert set(map(id, lab.live)) == {id(second), id(other)}
    assert lab.close_all() == 2 and second.closed and lab.live == []


def test_unnamed_primitives_never_replace_each_other():
    """Primitives without an explicit name get fresh ids and are not tracked for replacement."""
    lab = ppl.Lab()
    a, b = ppl.PubSub(lab=lab), ppl.PubSub(lab=lab)
    assert (a.name, b.name) == ("pubsub-1", "pubsub-2") and not a.closed
