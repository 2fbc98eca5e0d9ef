# Solutions to the 04_queue_events exercises.

# a) The listener's blocking read returns in the same instant the 'completed' entry is
#    appended: 0 s in virtual time. A poller finds a completion on its next round; the
#    completion falls at a random moment between two polls 4 s apart, so it waits about
#    half an interval on average (the check measures 1.85 s for these 40 jobs).
my_delays = {"listener": 0.0, "poller": 2.0}
print(ppl.exercises.check("04.poll-delay", my_delays))


# b) Resume right after the last event the auditor read: its last_event_id is a bookmark in
#    the log. None would start "from now on" (missing jobs 2-4); "0" would replay job 1 too.
def reconnect(offline):
    return ppl.QueueEvents("video-processing", name="auditor", last_event_id=offline.last_event_id)


ppl.exercises.check("04.catch-up", reconnect)
