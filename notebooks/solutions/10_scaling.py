# Solutions to the 10_scaling exercises.
from pushpull_lab import theory

# a) One worker finishes 1 / 0.8 = 1.25 jobs per second; 25 jobs/s need 25 / 1.25 = 20 of them.
#    With 19 the backlog grows; a 21st would only wait idle.
my_workers = 20
print(ppl.exercises.check("10.knee", my_workers))

# b) Stability needs c > λ/μ = 6. Erlang C gives the mean wait for each c:
#    7 -> 0.61 s, 8 -> 0.18 s, 9 -> 0.065 s. The first under 0.1 s is 9.
waits = {c: theory.mmc_wait(6.0, 1.0, c) for c in range(7, 11)}
my_slots = min(c for c, w in waits.items() if w < 0.1)
ppl.exercises.check("10.slots-for-wait", my_slots)
