# Solutions to the 14_security exercises.

# a) A default policy refuses every host that is, or resolves to, an address that is not
#    globally reachable, and any URL with credentials in it. b is a private network
#    (10.0.0.0/8), c the cloud metadata service (link-local 169.254.0.0/16), d a name that
#    resolves to loopback, f carries "partner:s3cret@", and g is 10.0.0.1 written as an
#    IPv4-mapped IPv6 address (judged by the IPv4 inside). a is a public IPv4 address and e
#    the same public address, IPv4-mapped: a sender may deliver there.
my_refused = {"b", "c", "d", "f", "g"}
print(ppl.exercises.check("14.ssrf-urls", my_refused))

# b) The window must be wider than the worst clock: partner-e is 220 s behind, so 200 s still
#    refuses it and 300 s is the first that accepts it. The receiver holds an id for about
#    `tolerance` seconds, so about 0.5/s x tolerance ids at once: 200 at 400 s fits the cache
#    of 220 (the measured peak is a little lower), 250 at 500 s does not (503s, and the
#    partners' retries make it worse).
my_band = (300, 400)
ppl.exercises.check("14.tolerance-band", my_band)
