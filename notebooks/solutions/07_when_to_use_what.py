# Solutions to the 07_when_to_use_what exercises.

# a) Nightly reports: retries and load control, nothing real-time -> pull.
#    Typing indicator: must arrive within 0.2 s, 50 producers and 1 consumer -> push.
#    Uploads with a live progress bar: real-time progress (push) AND retries and load control
#    (pull) -> the rows conflict -> hybrid: workers pull the jobs, progress is pushed.
my_answers = ["pull", "push", "hybrid"]
print(ppl.exercises.check("07.classify", my_answers))

# b) Push fan-out gives every message to BOTH consumers, so two consumers do not share the load:
#    each must handle all the producers' messages, 0.1 s each. At 10 producers a consumer is
#    busy 100% of the time; random bursts overflow its 5-message buffer a little earlier.
my_producers = 10
ppl.exercises.check("07.fan-in-limit", my_producers)
