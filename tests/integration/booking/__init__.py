"""One-time links and the public booking flow: booking, managing, caching, concurrency, contact-bound
links, and the funnel counts."""
