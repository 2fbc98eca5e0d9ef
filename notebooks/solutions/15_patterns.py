# Solutions to the 15_patterns exercises.

# a) '+' is exactly one level (the floor), then 'r1', then '#': any number of levels, none included.
#    'site/r1/temperature' has no floor level; 'site/f1/r2/...' is room 2; 'site/f1/f2/r1/...' has two.
my_topics = ["site/f1/r1", "site/f1/r1/temperature", "site/f2/r1/humidity/raw"]
print(ppl.exercises.check("15.wildcards", my_topics))

# b) Checkpoints at 25, 50, 75. The crash comes after record 90 (offset 89), before the checkpoint at 100:
#    the restarted job resumes at offset 75 and loads offsets 75..89 again: 90 - 75 = 15.
my_reprocessed = 15
ppl.exercises.check("15.reprocessed", my_reprocessed)
