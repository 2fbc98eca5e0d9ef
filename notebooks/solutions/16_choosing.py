# Solutions to the 16_choosing exercises.
from pushpull_lab.capstone import Design

# a) Live scores: the table says pull (many consumers, some slow), but every pulling phone reads
#    every update in order, so the slow ones fall behind, and 50 phones asking cost more than
#    10 requests/s. Push costs no requests; a buffer of 1 or 2 with drop_oldest lets a slow phone
#    skip stale updates (allowed) and keeps memory to a copy or two per phone.
my_scores = Design("push", buffer=1, overflow="drop_oldest")
print(ppl.exercises.check("16.scores", my_scores))

# b) Invoices: 1,500 x 0.4 s plus the retried attempts is about 620 s of rendering. Within 60 s that
#    needs at least 11 slots; the PDF service allows 16. Pull retries the failed attempts (3 each),
#    so nothing is lost; 4 workers x concurrency 3 = 12 slots finish in time.
my_invoices = Design("pull", workers=4, concurrency=3)
print(ppl.exercises.check("16.invoices", my_invoices))

# c) Uploads: the jobs need retries and a cap on GPU slots (pull), the browsers need the outcome
#    within 0.5 s, and polling that often costs more than 3 requests/s: pull the jobs, push the
#    outcome (QueueEvents -> the browser). The seed's hybrid.
my_uploads = Design("hybrid", workers=2, concurrency=4)
ppl.exercises.check("16.uploads", my_uploads)
