"""`make bench`: register latency against fakes with a fixed latency per external call, next to
the seed tutorial's strictly sequential order. Figures only; it never fails on them."""
