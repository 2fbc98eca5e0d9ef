# Solutions to the 14_security exercises.

# a) A default policy refuses every host that is, or resolves to, an internal address, and any
#    URL with credentials in it. b is a private network (10.0.0.0/8), c the cloud metadata
#    service (link-local 169.254.0.0/16), d a name that resolves to loopback, f carries
#    "partner:s3cret@", and g is 10.0.0.1 wrapped in an IPv4-mapped IPv6 address. a and e are
#    public addresses (IPv4 and IPv6): a sender may deliver there.
my_refused = {"b", "c", "d", "f", "g"}
print(ppl.exercises.check("14.ssrf-urls", my_refused))

# b) The window must be wider than the worst clock: partner-e is 220 s behind, so 210 s still
#    refuses it and 240 s is the first multiple of 30 that accepts it. The receiver remembers an
#    id for `tolerance` seconds, about 0.5/s x tolerance ids at once: 420 s peaks at 199 of its
#    200, 450 s overflows (503s, and the retries make it worse).
my_band = (240, 420)
ppl.exercises.check("14.tolerance-band", my_band)
