# Solutions to the 08_hybrid exercises.

# a) Progress changes every 0.5 s per job. A dashboard that polls less often than that sees
#    only the latest value: at 0.6 s it already misses 12 updates. 0.5 s misses none — for
#    50 requests, where the hybrid's pushed updates cost none.
my_interval = 0.5
print(ppl.exercises.check("08.poll-often-enough", my_interval))

# b) Each transcoder holds 1 clip in hand plus a buffer of 2: 2 x 3 = 6. The 7th upload
#    arrives (at 0.6 s) while both are busy and both buffers are full, so it is dropped.
my_burst = 6
ppl.exercises.check("08.largest-safe-burst", my_burst)
