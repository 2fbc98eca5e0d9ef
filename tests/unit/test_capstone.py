"""The capstone grader: every brief can be met, the wrong model fails it for the right reason, grades
are exact and repeatable, and bad input is refused with the parameter named."""

import math

import pytest

from pushpull_lab import capstone
from pushpull_lab.capstone import BRIEFS, Brief, Design, evaluate

PASSING = {
    "scores": Design("push", buffer=1, overflow="drop_oldest"),
    "invoices": Design("pull", workers=4, concurrency=3),
    "uploads": Design("hybrid", workers=2, concurrency=4),
}


@pytest.mark.parametrize("name", sorted(PASSING))
def test_each_brief_has_a_passing_design(name):
    """A known design meets every requirement of each brief, and the grade is truthy."""
    grade = evaluate(BRIEFS[name], PASSING[name])
    assert grade, repr(grade)
    assert all(c.ok for c in grade.checks) and grade.passed
    assert len(grade.checks) == len(BRIEFS[name].limits)


def _failed(grade):
    return {c.key: c.reason for c in grade.failed}


def test_scores_pulled_fail_on_slow_phones_and_requests():
    """Long-polling 50 phones costs about a request per message per phone, and slow readers fall behind."""
    failed = _failed(evaluate(BRIEFS["scores"], Design("pull")))
    assert set(failed) == {"p99", "requests"}
    assert "slow consumers" in failed["p99"] and "falls behind" in failed["p99"]
    assert "> 10/s" in failed["requests"]


def test_scores_short_polling_reason_names_the_interval():
    """Polling every 5 s keeps requests in budget but misses the freshness limit."""
    grade = evaluate(BRIEFS["scores"], Design("pull", fetch="poll", interval=5.0))
    assert set(_failed(grade)) == {"p99"}
    assert grade.metrics["p99"] > 2.5


def test_scores_push_with_a_big_buffer_holds_stale_messages():
    """The default buffer of 100 keeps every copy: memory and freshness fail, nothing is lost."""
    grade = evaluate(BRIEFS["scores"], Design("push"))
    failed = _failed(grade)
    assert set(failed) == {"p99", "buffered"}
    assert "buffer of 100" in failed["p99"] and "copy per consumer" in failed["buffered"]
    assert grade.metrics["lost"] == 0


def test_invoices_pushed_lose_the_failed_renders():
    """Push has no retries: every failed attempt is a lost invoice, named in the reason."""
    grade = evaluate(BRIEFS["invoices"], Design("push", workers=4, concurrency=3, overflow="block"))
    failed = _failed(grade)
    assert "lost" in failed
    assert "push never retries" in failed["lost"]
    assert grade.metrics["gave_up"] == grade.metrics["lost"] > 0


def test_invoices_pull_retries_what_push_loses():
    """The same failing attempts, pulled with 3 attempts: retried, none lost."""
    pull = evaluate(BRIEFS["invoices"], PASSING["invoices"]).metrics
    push = evaluate(BRIEFS["invoices"], Design("push", workers=4, concurrency=3, overflow="block")).metrics
    assert pull["lost"] == 0 and pull["attempts_failed"] >= push["gave_up"] > 0


def test_invoices_too_few_or_too_many_slots():
    """4 slots finish too late; 24 exceed the PDF service's 16 at once."""
    few = evaluate(BRIEFS["invoices"], Design("pull", workers=2, concurrency=2))
    many = evaluate(BRIEFS["invoices"], Design("pull", workers=6, concurrency=4))
    assert set(_failed(few)) == {"finish"} and "over 4 slots" in few.checks[-1].reason
    assert set(_failed(many)) == {"in_flight"} and many.metrics["in_flight"] == 24


def test_invoices_hybrid_passes_with_a_note():
    """A hybrid meets the invoices brief too, and the grade says its push half serves nobody."""
    grade = evaluate(BRIEFS["invoices"], Design("hybrid", workers=4, concurrency=3))
    assert grade and any("nobody waits" in n for n in grade.notes)


@pytest.mark.parametrize(
    ("interval", "fails"),
    [(0.5, "requests"), (2.0, "status_p99")],
)
def test_uploads_pulled_pay_with_requests_or_delay(interval, fails):
    """Browsers polling status either ask too often or learn too late."""
    grade = evaluate(BRIEFS["uploads"], Design("pull", workers=2, concurrency=4, interval=interval))
    failed = _failed(grade)
    assert set(failed) == {fails}
    assert f"every {interval:g} s" in failed[fails]


def test_uploads_status_delay_follows_the_poll_interval():
    """p99 status delay is close to one interval (first checks at random moments), never more."""
    for interval in (1.0, 2.0):
        m = evaluate(BRIEFS["uploads"], Design("pull", workers=2, concurrency=4, interval=interval)).metrics
        assert 0.8 * interval < m["status_p99"] <= interval + 1e-9


def test_uploads_pushed_lose_crashed_transcodes():
    """Push tells the browser at once but loses every crashed transcode."""
    failed = _failed(evaluate(BRIEFS["uploads"], Design("push", workers=2, concurrency=4)))
    assert set(failed) == {"lost"}


def test_every_delivery_is_accounted_for():
    """done + lost + unfinished = what the brief expects, for every model on every brief."""
    for brief in BRIEFS.values():
        for design in (Design("push", buffer=3), Design("pull", workers=3), Design("hybrid", workers=3)):
            m = evaluate(brief, design).metrics
            assert m["done"] + m["lost"] + m["unfinished"] == brief.expected
            assert m["unfinished"] == 0


def test_grades_are_deterministic_and_the_seed_matters():
    """Same seed, same numbers and reasons; another seed draws other arrivals."""
    brief, design = BRIEFS["uploads"], Design("pull", workers=2, concurrency=4, interval=1.0)
    a, b = evaluate(brief, design, seed=3), evaluate(brief, design, seed=3)
    assert a.metrics == b.metrics and a.reasons == b.reasons
    assert a.run.trace.to_rows() == b.run.trace.to_rows()
    assert evaluate(brief, design, seed=4).metrics != a.metrics


def test_arrivals_are_the_same_for_every_design():
    """Every design meets the same messages at the same moments (drawn before anything runs)."""
    brief = BRIEFS["uploads"]
    created = [
        [e.time for e in evaluate(brief, d).run.trace.filter(kind="created")]
        for d in (Design("pull", workers=1), Design("hybrid", workers=4))
    ]
    assert created[0] == created[1] and len(created[0]) == brief.messages


def test_grade_displays():
    """The text and HTML forms say PASS/FAIL and carry every reason; the figure has a title and labels."""
    grade = evaluate(BRIEFS["scores"], Design("push"))
    text, page = repr(grade), grade._repr_html_()
    assert text.startswith("FAIL — Live match scores") and "<table>" in page
    for check in grade.checks:
        assert check.reason in text
    fig = grade.figure()
    ax = fig.axes[0]
    assert "FAIL (2 of 4)" in ax.get_title() and ax.get_xlabel()


def test_requests_are_counted_from_the_trace():
    """The requests figure is the trace's polls, empty polls and fetches over the run's span."""
    grade = evaluate(BRIEFS["scores"], Design("pull", fetch="poll", interval=2.0))
    counts = grade.run.trace.counts()
    n = counts.get("poll", 0) + counts.get("empty_poll", 0) + counts.get("fetch", 0)
    assert grade.metrics["request_count"] == n
    assert math.isclose(grade.metrics["requests"], n / grade.metrics["span"])


def test_explore_finds_the_models_that_can_pass():
    """Over the candidate grid: only push meets scores; pull and hybrid meet invoices; only hybrid uploads."""
    passing = {
        name: {model for model, grades in capstone.explore(BRIEFS[name]).items() if any(grades)}
        for name in ("scores", "uploads")
    }
    assert passing == {"scores": {"push"}, "uploads": {"hybrid"}}


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"model": "poll"}, "model"),
        ({"model": "push", "buffer": 0}, "buffer"),
        ({"model": "push", "overflow": "drop"}, "overflow"),
        ({"model": "pull", "workers": 0}, "workers"),
        ({"model": "pull", "concurrency": 0}, "concurrency"),
        ({"model": "pull", "fetch": "long"}, "fetch"),
        ({"model": "pull", "interval": 0}, "interval"),
    ],
)
def test_bad_design_names_the_parameter(kwargs, param):
    """Each bad setting is refused at once with its name in the message."""
    with pytest.raises(ValueError, match=rf"Design\({param}="):
        Design(**kwargs)


def test_bad_brief_and_bad_arguments():
    """A brief with an unknown requirement, or evaluate() with the wrong types, says what is allowed."""
    with pytest.raises(ValueError, match=r"Brief\(limits=.*'latency' is not a requirement"):
        Brief("x", "X", "story", "work", messages=5, rate=1.0, handling=0.1, limits={"latency": 1})
    with pytest.raises(ValueError, match=r"Brief\(kind="):
        Brief("x", "X", "story", "stream", messages=5, rate=1.0, handling=0.1, limits={"lost": 0})
    with pytest.raises(TypeError, match=r"evaluate\(brief="):
        evaluate("scores", Design("push"))
    with pytest.raises(TypeError, match=r"evaluate\(design="):
        evaluate(BRIEFS["scores"], "push")
    with pytest.raises(TypeError, match=r"Design\(workers="):
        Design("pull", workers=2.5)


def test_a_blocked_producer_counts_in_latency():
    """overflow='block' loses nothing but holds the producer; latency runs from when each message was due."""
    grade = evaluate(BRIEFS["scores"], Design("push", buffer=1, overflow="block"))
    failed = _failed(grade)
    assert grade.metrics["lost"] == 0 and grade.metrics["producer_held"] > 0
    assert set(failed) == {"p99"} and "held the producer back" in failed["p99"]
    trace = grade.run.trace
    late = [e for e in trace.filter(kind="created") if e.time > e.fields["due"]]
    assert late, "some messages were sent after they were due"
    assert any("overflow='block'" in n for n in grade.notes)


def test_settings_a_model_ignores_are_named():
    """The grade says which settings the design uses for this brief and which it ignores."""
    grade = evaluate(BRIEFS["scores"], Design("push", buffer=1))
    assert "uses buffer=1, overflow='drop_oldest'; ignores workers" in grade._used()
    assert "ignores workers" in grade._repr_html_()
    assert Design("hybrid").settings(BRIEFS["scores"]) == ()
    assert "interval" in Design("pull", interval=2.0).settings(BRIEFS["uploads"])
