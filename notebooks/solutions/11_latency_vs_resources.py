# Solutions to the 11_latency_vs_resources exercises.
from pushpull_lab import scenarios

# a) Each client sends one request per interval, so 1,000 clients send 1,000 / T requests per second.
#    1,000 / T <= 250 gives T >= 4 s: the shortest interval is 4 s (mean latency about 2 s).
my_interval = 1_000 / 250
print(ppl.exercises.check("11.poll-budget", my_interval))

# b) Per client and second, push costs k + m·λ (a held connection, a message per event) and short
#    polling every T costs (r + k·s) / T (a request, and its connection for s = 0.05 s), whatever λ is.
#    They are equal at λ* = ((r + k·s) / T − k) / m = (0.2001 − 0.01) / 0.1 ≈ 1.9 events per second.
p = scenarios.PRICES
my_rate = ((p["request"] + p["connection_second"] * 0.05) / 5.0 - p["connection_second"]) / p["message"]
ppl.exercises.check("11.crossover", my_rate)
