# Solutions to the 12_backpressure exercises.

# a) At 4x the consumer's rate the consumer still handles its own rate, so about 1/4 of the
#    messages get through and 3/4 are dropped: 0.75 x 200 = 150 (the lab loses a few less).
my_lost = 0.75 * 200
print(ppl.exercises.check("12.loss-estimate", my_lost))

# b) A warm-up: the rule is the dotted line of the prefetch figure. Between sending a message and
#    getting the next one for that slot, a round trip passes:
#    2 x 40 ms = 80 ms, eight messages' worth of 10 ms work. To stay busy the consumer needs the
#    message it works on plus eight more on their way: 1 + 2 x 0.04 / 0.01 = 9.
my_prefetch = round(1 + 2 * 0.04 / 0.01)
print(ppl.exercises.check("12.prefetch-window", my_prefetch))

# c) A push buffer that never overflows must hold the whole backlog at its worst. The pull queue
#    has no limit and, with the same random draws, holds exactly that backlog: its peak is the
#    smallest buffer with which drop_newest loses nothing.
my_buffer = scenarios.backpressure("queue", ratio=1.5).value["peak_held"]
ppl.exercises.check("12.buffer-size", my_buffer)
