# Solutions to the 12_backpressure exercises.

# a) At 4x the consumer's rate the consumer still handles its own rate, so about 1/4 of the
#    messages get through and 3/4 are dropped: 0.75 x 200 = 150 (the lab loses a few less).
my_lost = 0.75 * 200
print(ppl.exercises.check("12.loss-estimate", my_lost))

# b) Between sending a message and getting the next one for that slot, a round trip passes:
#    2 x 40 ms = 80 ms, eight messages' worth of 10 ms work. To stay busy the consumer needs the
#    message it works on plus eight more on their way: 1 + 2 x 0.04 / 0.01 = 9.
my_prefetch = round(1 + 2 * 0.04 / 0.01)
print(ppl.exercises.check("12.prefetch-window", my_prefetch))

# c) Measure each strategy at 3x with a buffer/window of 10 and keep those with no loss and at
#    most 20 messages held: only the ones that make the producer wait.
rows = {s: scenarios.backpressure(s, ratio=3.0, buffer=10).value for s in scenarios.BACKPRESSURE_STRATEGIES}
my_strategies = {s for s, v in rows.items() if v["lost"] == 0 and v["peak_held"] <= 20}
ppl.exercises.check("12.pick-strategy", my_strategies)
