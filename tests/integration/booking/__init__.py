"""One-time links and the public booking flow: booking, managing, caching, concurrency, contact-bound links, the funnel counts."""
