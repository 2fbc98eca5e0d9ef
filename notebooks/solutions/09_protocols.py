# Solutions to the 09_protocols exercises.

# a) The receiver's checks, in order: headers, signature, timestamp, id in the body, replay cache.
#    a passes them all (204). b is byte for byte a again: everything verifies, but the id was
#    already accepted (409). c's body no longer matches its signature (401). d is signed
#    correctly but outside the 5-minute window (401). e keeps a valid signature, but the id
#    inside the signed body is not the new id in the header (400).
my_statuses = {"a": 204, "b": 409, "c": 401, "d": 401, "e": 400}
print(ppl.exercises.check("09.webhook-verdicts", my_statuses))

# b) Every attempt is a whole POST. One per event (20), one more for each failed first attempt
#    of events 0, 5, 10 and 15 (4), and two more for event 19, which fails twice (2).
my_requests = 20 + 4 + 2
ppl.exercises.check("09.webhook-requests", my_requests)
