# Solutions to the 07_when_to_use_what exercises.

# a) Nightly reports: retries and load control, nothing real-time -> pull.
#    Typing indicator: must arrive within 0.2 s, 50 producers and 1 consumer -> push.
#    Sensor alarms: within 1 s (real-time) from 200 producers to 2 consumers (many producers, few
#    consumers) -> push; but the consoles can go offline (slow_consumers), and pushed alarms would be
#    dropped while they are away -> pull. Push rows and a pull row -> hybrid, split by link: the
#    sensors push each alarm into a log the moment it happens; each console pulls from the log at its
#    own pace, so an offline console misses nothing and catches up when it is back.
my_answers = ["pull", "push", "hybrid"]
print(ppl.exercises.check("07.classify", my_answers))

# b) Push fan-out gives every message to BOTH consumers, so two consumers do not share the load:
#    each must handle all the producers' messages, 0.05 s each. At 20 producers a consumer would be
#    busy 100% of the time, but messages arrive at random: bursts overflow the 5-message buffer well
#    before that. The run shows the first loss at 14 producers (busy 70% of the time).
my_producers = 14
ppl.exercises.check("07.fan-in-limit", my_producers)
