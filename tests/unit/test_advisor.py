"""advisor.py: the "When to Use What?" table as a rule, and the experiments that back its reasons."""

import math

import pytest

from pushpull_lab import advisor, scenarios
from pushpull_lab.advisor import FEW, MANY, REAL_TIME, ROWS, Situation, recommend

# A situation in which exactly one row applies (the defaults apply none).
ONLY = {
    "real-time": {"max_delay": REAL_TIME},
    "retries": {"needs_retries": True},
    "many-producers": {"producers": MANY, "consumers": FEW},
    "many-consumers": {"producers": FEW, "consumers": MANY},
    "load-control": {"needs_load_control": True},
    "slow-consumers": {"slow_consumers": True},
}

SEED_TABLE = [  # the source text's table, row by row: (situation, use push?, use pull?)
    ("Need real-time updates", "push"),
    ("Need reliable, retryable job handling", "pull"),
    ("You have many producers, few consumers", "push"),
    ("You have few producers, many consumers", "pull"),
    ("Load control and concurrency required", "pull"),
]


def test_rows_are_the_source_texts_table_verbatim():
    """The five table rows are quoted word for word, each with the answer the table gives it."""
    table = [(r.text, r.points) for r in ROWS.values() if r.source == "When to Use What?"]
    assert table == SEED_TABLE


@pytest.mark.parametrize("key", list(ONLY))
def test_each_row_alone_drives_the_answer(key):
    """A situation where only one row applies gets that row's answer, its quote and its experiment."""
    rec = recommend(Situation(**ONLY[key]))
    row = ROWS[key]
    assert rec.model == row.points
    assert [r.row for r in rec.reasons] == [row.text]
    assert rec.reasons[0].points == row.points and rec.experiment == row.experiment


def test_no_row_applies_gives_pull_and_says_why():
    """With nothing to go on, the answer is pull, and the one reason says no row applies."""
    rec = recommend(Situation())
    assert rec.model == "pull" and len(rec.reasons) == 1
    assert "no row of the table applies" in rec.reasons[0].because
    assert rec.reasons[0].row == advisor.DEFAULT.text


@pytest.mark.parametrize(
    "fields, changed",
    [
        ({"max_delay": REAL_TIME}, {"max_delay": REAL_TIME + 0.01}),
        ({"producers": MANY, "consumers": FEW}, {"producers": MANY - 1, "consumers": FEW}),
        ({"producers": MANY, "consumers": FEW}, {"producers": MANY, "consumers": FEW + 1}),
        ({"producers": FEW, "consumers": MANY}, {"producers": FEW + 1, "consumers": MANY}),
    ],
)
def test_thresholds_are_where_the_constants_say(fields, changed):
    """A row applies exactly up to its threshold and not one step past it."""
    assert recommend(Situation(**fields)).reasons[0].row != advisor.DEFAULT.text
    assert recommend(Situation(**changed)).reasons[0].row == advisor.DEFAULT.text


CONFLICTS = [  # every push row with every pull row (many producers and many consumers cannot both hold)
    (push, pull)
    for push in ("real-time", "many-producers")
    for pull in ("retries", "many-consumers", "load-control", "slow-consumers")
    if (push, pull) != ("many-producers", "many-consumers")
]


@pytest.mark.parametrize("push_key, pull_key", CONFLICTS)
def test_a_push_row_and_a_pull_row_give_hybrid(push_key, pull_key):
    """When rows conflict the answer is hybrid, with both sides' reasons and what goes which way."""
    fields = {**ONLY[push_key], **ONLY[pull_key]}
    rec = recommend(Situation(**fields))
    assert rec.model == "hybrid"
    assert {r.points for r in rec.reasons} == {"push", "pull"}
    assert ROWS[push_key].text in rec.summary and ROWS[pull_key].text in rec.summary
    jobs = pull_key in ("retries", "load-control")
    if jobs and push_key == "real-time":  # the source text's Hybrid Model: pull jobs, push progress
        assert rec.experiment == "hybrid" and "progress is pushed" in rec.summary
    elif jobs:
        assert rec.experiment == ROWS[pull_key].experiment and "push jobs into a queue" in rec.summary
    else:
        assert rec.experiment == "fan" and "pulls from it at its own pace" in rec.summary


def test_rows_pointing_the_same_way_agree():
    """Several pull rows and no push row: pull, with every reason listed in table order."""
    rec = recommend(Situation(needs_retries=True, needs_load_control=True, slow_consumers=True))
    assert rec.model == "pull"
    assert [r.row for r in rec.reasons] == [
        ROWS[k].text for k in ("retries", "load-control", "slow-consumers")
    ]
    assert rec.experiment == "retries"  # the first row that applies picks the demonstration


@pytest.mark.parametrize(
    "fields, error, says",
    [
        ({"max_delay": 0}, ValueError, r"Situation\(max_delay=0.0\): max_delay must be a finite number > 0"),
        ({"max_delay": -1}, ValueError, "max_delay must be"),
        ({"max_delay": math.inf}, ValueError, "max_delay must be a finite number"),
        ({"max_delay": "1 s"}, TypeError, "max_delay must be"),
        ({"producers": 0}, ValueError, r"Situation\(producers=0\): producers must be an integer >= 1"),
        ({"producers": 2.5}, TypeError, "producers must be an integer"),
        ({"consumers": True}, TypeError, "consumers must be an integer"),
        ({"needs_retries": "yes"}, TypeError, r"needs_retries='yes'\): needs_retries must be True or False"),
        ({"needs_load_control": 1}, TypeError, "needs_load_control must be True or False"),
        ({"slow_consumers": None}, TypeError, "slow_consumers must be True or False"),
    ],
)
def test_bad_input_names_the_parameter(fields, error, says):
    """Each bad field is refused at once, naming the field, the value and what is allowed."""
    with pytest.raises(error, match=says):
        Situation(**fields)


def test_fields_are_keyword_only_and_recommend_wants_a_situation():
    """Situation(0.5) is refused (positional), and recommend() refuses anything but a Situation."""
    with pytest.raises(TypeError):
        Situation(0.5)
    with pytest.raises(TypeError, match=r"recommend\(situation=\{\}\): situation must be"):
        recommend({})
    with pytest.raises(ValueError, match=r"demonstrate\(recommendation='x'\): recommendation must be one of"):
        advisor.demonstrate("x")


def test_recommendation_displays_as_text_and_html():
    """The text shows the model, each reason with its quoted row, and the experiment; so does the HTML."""
    rec = recommend(Situation(max_delay=0.5, needs_retries=True))
    text = repr(rec)
    assert text.startswith("Recommendation: HYBRID")
    assert (
        '  push ← "Need real-time updates"' in text
        and '  pull ← "Need reliable, retryable job handling"' in text
    )
    assert "experiment: hybrid" in text
    page = rec._repr_html_()
    assert "HYBRID" in page and "Need reliable, retryable job handling" in page and "<table>" in page


# -- the experiments: what each reason's lab_shows says must hold when they are run --------------------


def test_latency_experiment_real_time_is_nuanced():
    """Push and long polling deliver at once; short polling meets max_delay only with mostly empty requests."""
    demo = advisor.demonstrate("latency", Situation(max_delay=0.5))
    push, short, long = (demo.numbers[k] for k in demo.numbers)
    assert push["max"] == 0 and push["requests"] == 0
    assert long["max"] == 0 < long["requests"]
    assert 0 < short["max"] <= 0.5 and short["empty"] > short["requests"] / 2


def test_retries_experiment_push_loses_what_pull_retries():
    """On the same failure draws, push loses every first-attempt failure; the queue retries most of them."""
    demo = advisor.demonstrate("retries")
    push, pull = demo.numbers["push"], demo.numbers["pull"]
    assert push["retries"] == 0 and push["lost"] > 0
    assert pull["retries"] > 0 and pull["lost"] < push["lost"]
    assert push["done"] + push["lost"] == pull["done"] + pull["lost"] == 30


def test_fan_out_many_producers_push_holds_only_while_consumers_keep_up():
    """20 producers → 2 consumers: push loses nothing when consumers are fast, loses when they are not; pull never."""
    fast = {m: scenarios.fan_out(m, producers=20, consumers=2).value for m in ("push", "pull")}
    slow = {m: scenarios.fan_out(m, producers=20, consumers=2, handling=0.1).value for m in ("push", "pull")}
    assert fast["push"]["lost"] == fast["pull"]["lost"] == 0
    assert slow["push"]["lost"] > 0 and slow["pull"]["lost"] == 0
    one = scenarios.fan_out("push", producers=1, consumers=2).value
    per_message = [v["producer_side"] / v["messages"] for v in (one, fast["push"])]
    assert per_message[0] == per_message[1] == 3  # publish + 2 deliveries, however many producers


def test_fan_out_many_consumers_push_work_grows_pull_stays_one():
    """Push sends each message once per consumer; pull writes it once; pull's total is no larger."""
    push = scenarios.fan_out("push", producers=2, consumers=20).value
    pull = scenarios.fan_out("pull", producers=2, consumers=20).value
    assert push["producer_side"] == push["messages"] * (1 + 20)
    assert pull["producer_side"] == pull["messages"]
    assert (
        pull["producer_side"] + pull["consumer_requests"] <= push["producer_side"] + push["consumer_requests"]
    )
    slow = {m: scenarios.fan_out(m, producers=2, consumers=20, slow=1).value for m in ("push", "pull")}
    assert slow["push"]["lost"] > 0 and slow["pull"]["lost"] == 0 and slow["pull"]["handled"] == 20 * 20


def test_task_burst_only_pull_bounds_concurrency_without_loss():
    """A burst: the emitter runs all at once; buffered push bounds it but drops; workers bound it and lose none."""
    runs = {m: scenarios.task_burst(m, consumers=3).value for m in scenarios.TASK_BURST_MODELS}
    assert runs["emitter"]["peak"] > 3 and runs["emitter"]["lost"] == 0
    assert runs["pubsub"]["peak"] <= 3 and runs["pubsub"]["lost"] > 0
    assert runs["queue"]["peak"] == 3 and runs["queue"]["lost"] == 0 and runs["queue"]["done"] == 40
    assert runs["queue"]["makespan"] > runs["emitter"]["makespan"]


@pytest.mark.parametrize("experiment", list(advisor.EXPERIMENTS))
def test_every_experiment_draws_a_labelled_figure_deterministically(experiment):
    """Each experiment runs for a situation, gives the same numbers twice, and draws titled, labelled axes."""
    situation = Situation(max_delay=0.5, producers=12, consumers=2, slow_consumers=True)
    demo = advisor.demonstrate(experiment, situation)
    assert demo.numbers == advisor.demonstrate(experiment, situation).numbers
    fig = demo.figure()
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() + ax.get_ylabel()
    assert demo.text().count("\n") == len(demo.numbers) - 1


def test_demonstrate_follows_the_recommendation():
    """demonstrate(rec) runs the experiment the recommendation names, for its situation."""
    rec = recommend(Situation(max_delay=0.3, needs_retries=True))
    demo = advisor.demonstrate(rec)
    assert demo.experiment == rec.experiment == "hybrid" and demo.situation is rec.situation
    assert "polled every 0.3 s" in demo.numbers


@pytest.mark.parametrize(
    "call, says",
    [
        (lambda: scenarios.fan_out("both"), r"fan_out\(model='both'\): model must be one of 'push', 'pull'"),
        (lambda: scenarios.fan_out(consumers=2, slow=3), r"fan_out\(slow=3\): slow must be between 0 and"),
        (lambda: scenarios.failing_tasks(failure_rate=1.5), r"failure_rate must be between 0 and 1"),
        (lambda: scenarios.task_burst("webhook"), r"task_burst\(model='webhook'\): model must be one of"),
        (lambda: scenarios.pushed_stream(rate=0), r"pushed_stream\(rate=0.0\): rate must be"),
    ],
)
def test_scenarios_refuse_bad_input_at_the_call(call, says):
    """The notebook 07 scenarios check their arguments before running anything."""
    with pytest.raises(ValueError, match=says):
        call()
