"""The capstone grader: every brief can be met, each model fails for the right reason and passes with
its fair options, grades are exact and repeatable, and bad input is refused with the parameter named."""

import math

import pytest

from pushpull_lab import capstone
from pushpull_lab.capstone import BRIEFS, Brief, Design, evaluate
from pushpull_lab.trace import Stats

PASSING = {
    "alerts": Design("push"),
    "scores": Design("pull", read="latest"),
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


def test_scores_pull_reading_every_record_falls_behind_latest_value_does_not():
    """Long polling that shows every record in order leaves slow phones stale; showing the latest keeps them fresh."""
    every = evaluate(BRIEFS["scores"], Design("pull"))
    latest = evaluate(BRIEFS["scores"], Design("pull", read="latest"))
    assert set(_failed(every)) == {"stale"} and "in order" in _failed(every)["stale"]
    assert latest and latest.metrics["skipped"] > 0
    assert latest.metrics["stale"] < every.metrics["stale"]


def test_scores_drop_newest_is_not_fresh_like_drop_oldest():
    """Same buffer of 1: drop_oldest shows recent updates, drop_newest keeps the oldest and fails staleness."""
    oldest = evaluate(BRIEFS["scores"], Design("push", buffer=1, overflow="drop_oldest"))
    newest = evaluate(BRIEFS["scores"], Design("push", buffer=1, overflow="drop_newest"))
    assert oldest and not newest
    assert set(_failed(newest)) == {"stale"} and "drops the newer ones" in _failed(newest)["stale"]
    assert newest.metrics["stale"] > oldest.metrics["stale"]


def test_staleness_is_measured_per_update_and_phone():
    """Recomputed from the trace by hand for one phone: update due -> it shows that update or a newer one."""
    grade = evaluate(BRIEFS["scores"], Design("push", buffer=1, overflow="drop_newest"))
    trace = grade.run.trace
    due = {e.msg: e.fields["due"] for e in trace.filter(kind="created")}
    shown = [(e.time, int(e.msg[1:])) for e in trace.filter(kind="done", actor=grade.metrics["stale_worst"])]
    ages = [min(t for t, j in shown if j >= int(m[1:])) - d for m, d in due.items()]
    assert math.isclose(grade.metrics["stale"], Stats.of(ages).p99)
    assert grade.metrics["stale"] >= grade.metrics["p99"] - 1e-9  # a skipped update waits for a newer one


def test_notify_p99_is_the_worst_consumers():
    """The p99 graded for a notify brief is the largest per-consumer p99, not one pooled over all phones."""
    grade = evaluate(BRIEFS["scores"], Design("push"))
    trace = grade.run.trace
    due = {e.msg: e.fields["due"] for e in trace.filter(kind="created")}
    per = {}
    for e in trace.filter(kind="done"):
        per.setdefault(e.actor, []).append(e.time - due[e.msg])
    worst = max(per, key=lambda n: Stats.of(per[n]).p99)
    assert grade.metrics["p99_worst"] == worst and worst.startswith("slow")
    assert math.isclose(grade.metrics["p99"], Stats.of(per[worst]).p99)
    pooled = Stats.of([x for v in per.values() for x in v]).p99
    assert grade.metrics["p99"] > pooled


def test_scores_push_with_a_big_buffer_holds_stale_messages():
    """The default buffer of 100 keeps every copy: memory and freshness fail, nothing is lost."""
    grade = evaluate(BRIEFS["scores"], Design("push"))
    failed = _failed(grade)
    assert set(failed) == {"stale", "buffered"}
    assert "backlog" in failed["stale"] and "copy per consumer" in failed["buffered"]
    assert grade.metrics["lost"] == 0


def test_alerts_push_and_long_polling_pass_short_polling_is_late():
    """Three consoles, every alert within 0.5 s: push and long polling pass; polling every 1 s is too late."""
    assert evaluate(BRIEFS["alerts"], Design("push"))
    assert evaluate(BRIEFS["alerts"], Design("pull"))
    late = evaluate(BRIEFS["alerts"], Design("pull", fetch="poll", interval=1.0))
    assert set(_failed(late)) == {"p99"} and "every 1 s" in _failed(late)["p99"]


def test_invoices_push_without_retries_loses_and_fails_once():
    """Push with attempts=1 loses each failed render; finish still counts them settled (one cause, one ✗)."""
    grade = evaluate(BRIEFS["invoices"], Design("push", workers=4, concurrency=3, overflow="block"))
    failed = _failed(grade)
    assert set(failed) == {"lost"} and "attempts=1" in failed["lost"]
    assert grade.metrics["gave_up"] == grade.metrics["lost"] > 0
    assert grade.metrics["finish"] < math.inf


def test_invoices_push_with_retries_loses_nothing():
    """The producer resending failed jobs (3 attempts, as a webhook sender does) meets the brief."""
    grade = evaluate(
        BRIEFS["invoices"], Design("push", workers=4, concurrency=3, overflow="block", attempts=3)
    )
    assert grade, repr(grade)
    assert grade.metrics["lost"] == 0 and grade.metrics["attempts_failed"] > 0
    assert grade.run.trace.filter(kind="attempt_failed")


def test_invoices_pull_retries_the_same_failed_attempts():
    """Every design meets the same failing attempts: pull retries them, none lost."""
    pull = evaluate(BRIEFS["invoices"], PASSING["invoices"]).metrics
    push = evaluate(BRIEFS["invoices"], Design("push", workers=4, concurrency=3, overflow="block")).metrics
    assert pull["lost"] == 0 and pull["attempts_failed"] >= push["gave_up"] > 0


def test_invoices_too_few_or_too_many_slots():
    """4 slots finish too late; 24 slots exceed the PDF service's 16 at once."""
    few = evaluate(BRIEFS["invoices"], Design("pull", workers=2, concurrency=2))
    many = evaluate(BRIEFS["invoices"], Design("pull", workers=6, concurrency=4))
    assert set(_failed(few)) == {"finish"} and "over 4 slots" in few.checks[-1].reason
    assert set(_failed(many)) == {"slots"} and many.metrics["slots"] == 24


def test_invoices_hybrid_passes_with_a_note():
    """A hybrid meets the invoices brief too, and the grade says its push half serves nobody."""
    grade = evaluate(BRIEFS["invoices"], Design("hybrid", workers=4, concurrency=3))
    assert grade and any("nobody waits" in n for n in grade.notes)


def test_uploads_slots_are_capacity_not_load():
    """8 workers × concurrency 8 = 64 slots fails the 8-slot limit even though fewer jobs ran at once."""
    grade = evaluate(BRIEFS["uploads"], Design("hybrid", workers=8, concurrency=8))
    assert set(_failed(grade)) == {"slots"}
    assert grade.metrics["slots"] == 64 and grade.metrics["in_flight"] <= 8
    assert "64 slots" in _failed(grade)["slots"]


def test_uploads_one_slot_is_too_slow():
    """One slot keeps up on average but jobs queue for over a minute: the turnaround limit fails."""
    grade = evaluate(BRIEFS["uploads"], Design("hybrid", workers=1, concurrency=1))
    assert set(_failed(grade)) == {"p99"} and grade.metrics["p99"] > 60


@pytest.mark.parametrize(
    ("interval", "fails"),
    [(0.5, "requests"), (2.0, "status_p99")],
)
def test_uploads_status_polling_pays_with_requests_or_delay(interval, fails):
    """Browsers polling status either ask too often or learn too late."""
    grade = evaluate(BRIEFS["uploads"], Design("pull", workers=2, concurrency=4, interval=interval))
    failed = _failed(grade)
    assert set(failed) == {fails}
    assert f"every {interval:g} s" in failed[fails]


def test_uploads_status_long_polling_passes():
    """A browser long-polling its job's status learns at once for about one request per job."""
    grade = evaluate(BRIEFS["uploads"], Design("pull", workers=2, concurrency=4, watch="long_poll"))
    assert grade, repr(grade)
    assert grade.metrics["status_p99"] == 0 and grade.metrics["requests"] < 3


def test_uploads_status_delay_follows_the_poll_interval():
    """p99 status delay is close to one interval (first checks at random moments), never more."""
    for interval in (1.0, 2.0):
        m = evaluate(BRIEFS["uploads"], Design("pull", workers=2, concurrency=4, interval=interval)).metrics
        assert 0.8 * interval < m["status_p99"] <= interval + 1e-9


def test_uploads_push_loses_crashed_transcodes_unless_it_resends():
    """Push tells the browser at once; without retries it loses crashed transcodes, with 3 attempts none."""
    once = evaluate(BRIEFS["uploads"], Design("push", workers=2, concurrency=4))
    again = evaluate(BRIEFS["uploads"], Design("push", workers=2, concurrency=4, attempts=3))
    assert set(_failed(once)) == {"lost"}
    assert again and again.metrics["lost"] == 0


def test_every_delivery_is_accounted_for():
    """done + lost + skipped + unfinished = what the brief expects, for every model on every brief."""
    designs = (
        Design("push", buffer=3),
        Design("pull", workers=3, read="latest"),
        Design("hybrid", workers=3, read="latest"),
    )
    for brief in BRIEFS.values():
        for design in designs:
            m = evaluate(brief, design).metrics
            assert m["done"] + m["lost"] + m["skipped"] + m["unfinished"] == brief.expected
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
    """The text and HTML forms say PASS/FAIL and carry every reason; the figure has a title, labels, a legend."""
    grade = evaluate(BRIEFS["scores"], Design("push"))
    text, page = repr(grade), grade._repr_html_()
    assert text.startswith("FAIL — Live match scores") and "<table>" in page
    for check in grade.checks:
        assert check.reason in text
    fig = grade.figure()
    ax = fig.axes[0]
    assert "FAIL (2 of 3)" in ax.get_title() and ax.get_xlabel()
    assert "100%\n(limit)" in [t.get_text() for t in ax.get_xticklabels()]
    assert ax.get_legend() is not None
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("≥300%") for t in texts), texts  # 400 buffered of 100 is cut at 300%
    assert any(line.get_marker() == "|" for line in ax.lines)  # 0 requests: a marker, not an empty row


def test_requests_are_counted_from_the_trace():
    """The requests figure is the trace's polls, empty polls and fetches over the run's span."""
    grade = evaluate(BRIEFS["scores"], Design("pull", fetch="poll", interval=2.0))
    counts = grade.run.trace.counts()
    n = counts.get("poll", 0) + counts.get("empty_poll", 0) + counts.get("fetch", 0)
    assert grade.metrics["request_count"] == n
    assert math.isclose(grade.metrics["requests"], n / grade.metrics["span"])


def test_compare_asks_the_table_and_the_lab():
    """compare() gives the table's model, the explored grades and a verdict; grid_table() shows a row per brief."""
    comparison = capstone.compare(BRIEFS["alerts"])
    assert comparison.recommendation.model == "push"
    assert set(comparison.passing) == {"push", "pull", "hybrid"}
    assert comparison.verdict == "confirmed"
    page = capstone.grid_table([comparison]).data
    assert "On-call alerts" in page and "confirmed" in page


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
        ({"model": "pull", "read": "newest"}, "read"),
        ({"model": "pull", "watch": "push"}, "watch"),
        ({"model": "push", "attempts": 0}, "attempts"),
        ({"model": "push", "attempts": 9}, "attempts"),
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
    with pytest.raises(ValueError, match=r"Brief\(limits\): 'stale' is for kind='notify'"):
        Brief("x", "X", "story", "work", messages=5, rate=1.0, handling=0.1, limits={"stale": 1})
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
    assert set(failed) == {"stale"} and "overflow='block'" in failed["stale"]
    trace = grade.run.trace
    late = [e for e in trace.filter(kind="created") if e.time > e.fields["due"]]
    assert late, "some messages were sent after they were due"
    assert any("overflow='block'" in n for n in grade.notes)


def test_settings_a_model_ignores_are_named_and_not_shown():
    """The grade says which settings the design uses; show() and str() leave out what the model ignores."""
    grade = evaluate(BRIEFS["scores"], Design("push", buffer=1))
    assert "uses buffer=1, overflow='drop_oldest'; ignores workers" in grade._used()
    assert "ignores workers" in grade._repr_html_()
    assert Design("hybrid").settings(BRIEFS["scores"]) == ("read",)
    assert "interval" in Design("pull", interval=2.0).settings(BRIEFS["uploads"])
    assert "interval" not in Design("pull", watch="long_poll").settings(BRIEFS["uploads"])
    assert (
        Design("push", buffer=1).show(BRIEFS["scores"]) == "Design('push', buffer=1, overflow='drop_oldest')"
    )
    assert str(Design("push", buffer=1)) == "Design('push', buffer=1)"
    assert repr(grade).splitlines()[0].endswith("Design('push', buffer=1, overflow='drop_oldest')")


def test_a_claim_can_be_confirmed_contradicted_or_nuanced():
    """The claim rule compares which models have a passing design; each outcome is reachable."""
    brief = BRIEFS["alerts"]
    push_only = capstone.compare(
        brief, {"push": [Design("push")], "pull": [Design("pull", fetch="poll", interval=2.0)]}
    )
    both = capstone.compare(brief, {"push": [Design("push")], "pull": [Design("pull")]})
    assert push_only.claim("push", "pull") == "confirmed"
    assert push_only.claim("pull", "push") == "contradicted"
    assert both.claim("push", "pull") == "nuanced"
    assert both.cheapest("push").metrics["requests"] == 0
    with pytest.raises(ValueError, match=r"claimed="):
        both.claim("poll", "push")


def test_format_value_matches_the_grades():
    """format_value() writes a number as the reasons do, and refuses an unknown requirement."""
    assert capstone.format_value("requests", 21.6) == "21.6/s"
    assert capstone.format_value("finish", math.inf) == "never"
    with pytest.raises(ValueError, match=r"format_value\(key="):
        capstone.format_value("latency", 1.0)
