"""The IPython extension (%load_ext pushpull_lab): %pushpull, %%simulate, rich displays, cleanup.

Driven through IPython's own test shell: cells run exactly as a learner types them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

import pushpull_lab as ppl
from pushpull_lab import extension
from pushpull_lab import lab as lab_module


@pytest.fixture(scope="module")
def shell():
    ip = start_ipython()
    # A terminal shell computes text/plain only; a notebook asks for every type, as here.
    active = ip.display_formatter.active_types
    ip.display_formatter.active_types = ip.display_formatter.format_types
    ip.run_line_magic("load_ext", "pushpull_lab")
    ip.run_cell("import asyncio\nimport pushpull_lab as ppl")
    yield ip
    ip.run_line_magic("unload_ext", "pushpull_lab")
    ip.display_formatter.active_types = active


@pytest.fixture(autouse=True)
def lab(shell):
    """Each test starts on its own real-time memory lab; the previous default comes back after."""
    saved = lab_module._default_lab
    fresh = ppl.use_lab(ppl.Lab())
    yield fresh
    for seen in {fresh, lab_module._default_lab}:
        seen.close_all()
    shell.run_cell("await asyncio.sleep(0)")  # let cancelled tasks unwind on the shell's loop
    lab_module._default_lab = saved


def run(shell, code: str):
    """Run a cell; re-raise its error so a failing cell fails the test."""
    result = shell.run_cell(code)
    if result.error_before_exec or result.error_in_exec:
        raise result.error_before_exec or result.error_in_exec
    return result.result


def outputs(shell, code: str):
    """Run a cell; return (stdout, list of display data dicts, error)."""
    with capture_output() as cap:
        result = shell.run_cell(code)
    return cap.stdout, [o.data for o in cap.outputs], result.error_before_exec or result.error_in_exec


def fails_with_usage(shell, code: str) -> str:
    """Run a cell that must fail with a UsageError; check the message is shown; return it."""
    with capture_output() as cap:
        result = shell.run_cell(code)
    error = result.error_before_exec or result.error_in_exec
    assert isinstance(error, UsageError), f"{code!r} gave {error!r}"
    assert f"UsageError: {error}" in cap.stdout + cap.stderr  # what the learner sees under the cell
    return str(error)


# -- %pushpull --------------------------------------------------------------------------------
def test_status_lists_lab_and_live_primitives(shell, lab):
    """%pushpull status shows the lab's backend, clock, seed and events, and a row per live primitive."""
    run(shell, "q = ppl.Queue('emails')\nbus = ppl.PubSub('scores')\nawait q.add('welcome', {})")
    _, shown, error = outputs(shell, "%pushpull status")
    assert error is None and len(shown) == 1
    text, page = shown[0]["text/plain"], shown[0]["text/html"]
    assert "backend 'memory'" in text and "real-time clock" in text and "seed 0" in text
    assert "1 events recorded" in text and "live primitives (2)" in text
    assert "Queue   emails  open   waiting=1, active=0" in text
    assert "PubSub  scores" in text
    assert "<table>" in page and "<td>emails</td>" in page and "waiting=1" in page


def test_status_with_nothing_live_says_so(shell):
    """An empty lab is reported as having no live primitives, not as an empty table."""
    _, shown, _ = outputs(shell, "%pushpull status")
    assert "no live primitives" in shown[0]["text/plain"]


def test_backend_swaps_the_current_lab(shell, lab):
    """%pushpull backend fakeredis makes a new real-time lab current and says what changed."""
    out, _, error = outputs(shell, "%pushpull backend fakeredis")
    new = ppl.current_lab()
    assert error is None and new is not lab and new.backend == "fakeredis" and not new.virtual
    assert "'memory' -> 'fakeredis'" in out


def test_backend_same_as_current_changes_nothing(shell, lab):
    """Asking for the backend already in use keeps the lab (and its trace)."""
    out, _, _ = outputs(shell, "%pushpull backend memory")
    assert ppl.current_lab() is lab and "nothing changed" in out


@pytest.mark.parametrize("url", ["nope", "redis://127.0.0.1:port/0", "redis:///0"])
def test_bad_backend_is_a_usage_error(shell, lab, url):
    """A backend the Lab refuses is a UsageError with the Lab's message, and the lab stays."""
    message = fails_with_usage(shell, f"%pushpull backend {url}")
    assert message.startswith("%pushpull backend:") and ppl.current_lab() is lab


def test_unknown_subcommand_is_a_usage_error(shell):
    """A mistyped subcommand fails with the usage text and a suggestion, never passes silently."""
    message = fails_with_usage(shell, "%pushpull stauts")
    assert "unknown subcommand 'stauts' (did you mean 'status'?)" in message and "usage: %pushpull" in message


@pytest.mark.parametrize("line", ["", "help"])
def test_bare_or_help_prints_the_usage(shell, line):
    """`%pushpull` alone or `%pushpull help` prints every subcommand (and is not an error)."""
    out, _, error = outputs(shell, f"%pushpull {line}")
    assert error is None and out.startswith("usage: %pushpull status | backend [URL] | stop")


def test_usage_errors_go_through_the_traceback_path(shell):
    """Usage errors, even IPython's own for a mistyped magic name, are shown as error outputs.

    IPython prints a plain UsageError to stderr only, which nbval's lax mode lets pass; the
    traceback path is what a kernel sends as an ``error`` output, which fails the cell.
    """
    assert shell.custom_exceptions == (UsageError,)
    for cell in ("%pushpul status", "%%simulat\npass", "%pushpull stauts"):
        with capture_output() as cap:
            result = shell.run_cell(cell)
        assert isinstance(result.error_in_exec, UsageError)
        assert cap.stdout.startswith("UsageError: ") and cap.stderr == ""


def test_extra_words_are_a_usage_error(shell, lab):
    """`%pushpull stop now` is refused rather than stopping with 'now' ignored."""
    run(shell, "q = ppl.Queue('kept')")
    assert "unexpected 'now'" in fails_with_usage(shell, "%pushpull stop now")
    assert [p.name for p in lab.live] == ["kept"]


def test_stop_closes_every_live_primitive(shell, lab):
    """%pushpull stop closes the worker, queue and bus of the current lab and says how many."""
    run(
        shell,
        "q = ppl.Queue('jobs')\nbus = ppl.PubSub('news')\nbus.subscribe('x', print, name='reader')\n"
        "w = ppl.Worker('jobs', lambda job: None, name='w1')\nawait asyncio.sleep(0)",
    )
    assert len(lab.live) == 3
    out, _, error = outputs(shell, "%pushpull stop")
    assert error is None and out.startswith("closed 3 live primitive(s)")
    ns = shell.user_ns
    assert ns["w"].closed and ns["q"].closed and ns["bus"].closed and ns["bus"].subscriptions == []
    assert lab.live == []


def test_trace_shows_first_and_last_events_with_counts(shell, lab):
    """%pushpull trace 3 shows events 1-3 and 28-30 of 30, the gap, and the counts per kind."""
    for i in range(1, 31):
        lab.trace.record("publish" if i % 3 else "deliver", "pub", "bus", i)
    _, shown, error = outputs(shell, "%pushpull trace 3")
    text, page = shown[0]["text/plain"], shown[0]["text/html"]
    msgs = [line.split()[4] for line in text.splitlines() if line.strip().split()[:1][0][0].isdigit()]
    assert error is None and msgs == ["1", "2", "3", "28", "29", "30"]
    assert "24 events not shown" in text and "deliver: 10 · publish: 20" in text
    assert "Trace: 30 events" in page and "deliver: 10 · publish: 20" in page and page.count("<table>") == 2


@pytest.mark.parametrize("arg", ["0", "many"])
def test_trace_with_bad_count_is_a_usage_error(shell, arg):
    """N must be a whole number >= 1."""
    assert "N must be a whole number >= 1" in fails_with_usage(shell, f"%pushpull trace {arg}")


def test_reset_closes_all_and_starts_a_fresh_lab(shell, lab):
    """%pushpull reset closes every live primitive and makes a new real-time lab on the same backend."""
    run(shell, "%pushpull backend fakeredis")
    old = ppl.current_lab()
    run(shell, "q = ppl.Queue('jobs')")
    old.trace.record("note", "me")
    out, _, error = outputs(shell, "%pushpull reset")
    new = ppl.current_lab()
    assert error is None and shell.user_ns["q"].closed and old.live == []
    assert new is not old and new.backend == "fakeredis" and len(new.trace) == 0 and not new.virtual
    assert out.startswith("closed 1 live primitive(s); started a fresh real-time lab (backend 'fakeredis'")


# -- %%simulate -------------------------------------------------------------------------------
def test_simulate_runs_the_cell_in_virtual_time(shell):
    """A cell sleeping 5 virtual seconds ends at run.now == 5; its last expression is run.value."""
    returned = run(
        shell, "%%simulate --no-timeline\nstart = lab.now()\nawait ppl.sleep(5)\n(start, lab.now())"
    )
    assert shell.user_ns["_run"] is returned
    assert returned.now == 5.0 and returned.value == (0.0, 5.0) and returned.completed


def test_simulate_return_and_notebook_names(shell):
    """A `return` sets run.value; the cell reads notebook names and writes back with `global`."""
    run(shell, "factor = 3")
    run(shell, "%%simulate --no-timeline\nglobal seen\nseen = lab.virtual\nreturn factor * 2")
    assert shell.user_ns["_run"].value == 6 and shell.user_ns["seen"] is True


SEEDED_CELL = """%%simulate --seed {seed} --no-timeline
bus = ppl.PubSub("bus")
bus.subscribe("t", lambda m: None, name="ui")
for i in range(20):
    await ppl.sleep(lab.rng.expovariate(1.0))
    await bus.publish("t", i)
await bus.join()
"""


def test_simulate_with_a_seed_is_deterministic(shell):
    """Two runs with --seed 7 give identical traces; --seed 8 gives a different one."""
    first = run(shell, SEEDED_CELL.format(seed=7)).trace.to_rows()
    second = run(shell, SEEDED_CELL.format(seed=7)).trace.to_rows()
    other = run(shell, SEEDED_CELL.format(seed=8)).trace.to_rows()
    assert first == second and len(first) == 60 and other != first


def test_simulate_until_stops_early(shell):
    """--until 2 stops a cell that would sleep 100 s at virtual time 2, not completed."""
    result = run(shell, "%%simulate --until 2 --no-timeline\nawait ppl.sleep(100)\n'done'")
    assert result.now == 2.0 and not result.completed and result.value is None


def test_simulate_fakeredis_backend(shell):
    """--backend fakeredis runs the cell's queue on the fake Redis server."""
    cell = (
        "%%simulate --backend fakeredis --no-timeline\nq = ppl.Queue('jobs')\nawait q.add('a', {})\n"
        "(lab.backend, await q.get_job_counts())"
    )
    backend, counts = run(shell, cell).value
    assert backend == "fakeredis" and counts["waiting"] == 1


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("--seed abc", "--seed must be an integer, got 'abc'"),
        ("--until -1", "--until must be a finite number >= 0"),
        ("--until soon", "--until must be a number of virtual seconds"),
        ("--backend redis://127.0.0.1:6379/0", "invalid choice"),
        ("--sed 1", "unrecognized arguments: --sed 1"),
    ],
)
def test_simulate_bad_options_are_usage_errors(shell, options, expected):
    """A bad or mistyped %%simulate option raises UsageError with the usage line; the cell does not run."""
    shell.user_ns.pop("ran", None)
    message = fails_with_usage(shell, f"%%simulate {options}\nglobal ran\nran = True")
    assert expected in message and "usage: %%simulate" in message and "ran" not in shell.user_ns


def test_simulate_error_traceback_points_at_the_cell(shell):
    """An exception in the cell is shown with the cell's own line numbers, not the simulator's frames."""
    cell = "%%simulate --no-timeline\nawait ppl.sleep(1)\nraise ValueError('boom at t=1')\n"
    out, _, error = outputs(shell, cell)
    assert isinstance(error, ValueError) and str(error) == "boom at t=1"
    assert "line 3" in out and "raise ValueError('boom at t=1')" in out
    assert "clock.py" not in out and "During handling" not in out
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_name, tb.tb_lineno))
        tb = tb.tb_next
    assert frames[-1] == ("main", 3)


def test_simulate_syntax_error_points_at_the_cell_line(shell):
    """A syntax error in the cell names the cell line (line 1 is the %%simulate line)."""
    _, _, error = outputs(shell, "%%simulate\nx = 1\nawait ppl.sleep(\n")
    assert isinstance(error, SyntaxError) and error.lineno == 3


def test_simulate_displays_timeline_and_returns_the_run(shell):
    """Without --no-timeline the cell shows the timeline figure and returns the run (its output, with summary)."""
    cell = "%%simulate\nbus = ppl.PubSub('b')\nbus.subscribe('t', lambda m: None, name='ui')\nawait bus.publish('t', 1)"
    with capture_output() as cap:
        result = shell.run_cell(cell)
    assert result.success and len(cap.outputs) == 1
    figure = cap.outputs[0].data
    assert figure["image/png"][:4] == b"\x89PNG" and figure["text/plain"].startswith("<Figure size")
    summary, _ = shell.display_formatter.format(result.result)  # what the notebook shows as Out[n]
    assert result.result is shell.user_ns["_run"]
    assert "simulation run</b>: completed" in summary["text/html"] and "3 events" in summary["text/html"]
    assert summary["text/plain"].startswith("Run(value=1, trace=<Trace 3 events")


# -- rich displays ----------------------------------------------------------------------------
def test_rich_displays_of_queue_pubsub_worker(shell, lab):
    """Queue, PubSub, Subscription and Worker get HTML with their key facts; text/plain stays their repr."""
    run(
        shell,
        "q = ppl.Queue('emails')\nawait q.add('a', {})\nawait q.add('b', {})\n"
        "bus = ppl.PubSub('scores')\nsub = bus.subscribe('match.*', print, buffer=4, name='board')\n"
        "w = ppl.Worker('other', lambda job: None, name='w9', concurrency=2)\nawait asyncio.sleep(0)",
    )
    fmt = shell.display_formatter.format
    ns = shell.user_ns
    queue, _ = fmt(ns["q"])
    assert "<b>Queue</b> emails: backend memory, open" in queue["text/html"]
    assert "<td>waiting</td><td>2</td>" in queue["text/html"] and "<td>none live</td>" in queue["text/html"]
    assert queue["text/plain"] == "Queue('emails', backend='memory', open)"
    bus, _ = fmt(ns["bus"])
    assert "<b>PubSub</b> scores: open, 0 published, 1 subscription(s)" in bus["text/html"]
    assert "<td>board</td><td>match.*</td><td>0/4</td>" in bus["text/html"]
    sub, _ = fmt(ns["sub"])
    assert "pending=0/4" in sub["text/html"]
    worker, _ = fmt(ns["w"])
    assert "<b>Worker</b> w9: running" in worker["text/html"] and "concurrency=2" in worker["text/html"]
    assert worker["text/plain"].startswith("Worker('w9', queue='other'")


def test_rich_displays_of_trace_and_run(shell):
    """Trace and Run keep their own HTML: counts, end time and events; text/plain is readable."""
    result = run(shell, "%%simulate --no-timeline\nawait ppl.sleep(2)\nlab.trace.record('note', 'me')")
    fmt = shell.display_formatter.format
    trace, _ = fmt(result.trace)
    assert "<b>Trace</b>: 1 events until t=2 s — note: 1" in trace["text/html"]
    assert trace["text/plain"] == "<Trace 1 events until t=2s: note=1>"
    whole, _ = fmt(result)
    assert "virtual time 2 s, 1 events" in whole["text/html"] and "now=2," in whole["text/plain"]


# -- the registry and cleanup -----------------------------------------------------------------
WORKER_CELL = "w = ppl.Worker('jobs', lambda job: None, name='mailer')\nawait asyncio.sleep(0)"


def test_rerunning_a_named_worker_cell_closes_the_old_worker(shell, lab):
    """Running the cell that creates worker 'mailer' twice leaves one worker: the old one is closed."""
    run(shell, WORKER_CELL)
    old = shell.user_ns["w"]
    run(shell, WORKER_CELL)
    new = shell.user_ns["w"]
    assert new is not old and lab.live == [new] and old._closing
    shell.user_ns["_old"] = old
    run(shell, "await _old.close()")  # waits for the shutdown the registry started
    assert old.closed and not new.closed
    assert [e.kind for e in lab.trace if e.actor == "mailer"].count("closed") == 1


def test_unload_closes_live_primitives_and_removes_the_magics(shell, lab):
    """%unload_ext closes what is live and removes %pushpull; %load_ext brings it back."""
    run(shell, "q = ppl.Queue('jobs')\nbus = ppl.PubSub('news')")
    try:
        run(shell, "%unload_ext pushpull_lab")
        assert shell.user_ns["q"].closed and shell.user_ns["bus"].closed and lab.live == []
        assert "not found" in fails_with_usage(shell, "%pushpull status")
        assert shell.custom_exceptions == ()  # the usage-error handler left with the extension
        assert "text/html" not in shell.display_formatter.format(ppl.Queue("again"))[0]
    finally:
        run(shell, "%load_ext pushpull_lab")
    assert "<b>Queue</b>" in shell.display_formatter.format(ppl.Queue("again"))[0]["text/html"]


def test_cleanup_closes_labs_replaced_by_backend(shell, lab):
    """The exit hook closes primitives of the current lab and of a lab replaced by %pushpull backend."""
    run(shell, "q1 = ppl.Queue('a')")
    run(shell, "%pushpull backend fakeredis")
    run(shell, "q2 = ppl.Queue('b')")
    assert extension._loaded.close_everything() == 2
    assert shell.user_ns["q1"].closed and shell.user_ns["q2"].closed


def test_atexit_closes_live_primitives_when_the_process_ends():
    """In a real interpreter exit, the extension's atexit hook closes what the notebook left open."""
    script = textwrap.dedent(
        """
        import atexit
        from IPython.testing.globalipapp import start_ipython
        ip = start_ipython()
        state = {}
        atexit.register(lambda: print("closed at exit:", state["q"].closed, state["bus"].closed))
        ip.run_line_magic("load_ext", "pushpull_lab")
        ip.run_cell("import pushpull_lab as ppl\\nq = ppl.Queue('jobs')\\nbus = ppl.PubSub('news')")
        state.update(q=ip.user_ns["q"], bus=ip.user_ns["bus"])
        print("open before exit:", not state["q"].closed, not state["bus"].closed)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "open before exit: True True" in done.stdout and "closed at exit: True True" in done.stdout
