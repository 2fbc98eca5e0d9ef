# Solutions to the 01_push exercises.

# a) In 3 s the phone handles one message at t=0 and then one every 0.25 s: 13 in all
#    (the last starting at t=3.0). The buffer still holds 4 when publishing stops.
#    30 - 13 delivered - 4 buffered = 13 dropped.
my_prediction = 13
print(ppl.exercises.check("01.predict-drops", my_prediction))

# b) Any non-blocking policy with a buffer as large as the worst backlog (18 messages).
my_settings = {"buffer": 18, "overflow": "drop_newest"}
ppl.exercises.check("01.no-loss", my_settings)
