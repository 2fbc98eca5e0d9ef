# Solutions to the 05_comparison exercises.

# a) A story lands at a random moment between two polls 3 s apart: it waits 1.5 s on average.
my_p50 = 1.5
print(ppl.exercises.check("05.predict-p50", my_p50))

# b) Every short poll is slower than push (p50 about interval / 2 > 0 s), and nothing in the
#    experiment matches push any more: "may be higher" becomes simply true.
my_verdict = "confirmed"
ppl.exercises.check("05.only-short-polling", my_verdict)
