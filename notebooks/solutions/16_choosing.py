# Solutions to the 16_choosing exercises. Each brief has several passing designs; these are one each.
import pushpull_lab as ppl
from pushpull_lab.capstone import Design

# a) Live scores: a slow phone needs 1 s per update, so after the 8 line-ups it must SKIP the
#    older ones to show something fresh. Push with a one-update buffer and drop_oldest does it
#    (memory: 1 copy per phone, no requests); pull does it too if each phone shows only the
#    newest of what it reads (read="latest", long polling); read="every" falls behind.
my_scores = Design("push", buffer=1, overflow="drop_oldest")
print(ppl.exercises.check("16.scores", my_scores))

# b) Invoices: 1,500 x 0.4 s plus the retried attempts is about 620 s of rendering. Within 60 s that
#    needs at least 11 slots; the PDF service allows 16. A queue retries the failed attempts
#    (3 each), so nothing is lost; 4 workers x concurrency 3 = 12 slots finish in time.
#    (Push passes too if the producer resends failed jobs: attempts=3.)
my_invoices = Design("pull", workers=4, concurrency=3)
print(ppl.exercises.check("16.invoices", my_invoices))

# c) Uploads: at most 8 slots, retries, and a browser that must know within 0.5 s for at most
#    3 requests/s: polling status every 0.5 s costs too many requests. Pull the jobs and push the
#    outcome (QueueEvents -> the browser): the source text's hybrid. (A long-polled status,
#    watch="long_poll", also passes.)
my_uploads = Design("hybrid", workers=2, concurrency=4)
ppl.exercises.check("16.uploads", my_uploads)
