# Solutions to the 06_use_cases exercises.

# a) The first attempt waits the delay: t = 3. Each attempt works 0.5 s, fails, and the next one
#    starts after the backoff, counted from the failure: 2 s, then 4 s, then 8 s.
#    3 -> fails 3.5 -> +2 = 5.5 -> fails 6 -> +4 = 10 -> fails 10.5 -> +8 = 18.5 (then the job is failed).
my_attempt_times = [3, 5.5, 10, 18.5]
print(ppl.exercises.check("06.retry-times", my_attempt_times))

# b) Only a limiter caps the rate: 10 per 1 s. At 10 sends a second, each taking 0.5 s on average,
#    about 10 x 0.5 = 5 are in flight; with times up to 0.8 s, 5 slots are not quite enough (11.4 s).
#    10 slots let the limiter alone set the pace: all sent at 9.8 s.
my_settings = {"concurrency": 10, "limiter": {"max": 10, "duration": 1.0}}
ppl.exercises.check("06.burst-budget", my_settings)
